"""What differs between the generator's regions: place, market, crops and their shares, large farms, spectra source.

``EAST_AFRICA`` is the original sample county (northern Uganda; crop spectra from the real WorldCereal samples).
``JIANGXI`` is a Jiangxi double-rice, single-rice, rapeseed and cotton county on the Poyang Lake plain, whose crop
spectra are built from published curves (``agrisense.sample.crop_curves``) and whose weather is the province's
climatology from the China market file. Add a profile here to build another region with the same generator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agrisense.errors import InvalidInput
from agrisense.region import DEFAULT_MARKET, DEFAULT_MODEL


@dataclass(frozen=True)
class RegionProfile:
    """One kind of region the generator builds."""

    key: str
    name: str
    place: str  # for people: where and what
    center_lonlat: tuple[float, float]
    epsg: int  # UTM zone of the centre
    market: str
    market_area: str | None
    model: str  # the land-cover model bundle that scores regions of this profile
    crop_shares: Mapping[str, float]  # smallholder fields by count; order = landcover codes 1..n
    large_farm_crops: tuple[str, ...]
    large_farms_per_100km2: float = 3.0
    large_farm_ha: tuple[float, float] = (100.0, 250.0)
    large_farm_fields: tuple[int, int] = (1, 3)  # fields per large farm, inclusive
    large_farm_plots: bool = False  # do the large farms' owners apply (each field a plot of one farmer)?
    curve_spectra: bool = False  # crop spectra from published curves (True) or the real samples' tables
    default_size_km: float = 10.0
    bare_months: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # a crop's off-season months
    crop_model: str | None = None  # the plot crop model pooled with ``model`` (agrisense.ml.plot_crop_model)

    @property
    def crops(self) -> tuple[str, ...]:
        return tuple(self.crop_shares)


EAST_AFRICA = RegionProfile(
    key="east_africa",
    name="agrisense sample county (synthetic, northern Uganda)",
    place="near 33.0 E, 2.3 N (northern Uganda)",
    center_lonlat=(33.0, 2.3),
    epsg=32636,
    market=DEFAULT_MARKET,
    market_area=None,
    model=DEFAULT_MODEL,
    crop_shares={"maize": 0.30, "sorghum": 0.35, "groundnut": 0.20, "beans": 0.15},
    large_farm_crops=("maize", "sorghum"),
    crop_model="plotcrop_ea",  # trained on three seeded counties + real East-African samples (docs/croptype.md)
)

JIANGXI = RegionProfile(
    key="jiangxi",
    name="agrisense sample county (synthetic, Jiangxi 江西)",
    place="near 116.0 E, 28.6 N (Poyang Lake plain, Jiangxi)",
    center_lonlat=(116.0, 28.6),
    epsg=32650,
    market="china",
    market_area="jiangxi",
    model="landcover_unet_cn",
    crop_shares={"rice_double": 0.40, "rice": 0.30, "rapeseed": 0.18, "cotton": 0.12},
    large_farm_crops=("rice_double", "rice"),  # 种粮大户: grain farms of rented, consolidated paddies
    large_farms_per_100km2=10.0,
    large_farm_ha=(100.0, 160.0),
    large_farm_fields=(4, 8),
    large_farm_plots=True,
    curve_spectra=True,
    default_size_km=5.0,
    # the months a field shows its own bare (off-season) state: winter fallow of the paddies, summer fallow after
    # the rapeseed harvest (calendar months; the spectra tables' row of month m is m % 12)
    bare_months={"rice_double": (1, 2), "rice": (1, 2, 3), "rapeseed": (7, 8), "cotton": (1, 2, 3)},
)

PROFILES = {p.key: p for p in (EAST_AFRICA, JIANGXI)}


def find_profile(market: str, province: str | None = None) -> RegionProfile:
    """The profile of ``market`` (and ``province``, its area); InvalidInput listing what can be built."""
    for profile in PROFILES.values():
        if profile.market == market and (province is None or province == profile.market_area):
            return profile
    known = ", ".join(
        f"--market {p.market}" + (f" --province {p.market_area}" if p.market_area else "") for p in PROFILES.values()
    )
    raise InvalidInput(f"no sample region for market {market!r}, province {province!r}; the generator builds: {known}")
