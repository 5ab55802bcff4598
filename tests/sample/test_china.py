"""The Chinese sample county: curve-built crop spectra (paddy flooding, rapeseed flowering), the Jiangxi profile's
landscape with large grain farms, and a tiny build whose region folder names the China market."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from agrisense.errors import InvalidInput
from agrisense.market import market_named
from agrisense.region import load_region
from agrisense.resources import resource_path
from agrisense.sample.bands import BAND_INDEX
from agrisense.sample.build import build_region, sowing_windows
from agrisense.sample.crop_curves import mix, monthly_cover
from agrisense.sample.farmers import make_plots
from agrisense.sample.grid import make_grid
from agrisense.sample.inputs import load_inputs
from agrisense.sample.landscape import make_landscape
from agrisense.sample.profiles import JIANGXI, find_profile

CROPS = market_named(resource_path("reference"), "china").crop_table("jiangxi")
APR, JUN, AUG, MAR = 4, 6, 8, 3  # rows of the Dec..Nov tables: calendar month m is row m % 12


def _indices(crop: str) -> dict[str, np.ndarray]:
    ref = CROPS[crop]
    s = mix(monthly_cover((ref, *ref.later_seasons), 2026))
    b = {k: s[:, i] for k, i in BAND_INDEX.items()}
    return {
        "ndvi": (b["nir"] - b["red"]) / (b["nir"] + b["red"]),
        "lswi": (b["nir"] - b["swir16"]) / (b["nir"] + b["swir16"]),
        "ndyi": (b["green"] - b["blue"]) / (b["green"] + b["blue"]),
    }


def test_paddies_flood_at_transplanting_and_double_rice_twice():
    double, single, cotton = _indices("rice_double"), _indices("rice"), _indices("cotton")
    flood = {k: v["lswi"] - v["ndvi"] for k, v in (("double", double), ("single", single), ("cotton", cotton))}
    # flooded paddies: water lifts LSWI against NDVI (Xiao et al. 2005) in the transplanting months
    assert flood["double"][APR] > flood["cotton"][APR] + 0.1  # early rice flooded from mid-April
    assert flood["double"][AUG] > flood["cotton"][AUG] + 0.1  # late rice transplanted after the July harvest
    assert flood["single"][JUN] > flood["cotton"][JUN] + 0.1  # single rice in June
    # two green peaks for double rice (early rice in June, late rice in September), the July harvest between
    ndvi = double["ndvi"]
    assert ndvi[JUN] > ndvi[7] + 0.15 < ndvi[9] and ndvi[9] > 0.7


def test_rapeseed_flowers_yellow_in_march():
    rapeseed, rice = _indices("rapeseed"), _indices("rice")
    assert int(np.argmax(rapeseed["ndyi"])) == MAR
    assert rapeseed["ndyi"][MAR] > rice["ndyi"][MAR] + 0.1


def test_jiangxi_landscape_has_large_grain_farms_whose_owners_apply():
    grid = make_grid(5.0, JIANGXI.center_lonlat, JIANGXI.epsg)
    inputs = load_inputs()
    calendar = sowing_windows(JIANGXI, 2026)
    land = make_landscape(np.random.default_rng([20261122, 1]), grid, inputs.shapes, calendar, JIANGXI)
    farms = sorted({int(v) for v in land.fields.farm if v >= 0})
    assert farms, "a 5 km Jiangxi county has at least one large farm"
    for farm in farms:
        sel = land.fields.farm == farm
        assert sel.sum() >= 3 and shapely.area(land.fields.geometry[sel]).sum() / 1e4 >= 90  # 100+ ha, paths cut
        assert set(land.fields.crop[sel]) <= set(JIANGXI.large_farm_crops)
    plots = make_plots(np.random.default_rng(0), land, 20, JIANGXI.crops, large_farm_plots=True)
    owners = {f for f, k in zip(plots.farmer_id, plots.kind, strict=True) if k == "good"}
    big = [f for f in owners if (plots.farmer_id == f).sum() >= 3]
    assert len(big) >= len(farms)
    assert set(plots.declared_crop) <= set(JIANGXI.crops)


@pytest.mark.slow
def test_tiny_china_build_names_market_model_and_chinese_crops(tmp_path):
    summary = build_region(tmp_path / "cn", seed=3, size_km=2.0, max_scenes=3, profile=JIANGXI)
    region = load_region(summary.out_dir)
    assert (region.market, region.market_area, region.model) == ("china", "jiangxi", "landcover_unet_cn")
    assert region.crs == "EPSG:32650" and 115.9 < region.bbox_lonlat[0] < 116.1
    assert region.crops == JIANGXI.crops
    fields = gpd.read_parquet(summary.fields)
    assert set(fields.crop) <= set(JIANGXI.crops)
    assert (fields.loc[fields.crop == "rapeseed", "sow_date"].dt.year == 2025).all()  # sown the autumn before
    weather = pd.read_csv(summary.weather, parse_dates=["date"])
    june = weather[weather.date.dt.month == 6].precip_mm.sum() / weather.date.dt.year.nunique()
    oct_ = weather[weather.date.dt.month == 10].precip_mm.sum() / weather.date.dt.year.nunique()
    assert june > 3 * oct_  # Nanchang's plum-rain June against its dry October (the market's climatology)
    items = json.loads((summary.catalog.parent / "sentinel-2-l2a" / "collection.json").read_text())
    assert items["id"] == "sentinel-2-l2a"
    assert "Jiangxi" in (summary.out_dir / "README.md").read_text()


def test_unknown_profile_says_what_can_be_built():
    assert find_profile("china", "jiangxi") is JIANGXI
    with pytest.raises(InvalidInput, match="--market china --province jiangxi"):
        find_profile("china", "henan")


def test_build_refuses_an_unknown_crop_before_writing(tmp_path):
    bad = JIANGXI.__class__(**{**JIANGXI.__dict__, "crop_shares": {"rice": 0.5, "durian": 0.5}})
    with pytest.raises(InvalidInput, match="durian"):
        build_region(tmp_path / "bad", size_km=1.0, max_scenes=1, profile=bad)
    assert not (tmp_path / "bad").exists()  # nothing written
