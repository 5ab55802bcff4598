"""The farmer's explanation of a decision: one main reason, the points that add up to the score, and what would
change the decision, computed by re-running the pure assessment on changed evidence (never a template).

PIPL art. 24 asks that a person can understand an automated decision; the explanation uses plain words (no model
terms, scores named as points, no internal rates); the analyst keeps the numbers (reasons' ``detail_*``,
``scorecard``, ``limit_breakdown``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from agrisense.credit.evidence import CreditEvidence
from agrisense.credit.offer import DecisionChange, Explanation, Offer, PointsLine
from agrisense.credit.policy import Policy
from agrisense.credit.reasons import currency_zh
from agrisense.credit.scorecard import ScoreResult
from agrisense.geo.area import ha_to_mu

ChangeKind = Literal["outline", "crop_evidence", "imagery", "area"]
_RANK = {"decline": 0, "refer": 1, "approve": 2}
MAX_AREA_FACTOR = 100.0  # the area search looks up to this many times the plot's area
AREA_PRECISION = 0.005  # relative precision of the smallest area found

# scorecard factor -> (中文, English) in plain words
FACTOR_LABELS: dict[str, tuple[str, str]] = {
    "base": ("起始分", "starting points"),
    "cloud_gap": ("云遮挡", "cloud cover"),
    "yield_spread": ("收成波动", "harvest swings"),
    "weather_expected_loss": ("天气减产", "weather losses"),
    "drought_probability": ("干旱", "drought"),
    "area_mismatch": ("面积不一致", "area difference"),
    "overlap_fraction": ("地块重叠", "overlap with other fields"),
    "non_cropland": ("非耕地", "land that is not farmland"),
    "condition_deficit": ("长势偏弱", "weak growth"),
    "no_condition_evidence": ("还看不到长势", "growth not yet seen"),
    "leverage": ("贷款与收成之比", "loan size against the harvest"),
}

_LEAD: dict[ChangeKind, tuple[str, str]] = {
    "outline": (
        "如果地块边界与您的田块完全吻合（只圈耕地、不与别人重叠、面积与填写一致），",
        "With an outline that matches your field (only farmland, no overlap, the area you gave), ",
    ),
    "crop_evidence": (
        "如果能进一步确认您种的是{crop_zh}（例如上传田间照片），",
        "With clearer evidence that the field grows {crop_en} (for example a photo of the field), ",
    ),
    "imagery": ("如果本季后期有更清楚的卫星影像，", "With clearer satellite images later in the season, "),
    "area": (
        "如果申请的地块合计至少 {area_mu:,.1f} 亩，",
        "With at least {area_mu:,.1f} mu of fields in the application, ",
    ),
}


@dataclass(frozen=True)
class Trial:
    kind: ChangeKind
    offer: Offer
    area_mu: float | None = None


def points(card: ScoreResult) -> tuple[PointsLine, ...]:
    """Starting points and each factor's points (0.1 resolution), adding up exactly to the rounded score."""
    factors = [(f.name, round(f.points, 1)) for f in card.factors if round(f.points, 1) != 0]
    base = round(round(card.score, 1) - sum(p for _, p in factors), 1)
    return tuple(
        PointsLine(name=name, label_zh=FACTOR_LABELS[name][0], label_en=FACTOR_LABELS[name][1], points=value)
        for name, value in [("base", base), *factors]
    )


def main_reason(offer: Offer) -> tuple[str, str]:
    """The one main reason: the first that declines, else the first that refers, else the overall risk verdict."""
    for kind in ("decline", "refer"):
        reason = next((r for r in offer.reasons if r.kind == kind), None)
        if reason is not None:
            return reason.message_zh, reason.message_en
    verdict = next((r for r in offer.reasons if r.code == "PD_WITHIN_APPETITE"), offer.reasons[0])
    return verdict.message_zh, verdict.message_en


def changed_evidence(ev: CreditEvidence, policy: Policy) -> list[tuple[ChangeKind, CreditEvidence]]:
    """The single changes a farmer (or time) can bring about, where the evidence falls short."""
    t = policy.thresholds
    out: list[tuple[ChangeKind, CreditEvidence]] = []
    mismatch = ev.declared_area_ha is not None and ev.declared_area_ha != ev.area_ha
    if mismatch or ev.overlap_fraction > 0 or ev.cropland_fraction < 1.0:
        declared = None if ev.declared_area_ha is None else ev.area_ha
        out.append(("outline", replace(ev, declared_area_ha=declared, overlap_fraction=0.0, cropland_fraction=1.0)))
    if ev.crop != ev.declared_crop or ev.crop_probability < t.min_crop_probability:
        probability = max(ev.crop_probability, t.min_crop_probability)
        out.append(("crop_evidence", replace(ev, crop=ev.declared_crop, crop_probability=probability)))
    if not ev.imagery_ok or ev.clear_fraction < 1.0 or ev.n_clear_periods < t.min_clear_periods:
        periods = max(ev.n_clear_periods, t.min_clear_periods)
        out.append(("imagery", replace(ev, imagery_ok=True, clear_fraction=1.0, n_clear_periods=periods)))
    return out


def smallest_area(limit_at: Callable[[float], Decimal], area_ha: float, minimum: Decimal) -> float | None:
    """The smallest area (ha, within AREA_PRECISION) whose limit reaches ``minimum``; None if even
    MAX_AREA_FACTOR times the area does not (a cap binds). The limit never falls with area."""
    low, high = area_ha, area_ha * MAX_AREA_FACTOR
    if limit_at(high) < minimum:
        return None
    while high / low > 1 + AREA_PRECISION:
        mid = (low * high) ** 0.5
        low, high = (mid, high) if limit_at(mid) < minimum else (low, mid)
    return high


def _better(trial: Offer, now: Offer) -> bool:
    return (_RANK[trial.decision], trial.credit_limit) > (_RANK[now.decision], now.credit_limit)


def what_would_change(
    ev: CreditEvidence,
    offer: Offer,
    *,
    assess: Callable[[CreditEvidence], Offer],
    limit_at: Callable[[float], Decimal],
    policy: Policy,
    crop_names: Mapping[str, tuple[str, str]],
) -> DecisionChange | None:
    """The single change that most improves the decision (then the limit), re-running the assessment on it;
    None when no single change helps (e.g. the per-farmer cap binds)."""
    trials = [Trial(kind, assess(changed)) for kind, changed in changed_evidence(ev, policy)]
    if any(r.code == "LIMIT_BELOW_MINIMUM" for r in offer.reasons):
        area = smallest_area(limit_at, ev.area_ha, Decimal(str(policy.limits.min_limit)))
        if area is not None:
            declared = None if ev.declared_area_ha is None else area
            trials.append(Trial("area", assess(replace(ev, area_ha=area, declared_area_ha=declared)), ha_to_mu(area)))
    helpful = [t for t in trials if _better(t.offer, offer)]
    if not helpful:
        return None
    best = max(helpful, key=lambda t: (_RANK[t.offer.decision], t.offer.credit_limit))
    zh, en = _message(best, offer, crop_names.get(ev.declared_crop, (ev.declared_crop, ev.declared_crop)))
    return DecisionChange(
        change=best.kind,
        decision=best.offer.decision,
        credit_limit=best.offer.credit_limit,
        area_mu=None if best.area_mu is None else round(best.area_mu, 1),
        message_zh=zh,
        message_en=en,
    )


def _message(trial: Trial, now: Offer, declared: tuple[str, str]) -> tuple[str, str]:
    lead_zh, lead_en = _LEAD[trial.kind]
    values = {"area_mu": trial.area_mu or 0.0, "crop_zh": declared[0], "crop_en": declared[1]}
    amount, unit = trial.offer.credit_limit, currency_zh(now.currency)
    if trial.offer.decision == "approve" and now.decision != "approve":
        tail_zh = f"贷款可以自动批准，额度约 {amount:,.0f} {unit}。"
        tail_en = f"the loan could be approved at once, for about {amount:,.0f} {now.currency}."
    elif trial.offer.decision == "refer" and now.decision == "decline":
        tail_zh = "申请会转给信贷员审核，而不是被拒绝。"
        tail_en = "the application would go to a loan officer instead of being declined."
    else:
        tail_zh = f"额度可以提高到约 {amount:,.0f} {unit}。"
        tail_en = f"the limit could rise to about {amount:,.0f} {now.currency}."
    return lead_zh.format(**values) + tail_zh, lead_en.format(**values) + tail_en


def explanation(offer: Offer, card: ScoreResult | None, change: DecisionChange | None) -> Explanation:
    main_zh, main_en = main_reason(offer)
    return Explanation(main_zh=main_zh, main_en=main_en, change=change, points=() if card is None else points(card))
