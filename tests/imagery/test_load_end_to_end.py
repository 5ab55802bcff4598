from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from odc.geo.geobox import GeoBox

from agrisense.errors import ImageryUnavailable, InvalidInput
from agrisense.imagery.catalog import open_source
from agrisense.imagery.load import ALL_BANDS, load_scenes, scene_records
from agrisense.imagery.timeseries import build_composites

from .s2_fixture import CONST20, SceneSpec, truth, write_catalog

START, END = date(2026, 3, 1), date(2026, 5, 31)
TOL = 1.01e-4  # DN rounding


@pytest.fixture(scope="module")
def items(s2_catalog: Path, fixture_geobox: GeoBox) -> list:
    bbox = fixture_geobox.geographic_extent.boundingbox
    return open_source(str(s2_catalog)).search((bbox.left, bbox.bottom, bbox.right, bbox.top), START, END)


def test_every_offset_rule_gives_the_same_reflectance(items: list, fixture_geobox: GeoBox) -> None:
    ds = load_scenes(items, fixture_geobox)
    assert ds.red.chunks is not None  # lazy
    assert ds.sizes["time"] == 3  # the cloudy scene is dropped
    assert ds.offset.values.tolist() == pytest.approx([-0.1, 0.0, -0.1])
    assert ds.boa_offset_applied.values.tolist() == [False, True, False]
    loaded = ds.compute()
    for t in range(3):
        red = loaded.red.values[t]
        ok = np.isfinite(red)
        assert ok.mean() > 0.9
        assert np.abs(red[ok] - truth("red")[ok]).max() < TOL
        assert np.abs(loaded.rededge1.values[t][ok] - CONST20["rededge1"]).max() < TOL
        assert loaded.red.dtype == np.float32


def test_clouds_shadow_and_nodata_are_excluded(items: list, fixture_geobox: GeoBox) -> None:
    ds = load_scenes(items, fixture_geobox).compute()
    first = ds.isel(time=0)
    assert not first.clear.values[:17, :17].any()  # 16 px cloud + 1 px dilation
    assert np.isnan(first.red.values[:17, :17]).all()
    assert not first.clear.values[20:24, :8].any()  # shadow
    assert first.clear.values[30:, 30:].all()
    last = ds.isel(time=2)
    assert np.isnan(last.red.values[62:, 62:]).all() and not last.clear.values[62:, 62:].any()
    np.testing.assert_allclose(ds.clear_fraction.values, ds.clear.mean(("y", "x")).values, atol=0.01)
    records = {r.id: r for r in scene_records(ds)}
    cloudy = records["S2B_36NXF_20260410_0_L2A"]
    assert not cloudy.used and not cloudy.failed and "cloudy" in cloudy.reason and cloudy.clear_fraction == 0


def test_build_composites_end_to_end(s2_catalog: Path, fixture_geobox: GeoBox) -> None:
    result = build_composites(str(s2_catalog), fixture_geobox, START, END)
    comp = result.composites
    assert comp.red.chunks is None  # computed
    assert [str(p)[:10] for p in comp.period.values] == ["2026-03-01", "2026-04-01", "2026-05-01"]
    assert set(ALL_BANDS) | {"ndvi", "evi", "ndwi", "ndre", "n_obs", "filled"} <= set(comp.data_vars)
    march, april = comp.sel(period="2026-03-01"), comp.sel(period="2026-04-01")
    assert np.abs(march.red.values - truth("red")).max() < TOL  # cloud corner filled by the clear scene only
    assert march.n_obs.values[0, 0] == 1 and march.n_obs.values[40, 40] == 2
    assert april.n_obs.values.max() == 0
    assert april.filled.values[:62, :62].all()  # interpolated between March and May
    assert np.isnan(april.red.values[62:, 62:]).all()  # May has nodata there: nothing to interpolate towards
    assert np.nanmax(np.abs(april.red.values - truth("red"))) < TOL
    assert not comp.filled.sel(period="2026-05-01").values.any()
    ndvi = (truth("nir") - truth("red")) / (truth("nir") + truth("red"))
    assert np.nanmax(np.abs(march.ndvi.values - ndvi)) < 1e-3
    assert [s.used for s in result.scenes] == [True, True, False, True]
    assert result.scenes[1].offset == 0.0 and result.scenes[0].offset == pytest.approx(-0.1)


def test_failed_read_is_not_zero_and_is_recorded(tmp_path: Path, fixture_geobox: GeoBox) -> None:
    catalog = write_catalog(
        tmp_path,
        [
            SceneSpec(datetime(2026, 3, 5, 8)),
            SceneSpec(datetime(2026, 3, 12, 8), broken_asset="red"),
        ],
    )
    result = build_composites(str(catalog), fixture_geobox, date(2026, 3, 1), date(2026, 3, 31))
    broken = result.scenes[1]
    assert broken.failed and not broken.used and "read" in broken.reason
    comp = result.composites.isel(period=0)
    assert comp.n_obs.values.max() == 1  # the broken scene contributed nothing, in any band
    assert np.abs(comp.nir.values - truth("nir")).max() < TOL


def test_bad_inputs(items: list, fixture_geobox: GeoBox) -> None:
    with pytest.raises(InvalidInput, match="no asset"):
        load_scenes(items, fixture_geobox, bands=["red", "B99"])
    with pytest.raises(ImageryUnavailable):
        load_scenes(items[2:3], fixture_geobox)  # only the cloudy scene
    with pytest.raises(ImageryUnavailable):
        load_scenes([], fixture_geobox)
