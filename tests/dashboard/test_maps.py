"""Tile mosaics for map backgrounds, from any tile source (the service's own render_tile in the app)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from agrisense.app.dashboard.maps import TILE_PX, choose_zoom, mosaic, padded_bounds, tile_range
from agrisense.errors import InvalidInput

BOUNDS = (32.96, 2.28, 32.98, 2.30)  # ~2 km in the sample county


def _png(colour: tuple[int, int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (TILE_PX, TILE_PX), colour).save(buf, format="PNG")
    return buf.getvalue()


def test_choose_zoom_takes_the_deepest_level_within_the_tile_budget() -> None:
    z = choose_zoom(BOUNDS, max_tiles=16)
    x0, y0, x1, y1 = tile_range(BOUNDS, z)
    assert (x1 - x0 + 1) * (y1 - y0 + 1) <= 16
    x0, y0, x1, y1 = tile_range(BOUNDS, z + 1)
    assert (x1 - x0 + 1) * (y1 - y0 + 1) > 16
    assert choose_zoom(BOUNDS, max_tiles=1) < z


def test_mosaic_places_each_tile_and_leaves_missing_ones_transparent() -> None:
    z = choose_zoom(BOUNDS, max_tiles=4)
    x0, y0, x1, y1 = tile_range(BOUNDS, z)
    calls = []

    def fetch(zz: int, x: int, y: int) -> bytes | None:
        calls.append((zz, x, y))
        return _png((200, 10, 10, 255)) if (x, y) == (x0, y0) else None

    result = mosaic(BOUNDS, fetch, max_tiles=4)
    assert result is not None and result.zoom == z
    assert len(calls) == (x1 - x0 + 1) * (y1 - y0 + 1)
    assert result.image.shape == ((y1 - y0 + 1) * TILE_PX, (x1 - x0 + 1) * TILE_PX, 4)
    assert tuple(result.image[0, 0]) == (200, 10, 10, 255)
    assert result.tiles_with_data == 1
    if result.image.shape[1] > TILE_PX:
        assert result.image[0, TILE_PX, 3] == 0
    left, right, bottom, top = result.extent
    assert left < right and bottom < top
    # the mosaic covers the requested bounds (lon 32.96..32.98 in web-mercator metres)
    assert left <= 32.96 * 111319.49 <= right


def test_mosaic_is_none_without_any_tile() -> None:
    assert mosaic(BOUNDS, lambda z, x, y: None) is None


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(InvalidInput, match="longitude/latitude"):
        tile_range((500000.0, 250000.0, 501000.0, 251000.0), 12)
    with pytest.raises(InvalidInput, match="west <= east"):
        tile_range((33.0, 2.0, 32.0, 2.1), 12)


def test_padded_bounds_grow_every_side() -> None:
    w, s, e, n = padded_bounds(BOUNDS, share=0.5)
    assert w < BOUNDS[0] and s < BOUNDS[1] and e > BOUNDS[2] and n > BOUNDS[3]
    assert np.isclose(e - w, 0.04)
