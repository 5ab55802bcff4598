from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords
from shapely.affinity import rotate
from shapely.geometry import LineString, Point, box

from agrisense.errors import InvalidInput
from agrisense.imagery.composite import composites
from agrisense.imagery.scenes import SceneRecord
from agrisense.imagery.zonal import plot_coverage, plot_statistics, weighted_quantiles

X0, Y0 = 500_000.0, 100_400.0
GRID = GeoBox.from_bbox((X0, Y0 - 400, X0 + 400, Y0), "EPSG:32636", resolution=10)  # 40 x 40


def test_half_covered_pixels_weigh_half() -> None:
    geom = box(X0 + 20, Y0 - 50, X0 + 55, Y0 - 20)  # cols 2..4 full, col 5 half; rows 2..4
    window, weights = plot_coverage(geom, GRID)
    assert window == (slice(2, 5), slice(2, 6))
    np.testing.assert_allclose(weights, [[1, 1, 1, 0.5]] * 3)


@pytest.mark.parametrize("angle", [0, 17, 45])
def test_weights_sum_to_polygon_area(angle: float) -> None:
    field = rotate(box(X0 + 63, Y0 - 287, X0 + 241, Y0 - 151), angle)
    disc = Point(X0 + 300, Y0 - 300).buffer(47)
    for geom in (field, disc):
        _, weights = plot_coverage(geom, GRID)
        assert weights.sum() * 100 == pytest.approx(geom.area, rel=0.01)
        assert weights.min() >= 0 and weights.max() <= 1


def test_outside_and_partly_outside_grid() -> None:
    window, weights = plot_coverage(box(X0 - 500, Y0 - 100, X0 - 300, Y0), GRID)
    assert weights.shape == (0, 0) and window == (slice(0, 0), slice(0, 0))
    _, weights = plot_coverage(box(X0 - 50, Y0 - 50, X0 + 50, Y0 + 50), GRID)
    assert weights.sum() == pytest.approx(25)  # the quarter on the grid
    with pytest.raises(InvalidInput):
        plot_coverage(LineString([(X0, Y0), (X0 + 10, Y0 - 10)]), GRID)


def test_weighted_quantiles() -> None:
    assert weighted_quantiles([1.0, 2.0, 3.0], [1, 1, 1], [0.5])[0] == pytest.approx(2.0)
    assert weighted_quantiles([1.0, 5.0, np.nan], [0.001, 1, 1], [0.5])[0] == pytest.approx(5.0, abs=0.01)
    assert np.isnan(weighted_quantiles([np.nan], [1], [0.5])[0])


def _composites() -> xr.Dataset:
    coords = xr_coords(GRID)
    times = pd.DatetimeIndex(["2026-03-05", "2026-03-20", "2026-05-10"])
    red = np.full((3, 40, 40), 0.05, dtype=np.float32)
    red[:, :, 20:] = np.nan  # right half never clear
    red[1] = 0.07
    red[1, :, 20:] = np.nan
    data = {"red": red, "nir": np.where(np.isnan(red), np.nan, np.float32(0.40)).astype(np.float32)}
    ds = xr.Dataset({k: (("time", "y", "x"), v) for k, v in data.items()}, coords={"time": times, **coords})
    return composites(ds.assign(clear=ds.red.notnull()), start="2026-03-01", end="2026-06-01").compute()


def _record(scene_id: str, when: datetime, used: bool = True) -> SceneRecord:
    return SceneRecord(scene_id, when, "05.11", False, 1e-4, -0.1, 0.9, used, False, "")


def test_plot_statistics_rows_columns_and_provenance() -> None:
    comp = _composites()
    geoms_utm = [
        box(X0 + 20, Y0 - 200, X0 + 150, Y0 - 100),  # left half: clear
        box(X0 + 150, Y0 - 200, X0 + 250, Y0 - 100),  # half clear, half never clear
        box(X0 + 300, Y0 - 200, X0 + 350, Y0 - 100),  # never clear
        box(X0 + 5000, Y0, X0 + 5100, Y0 + 100),  # off the grid
    ]
    plots = gpd.GeoDataFrame({"plot_id": ["a", "b", "c", "d"]}, geometry=geoms_utm, crs=GRID.crs.to_wkt())
    scenes = [
        _record("s1", datetime(2026, 3, 5, 8, tzinfo=UTC)),
        _record("s2", datetime(2026, 3, 20, 8, tzinfo=UTC)),
        _record("s3", datetime(2026, 4, 2, 8, tzinfo=UTC), used=False),
        _record("s4", datetime(2026, 5, 10, 8, tzinfo=UTC)),
    ]
    stats = plot_statistics(comp, plots.to_crs(4326), scenes)
    assert len(stats) == 4 * 3
    for col in ("plot_id", "period_start", "clear_fraction", "n_obs", "scene_ids", "baselines", "status"):
        assert col in stats.columns
    for var in ("red", "nir", "ndvi"):
        assert {f"{var}_median", f"{var}_p10", f"{var}_p90"} <= set(stats.columns)
    row = stats.set_index(["plot_id", "period_start"])
    march, april = pd.Timestamp("2026-03-01"), pd.Timestamp("2026-04-01")
    a = row.loc[("a", march)]
    assert a.red_median == pytest.approx(0.06) and a.n_obs == 2 and a.clear_fraction == pytest.approx(1.0)
    assert a.scene_ids == ["s1", "s2"] and a.baselines == ["05.11"] and a.status == "ok"
    assert row.loc[("a", april)].filled_fraction == pytest.approx(1.0)
    assert row.loc[("a", april)].clear_fraction == 0 and row.loc[("a", april)].scene_ids == []
    assert row.loc[("b", march)].clear_fraction == pytest.approx(0.5, abs=0.02)
    assert row.loc[("b", march)].red_median == pytest.approx(0.06)
    c = row.loc[("c", march)]
    assert c.status == "no_clear_observation" and c.clear_fraction == 0 and np.isnan(c.red_median)
    d = row.loc[("d", march)]
    assert d.status == "outside_grid" and d.clear_fraction == 0 and d.n_obs == 0 and np.isnan(d.ndvi_median)


def test_plot_statistics_needs_ids_and_crs() -> None:
    comp = _composites()
    plots = gpd.GeoDataFrame({"id": ["a"]}, geometry=[box(X0, Y0 - 50, X0 + 50, Y0)], crs=32636)
    with pytest.raises(InvalidInput, match="plot_id"):
        plot_statistics(comp, plots)
    with pytest.raises(InvalidInput, match="CRS"):
        plot_statistics(comp, gpd.GeoDataFrame({"plot_id": ["a"]}, geometry=[box(0, 0, 1, 1)]))
