from __future__ import annotations

import json
import threading
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pystac
import pytest
import xarray as xr
from odc.geo.geobox import GeoBox

import agrisense.imagery.cache as cache_module
from agrisense.errors import ImageryUnavailable, InvalidInput
from agrisense.imagery.cache import (
    SCENE_NDVI_VAR,
    TileKey,
    build_composites_cached,
    build_composites_keyed,
    cache_key,
    read_scene_ndvi,
    scene_fingerprint,
    search_tile,
    tile_for_bounds,
)
from agrisense.imagery.catalog import SceneSource, open_source
from agrisense.imagery.indices import add_indices
from agrisense.imagery.load import load_scenes

from .conftest import SCENES
from .s2_fixture import SceneSpec, write_catalog

START, END = date(2026, 3, 1), date(2026, 5, 31)


class _Counting(SceneSource):
    """Counts searches (every imagery read starts with one)."""

    def __init__(self, inner: SceneSource):
        self.inner, self.collection, self.searches = inner, inner.collection, 0

    @property
    def identity(self) -> str:
        return self.inner.identity

    def search(self, bbox_lonlat, start, end, max_cloud=None) -> list[pystac.Item]:  # type: ignore[no-untyped-def]
        self.searches += 1
        return self.inner.search(bbox_lonlat, start, end, max_cloud)


def test_tiles_are_a_fixed_grid_shared_by_nearby_plots() -> None:
    a = tile_for_bounds((500_100, 100_100, 500_200, 100_200), 32636)
    b = tile_for_bounds((500_800, 100_500, 501_100, 100_900), 32636)
    assert a == b == TileKey(32636, 195, 39, 195, 39) and a.name == "32636_195_39"
    gb = a.geobox()
    assert gb.shape.yx == (320, 320) and tuple(gb.affine)[:6] == (10, 0, 499_200 - 320, 0, -10, 102_400 + 320)
    edge = tile_for_bounds((501_600, 100_000, 501_900, 100_100), 32636)  # crosses into the pad: still one tile
    assert edge == a
    big = tile_for_bounds((501_000, 100_000, 504_000, 100_500), 32636)  # too large for the pad: a block
    assert (big.ix0, big.ix1) == (195, 196) and big.geobox().shape.yx == (320, 576)
    with pytest.raises(InvalidInput):
        tile_for_bounds((1, 1, 0, 0), 32636)


def test_key_changes_with_everything_that_changes_the_result(fixture_geobox: GeoBox) -> None:
    base = dict(period="1MS", bands=["red"], min_scene_clear=0.05, max_cloud=None, max_gap_periods=1)
    key = cache_key("static:x", fixture_geobox, START, END, **base)  # type: ignore[arg-type]
    assert key == cache_key("static:x", fixture_geobox, START, END, **base)  # type: ignore[arg-type]
    others = [
        cache_key("static:y", fixture_geobox, START, END, **base),  # type: ignore[arg-type]
        cache_key("static:x", fixture_geobox[1:, :], START, END, **base),  # type: ignore[arg-type]
        cache_key("static:x", fixture_geobox, START, date(2026, 6, 1), **base),  # type: ignore[arg-type]
        cache_key("static:x", fixture_geobox, START, END, **{**base, "period": "10D"}),  # type: ignore[arg-type]
        cache_key("static:x", fixture_geobox, START, END, **{**base, "bands": ["nir"]}),  # type: ignore[arg-type]
    ]
    assert len({key, *others}) == 6


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[GeoBox]:
    """Geoboxes for which this test's thread computed composites from pixels (a cache miss); a scoring thread left
    running by an earlier test (the API's batcher) must not count."""
    seen: list[GeoBox] = []
    real = cache_module.build_composites
    owner = threading.get_ident()

    def counting(source, geobox, *args, **kwargs):  # type: ignore[no-untyped-def]
        if threading.get_ident() == owner:
            seen.append(geobox)
        return real(source, geobox, *args, **kwargs)

    monkeypatch.setattr(cache_module, "build_composites", counting)
    return seen


def test_warm_call_reads_no_pixels_and_returns_the_same(
    s2_catalog: Path, fixture_geobox: GeoBox, tmp_path: Path, builds: list[GeoBox]
) -> None:
    source = _Counting(open_source(str(s2_catalog)))
    cold = build_composites_cached(source, fixture_geobox, START, END, cache_dir=tmp_path)
    assert source.searches == 1  # the build reuses the validity search, no second catalog request
    warm = build_composites_cached(source, fixture_geobox, START, END, cache_dir=tmp_path)
    assert source.searches == 2 and len(builds) == 1  # warm: one metadata search, no pixel reads
    xr.testing.assert_identical(cold.composites, warm.composites)
    assert cold.scenes == warm.scenes and warm.composites.red.chunks is None
    for name in cold.composites.variables:
        assert warm.composites[name].dtype == cold.composites[name].dtype
    build_composites_cached(source, fixture_geobox, START, END, cache_dir=tmp_path, period="10D")
    assert len(builds) == 2  # another period is another entry


def test_fingerprint_sees_new_and_reprocessed_scenes(s2_catalog: Path, fixture_geobox: GeoBox) -> None:
    items = search_tile(open_source(str(s2_catalog)), fixture_geobox, START, END)
    base = scene_fingerprint(items)
    assert base == scene_fingerprint(list(reversed(items)))  # order does not matter
    assert base != scene_fingerprint(items[:-1])
    bumped = [it.clone() for it in items]
    bumped[0].properties["updated"] = "2027-01-01T00:00:00Z"
    assert base != scene_fingerprint(bumped)


def _left_only(catalog: Path, item_id: str, box: GeoBox) -> None:
    """Shrink an item's footprint to ``box`` (a scene that covers only part of the area)."""
    (path,) = catalog.parent.rglob(f"{item_id}.json")
    item = json.loads(path.read_text())
    b = box.geographic_extent.boundingbox
    ring = [[b.left, b.bottom], [b.right, b.bottom], [b.right, b.top], [b.left, b.top], [b.left, b.bottom]]
    item["geometry"], item["bbox"] = {"type": "Polygon", "coordinates": [ring]}, [b.left, b.bottom, b.right, b.top]
    path.write_text(json.dumps(item))


def test_new_scene_at_the_same_catalog_rebuilds_exactly_the_tiles_it_touches(
    fixture_geobox: GeoBox, tmp_path: Path, builds: list[GeoBox]
) -> None:
    root, cache = tmp_path / "stac", tmp_path / "cache"
    catalog = write_catalog(root, SCENES)
    left, right = fixture_geobox[:, :24], fixture_geobox[:, 40:]
    first = {
        n: build_composites_cached(str(catalog), g, START, END, cache_dir=cache) for n, g in [("l", left), ("r", right)]
    }
    assert len(builds) == 2
    new = SceneSpec(datetime(2026, 4, 25, 8))  # fills the cloudy April
    write_catalog(root, [*SCENES, new])  # the same catalog address, one more item
    _left_only(catalog, new.id, left)
    again_right = build_composites_cached(str(catalog), right, START, END, cache_dir=cache)
    assert len(builds) == 2  # the new scene does not touch the right tile: still warm
    xr.testing.assert_identical(again_right.composites, first["r"].composites)
    again_left = build_composites_cached(str(catalog), left, START, END, cache_dir=cache)
    assert len(builds) == 3 and builds[-1] == left
    assert new.id in {s.id for s in again_left.scenes} and new.id not in {s.id for s in first["l"].scenes}
    april = again_left.composites["n_obs"].sel(period="2026-04-01").values
    assert int(april.max()) == 1 and int(first["l"].composites["n_obs"].sel(period="2026-04-01").values.max()) == 0
    build_composites_cached(str(catalog), left, START, END, cache_dir=cache)
    assert len(builds) == 3  # and the rebuilt entry is warm again
    assert len(list(cache.glob("*.zarr"))) == 2  # the stale entry was replaced, not kept beside


class _Offline(SceneSource):
    collection = "sentinel-2-l2a"

    def __init__(self, identity: str):
        self._identity = identity

    @property
    def identity(self) -> str:
        return self._identity

    def search(self, bbox_lonlat, start, end, max_cloud=None) -> list[pystac.Item]:  # type: ignore[no-untyped-def]
        raise ImageryUnavailable("cannot read the STAC catalog (offline)")


def test_unreachable_catalog_serves_a_cached_tile_and_fails_a_cold_one(
    s2_catalog: Path, fixture_geobox: GeoBox, tmp_path: Path
) -> None:
    online = open_source(str(s2_catalog))
    cold = build_composites_cached(online, fixture_geobox, START, END, cache_dir=tmp_path)
    offline = build_composites_cached(_Offline(online.identity), fixture_geobox, START, END, cache_dir=tmp_path)
    xr.testing.assert_identical(cold.composites, offline.composites)
    with pytest.raises(ImageryUnavailable):
        build_composites_cached(_Offline(online.identity), fixture_geobox[:10, :10], START, END, cache_dir=tmp_path)


def test_the_entry_keeps_every_scenes_ndvi_as_a_direct_read_gives_it(
    s2_catalog: Path, fixture_geobox: GeoBox, tmp_path: Path
) -> None:
    """What per-scene monitoring reads from the cache equals loading the scenes' red and NIR again."""
    source = open_source(str(s2_catalog))
    built, entry = build_composites_keyed(source, fixture_geobox, START, END, cache_dir=tmp_path)
    cube = load_scenes(search_tile(source, fixture_geobox, START, END), fixture_geobox, ("red", "nir"))
    direct = add_indices(cube, ["ndvi"])["ndvi"].values
    window = (slice(2, 9), slice(1, 6))
    kept = read_scene_ndvi(tmp_path, entry, window)
    assert kept is not None and built.scene_ndvi is not None
    assert kept.days == built.scene_ndvi.days == tuple(pd.Timestamp(d).date() for d in cube["solar_day"].values)
    np.testing.assert_array_equal(kept.values, direct[:, window[0], window[1]])
    np.testing.assert_array_equal(built.scene_ndvi.values, direct)
    assert SCENE_NDVI_VAR not in built.composites  # the composites themselves are unchanged
    key = entry.partition("-")[0]
    assert read_scene_ndvi(tmp_path, f"{key}-otherscenes") is None  # rebuilt from other scenes since
    assert read_scene_ndvi(tmp_path / "elsewhere", entry) is None
    with xr.open_zarr(tmp_path / f"{key}.zarr", consolidated=False) as stored:
        old = stored.drop_vars([SCENE_NDVI_VAR, "scene_day"]).load()
    old.to_zarr(tmp_path / f"{key}.zarr", mode="w", consolidated=False)  # an entry written before it was kept
    assert read_scene_ndvi(tmp_path, entry) is None


def test_unreadable_entry_is_rebuilt(s2_catalog: Path, fixture_geobox: GeoBox, tmp_path: Path) -> None:
    source = _Counting(open_source(str(s2_catalog)))
    first = build_composites_cached(source, fixture_geobox, START, END, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("*.zarr")
    (entry / "zarr.json").write_text("{ not json")
    again = build_composites_cached(source, fixture_geobox, START, END, cache_dir=tmp_path)
    assert source.searches == 2 and len(list(tmp_path.glob("*.zarr"))) == 1
    xr.testing.assert_identical(first.composites, again.composites)
