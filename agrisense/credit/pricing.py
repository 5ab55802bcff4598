"""Risk-based price: funding + expected-loss rate + operating cost + margin, capped so APR <= the cap."""

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
    el_rate: float  # PD x LGD / average life: the annual rate that pays for expected loss
    funding_cost: float
    operating_cost: float
    margin: float
    target_rate: float
    annual_rate: Decimal  # offered simple annual rate (actual/365)
    rate_capped: bool
    covers_risk: bool  # annual_rate >= funding + el_rate
    arrangement_fee_cents: int


def arrangement_fee_cents(amount_cents: int, pricing: Pricing) -> int:
    return int((Decimal(amount_cents) * Decimal(str(pricing.arrangement_fee))).to_integral_value(ROUND_DOWN))


def price_loan(pd: float, plan: LoanPlan, pricing: Pricing) -> tuple[Price, RepaymentSchedule]:
    """Price ``plan`` for a borrower with ``pd`` and build its schedule (APR <= ``pricing.apr_cap``)."""
    ead = plan.drawn_cents
    average_life = sum(plan.balance_days()) / ead / 365.0
    el_rate = pd * pricing.lgd / average_life
    target = pricing.funding_cost + el_rate + pricing.operating_cost + pricing.margin
    fee = fee_within_cap(plan, arrangement_fee_cents(ead, pricing), pricing.apr_cap)
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
        funding_cost=pricing.funding_cost,
        operating_cost=pricing.operating_cost,
        margin=pricing.margin,
        target_rate=target,
        annual_rate=rate,
        rate_capped=wanted > ceiling,
        covers_risk=float(rate) >= pricing.funding_cost + el_rate,
        arrangement_fee_cents=fee,
    )
    return price, schedule
