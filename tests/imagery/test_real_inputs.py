from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio import features
from shapely.geometry import box, shape
from shapely.ops import unary_union

from agrisense.errors import InvalidInput, NotFound
from agrisense.imagery.composite import composites
from agrisense.imagery.real_inputs import (
    S2_L1C_BAND_CODES,
    asset_names,
    dataset_from_geotiff,
    dataset_from_netcdf,
)
from agrisense.imagery.zonal import plot_statistics

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "imagery"
BELGIUM = REAL / "belgium_2021_s2_monthly_100px.nc"
AUSTRIA = REAL / "austria_2021_s2_rgbn_2dates.tif"
SLOVENIA = REAL / "slovenia_2015_s2l1c_5dates_101x100.tif"
SLOVENIA_LULC = REAL / "slovenia_lulc_101x100.tif"
# band orders and dates from /work/shared/data/real/PROVENANCE.md
AUSTRIA_DATES = ["2021-06-17T10:05:59", "2021-09-25T10:10:19"]
SLOVENIA_DATES = [
    "2015-07-11T10:00:08",
    "2015-07-31T10:00:09",
    "2015-08-20T10:07:28",
    "2015-08-30T10:05:47",
    "2015-09-09T10:00:17",
]


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"real imagery not available at {path}")
    return path


@pytest.fixture(scope="module")
def belgium():
    return dataset_from_netcdf(_need(BELGIUM))


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


def test_austria_geotiff_goes_through_composites_and_plots() -> None:
    ds = dataset_from_geotiff(
        _need(AUSTRIA), band_map=["red", "green", "blue", "nir"], dates=AUSTRIA_DATES
    )  # L2A, baseline-03 scaling: DN x 1e-4, no offset
    assert ds.sizes == {"time": 2, "y": 379, "x": 578} and ds.odc.geobox.crs.epsg == 32633
    assert float(ds.x[0]) == 359135 and float(ds.y[0]) == 5352335 and ds.attrs["reflectance"] == "BOA"
    comp = composites(ds, start="2021-06-01", end="2021-10-01")
    assert {"ndvi", "evi", "ndwi"} <= set(comp.data_vars) and "ndre" not in comp  # no red edge: not invented
    june, sep = comp.sel(period="2021-06-01"), comp.sel(period="2021-09-01")
    assert 0.4 < float(np.nanmedian(june.ndvi)) < 0.9 and (june.n_obs == 1).all()
    assert np.isnan(comp.sel(period="2021-07-01").ndvi).all()  # a two-month gap stays empty
    assert float(np.nanmin(june.ndvi)) >= -1 and float(np.nanmax(sep.ndvi)) <= 1
    x0, y0 = 360_000, 5_350_000
    plots = gpd.GeoDataFrame(
        {"plot_id": ["a", "b"]},
        geometry=[box(x0, y0, x0 + 200, y0 + 150), box(x0 + 1000, y0 + 500, x0 + 1100, y0 + 600)],
        crs=32633,
    ).to_crs(4326)
    stats = plot_statistics(comp, plots)
    assert len(stats) == 2 * 4
    observed = stats[stats.period_start.isin(pd.to_datetime(["2021-06-01", "2021-09-01"]))]
    assert (observed.status == "ok").all() and (observed.clear_fraction == 1).all()
    assert ((observed.ndvi_p10 <= observed.ndvi_median) & (observed.ndvi_median <= observed.ndvi_p90)).all()
    direct = june.ndvi.sel(x=slice(x0, x0 + 200), y=slice(y0 + 150, y0)).values
    a_june = observed[(observed.plot_id == "a") & (observed.period_start == "2021-06-01")].iloc[0]
    assert a_june.ndvi_median == pytest.approx(float(np.median(direct)), abs=0.02)


def test_slovenia_l1c_toa_per_class_ndvi_is_sensible() -> None:
    ds = dataset_from_geotiff(
        _need(SLOVENIA), band_map=asset_names(S2_L1C_BAND_CODES), dates=SLOVENIA_DATES, reflectance="TOA"
    )
    assert ds.attrs["reflectance"] == "TOA"  # L1C: top of atmosphere, no cloud mask
    assert set(ds.data_vars) == {*asset_names(S2_L1C_BAND_CODES)} - {None} | {"clear"}  # B01/B09/B10 skipped
    comp = composites(ds, start="2015-07-01", end="2015-10-01")
    with rasterio.open(_need(SLOVENIA_LULC)) as src:
        lulc, transform, crs = src.read(1), src.transform, src.crs
    classes = {1: "cultivated", 2: "forest", 3: "grassland", 8: "artificial"}
    polygons = {
        name: unary_union(
            [shape(g) for g, v in features.shapes(lulc, mask=lulc == code, transform=transform) if v == code]
        )
        for code, name in classes.items()
    }
    plots = gpd.GeoDataFrame({"plot_id": list(polygons)}, geometry=list(polygons.values()), crs=crs.to_wkt()).to_crs(
        4326
    )
    stats = plot_statistics(comp, plots).set_index(["plot_id", "period_start"]).ndvi_median
    for period in comp.period.values:
        assert stats[("forest", period)] > stats[("artificial", period)]
    sep = np.datetime64("2015-09-01")  # one clear date
    assert stats[("forest", sep)] > 0.6 and stats[("grassland", sep)] > 0.6
    assert stats[("forest", sep)] - stats[("artificial", sep)] > 0.08


def test_geotiff_band_layout_must_match(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="bands, not"):
        dataset_from_geotiff(_need(AUSTRIA), band_map=["red", "green", "blue"], dates=AUSTRIA_DATES)
    with pytest.raises(InvalidInput, match="distinct"):
        dataset_from_geotiff(AUSTRIA, band_map=["red", "red", "blue", "nir"], dates=AUSTRIA_DATES)
    with pytest.raises(NotFound):
        dataset_from_geotiff(tmp_path / "missing.tif", band_map=["red"], dates=["2021-06-01"])
