"""Map backgrounds: a mosaic of the service's own web-mercator tiles (no internet, no CDN, no basemap provider).

``fetch(z, x, y) -> PNG bytes | None`` is normally ``agrisense.imagery.tiles.render_tile`` bound to a layer and
the settings: the same composites the plots were scored on. Missing tiles stay transparent.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import morecantile
import numpy as np
from PIL import Image

from agrisense.errors import InvalidInput

TILE_PX = 256
MAX_ZOOM = 18
"""Sentinel-2 pixels are 10 m: deeper zooms only enlarge them (~0.6 m per screen pixel at z18)."""

TileFetch = Callable[[int, int, int], bytes | None]
_TMS = morecantile.tms.get("WebMercatorQuad")


@dataclass(frozen=True)
class Mosaic:
    """An RGBA image and where it lies in EPSG:3857 metres (matplotlib ``extent`` order)."""

    image: np.ndarray  # (H, W, 4) uint8
    extent: tuple[float, float, float, float]  # left, right, bottom, top
    zoom: int
    tiles_with_data: int


def _check_bounds(bounds: tuple[float, float, float, float]) -> None:
    west, south, east, north = bounds
    if not all(math.isfinite(v) for v in bounds) or west > east or south > north:
        raise InvalidInput(f"map bounds {bounds} must be finite (west, south, east, north) with west <= east")
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -85.06 <= south <= 85.06 and -85.06 <= north <= 85.06):
        raise InvalidInput(f"map bounds {bounds} are not longitude/latitude degrees (EPSG:4326)")


def tile_range(bounds: tuple[float, float, float, float], zoom: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) inclusive XYZ tile indices covering lon/lat ``bounds`` at ``zoom``."""
    _check_bounds(bounds)
    west, south, east, north = bounds
    top_left = _TMS.tile(west, north, zoom)
    bottom_right = _TMS.tile(east, south, zoom)
    return top_left.x, top_left.y, bottom_right.x, bottom_right.y


def choose_zoom(bounds: tuple[float, float, float, float], *, max_tiles: int = 16, max_zoom: int = MAX_ZOOM) -> int:
    """The deepest zoom (<= ``max_zoom``) at which ``bounds`` needs at most ``max_tiles`` tiles."""
    if max_tiles < 1:
        raise InvalidInput("max_tiles must be at least 1")
    for zoom in range(max_zoom, -1, -1):
        x0, y0, x1, y1 = tile_range(bounds, zoom)
        if (x1 - x0 + 1) * (y1 - y0 + 1) <= max_tiles:
            return zoom
    return 0


def mosaic(
    bounds: tuple[float, float, float, float], fetch: TileFetch, *, max_tiles: int = 16, max_zoom: int = MAX_ZOOM
) -> Mosaic | None:
    """Stitch the tiles covering lon/lat ``bounds``; None when no tile has data (e.g. a cold imagery cache)."""
    zoom = choose_zoom(bounds, max_tiles=max_tiles, max_zoom=max_zoom)
    x0, y0, x1, y1 = tile_range(bounds, zoom)
    image = np.zeros(((y1 - y0 + 1) * TILE_PX, (x1 - x0 + 1) * TILE_PX, 4), dtype=np.uint8)
    found = 0
    for ty in range(y0, y1 + 1):
        for tx in range(x0, x1 + 1):
            png = fetch(zoom, tx, ty)
            if png is None:
                continue
            tile = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
            r, c = (ty - y0) * TILE_PX, (tx - x0) * TILE_PX
            image[r : r + TILE_PX, c : c + TILE_PX] = tile
            found += 1
    if found == 0:
        return None
    top_left = _TMS.xy_bounds(morecantile.Tile(x0, y0, zoom))
    bottom_right = _TMS.xy_bounds(morecantile.Tile(x1, y1, zoom))
    extent = (top_left.left, bottom_right.right, bottom_right.bottom, top_left.top)
    return Mosaic(image, extent, zoom, found)


def padded_bounds(
    bounds: tuple[float, float, float, float], share: float = 0.15, min_deg: float = 0.002
) -> tuple[float, float, float, float]:
    """``bounds`` grown by ``share`` of their size on each side (at least ``min_deg``), so outlines have context."""
    west, south, east, north = bounds
    dx = max((east - west) * share, min_deg)
    dy = max((north - south) * share, min_deg)
    return (max(west - dx, -180.0), max(south - dy, -85.0), min(east + dx, 180.0), min(north + dy, 85.0))
