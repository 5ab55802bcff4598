"""Sentinel-2 band names: sample-table names, Earth Search asset keys, resolutions, wavelengths."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    """One Sentinel-2 L2A reflectance band as Earth Search v1 describes it."""

    s2_name: str
    asset: str
    resolution: int
    center_wavelength: float
    fwhm: float
    title: str


BANDS: tuple[Band, ...] = (
    Band("B02", "blue", 10, 0.49, 0.098, "Blue (band 2)"),
    Band("B03", "green", 10, 0.56, 0.045, "Green (band 3)"),
    Band("B04", "red", 10, 0.665, 0.038, "Red (band 4)"),
    Band("B05", "rededge1", 20, 0.704, 0.019, "Red edge 1 (band 5)"),
    Band("B06", "rededge2", 20, 0.74, 0.018, "Red edge 2 (band 6)"),
    Band("B07", "rededge3", 20, 0.783, 0.028, "Red edge 3 (band 7)"),
    Band("B08", "nir", 10, 0.842, 0.145, "NIR 1 (band 8)"),
    Band("B8A", "nir08", 20, 0.865, 0.033, "NIR 2 (band 8A)"),
    Band("B11", "swir16", 20, 1.61, 0.143, "SWIR 1 (band 11)"),
    Band("B12", "swir22", 20, 2.19, 0.242, "SWIR 2 (band 12)"),
)

S2_NAMES: tuple[str, ...] = tuple(b.s2_name for b in BANDS)
ASSET_KEYS: tuple[str, ...] = tuple(b.asset for b in BANDS)
BAND_INDEX: dict[str, int] = {b.asset: i for i, b in enumerate(BANDS)}

#: Scene classification (SCL) classes written by the generator.
SCL_NODATA, SCL_SHADOW, SCL_VEG, SCL_BARE, SCL_WATER, SCL_UNCLASSIFIED = 0, 3, 4, 5, 6, 7
SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS = 8, 9, 10
