"""Map tiles rendered from the composites cache (agrisense.imagery.tiles) and served by agrisense.app.api.tiles."""

from __future__ import annotations

import io
import math
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agrisense.config import Settings
from agrisense.errors import InvalidInput
from agrisense.imagery import tiles
from agrisense.region import load_region


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


@pytest.fixture(scope="module")
def warm_settings(small_region: Path) -> Settings:
    """Settings on the small region with its imagery cache warm (session cache folder, shared with other tests)."""
    settings = Settings(region_dir=small_region)
    assert tiles.warm_region_tiles(settings) == len(tiles.region_grid(load_region(small_region)))
    return settings


def _centre_tile(settings: Settings, z: int) -> tuple[int, int]:
    w, s, e, n = load_region(settings.region_dir).bbox_lonlat
    return lonlat_to_tile((w + e) / 2, (s + n) / 2, z)


def _rgba(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (256, 256) and image.mode == "RGBA"
    return np.asarray(image)


def test_tile_bounds_match_the_web_mercator_grid() -> None:
    assert tiles.tile_bounds_3857(0, 0, 0) == pytest.approx((-20037508.34, -20037508.34, 20037508.34, 20037508.34))
    left, bottom, right, top = tiles.tile_bounds_3857(1, 1, 0)
    assert (left, bottom) == pytest.approx((0.0, 0.0)) and right == pytest.approx(top)
    for bad in ((-1, 0, 0), (2, 4, 0), (3, 0, -1), (tiles.MAX_ZOOM + 1, 0, 0)):
        with pytest.raises(InvalidInput, match="does not exist"):
            tiles.tile_bounds_3857(*bad)


def test_region_grid_covers_the_region(small_region: Path) -> None:
    region = load_region(small_region)
    grid = tiles.region_grid(region)
    x0, y0, x1, y1 = region.bbox_utm
    assert min(t.ix0 for t in grid) * 2560 <= x0 and (max(t.ix0 for t in grid) + 1) * 2560 >= x1
    assert min(t.iy0 for t in grid) * 2560 <= y0 and (max(t.iy0 for t in grid) + 1) * 2560 >= y1
    assert all(t.ix0 == t.ix1 and t.iy0 == t.iy1 for t in grid)  # single tiles, keyed as scoring keys them


def test_truecolor_and_ndvi_tiles_show_the_scored_pixels(warm_settings: Settings) -> None:
    z = 16
    x, y = _centre_tile(warm_settings, z)
    t0 = time.perf_counter()
    png = tiles.render_tile("truecolor", z, x, y, settings=warm_settings)
    elapsed = time.perf_counter() - t0
    assert png is not None and elapsed < 10
    rgba = _rgba(png)
    assert (rgba[..., 3] == 255).mean() > 0.99  # the region's centre is fully covered
    assert rgba[..., :3].std() > 5  # fields, not a flat colour
    ndvi = _rgba(tiles.render_tile("ndvi", z, x, y, settings=warm_settings) or b"")
    green_dominant = (ndvi[..., 1].astype(int) > ndvi[..., 0].astype(int)).mean()
    assert green_dominant > 0.3  # a growing season's peak NDVI is mostly green on the ramp
    # a second request is served from memory and is byte-identical
    t0 = time.perf_counter()
    assert tiles.render_tile("truecolor", z, x, y, settings=warm_settings) == png
    assert time.perf_counter() - t0 < 0.5


def test_tile_at_the_region_edge_is_transparent_outside(warm_settings: Settings) -> None:
    w, s, _, _ = load_region(warm_settings.region_dir).bbox_lonlat
    x, y = lonlat_to_tile(w, s, 15)
    rgba = _rgba(tiles.render_tile("ndvi", 15, x, y, settings=warm_settings) or b"")
    alpha = rgba[..., 3]
    assert 0.01 < (alpha == 255).mean() < 0.99  # part region, part nothing
    assert set(np.unique(alpha)) <= {0, 255}
    assert (rgba[alpha == 0][:, :3] == 0).all()


def test_no_tile_far_from_the_region(warm_settings: Settings) -> None:
    assert tiles.render_tile("truecolor", 12, 0, 0, settings=warm_settings) is None
    x, y = _centre_tile(warm_settings, 11)
    overview = _rgba(tiles.render_tile("ndvi", 11, x, y, settings=warm_settings) or b"")
    assert 0 < (overview[..., 3] == 255).mean() < 0.1  # a 2 km region is a small patch of a zoom-11 tile


def test_unknown_layer_is_refused(warm_settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="unknown map layer"):
        tiles.render_tile("infrared", 10, 0, 0, settings=warm_settings)  # type: ignore[arg-type]


def test_cold_cache_renders_nothing_and_loads_no_imagery(small_region: Path, tmp_path: Path) -> None:
    settings = Settings(region_dir=small_region, cache_dir=tmp_path / "cold")
    x, y = _centre_tile(settings, 16)
    assert tiles.render_tile("truecolor", 16, x, y, settings=settings) is None  # never loads imagery itself
    assert not (tmp_path / "cold").exists()


BAD_TILES = (
    "/tiles/ndvi/3/8/0.png",
    "/tiles/ndvi/21/0/0.png",
    "/tiles/ndvi/-1/0/0.png",
    "/tiles/ndvi/99999999999999999999/0/0.png",
)


def test_tile_route_status_codes_and_cache_headers(warm_settings: Settings) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from agrisense.app.api.tiles import router

    app = FastAPI()
    app.state.settings = warm_settings
    app.include_router(router)
    client = TestClient(app)
    x, y = _centre_tile(warm_settings, 16)
    ok = client.get(f"/tiles/truecolor/16/{x}/{y}.png")
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/png"
    assert "max-age" in ok.headers["cache-control"] and ok.headers["etag"]
    assert (
        client.get(f"/tiles/truecolor/16/{x}/{y}.png", headers={"If-None-Match": ok.headers["etag"]}).status_code == 304
    )
    assert client.get("/tiles/truecolor/12/0/0.png").status_code == 204
    unknown = client.get(f"/tiles/infrared/16/{x}/{y}.png")
    assert unknown.status_code == 404 and "truecolor" in unknown.json()["detail"]
    for bad in BAD_TILES:
        response = client.get(bad)
        assert response.status_code == 400 and "does not exist" in response.json()["detail"], bad
    assert client.get("/tiles/ndvi/a/0/0.png").status_code == 400
