from __future__ import annotations

from datetime import date
from pathlib import Path

import pystac
import pytest
import xarray as xr
from odc.geo.geobox import GeoBox

from agrisense.errors import InvalidInput
from agrisense.imagery.cache import TileKey, build_composites_cached, cache_key, tile_for_bounds
from agrisense.imagery.catalog import SceneSource, open_source

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


def test_warm_call_reads_nothing_and_returns_the_same(s2_catalog: Path, fixture_geobox: GeoBox, tmp_path: Path) -> None:
    source = _Counting(open_source(str(s2_catalog)))
    cold = build_composites_cached(source, fixture_geobox, START, END, cache_dir=tmp_path)
    warm = build_composites_cached(source, fixture_geobox, START, END, cache_dir=tmp_path)
    assert source.searches == 1
    xr.testing.assert_identical(cold.composites, warm.composites)
    assert cold.scenes == warm.scenes and warm.composites.red.chunks is None
    for name in cold.composites.variables:
        assert warm.composites[name].dtype == cold.composites[name].dtype
    build_composites_cached(source, fixture_geobox, START, END, cache_dir=tmp_path, period="10D")
    assert source.searches == 2  # another period is another entry


def test_unreadable_entry_is_rebuilt(s2_catalog: Path, fixture_geobox: GeoBox, tmp_path: Path) -> None:
    source = _Counting(open_source(str(s2_catalog)))
    first = build_composites_cached(source, fixture_geobox, START, END, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("*.zarr")
    (entry / "zarr.json").write_text("{ not json")
    again = build_composites_cached(source, fixture_geobox, START, END, cache_dir=tmp_path)
    assert source.searches == 2
    xr.testing.assert_identical(first.composites, again.composites)
