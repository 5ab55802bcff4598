"""Reasons a farmer understands: local crop names, plain words, one main reason, points that add up, and a
computed "what would change the decision"."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from agrisense.config import Settings
from agrisense.credit.engine import make_offer
from agrisense.credit.offer import Offer
from agrisense.market import market_named
from agrisense.quotes import QuoteInputs, market_policy, quote_at, resolve

JARGON = re.compile(r"NDVI|p10|p90|\bPD\b|probability of default|违约概率|标准分|置信度|先验|%|score", re.IGNORECASE)
LATIN = re.compile(r"[A-Za-z]")


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return Settings(region_dir=tmp_path_factory.mktemp("no-region"))


def _quote(settings: Settings, area: str, **inputs) -> Offer:
    inputs.setdefault("season", 2027)
    return quote_at(settings, resolve(settings, region=area), QuoteInputs(**inputs))


def _farmer_texts(offer: Offer) -> list[tuple[str, str]]:
    e = offer.explanation
    assert e is not None
    pairs = [(r.message_zh, r.message_en) for r in offer.reasons] + [(e.main_zh, e.main_en)]
    pairs += [(p.label_zh, p.label_en) for p in e.points]
    if e.change is not None:
        pairs.append((e.change.message_zh, e.change.message_en))
    return pairs


CASES = [
    {"crop": "rice", "area_ha": 2000 / 15},  # approve
    {"crop": "rice_double", "area_ha": 1 / 15},  # below the minimum: decline
    {"crop": "wheat", "area_ha": 30.0, "crop_probability": 0.45},  # low crop confidence: refer
    {"crop": "rapeseed", "area_ha": 2.0, "declared_area_ha": 3.5},  # area mismatch: refer
    {"crop": "cotton", "area_ha": 5.0, "ndvi_anomaly": -1.5},
    {"crop": "soybean", "area_ha": 8.0, "ndvi_anomaly": 0.8},
    {"crop": "tea", "area_ha": 1.0},  # not financed: decline
]


@pytest.mark.parametrize("inputs", CASES, ids=[c["crop"] for c in CASES])
def test_the_farmers_text_has_local_names_and_no_jargon(settings, inputs):
    offer = _quote(settings, "jiangxi", **inputs)
    for zh, en in _farmer_texts(offer):
        assert not JARGON.search(zh) and not JARGON.search(en), (zh, en)
        if inputs["crop"] != "tea":  # an unknown crop can only be named by what the farmer typed
            assert not LATIN.search(zh), zh
    codes = ("CROP_VERIFIED", "LOW_CROP_CONFIDENCE", "CROP_NOT_FINANCED")
    crop_reason = next(r for r in offer.reasons if r.code in codes)
    if crop_reason.code == "CROP_VERIFIED":
        text = crop_reason.message_zh
        assert text.startswith("这块地种的是") and any(word in text for word in ("稻", "棉", "豆", "油菜"))
    if crop_reason.code == "CROP_NOT_FINANCED":
        assert "小麦" in crop_reason.message_zh and "双季稻" in crop_reason.message_zh  # what is financed, by name


def test_the_analyst_keeps_the_numbers(settings):
    offer = _quote(settings, "jiangxi", crop="rice", area_ha=10.0, ndvi_anomaly=-1.2)
    details = {r.code: r.detail_zh for r in offer.reasons}
    assert "%" in details["PD_WITHIN_APPETITE"] and "NDVI" in details["CROP_CONDITION_POOR"]
    assert offer.scorecard is not None and offer.limit_breakdown is not None


@pytest.mark.parametrize("inputs", CASES[:6], ids=[c["crop"] for c in CASES[:6]])
def test_points_add_up_to_the_score(settings, inputs):
    offer = _quote(settings, "jiangxi", **inputs)
    assert offer.explanation is not None and offer.score is not None
    lines = offer.explanation.points
    assert lines[0].name == "base" and sum(p.points for p in lines) == pytest.approx(offer.score, abs=1e-6)
    assert {p.name for p in lines[1:]} <= {f.name for f in offer.scorecard.factors}


def test_one_main_reason_is_the_decisive_one(settings):
    refer = _quote(settings, "jiangxi", crop="wheat", area_ha=30.0, crop_probability=0.45)
    assert refer.decision == "refer" and refer.explanation.main_zh == refer.reasons[0].message_zh
    approve = _quote(settings, "jiangxi", crop="rice", area_ha=20.0)
    assert approve.decision == "approve" and approve.explanation.main_zh.startswith("综合来看")


def test_what_would_change_a_low_confidence_referral_is_computed(settings):
    offer = _quote(settings, "henan", crop="wheat", area_ha=30.0, crop_probability=0.45)
    change = offer.explanation.change
    assert offer.decision == "refer" and change is not None and change.change == "crop_evidence"
    again = _quote(
        settings, "henan", crop="wheat", area_ha=30.0, crop_probability=0.50
    )  # the policy's threshold (china-2026.3)
    assert change.decision == again.decision == "approve" and change.credit_limit == again.credit_limit
    assert "小麦" in change.message_zh and f"{again.credit_limit:,.0f} 元" in change.message_zh


def test_what_would_change_an_area_mismatch_is_the_outline(settings):
    offer = _quote(settings, "jiangxi", crop="rapeseed", area_ha=2.0, declared_area_ha=3.5)
    change = offer.explanation.change
    # the mismatch lifts the PD above the approval PD: a decline (china-2026.2 has no refer band) the outline undoes
    assert offer.decision == "decline" and change is not None and change.change == "outline"
    matched = _quote(settings, "jiangxi", crop="rapeseed", area_ha=2.0, declared_area_ha=2.0)
    assert (change.decision, change.credit_limit) == (matched.decision, matched.credit_limit)
    assert change.credit_limit > offer.credit_limit and "地块边界" in change.message_zh


def test_what_would_change_a_too_small_plot_is_the_smallest_area_that_reaches_the_minimum(settings):
    offer = _quote(settings, "jiangxi", crop="rice", area_ha=0.3 / 15)
    change = offer.explanation.change
    assert offer.decision == "decline" and change is not None and change.change == "area"
    assert change.area_mu is not None and 0.3 < change.area_mu < 10 and f"{change.area_mu:,.1f} 亩" in change.message_zh
    at = _quote(settings, "jiangxi", crop="rice", area_ha=change.area_mu / 15 * 1.001)
    below = _quote(settings, "jiangxi", crop="rice", area_ha=change.area_mu / 15 * 0.98)
    minimum = Decimal(str(market_policy(settings, market_named(settings.reference_dir, "china")).limits.min_limit))
    assert at.credit_limit >= minimum and at.decision == change.decision
    assert below.decision == "decline" and below.assessed_limit < minimum


def test_nothing_changes_a_farm_at_the_per_farmer_cap(settings):
    offer = _quote(settings, "jiangxi", crop="rice_early", area_ha=10_000 / 15)
    assert offer.decision == "approve" and offer.limit_breakdown.binding_cap == "policy"
    assert offer.explanation.change is None


def test_the_sample_county_names_its_crops_in_chinese(settings):
    offer = _quote(settings, "sample_county", crop="maize", area_ha=1.0, crop_probability=0.9)
    verified = next(r for r in offer.reasons if r.code == "CROP_VERIFIED")
    assert verified.message_zh == "这块地种的是玉米。" and "maize" not in verified.message_zh


def test_what_if_can_be_left_out_for_policy_sweeps(settings):
    where = resolve(settings, region="henan")
    offer = _quote(settings, "henan", crop="wheat", area_ha=30.0, crop_probability=0.45)
    crops = where.location.market.crop_table("henan")
    bare = make_offer(offer.evidence, crops=crops, weather=None, policy=market_policy(settings, where.location.market),
                      what_if=False)  # fmt: skip
    assert bare.explanation is not None and bare.explanation.change is None and offer.explanation.change is not None
    assert bare.explanation.main_zh == offer.explanation.main_zh
