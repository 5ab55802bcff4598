from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from agrisense.errors import NotFound
from agrisense.imagery.composite import composites
from agrisense.imagery.real_inputs import dataset_from_netcdf
from agrisense.imagery.zonal import plot_statistics

REPO = Path(__file__).resolve().parents[2]
BELGIUM = REPO / ".." / "shared" / "data" / "real" / "imagery" / "belgium_2021_s2_monthly_100px.nc"


@pytest.fixture(scope="module")
def belgium():
    if not BELGIUM.is_file():
        pytest.skip(f"real imagery not available at {BELGIUM}")
    return dataset_from_netcdf(BELGIUM)


def test_netcdf_becomes_the_band_dataset(belgium) -> None:
    assert belgium.sizes == {"time": 12, "y": 100, "x": 100}
    assert {"blue", "green", "red", "nir", "rededge1", "swir16", "swir22", "clear"} <= set(belgium.data_vars)
    assert "nir08" not in belgium  # the product has no B8A: absent, not invented
    assert belgium.odc.geobox.crs.epsg == 32631
    assert float(belgium.x[0]) == 664005 and float(belgium.y[0]) == 5612115
    assert belgium.red.dtype == np.float32
    dec = belgium.sel(time="2020-12-01")
    assert np.isnan(dec.red.values).all() and not dec.clear.values.any()  # 65535 = no clear view
    july = belgium.red.sel(time="2021-07-01").values
    assert np.isfinite(july).all() and 0.0 <= np.nanmedian(july) < 0.3


def test_indices_composites_and_zonal_run_on_real_data(belgium) -> None:
    comp = composites(belgium)
    assert comp.sizes["period"] == 12
    ndvi = comp.ndvi.mean(("y", "x")).values
    assert np.isnan(ndvi[1:3]).all()  # Dec + Jan: a 2-month gap stays unfilled with max_gap_periods=1
    assert ndvi[6:9].mean() > ndvi[3:5].mean()  # summer greener than early spring
    assert comp.n_obs.values.max() == 1
    x0, y0 = float(belgium.x[0]) - 5, float(belgium.y[0]) + 5
    plots = gpd.GeoDataFrame(
        {"plot_id": ["p1"]}, geometry=[box(x0 + 100, y0 - 400, x0 + 400, y0 - 100)], crs=32631
    ).to_crs(4326)
    stats = plot_statistics(comp, plots)
    assert len(stats) == 12
    june = stats[stats.period_start == "2021-06-01"].iloc[0]
    assert june.clear_fraction == pytest.approx(1.0) and june.status == "ok"
    assert june.ndvi_p10 <= june.ndvi_median <= june.ndvi_p90
    dec = stats[stats.period_start == "2020-12-01"].iloc[0]
    assert dec.clear_fraction == 0 and np.isnan(dec.red_median)


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        dataset_from_netcdf(tmp_path / "missing.nc")
