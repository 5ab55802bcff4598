"""Reason codes of credit decisions: stable codes with English and Chinese messages and their effect."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from agrisense.credit.money import Money, to_money
from agrisense.errors import InvalidInput

ReasonKind = Literal["positive", "info", "refer", "decline"]

# code -> (detail_en, detail_zh): the analyst's text with the numbers; templates use str.format fields filled by the
# decision. The farmer reads FARMER below.
CATALOG: dict[str, tuple[str, str]] = {
    # decisive (refer / decline)
    "CROP_NOT_FINANCED": (
        "Crop '{crop_en}' is not financed under policy {policy}.",
        "作物“{crop_zh}”不在政策 {policy} 的支持范围内。",
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
        "Declared crop '{declared_en}' differs from the crop seen in imagery ('{verified_en}').",
        "申报作物“{declared_zh}”与影像识别作物（“{verified_zh}”）不一致。",
    ),
    "DECLARED_CROP_RULED_OUT": (
        "Declared crop '{declared_en}' is ruled out by imagery: its probability given cropland is {probability:.1%}, "
        "below the policy's {threshold:.0%} (imagery sees '{verified_en}').",
        "影像排除了申报作物“{declared_zh}”：其（耕地条件下）概率为 {probability:.1%}，低于政策规定的 {threshold:.0%}"
        "（影像识别为“{verified_zh}”）。",
    ),
    "DECLARED_CROP_CONTRADICTED": (
        "Declared crop '{declared_en}' is contradicted by imagery: '{verified_en}' at calibrated probability "
        "{probability:.0%}, at or above the policy's mismatch decline threshold.",
        "申报作物“{declared_zh}”与影像不符：影像识别为“{verified_zh}”，校准概率 {probability:.0%}，"
        "达到政策规定的不符即拒绝阈值。",
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
    "SEASON_WEATHER_RISK": (
        "Weather by season: {by_season_en}. Drought in at least one season in {drought_any:.0%} of the years.",
        "分季天气风险：{by_season_zh}。至少一季发生干旱的年份占 {drought_any:.0%}。",
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
        "Crop '{crop_en}' confirmed from imagery with {probability:.0%} confidence.",
        "影像确认作物为“{crop_zh}”，置信度 {probability:.0%}。",
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


# code -> (message_en, message_zh): what the farmer reads, in plain words (no model terms, scores or rates; the
# numbers stay in the analyst's detail). Money fields print in yuan (元) in Chinese.
FARMER: dict[str, tuple[str, str]] = {
    "CROP_NOT_FINANCED": (
        "We do not lend for {crop_en} here yet. We lend for: {financed_en}.",
        "目前这里还不能为{crop_zh}贷款。可以贷款的作物：{financed_zh}。",
    ),
    "SEASON_TOO_LATE": (
        "The {season} season is too far along to pay for seed and fertiliser now; apply before the next sowing.",
        "{season} 年这一季已过大半，现在无法再为种子化肥放款；请在下一季播种前申请。",
    ),
    "LOW_CROP_CONFIDENCE": (
        "The satellite cannot yet tell for sure what grows on this field; a loan officer will check.",
        "卫星还不能确定这块地种的是什么，信贷员会再核实。",
    ),
    "DECLARED_CROP_MISMATCH": (
        "You said {declared_en}, but the satellite sees {verified_en}; a loan officer will check.",
        "您申报的是{declared_zh}，卫星看到的是{verified_zh}，信贷员会再核实。",
    ),
    "DECLARED_CROP_RULED_OUT": (
        "You said {declared_en}, but what the satellite sees on this field does not look like {declared_en} at all "
        "(it looks like {verified_en}), so we cannot lend for {declared_en} here. If you do grow {declared_en} on "
        "it, check that the outline is on the right field, or contact the branch office.",
        "您申报的是{declared_zh}，但卫星看到的这块地完全不像{declared_zh}（更像{verified_zh}），所以不能按"
        "{declared_zh}放款。如果这块地确实种的是{declared_zh}，请检查地块边界是否圈对了田块，或联系网点。",
    ),
    "DECLARED_CROP_CONTRADICTED": (
        "You said {declared_en}, but the satellite clearly sees {verified_en} on this field, so we cannot lend for "
        "{declared_en} here. If you do grow {declared_en} on it, check that the outline is on the right field, or "
        "contact the branch office.",
        "您申报的是{declared_zh}，但卫星清楚地看到这块地种的是{verified_zh}，所以不能按{declared_zh}放款。"
        "如果这块地确实种的是{declared_zh}，请检查地块边界是否圈对了田块，或联系网点。",
    ),
    "NO_CLEAR_IMAGERY": (
        "Clouds hid the field too often this season to check it from space; a loan officer will check.",
        "本季云太多，卫星看不清这块地，信贷员会再核实。",
    ),
    "NOT_CROPLAND": (
        "Most of the outlined area does not look like farmland; please check the outline on the map.",
        "圈出的范围大部分看起来不是耕地，请在地图上检查地块边界。",
    ),
    "AREA_MISMATCH": (
        "The area you gave ({declared_mu:,.1f} mu) differs from the outline on the map ({measured_mu:,.1f} mu); "
        "a loan officer will check.",
        "您填写的面积（{declared_mu:,.1f} 亩）与地图上圈出的面积（{measured_mu:,.1f} 亩）不一致，信贷员会再核实。",
    ),
    "OVERLAPPING_CLAIM": (
        "Part of this field is also claimed by another farmer; a loan officer will check.",
        "这块地有一部分也被其他农户申报了，信贷员会再核实。",
    ),
    "HIGH_DROUGHT_RISK": (
        "Drought often hits this crop here at its most sensitive time; a loan officer will decide.",
        "这里的这种作物在关键生长期常遇干旱，由信贷员决定。",
    ),
    "PD_ABOVE_THRESHOLD": (
        "Taken together, the risks of this field are higher than we can lend on automatically.",
        "综合来看，这块地的风险高于可以自动放款的水平。",
    ),
    "LIMIT_BELOW_MINIMUM": (
        "The loan this field can support ({limit:,.0f} {currency}) is below our smallest loan ({minimum:,.0f} "
        "{currency}).",
        "这块地能支持的贷款（{limit:,.0f} {currency_zh}）低于最低贷款额（{minimum:,.0f} {currency_zh}）。",
    ),
    "PRICE_CANNOT_COVER_RISK": (
        "Even at the highest interest we may charge, this loan would not cover its risk; a loan officer will decide.",
        "即使按允许的最高利率，这笔贷款的风险也无法覆盖，由信贷员决定。",
    ),
    "PARTIAL_CLEAR_IMAGERY": (
        "Clouds hid part of the season, so the loan is a little smaller.",
        "本季部分时间有云遮挡，贷款额度略有下调。",
    ),
    "PARTIAL_CROPLAND": (
        "Part of the outline is not farmland, so the loan is smaller.",
        "圈出的范围有一部分不是耕地，贷款额度相应下调。",
    ),
    "AREA_DIFFERENCE": ("We used the area measured on the map.", "按地图上实测的面积计算。"),
    "MINOR_OVERLAP": (
        "A small part of the outline overlaps another field, so the loan is a little smaller.",
        "地块边界与其他地块有少量重叠，贷款额度略有下调。",
    ),
    "YIELD_UNCERTAINTY": (
        "Harvests of this crop vary a lot, so the loan is smaller.",
        "这种作物的收成波动较大，贷款额度相应下调。",
    ),
    "WEATHER_LOSS": (
        "Bad weather has often cut harvests of this crop here, so the loan is smaller.",
        "这里的天气常使这种作物减产，贷款额度相应下调。",
    ),
    "SEASON_WEATHER_RISK": (
        "Most of the weather risk of this loan is in the {season_en} season: {event_en} in {months_en}.",
        "这笔贷款的天气风险主要在{season_zh}季：{months_zh}的{event_zh}。",
    ),
    "NO_WEATHER_HISTORY": (
        "We have no weather records for this place, so the loan is smaller.",
        "我们没有这里的历史天气记录，贷款额度相应下调。",
    ),
    "NO_CONDITION_EVIDENCE": (
        "We cannot yet see how the crop is growing this season.",
        "本季还看不到作物的长势。",
    ),
    "CROP_CONDITION_POOR": ("The crop is growing less well than in a normal year.", "作物长势比常年差。"),
    "EXISTING_EXPOSURE": (
        "Your current loans ({exposure:,.0f} {currency}) were taken off the new loan.",
        "已从新贷款中扣除您现有的贷款（{exposure:,.0f} {currency_zh}）。",
    ),
    "RATE_CAPPED": ("The interest rate is held within the legal cap.", "利率已控制在规定上限以内。"),
    "CROP_VERIFIED": ("The field grows {crop_en}.", "这块地种的是{crop_zh}。"),
    "IMAGERY_CLEAR": ("The satellite saw the field clearly this season.", "本季卫星能清楚地看到这块地。"),
    "AREA_CONFIRMED": ("The area you gave matches the map.", "您填写的面积与地图一致。"),
    "CROP_CONDITION_GOOD": ("The crop is growing better than in a normal year.", "作物长势好于常年。"),
    "LOW_WEATHER_RISK": ("Weather here has rarely hurt this crop.", "这里的天气很少影响这种作物的收成。"),
    "PD_WITHIN_APPETITE": (
        "Taken together, the risks of this field are low enough for a loan.",
        "综合来看，这块地的风险在可以放款的范围内。",
    ),
}


# code -> (message_en, message_zh) where the reason declines: the farmer's text of FARMER says a loan officer will
# check, which only a referral does.
FARMER_DECLINE: dict[str, tuple[str, str]] = {
    "PD_ABOVE_THRESHOLD": (
        "Taken together, the risks of this field are higher than we can lend on.",
        "综合来看，这块地的风险高于可以放款的水平。",
    ),
    "PRICE_CANNOT_COVER_RISK": (
        "Even at the highest interest we may charge, this loan would not cover its risk.",
        "即使按允许的最高利率，这笔贷款的风险也无法覆盖。",
    ),
}


def currency_zh(currency: str) -> str:
    """How Chinese text names an amount's currency: 元 for CNY, else the code."""
    return "元" if currency == "CNY" else currency


class ReasonEffect(BaseModel):
    """What a reason did: the decision it forces, the amount it took off the limit, its scorecard points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: Literal["refer", "decline"] | None = None
    limit_haircut: Money | None = None  # currency units taken off the limit by this factor
    limit_factor: float | None = None
    pd_points: float | None = None  # scorecard points of this factor (negative = riskier)


class Reason(BaseModel):
    """One reason of a decision: a stable code, its kind, the farmer's message in English and Chinese (plain words),
    the analyst's detail with the numbers, and its effect."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    kind: ReasonKind
    message_en: str
    message_zh: str
    detail_en: str | None = None  # the analyst's text: thresholds, scores, model terms (offers before 1.2: none)
    detail_zh: str | None = None
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
    """Build a reason from the catalogs, filling the farmer's and the analyst's templates with ``values``."""
    if code not in CATALOG or code not in FARMER:
        raise InvalidInput(f"unknown reason code {code!r}")
    if "currency" in values:
        values.setdefault("currency_zh", currency_zh(str(values["currency"])))
    en, zh = CATALOG[code]
    farmer_en, farmer_zh = FARMER_DECLINE[code] if kind == "decline" and code in FARMER_DECLINE else FARMER[code]
    effect = ReasonEffect(
        decision=kind if kind in ("refer", "decline") else None,
        limit_haircut=None if limit_haircut is None else to_money(limit_haircut),
        limit_factor=None if limit_factor is None else round(limit_factor, 4),
        pd_points=None if pd_points is None else round(pd_points, 1),
    )
    return Reason(
        code=code,
        kind=kind,
        message_en=farmer_en.format(**values),
        message_zh=farmer_zh.format(**values),
        detail_en=en.format(**values),
        detail_zh=zh.format(**values),
        effect=effect,
    )
