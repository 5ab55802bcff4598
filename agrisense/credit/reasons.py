"""Reason codes of credit decisions: stable codes with English and Chinese messages and their effect."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from agrisense.credit.money import Money, to_money
from agrisense.errors import InvalidInput

ReasonKind = Literal["positive", "info", "refer", "decline"]

# code -> (message_en, message_zh); templates use str.format fields filled by the decision.
CATALOG: dict[str, tuple[str, str]] = {
    # decisive (refer / decline)
    "CROP_NOT_FINANCED": (
        "Crop '{crop}' is not financed under policy {policy}.",
        "作物“{crop}”不在政策 {policy} 的支持范围内。",
    ),
    "SEASON_TOO_LATE": (
        "The {season} season is too far advanced (flowering expected {flowering}) to finance inputs.",
        "{season} 年作物季已过大半（预计开花期 {flowering}），无法再为投入品放款。",
    ),
    "LOW_CROP_CONFIDENCE": (
        "Crop identification confidence {probability:.0%} is below the {threshold:.0%} required.",
        "作物识别置信度 {probability:.0%}，低于要求的 {threshold:.0%}。",
    ),
    "DECLARED_CROP_MISMATCH": (
        "Declared crop '{declared}' differs from the crop seen in imagery ('{verified}').",
        "申报作物“{declared}”与影像识别作物（“{verified}”）不一致。",
    ),
    "NO_CLEAR_IMAGERY": (
        "Too little cloud-free imagery ({clear:.0%} clear, {periods} usable periods) to verify the plot.",
        "无云影像不足（晴空比例 {clear:.0%}，可用时段 {periods} 个），无法核实地块。",
    ),
    "NOT_CROPLAND": (
        "Only {cropland:.0%} of the plot looks like cropland (minimum {threshold:.0%}).",
        "地块中仅 {cropland:.0%} 被识别为耕地（最低要求 {threshold:.0%}）。",
    ),
    "AREA_MISMATCH": (
        "Declared area {declared:.2f} ha differs from the measured {measured:.2f} ha by {mismatch:.0%}.",
        "申报面积 {declared:.2f} 公顷与实测面积 {measured:.2f} 公顷相差 {mismatch:.0%}。",
    ),
    "OVERLAPPING_CLAIM": (
        "{overlap:.0%} of the plot overlaps another farmer's plot (possible double pledge).",
        "地块有 {overlap:.0%} 与其他农户的地块重叠（可能重复申报）。",
    ),
    "HIGH_DROUGHT_RISK": (
        "Drought hit the critical crop stage in {drought:.0%} of past seasons (limit {threshold:.0%}).",
        "历史上 {drought:.0%} 的年份在作物关键期发生干旱（上限 {threshold:.0%}）。",
    ),
    "PD_ABOVE_THRESHOLD": (
        "Estimated probability of default {pd:.1%} is above the {threshold:.1%} threshold.",
        "预估违约概率 {pd:.1%}，高于 {threshold:.1%} 的阈值。",
    ),
    "LIMIT_BELOW_MINIMUM": (
        "The assessed limit {limit:,.2f} {currency} is below the minimum loan of {minimum:,.2f} {currency}.",
        "评估额度 {limit:,.2f} {currency} 低于最低贷款额 {minimum:,.2f} {currency}。",
    ),
    "PRICE_CANNOT_COVER_RISK": (
        "At the {cap:.0%} APR cap the rate cannot cover funding and expected loss ({needed:.1%} a year).",
        "在 {cap:.0%} 的年化利率上限下，利率无法覆盖资金成本与预期损失（每年 {needed:.1%}）。",
    ),
    # informative (limit haircuts or pricing notes)
    "PARTIAL_CLEAR_IMAGERY": (
        "Only {clear:.0%} of the season had clear imagery; the limit was reduced.",
        "作物季仅 {clear:.0%} 时段有晴空影像，额度相应下调。",
    ),
    "PARTIAL_CROPLAND": (
        "{cropland:.0%} of the plot is cropland; the limit was reduced.",
        "地块中 {cropland:.0%} 为耕地，额度相应下调。",
    ),
    "AREA_DIFFERENCE": (
        "Declared area differs from the measured area by {mismatch:.0%}; the measured area is used.",
        "申报面积与实测面积相差 {mismatch:.0%}，按实测面积计算。",
    ),
    "MINOR_OVERLAP": (
        "{overlap:.0%} of the plot overlaps another plot; the limit was reduced.",
        "地块有 {overlap:.0%} 与其他地块重叠，额度相应下调。",
    ),
    "YIELD_UNCERTAINTY": (
        "Yield is uncertain (p10-p90 spread {spread:.0%} of the median); the limit was reduced.",
        "产量不确定性较大（p10-p90 区间为中位数的 {spread:.0%}），额度相应下调。",
    ),
    "WEATHER_LOSS": (
        "Past weather cost this crop {loss:.0%} of its yield on average; the limit was reduced.",
        "历史天气平均造成该作物 {loss:.0%} 的减产，额度相应下调。",
    ),
    "NO_WEATHER_HISTORY": (
        "No weather history was available; a conservative weather allowance was applied.",
        "缺少历史气象数据，已按保守假设计提天气风险。",
    ),
    "NO_CONDITION_EVIDENCE": (
        "No crop-condition (NDVI) evidence this season; yield uses the wider prior range.",
        "本季缺少作物长势（NDVI）证据，产量按较宽的先验区间估算。",
    ),
    "CROP_CONDITION_POOR": (
        "Crop condition is below normal (NDVI z-score {z:+.1f}).",
        "作物长势低于常年（NDVI 标准分 {z:+.1f}）。",
    ),
    "EXISTING_EXPOSURE": (
        "Existing loans of {exposure:,.2f} {currency} were deducted from the limit.",
        "已扣除现有贷款余额 {exposure:,.2f} {currency}。",
    ),
    "RATE_CAPPED": (
        "The risk-based rate {target:.1%} was capped to keep the APR within {cap:.0%}.",
        "风险定价利率 {target:.1%} 已按年化利率上限 {cap:.0%} 封顶。",
    ),
    # positive
    "CROP_VERIFIED": (
        "Crop '{crop}' confirmed from imagery with {probability:.0%} confidence.",
        "影像确认作物为“{crop}”，置信度 {probability:.0%}。",
    ),
    "IMAGERY_CLEAR": (
        "Clear imagery covered {clear:.0%} of the season.",
        "作物季 {clear:.0%} 时段有晴空影像。",
    ),
    "AREA_CONFIRMED": (
        "Declared area matches the measured {measured:.2f} ha.",
        "申报面积与实测 {measured:.2f} 公顷一致。",
    ),
    "CROP_CONDITION_GOOD": (
        "Crop condition is above normal (NDVI z-score {z:+.1f}).",
        "作物长势好于常年（NDVI 标准分 {z:+.1f}）。",
    ),
    "LOW_WEATHER_RISK": (
        "Low historical weather risk (expected loss {loss:.0%}).",
        "历史天气风险较低（预期减产 {loss:.0%}）。",
    ),
    "PD_WITHIN_APPETITE": (
        "Estimated probability of default {pd:.1%} is within appetite.",
        "预估违约概率 {pd:.1%}，在风险容忍范围内。",
    ),
}


class ReasonEffect(BaseModel):
    """What a reason did: the decision it forces, the amount it took off the limit, its scorecard points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: Literal["refer", "decline"] | None = None
    limit_haircut: Money | None = None  # currency units taken off the limit by this factor
    limit_factor: float | None = None
    pd_points: float | None = None  # scorecard points of this factor (negative = riskier)


class Reason(BaseModel):
    """One reason of a decision: a stable code, its kind, messages in English and Chinese, and its effect."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    kind: ReasonKind
    message_en: str
    message_zh: str
    effect: ReasonEffect = ReasonEffect()


def make_reason(
    code: str,
    kind: ReasonKind,
    *,
    limit_haircut: Decimal | None = None,
    limit_factor: float | None = None,
    pd_points: float | None = None,
    **values: Any,
) -> Reason:
    """Build a reason from the catalog, filling its message templates with ``values``."""
    if code not in CATALOG:
        raise InvalidInput(f"unknown reason code {code!r}")
    en, zh = CATALOG[code]
    effect = ReasonEffect(
        decision=kind if kind in ("refer", "decline") else None,
        limit_haircut=None if limit_haircut is None else to_money(limit_haircut),
        limit_factor=None if limit_factor is None else round(limit_factor, 4),
        pd_points=None if pd_points is None else round(pd_points, 1),
    )
    return Reason(code=code, kind=kind, message_en=en.format(**values), message_zh=zh.format(**values), effect=effect)
