"""The credit engine: evidence about a plot -> Offer (limit, PD, price, decision, schedule)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal

from agrisense.agronomy.calendar import CropReference, crop_calendars
from agrisense.agronomy.weather import WeatherRisk
from agrisense.agronomy.yields import YieldDistribution, yield_distribution
from agrisense.credit.decision import crop_name, decide, order
from agrisense.credit.evidence import CreditEvidence
from agrisense.credit.explain import explanation, what_would_change
from agrisense.credit.limit import LimitResult, RiskFeatures, credit_limit
from agrisense.credit.money import from_cents, to_money
from agrisense.credit.offer import (
    Disbursement,
    Fee,
    Haircut,
    Instalment,
    LimitBreakdown,
    Offer,
    Scorecard,
    ScoreFactor,
    WeatherSummary,
    YieldSummary,
)
from agrisense.credit.policy import Policy
from agrisense.credit.pricing import price_loan
from agrisense.credit.reasons import Reason, make_reason
from agrisense.credit.schedule import RepaymentSchedule, seasonal_plan, to_cents
from agrisense.credit.scorecard import ScoreResult, score, scorecard_features
from agrisense.credit.season_weather import season_weather_reason
from agrisense.errors import InvalidInput
from agrisense.geo.area import ha_to_mu

__all__ = ["CreditEvidence", "make_offer", "quote"]


def _weather_for(crop: str, weather: WeatherRisk | Mapping[str, WeatherRisk] | None) -> WeatherRisk | None:
    if weather is None:
        return None
    if isinstance(weather, WeatherRisk):
        return weather if weather.crop == crop else None
    return weather.get(crop)


def _identity(evidence: CreditEvidence, crop: str, policy: Policy, today: date | None) -> dict[str, object]:
    """The offer fields that only restate the evidence and the policy."""
    return {
        "plot_id": evidence.plot_id,
        "farmer_id": evidence.farmer_id,
        "crop": evidence.crop,
        "assessed_crop": crop,
        "declared_crop": evidence.declared_crop,
        "crop_probability": round(evidence.crop_probability, 4),
        "area_ha": round(evidence.area_ha, 4),
        "area_mu": round(ha_to_mu(evidence.area_ha), 3),
        "currency": policy.currency,
        "lgd": policy.pricing.lgd,
        "evidence": evidence,
        "evidence_season": evidence.evidence_season,
        "finance_season": evidence.finance_season,
        "policy_version": policy.version,
        "model_versions": dict(evidence.model_versions),
        "offer_date": today,
    }


def _refusal(evidence: CreditEvidence, crop: str, reason: Reason, policy: Policy, today: date | None) -> Offer:
    """An Offer that declines before any numbers are computed (crop not financed, season too late)."""
    offer = Offer(
        **_identity(evidence, crop, policy, today),  # type: ignore[arg-type]
        credit_limit=Decimal(0),
        assessed_limit=Decimal(0),
        decision="decline",
        reasons=(reason,),
        expected_loss=Decimal(0),
    )
    return offer.model_copy(update={"explanation": explanation(offer, None, None)})


def _limit_breakdown(limit: LimitResult) -> LimitBreakdown:
    return LimitBreakdown(
        revenue_cap=limit.revenue_cap,
        input_cost_cap=limit.input_cost_cap,
        policy_cap=limit.policy_cap,
        binding_cap=limit.binding_cap,
        existing_exposure=limit.existing_exposure,
        base=limit.base,
        haircuts=tuple(
            Haircut(
                name=h.name,
                value=None if h.value is None else round(h.value, 4),
                factor=round(h.factor, 4),
                amount=h.amount,
            )
            for h in limit.haircuts
        ),
        limit=limit.limit,
    )


def _scorecard(card: ScoreResult) -> Scorecard:
    return Scorecard(
        score=round(card.score, 1),
        logit=round(card.logit, 4),
        factors=tuple(
            ScoreFactor(name=f.name, value=round(f.value, 4), logit=round(f.logit, 4), points=round(f.points, 1))
            for f in card.factors
        ),
    )


def _loan_terms(schedule: RepaymentSchedule, policy: Policy) -> dict[str, object]:
    """Rate, APR, fee, tranches and repayments of an offered loan, in money."""
    return {
        "annual_rate": schedule.annual_rate,
        "apr": round(schedule.apr, 4),
        "fees": (
            Fee(
                name="arrangement",
                rate=policy.pricing.arrangement_fee,
                amount=from_cents(schedule.arrangement_fee_cents),
            ),
        ),
        "disbursements": tuple(
            Disbursement(date=d.date, amount=from_cents(d.amount_cents), payee=d.payee, condition=d.condition)
            for d in schedule.disbursements
        ),
        "schedule": tuple(
            Instalment(
                date=i.date,
                principal=from_cents(i.principal_cents),
                interest=from_cents(i.interest_cents),
                fees=from_cents(i.fee_cents),
                total=from_cents(i.total_cents),
            )
            for i in schedule.instalments
        ),
    }


def _weather_summary(risk: WeatherRisk | None) -> WeatherSummary | None:
    return None if risk is None else WeatherSummary.model_validate(risk.to_dict())


def _season_reasons(risk: WeatherRisk | None, season: int) -> list[Reason]:
    """A double crop's SEASON_WEATHER_RISK (which season its weather risk is in); none for a single crop."""
    reason = season_weather_reason(risk, season)
    return [] if reason is None else [reason]


def make_offer(
    evidence: CreditEvidence,
    *,
    crops: Mapping[str, CropReference],
    weather: WeatherRisk | Mapping[str, WeatherRisk] | None,
    policy: Policy,
    yield_dist: YieldDistribution | None = None,
    today: date | None = None,
    input_supplier: str | None = None,
    what_if: bool = True,
) -> Offer:
    """Assess one plot under ``policy``.

    ``weather`` is a WeatherRisk or a mapping crop -> WeatherRisk; when none matches the assessed crop
    (e.g. the model verified another crop than the declared one) the offer is treated as having no weather
    history (policy no-weather haircut, conservative scorecard values, reason NO_WEATHER_HISTORY).
    ``today`` (None: no date constraint) moves disbursements that would fall in the past to today and declines
    seasons already past flowering. ``input_supplier`` is the payee of tranches marked ``to_input_supplier``.
    ``what_if`` adds what would change the decision (re-running this assessment on changed evidence).
    """
    crop = evidence.crop or evidence.declared_crop
    names = {code: (ref.name_zh, ref.display_en) for code, ref in crops.items()}
    if crop not in crops or crop not in policy.financed_crops:
        financed = [c for c in policy.financed_crops if c in crops]
        reason = make_reason(
            "CROP_NOT_FINANCED",
            "decline",
            **crop_name(crop, names),
            policy=policy.version,
            financed_zh="、".join(names[c][0] for c in financed),
            financed_en=", ".join(names[c][1] for c in financed),
        )
        return _refusal(evidence, crop, reason, policy, today)
    ref = crops[crop]
    if ref.currency != policy.currency:
        raise InvalidInput(f"crop table prices {crop} in {ref.currency} but the policy lends in {policy.currency}")
    calendars = crop_calendars(ref, evidence.finance_season)  # two for double cropping: one repayment after each
    calendar = calendars[0]
    if today is not None and today > calendar.flowering_date:
        reason = make_reason(
            "SEASON_TOO_LATE", "decline", season=evidence.finance_season, flowering=calendar.flowering_date
        )
        return _refusal(evidence, crop, reason, policy, today)

    risk = _weather_for(crop, weather)
    yd = yield_dist or yield_distribution(ref, condition_z=evidence.ndvi_condition_z, weather=risk)
    features = RiskFeatures(
        clear_fraction=evidence.clear_fraction if evidence.imagery_ok else 0.0,
        yield_spread=yd.spread,
        weather_expected_loss=None if risk is None else risk.expected_yield_loss,
        drought_probability=None if risk is None else risk.drought,
        area_mismatch=evidence.area_mismatch,
        overlap_fraction=evidence.overlap_fraction,
        cropland_fraction=evidence.cropland_fraction,
        condition_z=evidence.ndvi_condition_z,
    )

    def limit_at(area_ha: float, features: RiskFeatures = features) -> LimitResult:
        return credit_limit(
            area_ha=area_ha,
            yield_at_quantile_t_ha=yd.quantile(policy.limits.yield_quantile),
            price_per_t=ref.price_per_t,
            input_cost_per_ha=ref.input_cost_per_ha,
            existing_exposure=evidence.existing_exposure,
            features=features,
            policy=policy,
        )

    limit = limit_at(evidence.area_ha)
    revenue = evidence.area_ha * yd.p50 * ref.price_per_t
    leverage = float(evidence.existing_exposure + limit.limit) / revenue if revenue > 0 else 1.0
    card = score(scorecard_features(features, leverage, policy), policy.scorecard)

    # Price the assessed limit (or the smallest loan the policy makes, to show the rate a tiny loan gets).
    priced_amount = max(limit.limit, Decimal(str(policy.limits.min_limit)), Decimal(str(policy.limits.rounding_step)))
    plan = seasonal_plan(
        to_cents(priced_amount), calendars, policy.schedule, input_supplier=input_supplier, not_before=today
    )
    price, schedule = price_loan(card.pd, plan, policy.pricing)
    result = decide(
        evidence,
        crop=crop,
        limit=limit,
        score=card,
        price=price,
        yield_dist=yd,
        weather=risk,
        policy=policy,
        crop_names=names,
    )
    # A limit under the policy minimum is never lent (the decision declines it, LIMIT_BELOW_MINIMUM); the offer
    # shows the assessed limit but carries no loan and no schedule.
    offered = result.decision != "decline" and limit.limit >= Decimal(str(policy.limits.min_limit))
    credit = limit.limit if offered else Decimal(0)
    pd = round(card.pd, 4)  # the PD the offer states is the one its expected loss uses
    expected_loss = (credit * Decimal(str(pd)) * Decimal(str(policy.pricing.lgd))).quantize(Decimal("0.01"))
    offer = Offer(
        **_identity(evidence, crop, policy, today),  # type: ignore[arg-type]
        credit_limit=credit,
        assessed_limit=limit.limit,
        decision=result.decision,
        reasons=order([*result.reasons, *_season_reasons(risk, evidence.finance_season)]),
        pd=pd,
        score=round(card.score, 1),
        expected_loss=expected_loss,
        **(_loan_terms(schedule, policy) if offered else {}),  # type: ignore[arg-type]
        yield_=YieldSummary.model_validate(yd.to_dict()),  # type: ignore[call-arg]  # the alias is "yield"
        weather_risk=_weather_summary(risk),
        limit_breakdown=_limit_breakdown(limit),
        scorecard=_scorecard(card),
    )
    change = None
    if what_if:

        def assess(changed: CreditEvidence) -> Offer:
            same_crop = (changed.crop or changed.declared_crop) == crop  # else the yield is another crop's
            return make_offer(
                changed,
                crops=crops,
                weather=weather,
                policy=policy,
                yield_dist=yd if same_crop else None,
                today=today,
                input_supplier=input_supplier,
                what_if=False,
            )

        matched = replace(features, area_mismatch=None if evidence.declared_area_ha is None else 0.0)
        change = what_would_change(
            evidence,
            offer,
            assess=assess,
            limit_at=lambda area: limit_at(area, matched).limit,
            policy=policy,
            crop_names=names,
        )
    return offer.model_copy(update={"explanation": explanation(offer, card, change)})


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
    existing_exposure: Decimal | float = Decimal(0),
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
        existing_exposure=to_money(existing_exposure),
        evidence_season=season,
        finance_season=season,
        model_versions={"source": "manual-quote"},
    )
    return make_offer(evidence, crops=crops, weather=weather, policy=policy, today=today, input_supplier=input_supplier)
