"""UTM zone choice for a place: the metric grid every plot is processed on."""

from __future__ import annotations

import math

from agrisense.errors import InvalidGeometry


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 UTM zone holding ``(lon, lat)`` (326xx north, 327xx south).

    Uses the regular 6-degree zones (no Norway/Svalbard exceptions), as Sentinel-2 MGRS tiles do.
    """
    if not (math.isfinite(lon) and math.isfinite(lat)) or not -180 <= lon <= 180 or not -80 <= lat <= 84:
        raise InvalidGeometry(
            f"({lon}, {lat}) is not a longitude/latitude inside the UTM range (lon -180..180, lat -80..84); "
            "check that coordinates are in degrees and in lon, lat order."
        )
    zone = min(int((lon + 180) // 6) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone
