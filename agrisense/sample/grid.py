"""The region's 10 m UTM grid (EPSG:32636 for the East-African county) and smooth random fields drawn on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import Transformer
from rasterio.transform import Affine
from scipy import ndimage

from agrisense.errors import InvalidInput

EPSG = 32636
CENTER_LONLAT = (33.0, 2.3)
RESOLUTION = 10
ALIGN_M = 60  # snap the origin to 60 m so the 10 m and 20 m grids nest (as in real S2 tiles)


@dataclass(frozen=True)
class RegionGrid:
    """North-up grid: top-left corner (x0, y0) in UTM metres, size in 10 m pixels."""

    x0: float
    y0: float
    width: int
    height: int
    res: int = RESOLUTION
    epsg: int = EPSG

    @property
    def transform(self) -> Affine:
        return Affine(self.res, 0.0, self.x0, 0.0, -self.res, self.y0)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0 - self.height * self.res, self.x0 + self.width * self.res, self.y0)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def area_km2(self) -> float:
        return self.width * self.height * self.res**2 / 1e6

    def bbox_lonlat(self) -> tuple[float, float, float, float]:
        """Bounding box in EPSG:4326 (lon/lat) of the grid's corners."""
        tr = Transformer.from_crs(self.epsg, 4326, always_xy=True)
        minx, miny, maxx, maxy = self.bbox
        lon, lat = tr.transform([minx, minx, maxx, maxx], [miny, maxy, miny, maxy])
        return (min(lon), min(lat), max(lon), max(lat))


def make_grid(size_km: float, center_lonlat: tuple[float, float] = CENTER_LONLAT, epsg: int = EPSG) -> RegionGrid:
    """A square grid of ``size_km`` centred near ``center_lonlat`` (UTM ``epsg``), snapped to 60 m."""
    if not 0.5 <= size_km <= 50:
        raise InvalidInput(f"size_km={size_km} is out of range; choose a region between 0.5 and 50 km wide.")
    n = int(round(size_km * 1000 / (2 * RESOLUTION))) * 2  # even: the 20 m grid nests
    cx, cy = Transformer.from_crs(4326, epsg, always_xy=True).transform(*center_lonlat)
    half = n * RESOLUTION / 2
    x0 = np.floor((cx - half) / ALIGN_M) * ALIGN_M
    y0 = np.ceil((cy + half) / ALIGN_M) * ALIGN_M
    return RegionGrid(float(x0), float(y0), n, n, epsg=epsg)


def smooth_field(
    rng: np.random.Generator, shape: tuple[int, int], scale_px: float, coarse: int | None = None
) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian random field with correlation length ~``scale_px`` pixels.

    Drawn on a coarse grid, smoothed and bilinearly upsampled, so the cost does not grow with the scale.
    """
    step = coarse or max(1, int(scale_px // 4))
    ch, cw = shape[0] // step + 3, shape[1] // step + 3
    small = ndimage.gaussian_filter(rng.standard_normal((ch, cw)), sigma=max(scale_px / step / 2, 0.5), mode="wrap")
    zoom = ndimage.zoom(small, step, order=1, prefilter=False, grid_mode=False)
    out = zoom[: shape[0], : shape[1]]
    sd = out.std()
    return ((out - out.mean()) / (sd if sd > 0 else 1.0)).astype(np.float32)
