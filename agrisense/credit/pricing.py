"""Risk-based price of a seasonal loan, capped so APR <= the cap.

PD is per loan (one season), so the money has to be earned over the loan's average life L (years the drawn
principal is out), and only performing loans pay interest and the fee. Per unit of drawn principal the
lender's expected income must cover its costs over L and the expected loss:

    (1 - PD) (r L + fee) >= c L + PD x LGD    =>    r >= (c L + PD x LGD) / ((1 - PD) L) - fee / L

with c = funding cost (break-even rate) or funding + operating + margin (target rate).

Solved for PD at the highest rate the APR cap allows, the same inequality gives the largest PD the cap can cover
(:func:`max_coverable_pd`); the policy loader refuses a ``pd_approve`` above it for any crop.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from agrisense.agronomy.calendar import CropReference, crop_calendars
from agrisense.credit.schedule import (
    RATE_STEP,
    LoanPlan,
    RepaymentSchedule,
    build_schedule,
    fee_within_cap,
    max_annual_rate,
    seasonal_plan,
    to_cents,
)

if TYPE_CHECKING:  # the policy module imports this one for its price-cap check
    from agrisense.credit.policy import Policy, Pricing

# Seasons the price-cap check builds each crop's loan on: one ordinary year and one leap year (a calendar that
# spans February is a day longer in a leap year).
CHECK_SEASONS = (2027, 2028)


@dataclass(frozen=True)
class Price:
    """The pricing of one loan, every component an annual rate (fractions)."""

    pd: float
    lgd: float
    ead_cents: int
    expected_loss_cents: int
    average_life_years: float  # outstanding-weighted years the drawn money is out
    el_rate: float  # PD x LGD / average life: expected loss spread over the loan's life, per year
    breakeven_rate: float  # lowest rate at which performing loans' interest + fee pay funding and expected loss
    funding_cost: float
    operating_cost: float
    margin: float
    target_rate: float
    annual_rate: Decimal  # offered simple annual rate (actual/365)
    rate_capped: bool
    covers_risk: bool  # annual_rate >= breakeven_rate
    arrangement_fee_cents: int


def arrangement_fee_cents(amount_cents: int, pricing: Pricing) -> int:
    return int((Decimal(amount_cents) * Decimal(str(pricing.arrangement_fee))).to_integral_value(ROUND_DOWN))


def required_rate(pd: float, lgd: float, cost_rate: float, average_life_years: float, fee_share: float) -> float:
    """Annual rate at which (1 - PD)(r L + fee) = cost_rate L + PD LGD (see the module doc); may be < 0."""
    if not 0.0 <= pd < 1.0 or average_life_years <= 0:
        return float("inf")
    life = average_life_years
    return (cost_rate * life + pd * lgd) / ((1.0 - pd) * life) - fee_share / life


@dataclass(frozen=True)
class PlanTerms:
    """What pricing needs from a loan plan besides the PD: its life, its fee and the rate ceiling of the cap."""

    average_life_years: float  # outstanding-weighted years the drawn money is out
    fee_cents: int  # arrangement fee, lowered if on its own it would break the cap
    fee_share: float  # fee / drawn principal
    ceiling: Decimal  # highest simple annual rate whose APR (fee included) is within the cap


def plan_terms(plan: LoanPlan, pricing: Pricing) -> PlanTerms:
    ead = plan.drawn_cents
    fee = fee_within_cap(plan, arrangement_fee_cents(ead, pricing), pricing.apr_cap)
    return PlanTerms(
        average_life_years=sum(plan.balance_days()) / ead / 365.0,
        fee_cents=fee,
        fee_share=fee / ead,
        ceiling=max_annual_rate(plan, fee, pricing.apr_cap),
    )


def max_coverable_pd(terms: PlanTerms, pricing: Pricing) -> float:
    """Largest PD whose break-even rate (funding + expected loss, fee counted) fits under the cap: the module's
    inequality at r = ceiling, c = funding, solved for PD: PD = (r L + fee - c L) / (r L + fee + LGD)."""
    life = terms.average_life_years
    income = float(terms.ceiling) * life + terms.fee_share
    return max(0.0, (income - pricing.funding_cost * life) / (income + pricing.lgd))


@dataclass(frozen=True)
class CapCoverage:
    """What the APR cap can carry for one crop's seasonal loan (the shortest of the check seasons)."""

    crop: str
    season: int
    terms: PlanTerms
    max_pd: float


def cap_coverage(crop: str, ref: CropReference, policy: Policy) -> CapCoverage:
    """The largest PD the price cap covers for ``crop``: its loan (the policy's tranches and repayment window on
    the crop calendar, the policy's smallest loan so the fee's rounding counts) priced at the cap."""
    amount = to_cents(max(policy.limits.min_limit, policy.limits.rounding_step))
    coverages = []
    for season in CHECK_SEASONS:
        terms = plan_terms(seasonal_plan(amount, crop_calendars(ref, season), policy.schedule), policy.pricing)
        coverages.append(CapCoverage(crop, season, terms, max_coverable_pd(terms, policy.pricing)))
    return min(coverages, key=lambda c: c.max_pd)


def price_loan(pd: float, plan: LoanPlan, pricing: Pricing) -> tuple[Price, RepaymentSchedule]:
    """Price ``plan`` for a borrower with ``pd`` and build its schedule (APR <= ``pricing.apr_cap``)."""
    ead = plan.drawn_cents
    terms = plan_terms(plan, pricing)
    average_life, fee, fee_share, ceiling = terms.average_life_years, terms.fee_cents, terms.fee_share, terms.ceiling
    el_rate = pd * pricing.lgd / average_life
    breakeven = required_rate(pd, pricing.lgd, pricing.funding_cost, average_life, fee_share)
    costs = pricing.funding_cost + pricing.operating_cost + pricing.margin
    target = min(10.0, max(0.0, required_rate(pd, pricing.lgd, costs, average_life, fee_share)))
    wanted = Decimal(str(target)).quantize(RATE_STEP, rounding=ROUND_DOWN)
    rate = min(wanted, ceiling)
    schedule = build_schedule(plan, rate, fee)
    price = Price(
        pd=pd,
        lgd=pricing.lgd,
        ead_cents=ead,
        expected_loss_cents=int(ead * pd * pricing.lgd),
        average_life_years=average_life,
        el_rate=el_rate,
        breakeven_rate=breakeven,
        funding_cost=pricing.funding_cost,
        operating_cost=pricing.operating_cost,
        margin=pricing.margin,
        target_rate=target,
        annual_rate=rate,
        rate_capped=wanted > ceiling,
        covers_risk=float(rate) >= breakeven,
        arrangement_fee_cents=fee,
    )
    return price, schedule
