"""UTM zone choice for a place: the metric grid every plot is processed on."""

from __future__ import annotations

from agrisense.errors import InvalidGeometry


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone containing (lon, lat): 326xx north, 327xx south."""
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise InvalidGeometry(f"Coordinate ({lon}, {lat}) is not a longitude/latitude pair in degrees.")
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone
