"""The pixel grid of a region: UTM zone of a place and a 10 m GeoBox aligned with Sentinel-2 pixels."""

from __future__ import annotations

import math

from odc.geo.geobox import GeoBox
from pyproj import CRS, Transformer

from agrisense.errors import InvalidInput
from agrisense.geo.utm import utm_epsg

LonLatBBox = tuple[float, float, float, float]

__all__ = ["LonLatBBox", "check_bbox_lonlat", "region_geobox", "utm_epsg"]


def check_bbox_lonlat(bbox_lonlat: LonLatBBox) -> LonLatBBox:
    """Validate a ``(min_lon, min_lat, max_lon, max_lat)`` box and return it as floats."""
    if len(bbox_lonlat) != 4:
        raise InvalidInput(f"bbox must be (min_lon, min_lat, max_lon, max_lat), got {bbox_lonlat!r}.")
    x0, y0, x1, y1 = (float(v) for v in bbox_lonlat)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise InvalidInput(f"bbox {bbox_lonlat!r} holds a non-finite value.")
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise InvalidInput(
            f"bbox {bbox_lonlat!r} is not (min_lon, min_lat, max_lon, max_lat) in degrees with min < max; "
            "check the axis order."
        )
    return x0, y0, x1, y1


def region_geobox(bbox_lonlat: LonLatBBox, resolution: float = 10.0, crs: str | None = None) -> GeoBox:
    """North-up GeoBox covering ``bbox_lonlat`` at ``resolution`` metres.

    The CRS defaults to the UTM zone of the box centre. Pixel edges sit on multiples of the resolution, so a
    10 m grid lines up with Sentinel-2 10 m pixels (and every other one with the 20 m pixels).
    """
    x0, y0, x1, y1 = check_bbox_lonlat(bbox_lonlat)
    if not (math.isfinite(resolution) and resolution > 0):
        raise InvalidInput(f"resolution must be a positive number of metres, got {resolution!r}.")
    target = CRS.from_user_input(crs) if crs else CRS.from_epsg(utm_epsg((x0 + x1) / 2, (y0 + y1) / 2))
    if target.is_geographic:
        raise InvalidInput(f"crs {crs!r} is geographic; give a projected CRS in metres (e.g. a UTM zone).")
    to_target = Transformer.from_crs("EPSG:4326", target, always_xy=True)
    bounds = to_target.transform_bounds(x0, y0, x1, y1, densify_pts=21)
    return GeoBox.from_bbox(bounds, target.to_string(), resolution=resolution, anchor="edge")
