"""Approve / refer / decline with reason codes, from the evidence, limit, score and price."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from agrisense.agronomy.weather import WeatherRisk
from agrisense.agronomy.yields import YieldDistribution
from agrisense.credit.evidence import CreditEvidence
from agrisense.credit.limit import LimitResult
from agrisense.credit.policy import Policy
from agrisense.credit.pricing import Price
from agrisense.credit.reasons import Reason, ReasonKind, make_reason
from agrisense.credit.scorecard import ScoreResult
from agrisense.geo.area import ha_to_mu

Decision = Literal["approve", "refer", "decline"]
_RANK = {"positive": 0, "info": 0, "refer": 1, "decline": 2}


@dataclass(frozen=True)
class DecisionResult:
    decision: Decision
    reasons: tuple[Reason, ...]


def combine(reasons: list[Reason]) -> Decision:
    """The strictest decision any reason forces; approve when none does."""
    worst = max((_RANK[r.kind] for r in reasons), default=0)
    return ("approve", "refer", "decline")[worst]


def order(reasons: list[Reason]) -> tuple[Reason, ...]:
    """Decisive reasons first (decline, refer), then info, then positive; stable otherwise."""
    rank = {"decline": 0, "refer": 1, "info": 2, "positive": 3}
    return tuple(sorted(reasons, key=lambda r: rank[r.kind]))


def crop_name(code: str, names: Mapping[str, tuple[str, str]], role: str = "crop") -> dict[str, Any]:
    """Template values ``{role}_zh`` / ``{role}_en`` of a crop: its local names, else its code."""
    zh, en = names.get(code, (code, code.replace("_", " ")))
    return {f"{role}_zh": zh, f"{role}_en": en}


def drought_gate(weather: WeatherRisk) -> float:
    """The drought probability the HIGH_DROUGHT_RISK referral compares with its limit: the crop's, and for a crop
    grown in several seasons a year (double rice) the highest of its seasons' own, so that a dry late season is not
    hidden by a wet early one in the revenue-weighted figure the PD reads."""
    return max([weather.drought, *(part.risk.drought for part in weather.parts)])


def decide(
    evidence: CreditEvidence,
    *,
    crop: str,
    limit: LimitResult,
    score: ScoreResult,
    price: Price,
    yield_dist: YieldDistribution,
    weather: WeatherRisk | None,
    policy: Policy,
    crop_names: Mapping[str, tuple[str, str]] | None = None,
) -> DecisionResult:
    """Apply the policy's rules; each reason carries its limit haircut and PD points. ``crop_names`` (code ->
    (中文, English)) names crops in the messages."""
    t = policy.thresholds
    names = crop_names or {}
    reasons: list[Reason] = []

    def cut(name: str) -> dict[str, Any]:
        h = limit.haircut(name)
        if h is None:
            return {}
        return {"limit_haircut": h.amount, "limit_factor": h.factor}

    def points(*names: str) -> float:
        return sum(score.factor(n).points for n in names)

    def cut_amount(name: str) -> Decimal:
        h = limit.haircut(name)
        return h.amount if h else Decimal(0)

    # Crop confidence counts here only: below the threshold a person checks the crop; at or above it the limit and
    # the PD treat the crop as verified (no haircut, no scorecard term; docs/credit-model.md).
    p = evidence.crop_probability
    if evidence.crop is None or p < t.min_crop_probability:
        reasons.append(make_reason("LOW_CROP_CONFIDENCE", "refer", probability=p, threshold=t.min_crop_probability))
    else:
        reasons.append(make_reason("CROP_VERIFIED", "positive", **crop_name(crop, names), probability=p))
    if evidence.crop is not None and evidence.crop != evidence.declared_crop:
        crops = {**crop_name(evidence.declared_crop, names, "declared"), **crop_name(evidence.crop, names, "verified")}
        contradicted = t.mismatch_decline_probability is not None and p >= t.mismatch_decline_probability
        declared_p = evidence.declared_crop_probability
        ruled_out = t.mismatch_decline_declared_below
        if contradicted:
            reasons.append(make_reason("DECLARED_CROP_CONTRADICTED", "decline", probability=p, **crops))
        elif ruled_out is not None and declared_p is not None and declared_p < ruled_out:
            reasons.append(
                make_reason("DECLARED_CROP_RULED_OUT", "decline", probability=declared_p, threshold=ruled_out, **crops)
            )
        else:
            reasons.append(make_reason("DECLARED_CROP_MISMATCH", "refer", **crops))

    clear = evidence.clear_fraction
    clear_fx: dict[str, Any] = {**cut("clear_fraction"), "pd_points": points("cloud_gap")}
    if not evidence.imagery_ok or clear < t.min_clear_fraction or evidence.n_clear_periods < t.min_clear_periods:
        reasons.append(
            make_reason("NO_CLEAR_IMAGERY", "refer", clear=clear, periods=evidence.n_clear_periods, **clear_fx)
        )
    elif cut_amount("clear_fraction") > 0:
        reasons.append(make_reason("PARTIAL_CLEAR_IMAGERY", "info", clear=clear, **clear_fx))
    else:
        reasons.append(make_reason("IMAGERY_CLEAR", "positive", clear=clear, **clear_fx))

    land = evidence.cropland_fraction
    land_fx: dict[str, Any] = {**cut("cropland_fraction"), "pd_points": points("non_cropland")}
    if evidence.imagery_ok and land < t.min_cropland_fraction:  # without imagery there is no land evidence
        reasons.append(
            make_reason(
                "NOT_CROPLAND",
                t.not_cropland_action,
                cropland=land,
                threshold=t.min_cropland_fraction,
                **land_fx,
            )
        )
    elif cut_amount("cropland_fraction") > 0:
        reasons.append(make_reason("PARTIAL_CROPLAND", "info", cropland=land, **land_fx))

    mismatch = evidence.area_mismatch
    area_fx: dict[str, Any] = {**cut("area_mismatch"), "pd_points": points("area_mismatch")}
    if mismatch is not None and evidence.declared_area_ha is not None:
        if mismatch > t.max_area_mismatch:
            reasons.append(
                make_reason(
                    "AREA_MISMATCH",
                    "refer",
                    declared=evidence.declared_area_ha,
                    measured=evidence.area_ha,
                    declared_mu=ha_to_mu(evidence.declared_area_ha),
                    measured_mu=ha_to_mu(evidence.area_ha),
                    mismatch=mismatch,
                    **area_fx,
                )
            )
        elif cut_amount("area_mismatch") > 0:
            reasons.append(make_reason("AREA_DIFFERENCE", "info", mismatch=mismatch, **area_fx))
        else:
            reasons.append(make_reason("AREA_CONFIRMED", "positive", measured=evidence.area_ha, **area_fx))

    overlap = evidence.overlap_fraction
    overlap_fx: dict[str, Any] = {**cut("overlap_fraction"), "pd_points": points("overlap_fraction")}
    if overlap > t.max_overlap:
        reasons.append(make_reason("OVERLAPPING_CLAIM", "refer", overlap=overlap, **overlap_fx))
    elif cut_amount("overlap_fraction") > 0:
        reasons.append(make_reason("MINOR_OVERLAP", "info", overlap=overlap, **overlap_fx))

    weather_fx = {
        **cut("weather_expected_loss"),
        "pd_points": points("weather_expected_loss", "drought_probability"),
    }
    drought = None if weather is None else drought_gate(weather)
    if weather is None:
        reasons.append(make_reason("NO_WEATHER_HISTORY", "info", **weather_fx))
    elif drought is not None and drought > t.max_drought_probability:
        reasons.append(
            make_reason(
                "HIGH_DROUGHT_RISK",
                "refer",
                drought=drought,
                threshold=t.max_drought_probability,
                **weather_fx,
            )
        )
    elif cut_amount("weather_expected_loss") > 0:
        reasons.append(make_reason("WEATHER_LOSS", "info", loss=weather.expected_yield_loss, **weather_fx))
    else:
        reasons.append(make_reason("LOW_WEATHER_RISK", "positive", loss=weather.expected_yield_loss, **weather_fx))

    if cut_amount("yield_spread") > 0:
        reasons.append(
            make_reason(
                "YIELD_UNCERTAINTY",
                "info",
                spread=yield_dist.spread,
                **cut("yield_spread"),
                pd_points=points("yield_spread"),
            )
        )

    z = evidence.ndvi_condition_z
    cond_points = points("condition_deficit", "no_condition_evidence")
    if z is None:
        reasons.append(make_reason("NO_CONDITION_EVIDENCE", "info", pd_points=cond_points))
    elif z <= -1.0:
        reasons.append(make_reason("CROP_CONDITION_POOR", "info", z=z, pd_points=cond_points))
    elif z >= 0.5:
        reasons.append(make_reason("CROP_CONDITION_GOOD", "positive", z=z, pd_points=cond_points))

    if limit.existing_exposure > 0:
        reasons.append(
            make_reason(
                "EXISTING_EXPOSURE",
                "info",
                exposure=float(limit.existing_exposure),
                currency=policy.currency,
                limit_haircut=min(limit.existing_exposure, max(limit.base + limit.existing_exposure, Decimal(0))),
                pd_points=points("leverage"),
            )
        )

    # Missing imagery inflates the PD (cloud gap): refer to a person rather than decline on a PD (or a price) that
    # rests on the gap. Crop confidence is not in the PD, so it does not soften this rule.
    imagery_gap = any(r.code == "NO_CLEAR_IMAGERY" for r in reasons)
    pd_approve, pd_refer = t.pd_approve_for(crop), t.pd_refer_for(crop)
    if score.pd > pd_refer:
        kind: ReasonKind = "refer" if imagery_gap else "decline"
        reasons.append(make_reason("PD_ABOVE_THRESHOLD", kind, pd=score.pd, threshold=pd_refer))
    elif score.pd > pd_approve:
        reasons.append(make_reason("PD_ABOVE_THRESHOLD", "refer", pd=score.pd, threshold=pd_approve))
    else:
        reasons.append(make_reason("PD_WITHIN_APPETITE", "positive", pd=score.pd))

    # A limit under the minimum can never become a loan (the engine offers none, a reviewer cannot raise it):
    # decline, whatever else would refer. Without usable imagery the limit measures nothing (its haircuts stand for
    # the missing evidence), so such a plot stays referred for new imagery, never declined for a cloudy season.
    below_minimum = limit.limit < Decimal(str(policy.limits.min_limit)) or limit.limit <= 0
    if below_minimum and evidence.imagery_ok:
        reasons.append(
            make_reason(
                "LIMIT_BELOW_MINIMUM",
                "decline",
                limit=float(limit.limit),
                minimum=policy.limits.min_limit,
                currency=policy.currency,
            )
        )

    cap = policy.pricing.apr_cap
    if not price.covers_risk:
        reasons.append(
            make_reason(
                "PRICE_CANNOT_COVER_RISK",
                "refer" if imagery_gap else policy.pricing.uncovered_price_action,
                cap=cap,
                needed=price.breakeven_rate,
            )
        )
    elif price.rate_capped:
        reasons.append(make_reason("RATE_CAPPED", "info", target=price.target_rate, cap=cap))

    return DecisionResult(combine(reasons), order(reasons))
