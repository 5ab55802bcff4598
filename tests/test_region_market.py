"""A region folder carries its market: region.json names it, and scoring takes crops and policy from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agrisense import services
from agrisense.config import settings_with
from agrisense.credit.policy import load_policy
from agrisense.errors import InvalidInput, NotFound
from agrisense.market import market_named
from agrisense.ml.registry import read_bundle
from agrisense.region import DEFAULT_MARKET, DEFAULT_MODEL, load_region
from agrisense.sample.profiles import JIANGXI
from agrisense.scoring.offers import CreditInputs, load_reference

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
POLICIES = Path(__file__).resolve().parents[1] / "agrisense" / "credit" / "policies"
REGION = {
    "name": "test region",
    "crs": "EPSG:32650",
    "bbox_lonlat": [115.8, 28.6, 115.85, 28.65],
    "bbox_utm": [0, 0, 5000, 5000],
    "season": 2026,
    "imagery_start": "2026-03-01",
    "imagery_end": "2026-11-30",
    "crops": ["rice_double", "rice", "rapeseed", "cotton"],
}


def _region(tmp_path: Path, **extra: object) -> Path:
    (tmp_path / "region.json").write_text(json.dumps({**REGION, **extra}), encoding="utf-8")
    return tmp_path


def _credit(market: str | None, area: str | None = None) -> CreditInputs:
    return CreditInputs(
        reference_dir=REFERENCE,
        policy_file=POLICIES / "default.yaml",
        weather_csv=Path("unused.csv"),
        evidence_season=2026,
        finance_season=2027,
        market=market,
        market_area=area,
    )


def test_region_json_names_market_area_and_model(tmp_path):
    region = load_region(_region(tmp_path, market="china", market_area="jiangxi", model="landcover_unet_cn"))
    assert (region.market, region.market_area, region.model) == ("china", "jiangxi", "landcover_unet_cn")


def test_region_without_market_is_the_sample_county_market(tmp_path):
    region = load_region(_region(tmp_path))
    assert (region.market, region.market_area, region.model) == (DEFAULT_MARKET, None, DEFAULT_MODEL)


def test_china_market_gives_its_crops_province_yields_and_policy():
    china = market_named(REFERENCE, "china")
    ref = load_reference(REFERENCE, china.policy_path(POLICIES / "default.yaml"), "china", "jiangxi")
    assert {"rice", "rice_double", "rapeseed", "cotton"} <= set(ref.crops)
    assert ref.crops["rice_early"].ref_yield_t_ha == pytest.approx(5.714)  # Jiangxi, not national
    assert ref.policy.version == load_policy(POLICIES / "china.yaml").version
    # a market on the default policy lends under the configured file
    assert market_named(REFERENCE, "sample_county").policy_path(Path("mine.yaml")) == Path("mine.yaml")


def test_sample_county_market_is_crops_csv_under_the_configured_policy():
    by_market, legacy = _credit("sample_county").reference(), _credit(None).reference()
    assert by_market.crops == legacy.crops
    assert by_market.policy == legacy.policy


def test_unknown_market_or_area_is_refused_with_what_exists():
    with pytest.raises(NotFound, match="china"):
        load_reference(REFERENCE, POLICIES / "default.yaml", "atlantis")
    with pytest.raises(InvalidInput, match="jiangxi"):
        load_reference(REFERENCE, POLICIES / "default.yaml", "china", "atlantis")


def test_scoring_takes_the_regions_model_and_market_policy(tmp_path):
    region = load_region(_region(tmp_path, market="china", market_area="jiangxi", model="landcover_unet_cn"))
    settings = settings_with(region_dir=tmp_path)
    assert services.scoring_inputs(settings, region).model == "landcover_unet_cn"
    credit = services.credit_inputs(settings, region)
    assert credit.policy_file.name == "china.yaml" and (credit.market, credit.market_area) == ("china", "jiangxi")


def test_shipped_china_model_has_the_jiangxi_crops():
    bundle = read_bundle(Path(__file__).resolve().parents[1] / "models" / JIANGXI.model)
    assert list(bundle.classes) == ["non_crop", *JIANGXI.crops]


def test_region_crops_are_the_markets_with_the_areas_yields(tmp_path):
    region = load_region(_region(tmp_path, market="china", market_area="jiangxi"))
    crops = services.region_crops(settings_with(reference_dir=REFERENCE), region)
    assert set(region.crops) <= set(crops) and crops["rapeseed"].name_zh == "油菜"
    national = market_named(REFERENCE, "china").crop_table()
    assert crops["rice"] == market_named(REFERENCE, "china").crop_table("jiangxi")["rice"] and "rice" in national


def test_farmer_app_lists_a_chinese_regions_crops_by_their_local_names(tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from agrisense.app.api.web import mount_web
    from agrisense.config import Settings

    app = FastAPI()
    app.state.settings = Settings(region_dir=_region(tmp_path, market="china", market_area="jiangxi"))
    mount_web(app)
    crops = {c["code"]: c for c in TestClient(app).get("/app-config.json").json()["crops"]}
    assert list(crops) == REGION["crops"]
    assert crops["rapeseed"] == {"code": "rapeseed", "name_zh": "油菜", "name_en": "Rapeseed"}
    assert crops["rice_double"]["name_zh"].startswith("双季稻")


def test_expected_curves_are_those_the_regions_offers_were_measured_against(tmp_path):
    """The dashboard's chart curve: the region's plot calibration for the offer's crop model, else the market's
    reference curves (a Jiangxi plot is not drawn against the East-African ndvi_curves.csv)."""
    from agrisense.ml.growth import load_expected_curves
    from agrisense.ml.plot_calibration import read_calibrations

    root = Path(__file__).resolve().parents[1]
    settings = settings_with(reference_dir=REFERENCE)
    east_africa = load_expected_curves(REFERENCE / "ndvi_curves.csv")
    china = load_expected_curves(REFERENCE / "ndvi_curves_china.csv")
    uncalibrated = load_region(_region(tmp_path, market="china", market_area="jiangxi"))  # no calibration entry
    curves = services.expected_curves(settings, uncalibrated, "no-such-model-version")
    assert {"rice", "rice_double", "rapeseed", "cotton"} <= set(curves) and curves["maize"] == china["maize"]
    assert curves["maize"] != east_africa["maize"]
    version = read_bundle(root / "models" / "landcover_unet_cn").version
    (entry,) = [e for e in read_calibrations(REFERENCE / "plot_calibration.json") if e.model_version == version]
    name, season, bbox = entry.region.split(" | ")  # the committed Jiangxi county's key (its folder is built data)
    folder = tmp_path / "jiangxi"
    folder.mkdir()
    jiangxi = load_region(
        _region(
            folder,
            name=name,
            season=int(season.removeprefix("season ")),
            bbox_lonlat=[float(v) for v in bbox.removeprefix("bbox ").split(", ")],
            market="china",
            market_area="jiangxi",
            model="landcover_unet_cn",
        )
    )
    calibrated = services.expected_curves(settings, jiangxi, version)
    assert set(jiangxi.crops) <= set(calibrated) and calibrated["rice"] != china["rice"]  # the county's own level
    assert services.expected_curves(settings, None, None)["maize"] == east_africa["maize"]
