"""The loan ledger's arithmetic: pure functions over frozen dataclasses, money in integer cents.

A loan's position (what is drawn, what is owed) and its remaining schedule follow from its terms and its postings
only; nothing is stored that could disagree with them. Interest is simple, actual/365, on drawn and unpaid
principal, at the loan's ``annual_rate``, rounded down to the cent once per repayment period (as
``credit.schedule.build_schedule`` does), so a loan repaid as planned pays exactly the offer's schedule.
Repayments pay the arrangement fee first, then accrued interest, then principal.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Literal

from agrisense.credit.schedule import Disbursement, Instalment, LoanPlan, build_schedule, split_cents
from agrisense.errors import InvalidInput

PostingKind = Literal["disbursement", "repayment"]


Tranche = Disbursement
"""A planned disbursement of the loan: the schedule's own type (date, amount in cents, payee, condition)."""

Due = Instalment
"""A planned repayment of the booked loan: the schedule's own type (principal, interest and fees in cents)."""


@dataclass(frozen=True)
class Terms:
    """What was accepted: the limit, the rate, the fee, the tranches and the repayment dates."""

    limit_cents: int
    annual_rate: Decimal
    fee_cents: int
    tranches: tuple[Tranche, ...]
    dues: tuple[Due, ...]


@dataclass(frozen=True)
class Posting:
    """One money movement: a tranche paid out (``tranche`` its index) or a repayment."""

    kind: PostingKind
    on: date
    amount_cents: int
    tranche: int | None = None


@dataclass(frozen=True)
class Position:
    """A loan on a date: drawn, repaid (by component) and still owed."""

    on: date
    drawn_cents: int
    undrawn_cents: int
    principal_cents: int  # drawn and not repaid
    interest_cents: int  # accrued to ``on`` and not paid
    fee_cents: int  # arrangement fee not paid (owed from the first draw)
    paid_principal_cents: int
    paid_interest_cents: int
    paid_fee_cents: int

    @property
    def balance_cents(self) -> int:
        return self.principal_cents + self.interest_cents + self.fee_cents

    @property
    def paid_cents(self) -> int:
        return self.paid_principal_cents + self.paid_interest_cents + self.paid_fee_cents


@dataclass(frozen=True)
class Allocation:
    """How one repayment was split."""

    fee_cents: int
    interest_cents: int
    principal_cents: int


def _interest(rate: Decimal, balance_days: int) -> int:
    return int((rate * balance_days / 365).to_integral_value(rounding=ROUND_DOWN))


def _ordered(postings: Sequence[Posting]) -> list[Posting]:
    # same day: draw before repay (as credit.schedule does); otherwise the order they were posted in
    return sorted(postings, key=lambda p: (p.on, p.kind != "disbursement"))


def position(terms: Terms, postings: Sequence[Posting], on: date) -> Position:
    """The loan on ``on`` from the postings dated on or before it; ``InvalidInput`` if a repayment overpays."""
    principal = drawn = 0
    interest_due = 0  # crystallised at repayments, not yet paid
    balance_days = 0  # since the last repayment
    paid_p = paid_i = paid_f = 0
    fee_owed = 0
    last: date | None = None
    for p in _ordered([p for p in postings if p.on <= on]):
        if p.amount_cents <= 0:
            raise InvalidInput("a posting's amount must be positive")
        if last is not None:
            balance_days += principal * (p.on - last).days
        last = p.on
        if p.kind == "disbursement":
            if drawn == 0:
                fee_owed = terms.fee_cents
            principal += p.amount_cents
            drawn += p.amount_cents
            continue
        interest_due += _interest(terms.annual_rate, balance_days)
        balance_days = 0
        alloc = allocate(p.amount_cents, fee=fee_owed - paid_f, interest=interest_due - paid_i, principal=principal)
        paid_f += alloc.fee_cents
        paid_i += alloc.interest_cents
        paid_p += alloc.principal_cents
        principal -= alloc.principal_cents
    if last is not None:
        balance_days += principal * (on - last).days
    accrued = interest_due + _interest(terms.annual_rate, balance_days)
    return Position(
        on=on,
        drawn_cents=drawn,
        undrawn_cents=sum(t.amount_cents for t in terms.tranches) - drawn,
        principal_cents=principal,
        interest_cents=accrued - paid_i,
        fee_cents=fee_owed - paid_f,
        paid_principal_cents=paid_p,
        paid_interest_cents=paid_i,
        paid_fee_cents=paid_f,
    )


def allocate(amount_cents: int, *, fee: int, interest: int, principal: int) -> Allocation:
    """Split a repayment: fee, then interest, then principal; more than is owed is refused."""
    owed = fee + interest + principal
    if amount_cents > owed:
        raise InvalidInput(
            f"The repayment of {amount_cents / 100:,.2f} is more than the {owed / 100:,.2f} owed on that date; "
            "post at most the balance."
        )
    to_fee = min(amount_cents, fee)
    to_interest = min(amount_cents - to_fee, interest)
    return Allocation(to_fee, to_interest, amount_cents - to_fee - to_interest)


def drawn_tranches(postings: Sequence[Posting]) -> set[int]:
    return {p.tranche for p in postings if p.kind == "disbursement" and p.tranche is not None}


def remaining_schedule(terms: Terms, postings: Sequence[Posting], on: date) -> tuple[Due, ...]:
    """What is still to pay, by due date, if the undrawn tranches are paid out as planned (not before ``on``).

    The outstanding principal and the undrawn tranches are split equally over the due dates still ahead (the engine's
    ``split_cents``); interest on them comes from ``credit.schedule.build_schedule`` at the loan's rate; the interest
    accrued and the fee still unpaid on ``on`` are due with the first of them. After the last due date the whole
    balance is due at once, on ``on``. Before any posting this is the accepted offer's schedule, to the cent."""
    pos = position(terms, postings, on)
    if pos.drawn_cents and pos.balance_cents == 0:
        return ()  # repaid in full: the loan is closed and its undrawn tranches are cancelled
    drawn = drawn_tranches(postings)
    future = [
        Disbursement(max(t.date, on), t.amount_cents, t.payee, t.condition)
        for k, t in enumerate(terms.tranches)
        if k not in drawn
    ]
    if pos.principal_cents == 0 and not future:
        return ()
    ahead = [d.date for d in terms.dues if d.date > on]
    if not ahead:
        return (Due(on, pos.principal_cents, pos.interest_cents, pos.fee_cents),)
    draws = ([Disbursement(on, pos.principal_cents, "balance", None)] if pos.principal_cents else []) + future
    amount = pos.principal_cents + sum(d.amount_cents for d in future)
    plan = LoanPlan(tuple(draws), tuple(ahead), tuple(split_cents(amount, [1.0 / len(ahead)] * len(ahead))))
    fee_now = pos.fee_cents if pos.drawn_cents else terms.fee_cents
    priced = build_schedule(plan, terms.annual_rate, 0)
    out = []
    for k, inst in enumerate(priced.instalments):
        extra_i, extra_f = (pos.interest_cents, fee_now) if k == 0 else (0, 0)
        out.append(Due(inst.date, inst.principal_cents, inst.interest_cents + extra_i, extra_f))
    return tuple(out)


def next_due(terms: Terms, postings: Sequence[Posting], on: date) -> Due | None:
    """The next payment the borrower owes (None when nothing is owed or planned)."""
    rest = remaining_schedule(terms, postings, on)
    return rest[0] if rest else None


@dataclass(frozen=True)
class Exposure:
    """One loan's exposure on a date, in cents."""

    drawn_cents: int
    repaid_principal_cents: int
    outstanding_cents: int  # drawn - repaid principal
    committed_cents: int  # undisbursed tranches still to pay out (not frozen)
    frozen_cents: int  # undisbursed tranches frozen by monitoring
    interest_cents: int
    fee_cents: int

    @property
    def exposure_cents(self) -> int:
        return self.outstanding_cents + self.committed_cents

    @property
    def balance_cents(self) -> int:
        return self.outstanding_cents + self.interest_cents + self.fee_cents


def loan_exposure(terms: Terms, postings: Sequence[Posting], on: date, frozen: Collection[int] = ()) -> Exposure:
    """A loan's exposure on ``on`` from its terms and postings; ``frozen``: indexes of frozen tranches."""
    pos = position(terms, postings, on)
    drawn = drawn_tranches([p for p in postings if p.on <= on])
    undrawn = [(k, t.amount_cents) for k, t in enumerate(terms.tranches) if k not in drawn]
    return Exposure(
        drawn_cents=pos.drawn_cents,
        repaid_principal_cents=pos.paid_principal_cents,
        outstanding_cents=pos.principal_cents,
        committed_cents=sum(a for k, a in undrawn if k not in frozen),
        frozen_cents=sum(a for k, a in undrawn if k in frozen),
        interest_cents=pos.interest_cents,
        fee_cents=pos.fee_cents,
    )


@dataclass(frozen=True)
class Delinquency:
    """How far behind a loan is on ``on``."""

    on: date
    past_due_since: date | None  # the oldest due date not met (None: nothing past due)
    amount_past_due_cents: int  # principal behind plan; after the last due date the whole balance

    @property
    def days_past_due(self) -> int:
        return 0 if self.past_due_since is None else (self.on - self.past_due_since).days


def delinquency(terms: Terms, postings: Sequence[Posting], on: date) -> Delinquency:
    """The loan's delinquency on ``on`` (see the module doc)."""
    pos = position(terms, postings, on)
    planned = sum(t.amount_cents for t in terms.tranches)
    if pos.drawn_cents == 0 or planned == 0 or not terms.dues:
        return Delinquency(on, None, 0)
    since: date | None = None
    behind = 0
    cumulative = 0
    for due in terms.dues:
        cumulative += due.principal_cents
        if due.date >= on:
            break
        owed = cumulative * pos.drawn_cents // planned
        if pos.paid_principal_cents < owed:
            since = since or due.date
            behind = owed - pos.paid_principal_cents
    last = terms.dues[-1].date
    if on > last and pos.balance_cents > 0:
        since, behind = since or last, pos.balance_cents
    return Delinquency(on, since, behind)
