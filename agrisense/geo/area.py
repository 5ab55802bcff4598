"""Geodesic area on the WGS84 ellipsoid, in hectares and 亩 (mu)."""

from __future__ import annotations

from dataclasses import dataclass

from pyproj import Geod
from shapely.geometry.base import BaseGeometry

MU_PER_HA = 15.0
"""1 hectare = 15 市亩 (mu) exactly (1 mu = 666.67 m²)."""

_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Area:
    """An area in the units a farmer and a bank use."""

    m2: float

    @property
    def ha(self) -> float:
        return self.m2 / 10_000.0

    @property
    def mu(self) -> float:
        return self.ha * MU_PER_HA


def geodesic_area(geom_lonlat: BaseGeometry) -> Area:
    """Area of a (multi)polygon given in EPSG:4326 lon/lat, on the WGS84 ellipsoid (holes subtracted)."""
    area, _perimeter = _GEOD.geometry_area_perimeter(geom_lonlat)
    return Area(m2=abs(float(area)))


def ha_to_mu(ha: float) -> float:
    """Hectares to 亩."""
    return ha * MU_PER_HA
