"""The offer's JSON Schema (docs/offer.schema.json) is generated from the model and holds for real outputs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from jsonschema import Draft202012Validator

from agrisense.agronomy.calendar import load_crop_table
from agrisense.config import Settings
from agrisense.credit.engine import quote
from agrisense.credit.offer import SCHEMA_VERSION, Offer, offer_json_schema, read_offers
from agrisense.credit.policy import load_policy
from agrisense.errors import InvalidInput, NotFound

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "offer.schema.json"


def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


DOC_FILE = SCHEMA_FILE.with_name("offer-schema.md")


def _quote(crop: str = "maize", area_ha: float = 1.2, season: int = 2027, **inputs: Any) -> Offer:
    settings = Settings()
    crops = load_crop_table(settings.reference_dir / "crops.csv")
    return quote(crop, area_ha, season=season, crops=crops, policy=load_policy(settings.policy_file), **inputs)


def test_committed_schema_is_the_generated_one() -> None:
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == offer_json_schema(), (
        "docs/offer.schema.json is stale: run `agrisense offer-schema --out docs/offer.schema.json`"
    )


@pytest.mark.parametrize(("crop", "area_ha"), [("maize", 1.2), ("sorghum", 0.05), ("cassava", 2.0)])
def test_quotes_validate_and_round_trip(crop: str, area_ha: float) -> None:
    offer = _quote(crop, area_ha)
    data = json.loads(json.dumps(offer.to_dict()))
    _validator().validate(data)
    assert data["schema_version"] == SCHEMA_VERSION
    again = Offer.model_validate(data)
    assert again.credit_limit == offer.credit_limit and isinstance(again.credit_limit, Decimal)
    assert sum((d.amount for d in again.disbursements), Decimal(0)) == again.credit_limit or not again.disbursements
    assert again.to_dict() == data


def test_scored_offers_and_unusable_outlines_validate(small_settings: Settings, tmp_path: Path) -> None:
    from agrisense import services

    region_plots = gpd.read_file(small_settings.region_dir / "plots.geojson").head(3)
    features = json.loads(region_plots.to_json())["features"]
    features.append(
        {"type": "Feature", "properties": {"plot_id": "bad"}, "geometry": {"type": "Point", "coordinates": [0, 0]}}
    )
    path = tmp_path / "plots.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    run = services.score_file(path, small_settings)
    validator = _validator()
    assert len(run.offers) == 4
    for offer in run.offers:
        validator.validate(json.loads(json.dumps(offer.to_dict())))
    assert run.offers[0].imagery is not None and run.offers[0].geometry is not None
    bad = run.offers[-1]
    assert bad.decision == "refer" and bad.area_ha is None and bad.credit_limit == 0 and bad.reasons[0].code


def test_doc_example_is_what_a_quote_emits_today() -> None:
    offer = _quote("maize", 0.8, 2026, crop_probability=0.9, plot_id="demo-1", farmer_id="F-001").to_dict()
    expected = {k: v for k, v in offer.items() if k not in ("limit_breakdown", "scorecard")}
    expected["reasons"] = expected["reasons"][:2]
    text = json.dumps(expected, ensure_ascii=False, indent=2)
    block = DOC_FILE.read_text(encoding="utf-8").split("## Example", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    assert block == text + "\n", f"the example in {DOC_FILE.name} is stale; its JSON block should read:\n{text}"


def test_read_offers_gives_clear_errors(tmp_path: Path) -> None:
    good = tmp_path / "offers.json"
    good.write_text(json.dumps([_quote().to_dict()]), encoding="utf-8")
    assert read_offers(good)[0].plot_id == "quote"
    with pytest.raises(NotFound, match="does not exist"):
        read_offers(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        read_offers(broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps([{"plot_id": "x"}]), encoding="utf-8")
    with pytest.raises(InvalidInput, match="offer schema"):
        read_offers(wrong)
