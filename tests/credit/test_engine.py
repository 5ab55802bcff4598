from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agrisense.credit.engine import make_offer, quote
from agrisense.credit.reasons import CATALOG
from agrisense.errors import InvalidInput

from_codes = lambda offer: {r.code for r in offer.reasons}  # noqa: E731


def offer_for(evidence, crops, policy, weather, **kw):
    return make_offer(evidence, crops=crops, weather=weather, policy=policy, **kw)


def test_good_plot_is_approved(good_evidence, crops, policy, weather):
    offer = offer_for(good_evidence, crops, policy, weather)
    assert offer.decision == "approve", [r.message_en for r in offer.reasons]
    assert offer.credit_limit > 0 and offer.credit_limit % 100 == 0
    assert {"CROP_VERIFIED", "IMAGERY_CLEAR", "AREA_CONFIRMED", "PD_WITHIN_APPETITE"} <= from_codes(offer)
    assert sum(d.amount for d in offer.disbursements) == offer.credit_limit
    assert sum(i.principal for i in offer.schedule) == offer.credit_limit
    assert offer.apr is not None and offer.apr <= policy.pricing.apr_cap
    assert offer.expected_loss == (offer.credit_limit * Decimal(str(offer.pd)) * Decimal("0.6")).quantize(
        Decimal("0.01")
    )


@pytest.mark.parametrize(
    ("changes", "code", "decision"),
    [
        ({"crop_probability": 0.45}, "LOW_CROP_CONFIDENCE", "refer"),
        ({"crop": None, "crop_probability": 0.4}, "LOW_CROP_CONFIDENCE", "refer"),
        ({"imagery_ok": False}, "NO_CLEAR_IMAGERY", "refer"),
        ({"clear_fraction": 0.1, "n_clear_periods": 1}, "NO_CLEAR_IMAGERY", "refer"),
        ({"crop": "sorghum", "declared_crop": "maize"}, "DECLARED_CROP_MISMATCH", "refer"),
        # however sure the model is, a mismatch refers under the bundled policy (no mismatch_decline_probability)
        ({"crop": "sorghum", "declared_crop": "maize", "crop_probability": 0.99}, "DECLARED_CROP_MISMATCH", "refer"),
        ({"declared_area_ha": 1.9}, "AREA_MISMATCH", "refer"),  # 27 %: refers; a far larger gap raises PD to a decline
        ({"overlap_fraction": 0.2}, "OVERLAPPING_CLAIM", "refer"),
        ({"cropland_fraction": 0.2}, "NOT_CROPLAND", "decline"),
        ({"declared_crop": "rice", "crop": None, "crop_probability": 0.0}, "CROP_NOT_FINANCED", "decline"),
        ({"existing_exposure": 50000.0}, "LIMIT_BELOW_MINIMUM", "decline"),
    ],
)
def test_rules(good_evidence, evidence_with, crops, policy, weather, changes, code, decision):
    offer = offer_for(evidence_with(good_evidence, **changes), crops, policy, weather)
    assert code in from_codes(offer)
    assert offer.decision == decision
    assert offer.reasons[0].kind in ("refer", "decline")
    if decision == "decline":
        assert offer.credit_limit == 0 and offer.schedule == () and offer.disbursements == ()


def test_weather_based_rules(good_evidence, crops, policy, weather_factory):
    make_weather = weather_factory
    droughty = offer_for(good_evidence, crops, policy, make_weather(drought=0.5))
    assert "HIGH_DROUGHT_RISK" in from_codes(droughty) and droughty.decision != "approve"
    none = offer_for(good_evidence, crops, policy, None)
    assert "NO_WEATHER_HISTORY" in from_codes(none)
    assert none.limit_breakdown is not None
    assert none.limit_breakdown.haircut("weather_expected_loss").factor == policy.limits.no_weather_haircut


def test_high_pd_refers_or_declines(good_evidence, evidence_with, crops, policy, weather):
    risky = evidence_with(good_evidence, ndvi_condition_z=-4.0, crop_probability=0.75, clear_fraction=0.35)
    offer = offer_for(risky, crops, policy, weather)
    assert offer.pd is not None and offer.pd > policy.thresholds.pd_approve_for("maize")
    assert "PD_ABOVE_THRESHOLD" in from_codes(offer) and offer.decision in ("refer", "decline")


def test_season_too_late_and_supplier(good_evidence, crops, policy, weather):
    late = offer_for(good_evidence, crops, policy, weather, today=date(2026, 9, 1))
    assert late.decision == "decline" and from_codes(late) == {"SEASON_TOO_LATE"}
    early = offer_for(good_evidence, crops, policy, weather, today=date(2026, 5, 28), input_supplier="Seed Co")
    assert early.disbursements[0].date == date(2026, 5, 28) and early.disbursements[0].payee == "Seed Co"


def test_weather_for_another_crop_counts_as_missing(good_evidence, crops, policy, weather_factory):
    offer = offer_for(good_evidence, crops, policy, weather_factory(crop="beans"))
    assert offer.weather_risk is None and "NO_WEATHER_HISTORY" in from_codes(offer)
    by_crop = offer_for(good_evidence, crops, policy, {"maize": weather_factory()})
    assert by_crop.weather_risk is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"area_ha": -1.0}, "area_ha"),
        ({"area_ha": 0.0}, "area_ha"),
        ({"crop_probability": 1.2}, "crop_probability"),
        ({"overlap_fraction": -0.1}, "overlap_fraction"),
        ({"declared_area_ha": 0.0}, "declared_area_ha"),
        ({"existing_exposure": -5.0}, "existing_exposure"),
        ({"evidence_season": 2027}, "seasons"),
        ({"plot_id": ""}, "plot_id"),
    ],
)
def test_bad_evidence(good_evidence, evidence_with, changes, message):
    with pytest.raises(InvalidInput, match=message):
        evidence_with(good_evidence, **changes)


def test_offer_json_schema(crops, policy, weather):
    offer = quote("maize", 0.8, season=2026, crops=crops, policy=policy, crop_probability=0.9, weather=weather)
    data = json.loads(json.dumps(offer.to_dict(), ensure_ascii=False))
    required = {
        "plot_id", "farmer_id", "crop", "declared_crop", "crop_probability", "area_ha", "area_mu",
        "credit_limit",
        "currency", "decision", "reasons", "pd", "lgd", "expected_loss", "annual_rate", "apr", "fees",
        "disbursements", "schedule", "yield", "weather_risk", "evidence", "evidence_season", "finance_season",
        "policy_version", "model_versions",
    }  # fmt: skip
    assert required <= set(data)
    assert data["area_mu"] == 12.0 and data["currency"] == "CNY" and data["policy_version"] == "2026.6"
    assert data["yield"]["unit"] == "t/ha" and data["yield"]["p10"] < data["yield"]["p90"]
    for reason in data["reasons"]:
        assert reason["code"] in CATALOG and reason["message_zh"] and set(reason["effect"]) >= {"limit_haircut"}
    assert all(d["amount"] > 0 for d in data["disbursements"])
    total = round(sum(i["principal"] for i in data["schedule"]), 2)
    assert total == round(sum(d["amount"] for d in data["disbursements"]), 2) == data["credit_limit"]


def test_quote_rejects_bad_inputs(crops, policy):
    with pytest.raises(InvalidInput, match="crop_probability"):
        quote("maize", 1.0, season=2026, crops=crops, policy=policy, crop_probability=1.5)
    with pytest.raises(InvalidInput, match="area_ha"):
        quote("maize", -1.0, season=2026, crops=crops, policy=policy)
    unknown = quote("rice", 1.0, season=2026, crops=crops, policy=policy)
    assert unknown.decision == "decline" and from_codes(unknown) == {"CROP_NOT_FINANCED"}


@settings(max_examples=15, deadline=None)
@given(area=st.floats(0.2, 8), p=st.floats(0.0, 1.0), z=st.one_of(st.none(), st.floats(-3, 3)))
def test_offer_never_breaks_cap_or_auto_approves_low_confidence(crops, policy, weather, area, p, z):
    offer = quote("maize", area, season=2026, crops=crops, policy=policy, crop_probability=p, ndvi_anomaly=z,
                  weather=weather)  # fmt: skip
    if offer.apr is not None:
        assert offer.apr <= policy.pricing.apr_cap
    if p < policy.thresholds.min_crop_probability:
        assert offer.decision != "approve"
    assert sum(i.principal for i in offer.schedule) == offer.credit_limit
