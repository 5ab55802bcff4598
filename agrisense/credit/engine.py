"""The credit engine: evidence about a plot -> Offer (limit, PD, price, decision, schedule)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from agrisense.agronomy.calendar import CropReference, crop_calendar
from agrisense.agronomy.weather import WeatherRisk
from agrisense.agronomy.yields import YieldDistribution, yield_distribution
from agrisense.credit.decision import decide, order
from agrisense.credit.evidence import CreditEvidence
from agrisense.credit.limit import RiskFeatures, credit_limit
from agrisense.credit.offer import Fee, Offer
from agrisense.credit.policy import Policy
from agrisense.credit.pricing import price_loan
from agrisense.credit.reasons import Reason, make_reason
from agrisense.credit.schedule import seasonal_plan, to_cents
from agrisense.credit.scorecard import score, scorecard_features
from agrisense.errors import InvalidInput

__all__ = ["CreditEvidence", "make_offer", "quote"]


def _weather_for(crop: str, weather: WeatherRisk | Mapping[str, WeatherRisk] | None) -> WeatherRisk | None:
    if weather is None:
        return None
    if isinstance(weather, WeatherRisk):
        return weather if weather.crop == crop else None
    return weather.get(crop)


def _refusal(evidence: CreditEvidence, crop: str, reason: Reason, policy: Policy, today: date | None) -> Offer:
    """An Offer that declines before any numbers are computed (crop not financed, season too late)."""
    return Offer(
        plot_id=evidence.plot_id,
        farmer_id=evidence.farmer_id,
        crop=evidence.crop,
        assessed_crop=crop,
        declared_crop=evidence.declared_crop,
        crop_probability=evidence.crop_probability,
        area_ha=evidence.area_ha,
        credit_limit=Decimal(0),
        assessed_limit=Decimal(0),
        currency=policy.currency,
        decision="decline",
        reasons=(reason,),
        pd=None,
        score=None,
        lgd=policy.pricing.lgd,
        expected_loss=Decimal(0),
        annual_rate=None,
        apr=None,
        fees=(),
        disbursements=(),
        schedule=(),
        yield_distribution=None,
        weather_risk=None,
        evidence=evidence,
        evidence_season=evidence.evidence_season,
        finance_season=evidence.finance_season,
        policy_version=policy.version,
        model_versions=dict(evidence.model_versions),
        offer_date=today,
    )


def make_offer(
    evidence: CreditEvidence,
    *,
    crops: Mapping[str, CropReference],
    weather: WeatherRisk | Mapping[str, WeatherRisk] | None,
    policy: Policy,
    yield_dist: YieldDistribution | None = None,
    today: date | None = None,
    input_supplier: str | None = None,
) -> Offer:
    """Assess one plot under ``policy``.

    ``weather`` is a WeatherRisk or a mapping crop -> WeatherRisk; when none matches the assessed crop
    (e.g. the model verified another crop than the declared one) the offer is treated as having no weather
    history (policy no-weather haircut, conservative scorecard values, reason NO_WEATHER_HISTORY).
    ``today`` (None: no date constraint) moves disbursements that would fall in the past to today and declines
    seasons already past flowering. ``input_supplier`` is the payee of tranches marked ``to_input_supplier``.
    """
    crop = evidence.crop or evidence.declared_crop
    if crop not in crops or crop not in policy.financed_crops:
        reason = make_reason("CROP_NOT_FINANCED", "decline", crop=crop, policy=policy.version)
        return _refusal(evidence, crop, reason, policy, today)
    ref = crops[crop]
    if ref.currency != policy.currency:
        raise InvalidInput(f"crop table prices {crop} in {ref.currency} but the policy lends in {policy.currency}")
    calendar = crop_calendar(ref, evidence.finance_season)
    if today is not None and today > calendar.flowering_date:
        reason = make_reason(
            "SEASON_TOO_LATE", "decline", season=evidence.finance_season, flowering=calendar.flowering_date
        )
        return _refusal(evidence, crop, reason, policy, today)

    risk = _weather_for(crop, weather)
    yd = yield_dist or yield_distribution(ref, condition_z=evidence.ndvi_condition_z, weather=risk)
    features = RiskFeatures(
        crop_probability=evidence.crop_probability if evidence.crop is not None else 0.0,
        clear_fraction=evidence.clear_fraction if evidence.imagery_ok else 0.0,
        yield_spread=yd.spread,
        weather_expected_loss=None if risk is None else risk.expected_yield_loss,
        drought_probability=None if risk is None else risk.drought,
        area_mismatch=evidence.area_mismatch,
        overlap_fraction=evidence.overlap_fraction,
        cropland_fraction=evidence.cropland_fraction,
        condition_z=evidence.ndvi_condition_z,
    )
    limit = credit_limit(
        area_ha=evidence.area_ha,
        yield_at_quantile_t_ha=yd.quantile(policy.limits.yield_quantile),
        price_per_t=ref.price_per_t,
        input_cost_per_ha=ref.input_cost_per_ha,
        existing_exposure=evidence.existing_exposure,
        features=features,
        policy=policy,
    )
    revenue = evidence.area_ha * yd.p50 * ref.price_per_t
    leverage = (evidence.existing_exposure + float(limit.limit)) / revenue if revenue > 0 else 1.0
    card = score(scorecard_features(features, leverage, policy), policy.scorecard)

    # Price the assessed limit (or the smallest loan the policy makes, to show the rate a tiny loan gets).
    priced_amount = max(limit.limit, Decimal(str(policy.limits.min_limit)), Decimal(str(policy.limits.rounding_step)))
    plan = seasonal_plan(
        to_cents(priced_amount), [calendar], policy.schedule, input_supplier=input_supplier, not_before=today
    )
    price, schedule = price_loan(card.pd, plan, policy.pricing)
    result = decide(
        evidence, crop=crop, limit=limit, score=card, price=price, yield_dist=yd, weather=risk, policy=policy
    )
    # A limit under the policy minimum is never lent, even when the case is referred (e.g. for missing evidence):
    # the analyst sees the assessed limit and decides; the offer itself carries no loan and no schedule.
    offered = result.decision != "decline" and limit.limit >= Decimal(str(policy.limits.min_limit))
    credit = limit.limit if offered else Decimal(0)
    expected_loss = (credit * Decimal(str(card.pd)) * Decimal(str(policy.pricing.lgd))).quantize(Decimal("0.01"))
    return Offer(
        plot_id=evidence.plot_id,
        farmer_id=evidence.farmer_id,
        crop=evidence.crop,
        assessed_crop=crop,
        declared_crop=evidence.declared_crop,
        crop_probability=evidence.crop_probability,
        area_ha=evidence.area_ha,
        credit_limit=credit,
        assessed_limit=limit.limit,
        currency=policy.currency,
        decision=result.decision,
        reasons=order(list(result.reasons)),
        pd=card.pd,
        score=card.score,
        lgd=policy.pricing.lgd,
        expected_loss=expected_loss,
        annual_rate=schedule.annual_rate if offered else None,
        apr=schedule.apr if offered else None,
        fees=(Fee("arrangement", policy.pricing.arrangement_fee, schedule.arrangement_fee_cents),) if offered else (),
        disbursements=schedule.disbursements if offered else (),
        schedule=schedule.instalments if offered else (),
        yield_distribution=yd,
        weather_risk=risk,
        evidence=evidence,
        evidence_season=evidence.evidence_season,
        finance_season=evidence.finance_season,
        policy_version=policy.version,
        model_versions=dict(evidence.model_versions),
        limit_breakdown=limit,
        scorecard=card,
        offer_date=today,
    )


def quote(
    crop: str,
    area_ha: float,
    *,
    season: int,
    crops: Mapping[str, CropReference],
    policy: Policy,
    weather: WeatherRisk | Mapping[str, WeatherRisk] | None = None,
    declared_area_ha: float | None = None,
    crop_probability: float = 1.0,
    ndvi_anomaly: float | None = None,
    clear_fraction: float = 1.0,
    n_clear_periods: int = 6,
    cropland_fraction: float = 1.0,
    overlap_fraction: float = 0.0,
    existing_exposure: float = 0.0,
    plot_id: str = "quote",
    farmer_id: str = "quote",
    today: date | None = None,
    input_supplier: str | None = None,
) -> Offer:
    """What-if offer from explicit inputs (no imagery run): the stated crop counts as verified with
    ``crop_probability``; ``ndvi_anomaly`` is the NDVI-integral z-score (None: no condition evidence)."""
    evidence = CreditEvidence(
        plot_id=plot_id,
        farmer_id=farmer_id,
        declared_crop=crop,
        crop=crop,
        crop_probability=crop_probability,
        area_ha=area_ha,
        declared_area_ha=declared_area_ha,
        cropland_fraction=cropland_fraction,
        clear_fraction=clear_fraction,
        n_clear_periods=n_clear_periods,
        imagery_ok=True,
        ndvi_condition_z=ndvi_anomaly,
        overlap_fraction=overlap_fraction,
        existing_exposure=existing_exposure,
        evidence_season=season,
        finance_season=season,
        model_versions={"source": "manual-quote"},
    )
    return make_offer(evidence, crops=crops, weather=weather, policy=policy, today=today, input_supplier=input_supplier)
