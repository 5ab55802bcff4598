"""Seasonal loan schedule: tranche disbursements, balloon repayment(s) after harvest, interest, fee and APR.

Money is integer cents throughout. Interest is simple, actual/365, on drawn and unpaid principal only, rounded
down to the cent. The APR is the effective annual rate of the borrower's dated cash flows: the daily IRR
of the day-indexed flow vector (``numpy_financial.npv`` solved with ``scipy.optimize.brentq``) compounded
over 365 days, i.e. XIRR on an actual/365 basis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

import numpy as np
import numpy_financial as npf
from scipy.optimize import brentq

from agrisense.agronomy.calendar import CropCalendar
from agrisense.errors import InvalidInput

if TYPE_CHECKING:  # the policy module imports this one (its price-cap check builds loan plans)
    from agrisense.credit.policy import ScheduleRules

RATE_STEP = Decimal("0.0001")


def to_cents(amount: Decimal | float | int) -> int:
    """Amount in currency units -> integer cents, rounded down."""
    return int((Decimal(str(amount)) * 100).to_integral_value(rounding=ROUND_DOWN))


def cents_to_amount(cents: int) -> float:
    """Integer cents -> a JSON number with two decimals."""
    return float(Decimal(cents) / 100)


def split_cents(total: int, shares: Sequence[float]) -> list[int]:
    """Split ``total`` cents by ``shares`` (summing to 1): each part rounded down, the last takes the rest."""
    if total < 0:
        raise InvalidInput(f"cannot split a negative amount ({total} cents)")
    parts = [int(Decimal(total) * Decimal(str(s))) for s in shares[:-1]]
    return [*parts, total - sum(parts)]


@dataclass(frozen=True)
class Disbursement:
    """Money paid out to the borrower (or to an input supplier on the borrower's behalf)."""

    date: date
    amount_cents: int
    payee: str
    condition: str | None = None


@dataclass(frozen=True)
class Instalment:
    """One repayment: principal, interest and fees due on a date."""

    date: date
    principal_cents: int
    interest_cents: int
    fee_cents: int

    @property
    def total_cents(self) -> int:
        return self.principal_cents + self.interest_cents + self.fee_cents


@dataclass(frozen=True)
class LoanPlan:
    """A loan before pricing: disbursements and the principal due at each repayment date."""

    disbursements: tuple[Disbursement, ...]
    repayment_dates: tuple[date, ...]
    principal_cents: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.disbursements or len(self.repayment_dates) != len(self.principal_cents):
            raise InvalidInput("a loan plan needs disbursements and one principal amount per repayment date")
        if list(self.repayment_dates) != sorted(self.repayment_dates):
            raise InvalidInput("repayment dates must be in order")
        if sum(self.principal_cents) != self.drawn_cents:
            raise InvalidInput("principal repayments must add up to the amount disbursed")
        for due, repaid in zip(self.repayment_dates, np.cumsum(self.principal_cents), strict=True):
            drawn = sum(d.amount_cents for d in self.disbursements if d.date <= due)
            if repaid > drawn:
                raise InvalidInput(f"by {due} more principal would be repaid ({repaid}) than drawn ({drawn})")

    @property
    def drawn_cents(self) -> int:
        return sum(d.amount_cents for d in self.disbursements)

    def balance_days(self) -> list[int]:
        """Outstanding cents x days accrued up to each repayment date (since the previous one)."""
        events = sorted(
            [(d.date, d.amount_cents) for d in self.disbursements]
            + [(due, -p) for due, p in zip(self.repayment_dates, self.principal_cents, strict=True)],
            key=lambda e: (e[0], e[1] < 0),  # same day: draw before repay
        )
        out: list[int] = []
        balance, accrued, last = 0, 0, events[0][0]
        due_iter = iter(self.repayment_dates)
        next_due = next(due_iter, None)
        for when, change in events:
            accrued += balance * (when - last).days
            last = when
            if change < 0 and when == next_due:
                out.append(accrued)
                accrued = 0
                next_due = next(due_iter, None)
            balance += change
        return out


@dataclass(frozen=True)
class RepaymentSchedule:
    """A priced loan: disbursements (paid out) and instalments (repayments only)."""

    disbursements: tuple[Disbursement, ...]
    instalments: tuple[Instalment, ...]
    annual_rate: Decimal
    arrangement_fee_cents: int
    apr: float

    @property
    def principal_cents(self) -> int:
        return sum(i.principal_cents for i in self.instalments)

    @property
    def interest_cents(self) -> int:
        return sum(i.interest_cents for i in self.instalments)

    def cash_flows(self) -> list[tuple[date, int]]:
        """Borrower's view: disbursements positive, repayments negative."""
        return borrower_flows(self.disbursements, self.instalments)


def borrower_flows(disbursements: Sequence[Disbursement], instalments: Sequence[Instalment]) -> list[tuple[date, int]]:
    return [(d.date, d.amount_cents) for d in disbursements] + [(i.date, -i.total_cents) for i in instalments]


def apr(flows: Sequence[tuple[date, int]]) -> float:
    """Effective annual rate of dated flows (XIRR, actual/365) via numpy_financial.npv on daily flows."""
    start = min(d for d, _ in flows)
    values = np.zeros(max((d - start).days for d, _ in flows) + 1)
    for when, cents in flows:
        values[(when - start).days] += cents
    if not (values > 0).any() or not (values < 0).any():
        raise InvalidInput("APR needs both money paid out and money paid back")

    def npv(annual: float) -> float:
        return float(npf.npv((1.0 + annual) ** (1.0 / 365.0) - 1.0, values))

    low, high = -0.99, 100.0
    if npv(low) * npv(high) > 0:
        raise InvalidInput("the cash flows have no APR between -99% and 10000%")
    return float(brentq(npv, low, high, xtol=1e-12, rtol=1e-12))


def build_schedule(plan: LoanPlan, annual_rate: Decimal, arrangement_fee_cents: int) -> RepaymentSchedule:
    """Price a plan: interest per instalment on the drawn balance; the fee is due with the first one."""
    if annual_rate < 0 or arrangement_fee_cents < 0:
        raise InvalidInput("annual rate and fee must not be negative")
    instalments = []
    for k, (due, principal, balance_days) in enumerate(
        zip(plan.repayment_dates, plan.principal_cents, plan.balance_days(), strict=True)
    ):
        interest = int((annual_rate * balance_days / 365).to_integral_value(rounding=ROUND_DOWN))
        instalments.append(Instalment(due, principal, interest, arrangement_fee_cents if k == 0 else 0))
    return RepaymentSchedule(
        disbursements=plan.disbursements,
        instalments=tuple(instalments),
        annual_rate=annual_rate,
        arrangement_fee_cents=arrangement_fee_cents,
        apr=apr(borrower_flows(plan.disbursements, instalments)),
    )


def max_annual_rate(plan: LoanPlan, arrangement_fee_cents: int, apr_cap: float) -> Decimal:
    """Highest annual rate (a multiple of 0.01%) whose schedule has APR <= ``apr_cap``; 0 if the fee alone
    exceeds the cap. Closed form: the borrower's NPV at the cap is linear in the rate."""
    start = min(d.date for d in plan.disbursements)

    def discount(when: date) -> float:
        return float((1.0 + apr_cap) ** (-(when - start).days / 365.0))

    paid_out = sum(d.amount_cents * discount(d.date) for d in plan.disbursements)
    fixed = sum(p * discount(due) for due, p in zip(plan.repayment_dates, plan.principal_cents, strict=True))
    fixed += arrangement_fee_cents * discount(plan.repayment_dates[0])
    per_rate = sum(
        bd / 365.0 * discount(due) for due, bd in zip(plan.repayment_dates, plan.balance_days(), strict=True)
    )
    if per_rate <= 0:
        return Decimal(0)
    exact = (paid_out - fixed) / per_rate - 1e-9
    if exact <= 0:
        return Decimal(0)
    return Decimal(str(exact)).quantize(RATE_STEP, rounding=ROUND_DOWN)


def fee_within_cap(plan: LoanPlan, fee_cents: int, apr_cap: float) -> int:
    """``fee_cents``, lowered (bisection on cents) if on its own it would push the APR above the cap."""
    if fee_cents == 0 or build_schedule(plan, Decimal(0), fee_cents).apr <= apr_cap:
        return fee_cents
    low, high = 0, fee_cents  # apr(low) <= cap < apr(high)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if build_schedule(plan, Decimal(0), mid).apr <= apr_cap else (low, mid)
    return low


def seasonal_plan(
    amount_cents: int,
    calendars: Sequence[CropCalendar],
    rules: ScheduleRules,
    *,
    input_supplier: str | None = None,
    not_before: date | None = None,
) -> LoanPlan:
    """Tranches on the first crop's sowing/emergence dates; one balloon per crop ``repayment_window_days``
    after its harvest end (two equal ones for double cropping). No principal is due during the season."""
    if amount_cents <= 0:
        raise InvalidInput(f"loan amount must be positive, got {amount_cents} cents")
    if not calendars:
        raise InvalidInput("a seasonal plan needs at least one crop calendar")
    first = calendars[0]
    events = {"sowing": first.sow_date, "emergence": first.emergence_date, "flowering": first.flowering_date}
    disbursements = []
    for tranche, cents in zip(
        rules.tranches, split_cents(amount_cents, [t.share for t in rules.tranches]), strict=True
    ):
        when = events[tranche.event] + timedelta(days=tranche.offset_days)
        if not_before is not None:
            when = max(when, not_before)
        payee = input_supplier if (tranche.to_input_supplier and input_supplier) else "borrower"
        disbursements.append(Disbursement(when, cents, payee, tranche.condition))
    due = tuple(sorted(c.harvest_end + timedelta(days=rules.repayment_window_days) for c in calendars))
    if due[0] <= max(d.date for d in disbursements):
        raise InvalidInput("the first repayment would fall before the last disbursement; check the calendars")
    principal = split_cents(amount_cents, [1.0 / len(due)] * len(due))
    return LoanPlan(tuple(disbursements), due, tuple(principal))


@dataclass(frozen=True)
class Prepayment:
    """What the borrower owes to settle the loan on a date."""

    date: date
    principal_cents: int
    interest_cents: int
    fee_cents: int
    cancelled_cents: int  # tranches not yet drawn, no longer paid out

    @property
    def total_cents(self) -> int:
        return self.principal_cents + self.interest_cents + self.fee_cents


def prepayment(schedule: RepaymentSchedule, on: date) -> Prepayment:
    """Settle early on ``on``: instalments due before ``on`` count as paid; interest accrues actual/365
    on the drawn balance since the last paid instalment; undrawn tranches are cancelled; unpaid fees stay
    due."""
    first_draw = min(d.date for d in schedule.disbursements)
    if on < first_draw:
        raise InvalidInput(f"prepayment date {on} is before the first disbursement {first_draw}")
    paid = [i for i in schedule.instalments if i.date < on]
    if len(paid) == len(schedule.instalments):
        raise InvalidInput(f"the loan is fully repaid by {schedule.instalments[-1].date}; nothing to prepay on {on}")
    drawn = [d for d in schedule.disbursements if d.date <= on]
    since = max([first_draw] + [i.date for i in paid])
    repaid = sum(i.principal_cents for i in paid)
    balance_days = 0
    balance = sum(d.amount_cents for d in drawn if d.date <= since) - repaid
    balance_days += balance * (on - since).days
    for d in drawn:
        if d.date > since:
            balance_days += d.amount_cents * (on - d.date).days
    interest = int((schedule.annual_rate * balance_days / 365).to_integral_value(rounding=ROUND_DOWN))
    drawn_cents = sum(d.amount_cents for d in drawn)
    return Prepayment(
        date=on,
        principal_cents=drawn_cents - repaid,
        interest_cents=interest,
        fee_cents=sum(i.fee_cents for i in schedule.instalments if i.date >= on),
        cancelled_cents=sum(d.amount_cents for d in schedule.disbursements) - drawn_cents,
    )
