"""Issue #14, a consistent policy: approval PD within what the price cap covers, a rate that varies with risk,
below-minimum limits decline, crop confidence counted once."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from agrisense.agronomy.calendar import crop_calendar
from agrisense.credit.engine import make_offer, quote
from agrisense.credit.policy import load_policy, parse_policy
from agrisense.credit.pricing import cap_coverage, plan_terms, price_loan
from agrisense.credit.schedule import seasonal_plan, to_cents
from agrisense.errors import InvalidInput, PolicyError

DEFAULT = Path(__file__).resolve().parents[2] / "agrisense" / "credit" / "policies" / "default.yaml"


def _raw() -> dict:
    return yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))


def test_default_policy_is_consistent(policy, crops):
    covered = {c: cap_coverage(c, crops[c], policy).max_pd for c in policy.financed_crops}
    # the numbers of docs/credit-model.md: LGD 0.6, funding 4 %, fee 0.5 %, 15 % APR cap
    assert covered == pytest.approx(
        {"beans": 0.0586, "groundnut": 0.0684, "maize": 0.0768, "sorghum": 0.0848}, abs=2e-4
    )
    for crop, max_pd in covered.items():
        assert policy.thresholds.pd_approve_for(crop) <= max_pd


def test_loader_refuses_an_approval_pd_the_cap_cannot_cover(tmp_path: Path, crops):
    data = _raw()
    data["thresholds"]["pd_approve"] = 0.08  # the 2026.2 value: above what beans, groundnut and maize can carry
    data["thresholds"]["pd_refer"] = 0.15  # (2026.5 has no refer band: pd_refer per crop = pd_approve)
    path = tmp_path / "inconsistent.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    message = str(err.value)
    assert str(path) in message
    assert "beans: pd_approve 8.00% > 5.86%" in message and "groundnut: pd_approve 8.00% > 6.84%" in message
    assert "maize: pd_approve 8.00% > 7.68%" in message and "sorghum" not in message  # sorghum covers 8.48 %
    assert "15% APR cap" in message and "funding 4.0%" in message and "LGD 60%" in message
    with pytest.raises(PolicyError, match=r"beans: pd_approve 8\.00% > 5\.86%"):
        parse_policy(data, crops=crops)
    parse_policy(data)  # without a crop table only the keys are checked


def test_loader_uses_the_given_crop_table_and_accepts_a_global_pd(tmp_path: Path, crops, policy):
    data = _raw()
    data["thresholds"]["pd_approve"] = 0.055  # at most the minimum over crops: consistent
    path = tmp_path / "global.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert load_policy(path, crops).thresholds.pd_approve_for("sorghum") == 0.055
    # a higher funding cost lowers what the cap covers: the default per-crop PDs no longer fit
    data = _raw()
    data["pricing"]["funding_cost"] = 0.08
    with pytest.raises(PolicyError, match="sorghum: pd_approve 8.00% >"):
        parse_policy(data, crops=crops)
    # the tenor comes from the crop calendar: a longer season carries more PD under the same cap
    longer = replace(crops["beans"], days_to_maturity=150)
    assert cap_coverage("beans", longer, policy).max_pd > cap_coverage("beans", crops["beans"], policy).max_pd


@pytest.mark.parametrize("crop", ["maize", "sorghum", "groundnut", "beans"])
def test_max_coverable_pd_is_where_the_price_stops_covering(policy, crops, crop):
    cover = cap_coverage(crop, crops[crop], policy)
    plan = seasonal_plan(to_cents(1000), [crop_calendar(crops[crop], 2027)], policy.schedule)
    assert price_loan(cover.max_pd - 1e-4, plan, policy.pricing)[0].covers_risk
    assert not price_loan(cover.max_pd + 1e-4, plan, policy.pricing)[0].covers_risk
    approve = policy.thresholds.pd_approve_for(crop)
    assert price_loan(approve, plan, policy.pricing)[0].covers_risk


@pytest.mark.parametrize("crop", ["maize", "sorghum", "groundnut", "beans"])
def test_rate_rises_with_pd_within_the_cap(policy, crops, crop):
    plan = seasonal_plan(to_cents(1500), [crop_calendar(crops[crop], 2027)], policy.schedule)
    ceiling = plan_terms(plan, policy.pricing).ceiling
    pds = [i / 1000 for i in range(5, 121, 2)]
    prices = [price_loan(pd, plan, policy.pricing)[0] for pd in pds]
    rates = [p.annual_rate for p in prices]
    assert rates == sorted(rates)  # never cheaper for more risk
    assert all(r <= ceiling for r in rates)
    below = [p for p in prices if not p.rate_capped]
    assert len({p.annual_rate for p in below}) == len(below) >= 10  # strictly rising below the cap
    for p in below:
        assert p.annual_rate < ceiling and p.covers_risk
        assert float(p.annual_rate) == pytest.approx(p.target_rate, abs=1e-4)  # the risk-based target itself
    # it varies over the PDs that actually get approved: the lower part of the approval range is under the cap
    assert not price_loan(0.045, plan, policy.pricing)[0].rate_capped
    assert prices[-1].rate_capped and prices[-1].annual_rate == ceiling


def test_quoted_rate_differs_with_evidence(crops, policy, weather):
    good = quote("maize", 1.0, season=2027, crops=crops, policy=policy, weather=weather, ndvi_anomaly=1.0)
    weak = quote("maize", 1.0, season=2027, crops=crops, policy=policy, weather=weather, ndvi_anomaly=-1.5)
    assert good.pd is not None and weak.pd is not None and good.pd < weak.pd
    assert good.annual_rate is not None and weak.annual_rate is not None and good.annual_rate < weak.annual_rate
    assert good.apr is not None and good.apr < policy.pricing.apr_cap - 0.005


@pytest.mark.parametrize(
    "changes",
    [
        {"area_ha": 0.1, "declared_area_ha": 0.1},  # clean evidence, tiny plot
        {"area_ha": 0.1, "declared_area_ha": 0.1, "crop_probability": 0.55},  # and low crop confidence
        {"area_ha": 0.2, "declared_area_ha": 0.2, "clear_fraction": 0.1, "n_clear_periods": 1},  # and no imagery
    ],
)
def test_limit_below_minimum_declines(good_evidence, evidence_with, crops, policy, weather, changes):
    offer = make_offer(evidence_with(good_evidence, **changes), crops=crops, weather=weather, policy=policy)
    assert offer.assessed_limit < Decimal(str(policy.limits.min_limit))
    assert offer.decision == "decline" and offer.reasons[0].code == "LIMIT_BELOW_MINIMUM"
    assert offer.credit_limit == 0 and offer.schedule == () and offer.disbursements == ()
    assert offer.reasons[0].effect.decision == "decline"


def test_crop_probability_only_decides_whether_a_person_checks_the_crop(
    good_evidence, evidence_with, crops, policy, weather
):
    offers = {
        p: make_offer(evidence_with(good_evidence, crop_probability=p), crops=crops, weather=weather, policy=policy)
        for p in (0.3, 0.69, 0.7, 0.8, 0.95, 1.0)
    }
    first = offers[1.0]
    assert first.limit_breakdown is not None and first.scorecard is not None
    assert "crop_probability" not in {h.name for h in first.limit_breakdown.haircuts}
    assert "crop_uncertainty" not in {f.name for f in first.scorecard.factors}
    for p, offer in offers.items():
        # limit, PD, score and price do not depend on it ...
        assert (offer.assessed_limit, offer.pd, offer.score) == (first.assessed_limit, first.pd, first.score)
        codes = {r.code for r in offer.reasons}
        verified = p >= policy.thresholds.min_crop_probability
        # ... only the referral does, and its reason carries no limit or PD effect
        assert ("CROP_VERIFIED" in codes) == verified and ("LOW_CROP_CONFIDENCE" in codes) != verified
        assert "CROP_CONFIDENCE_HAIRCUT" not in codes
        assert offer.decision == (first.decision if verified else "refer")
        if verified:
            assert offer.annual_rate == first.annual_rate
        else:
            low = next(r for r in offer.reasons if r.code == "LOW_CROP_CONFIDENCE")
            assert low.effect.limit_haircut is None and low.effect.pd_points is None
            assert offer.credit_limit == first.credit_limit  # proposed for review, the same numbers


def test_pd_refer_per_crop_must_not_be_below_pd_approve(crops):
    data = _raw()
    data["thresholds"]["pd_refer"] = {**data["thresholds"]["pd_approve"], "beans": 0.05}  # beans approves at 5.5 %
    with pytest.raises(PolicyError, match=r"pd_refer must be >= pd_approve \(not for beans\)"):
        parse_policy(data, crops=crops)
    data["thresholds"]["pd_refer"] = {"maize": 0.2}
    with pytest.raises(PolicyError, match=r"thresholds.pd_refer per crop: missing \['beans', 'groundnut', 'sorghum'\]"):
        parse_policy(data, crops=crops)


def test_no_refer_band_above_what_the_cap_covers(good_evidence, evidence_with, crops, policy, weather):
    """2026.5: a fully evidenced plot whose PD is above its crop's pd_approve declines (a person has nothing to
    check); the same PD without clear imagery refers, since the PD rests on the gap."""
    assert policy.thresholds.pd_refer_for("maize") == policy.thresholds.pd_approve_for("maize")
    risky = evidence_with(good_evidence, ndvi_condition_z=-3.0, overlap_fraction=0.04)
    offer = make_offer(risky, crops=crops, weather=weather, policy=policy)
    assert offer.pd is not None and offer.pd > policy.thresholds.pd_approve_for("maize")
    pd_reason = next(r for r in offer.reasons if r.code == "PD_ABOVE_THRESHOLD")
    assert offer.decision == "decline" and pd_reason.kind == "decline"
    assert "loan officer" not in pd_reason.message_en and "信贷员" not in pd_reason.message_zh
    cloudy = make_offer(
        evidence_with(risky, clear_fraction=0.1, n_clear_periods=1), crops=crops, weather=weather, policy=policy
    )
    assert cloudy.decision == "refer"
    assert all(r.kind == "refer" for r in cloudy.reasons if r.code in {"PD_ABOVE_THRESHOLD", "PRICE_CANNOT_COVER_RISK"})


@pytest.mark.parametrize("crop", ["maize", "sorghum", "groundnut", "beans"])
def test_a_five_mu_smallholder_gets_a_loan(crops, policy, weather, crop):
    """The minimum loan (2026.5: 200 CNY) lets a 5 亩 plot of every financed crop borrow (clean, average evidence)."""
    offer = quote(crop, 5 / 15, season=2027, crops=crops, policy=policy, weather=weather, ndvi_anomaly=0.0)
    assert offer.decision == "approve", [r.code for r in offer.reasons if r.kind != "positive"]
    assert Decimal(str(policy.limits.min_limit)) <= offer.credit_limit <= Decimal(1000)


def test_a_confident_mismatch_declines_with_a_reason_the_farmer_can_act_on(
    tmp_path: Path, good_evidence, evidence_with, crops, weather
):
    """With `mismatch_decline_probability` set, a satellite crop other than the declared one at or above it declines
    (DECLARED_CROP_CONTRADICTED), below it refers; the farmer's text names both crops and what to do, the analyst's
    the probability. The bundled policies leave it unset (every mismatch refers, docs/credit-model.md)."""
    assert load_policy(DEFAULT).thresholds.mismatch_decline_probability is None
    data = _raw()
    data["thresholds"]["mismatch_decline_probability"] = 0.95
    path = tmp_path / "mismatch.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    policy = load_policy(path, crops)

    def offer(p: float):
        ev = evidence_with(good_evidence, crop="sorghum", declared_crop="maize", crop_probability=p)
        return make_offer(ev, crops=crops, weather=weather, policy=policy)

    sure = offer(0.95)
    assert sure.decision == "decline" and sure.credit_limit == 0
    reason = next(r for r in sure.reasons if r.code == "DECLARED_CROP_CONTRADICTED")
    assert reason.kind == "decline" and "DECLARED_CROP_MISMATCH" not in {r.code for r in sure.reasons}
    assert "sorghum" in reason.message_en and "maize" in reason.message_en and "outline" in reason.message_en
    assert "高粱" in reason.message_zh and "玉米" in reason.message_zh and "%" not in reason.message_zh
    assert "95%" in reason.detail_en
    unsure = offer(0.94)
    assert unsure.decision == "refer" and "DECLARED_CROP_MISMATCH" in {r.code for r in unsure.reasons}


def test_loader_refuses_a_mismatch_decline_below_the_crop_confidence_gate(tmp_path: Path):
    data = _raw()
    data["thresholds"]["mismatch_decline_probability"] = 0.40  # below min_crop_probability 0.60
    path = tmp_path / "mismatch.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"mismatch_decline_probability 0\.4 must be >= min_crop_probability 0\.6"):
        load_policy(path)


def test_a_declared_crop_the_satellite_rules_out_declines_and_the_rest_refer(
    good_evidence, evidence_with, crops, weather
):
    """Policy 2026.6: a mismatch whose *declared* crop the crop model gives under
    `mismatch_decline_declared_below` (P(declared | cropland)) declines with DECLARED_CROP_RULED_OUT; at or above it,
    or without that probability (a manual quote), the mismatch refers as before."""
    policy = load_policy(DEFAULT, crops)
    below = policy.thresholds.mismatch_decline_declared_below
    assert below is not None and below < policy.thresholds.min_crop_probability

    def offer(declared_p: float | None):
        ev = evidence_with(
            good_evidence,
            crop="sorghum",
            declared_crop="maize",
            crop_probability=0.9,
            declared_crop_probability=declared_p,
        )
        return make_offer(ev, crops=crops, weather=weather, policy=policy)

    ruled_out = offer(below / 2)
    assert ruled_out.decision == "decline" and ruled_out.credit_limit == 0
    reason = next(r for r in ruled_out.reasons if r.code == "DECLARED_CROP_RULED_OUT")
    assert reason.kind == "decline" and "DECLARED_CROP_MISMATCH" not in {r.code for r in ruled_out.reasons}
    assert "maize" in reason.message_en and "outline" in reason.message_en
    assert "玉米" in reason.message_zh and "%" not in reason.message_zh and "%" in reason.detail_en
    for p in (below, 0.3, None):
        assert "DECLARED_CROP_MISMATCH" in {r.code for r in offer(p).reasons} and offer(p).decision == "refer"


def test_loader_refuses_a_ruled_out_threshold_at_the_crop_confidence_gate(tmp_path: Path):
    data = _raw()
    data["thresholds"]["mismatch_decline_declared_below"] = data["thresholds"]["min_crop_probability"]
    path = tmp_path / "ruled_out.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"mismatch_decline_declared_below .* must be < min_crop_probability"):
        load_policy(path)


def test_declared_crop_probability_must_be_a_probability(good_evidence, evidence_with):
    with pytest.raises(InvalidInput, match="declared_crop_probability"):
        evidence_with(good_evidence, declared_crop_probability=1.5)
