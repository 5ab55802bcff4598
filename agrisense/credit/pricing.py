"""Risk-based price of a seasonal loan, capped so APR <= the cap.

PD is per loan (one season), so the money has to be earned over the loan's average life L (years the drawn
principal is out), and only performing loans pay interest and the fee. Per unit of drawn principal the
lender's expected income must cover its costs over L and the expected loss:

    (1 - PD) (r L + fee) >= c L + PD x LGD    =>    r >= (c L + PD x LGD) / ((1 - PD) L) - fee / L

with c = funding cost (break-even rate) or funding + operating + margin (target rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from agrisense.credit.policy import Pricing
from agrisense.credit.schedule import (
    RATE_STEP,
    LoanPlan,
    RepaymentSchedule,
    build_schedule,
    fee_within_cap,
    max_annual_rate,
)


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


def price_loan(pd: float, plan: LoanPlan, pricing: Pricing) -> tuple[Price, RepaymentSchedule]:
    """Price ``plan`` for a borrower with ``pd`` and build its schedule (APR <= ``pricing.apr_cap``)."""
    ead = plan.drawn_cents
    average_life = sum(plan.balance_days()) / ead / 365.0
    el_rate = pd * pricing.lgd / average_life
    fee = fee_within_cap(plan, arrangement_fee_cents(ead, pricing), pricing.apr_cap)
    fee_share = fee / ead
    breakeven = required_rate(pd, pricing.lgd, pricing.funding_cost, average_life, fee_share)
    costs = pricing.funding_cost + pricing.operating_cost + pricing.margin
    target = min(10.0, max(0.0, required_rate(pd, pricing.lgd, costs, average_life, fee_share)))
    ceiling = max_annual_rate(plan, fee, pricing.apr_cap)
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
