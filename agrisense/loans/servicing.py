"""Overdue and default: which loans are behind on their instalments on a date, and the audited state changes.

Pure rule (``loans.ledger.delinquency``): an instalment is past due the day after its due date while the
principal repaid is below the principal planned by that date (the accepted schedule's principal, scaled to the
share of the tranches paid out, so a frozen tranche never makes a loan late). Repayments pay fee and interest
before principal, so principal repaid as planned means everything due was paid. After the last due date the whole
balance is past due.

Service (``mark_delinquent``): for every loan paid out, on ``as_of``: ``disbursed`` -> ``overdue`` once an
instalment is past due; ``overdue`` -> ``defaulted`` once it is more than the policy's ``loans.default_after_days``
past due; ``overdue`` -> ``disbursed`` (cured) when nothing is past due any more. Each change goes through the
ledger's audited transition (``loan_overdue``, ``loan_defaulted``, ``loan_disbursed``) with the rule as its
reason, under the farmer's lock; running it twice on the same date changes nothing the second time.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from agrisense.config import Settings, get_settings
from agrisense.credit.money import from_cents, json_number
from agrisense.credit.policy import load_policy
from agrisense.lending.actors import STAFF, Actor, require_role
from agrisense.lending.applications import lock_farmer
from agrisense.loans.booking import ledger_postings
from agrisense.loans.ledger import Delinquency, delinquency
from agrisense.loans.service import transition
from agrisense.loans.terms import terms_from_json
from agrisense.store import Database, Loan


def _reason(d: Delinquency, grace: int) -> str:
    amount = json_number(from_cents(d.amount_past_due_cents))
    return (
        f"instalment due {d.past_due_since} unpaid on {d.on}: {d.days_past_due} days past due, {amount:,.2f} "
        f"behind (default after {grace} days, policy)"
    )


def _steps(state: str, d: Delinquency, grace: int) -> list[str]:
    """The transitions the rule asks for, in order."""
    late = d.days_past_due > 0
    if state == "disbursed" and late:
        return ["overdue", "defaulted"] if d.days_past_due > grace else ["overdue"]
    if state == "overdue":
        if not late:
            return ["disbursed"]
        if d.days_past_due > grace:
            return ["defaulted"]
    return []


def mark_delinquent(
    db: Database, *, as_of: date, actor: Actor | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Apply the overdue / default rule to every paid-out loan on ``as_of`` (``actor``: staff, or None for the
    system, e.g. ``agrisense loans delinquency``). Returns what changed: loan ids by new state."""
    if actor is not None:
        require_role(actor, STAFF, "mark loans overdue or defaulted")
    grace = load_policy((settings or get_settings()).policy_file).loans.default_after_days
    with db.session(readonly=True) as session:
        ids = list(session.scalars(select(Loan.id).where(Loan.state.in_(("disbursed", "overdue"))).order_by(Loan.id)))
    changed: dict[str, list[int]] = {"overdue": [], "defaulted": [], "disbursed": []}
    for loan_id in ids:
        with db.session() as session:
            farmer_id = session.scalar(select(Loan.farmer_id).where(Loan.id == loan_id))
            if farmer_id is None:
                continue
            lock_farmer(session, farmer_id)
            loan = session.get(Loan, loan_id, options=[selectinload(Loan.postings)])
            if loan is None:
                continue
            session.refresh(loan)  # read again under the lock
            d = delinquency(terms_from_json(loan.terms), ledger_postings(loan), as_of)
            why = _reason(d, grace) if d.days_past_due else f"nothing past due on {as_of}: past-due amounts paid"
            for state in _steps(loan.state, d, grace):
                transition(session, actor, loan, state, reason=why)
                changed[state].append(loan.id)
            session.flush()
    return {
        "as_of": as_of.isoformat(),
        "default_after_days": grace,
        "checked": len(ids),
        "overdue": changed["overdue"],
        "defaulted": changed["defaulted"],
        "cured": changed["disbursed"],
    }
