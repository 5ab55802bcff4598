"""Portfolio exposure from the ledger, not from accepted limits: what is drawn and not repaid, and what the bank has
still committed to pay out, loan by loan; and the book the stress test replays (``agrisense stress --database``).

* **Outstanding principal** = disbursed - repaid principal (from the postings on the as-of date).
* **Committed** = the undisbursed tranches the bank still owes (not frozen by monitoring), shown separately;
  **frozen** tranches are shown apart again (they are paid out only if a later run lifts the freeze).
* **Exposure** = outstanding principal + committed. A repaid or written-off loan has none and is left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from agrisense.credit.money import from_cents, json_number
from agrisense.lending.actors import STAFF, Actor
from agrisense.loans.booking import ledger_postings
from agrisense.loans.ledger import Exposure, loan_exposure, remaining_schedule
from agrisense.loans.terms import frozen_tranches, terms_from_json
from agrisense.store import Application, Database, Loan, User

OPEN_STATES = ("accepted", "disbursed", "overdue", "defaulted")
"""Loans that still carry exposure (``repaid`` and ``written_off`` are closed)."""
STRESSED_STATES = ("accepted", "disbursed", "overdue")
"""Loans the stress test replays: a defaulted loan is already a loss, not a risk of one."""


def _as_of(loan: Loan, on: date | None) -> date:
    """``on``, else today or the loan's last posting date if that is later (as the loan view)."""
    return on or max([datetime.now(UTC).date(), *(p.on_date for p in loan.postings)])


def _open_loans(db: Database, actor: Actor | None, states: Sequence[str]) -> list[tuple[Loan, Application, str]]:
    with db.session(readonly=True) as session:
        query = (
            select(Loan, Application, User.name)
            .join(Application, Application.id == Loan.application_id)
            .join(User, User.id == Loan.farmer_id)
            .where(Loan.state.in_(states))
            .options(selectinload(Loan.postings))
            .order_by(Loan.id)
        )
        if actor is not None and actor.role not in STAFF:
            query = query.where(Loan.farmer_id == actor.user_id)
        return [(loan, app, str(name)) for loan, app, name in session.execute(query)]


def _money(cents: int) -> float:
    return json_number(from_cents(cents))


FIELDS = ("drawn", "repaid_principal", "outstanding_principal", "committed_undrawn", "frozen_undrawn", "exposure")


def _amounts(e: Exposure) -> dict[str, int]:
    return {
        "drawn": e.drawn_cents,
        "repaid_principal": e.repaid_principal_cents,
        "outstanding_principal": e.outstanding_cents,
        "committed_undrawn": e.committed_cents,
        "frozen_undrawn": e.frozen_cents,
        "exposure": e.exposure_cents,
    }


def portfolio_exposure(db: Database, actor: Actor, *, on: date | None = None) -> dict[str, Any]:
    """The book's exposure from the ledger on ``on`` (default: each loan's view date): one row per open loan and
    totals (also by state), beside the accepted limits the book was booked at. Staff see the whole book; a farmer
    sees their own loans."""
    rows: list[dict[str, Any]] = []
    totals = dict.fromkeys(FIELDS, 0)
    by_state: dict[str, dict[str, int]] = {}
    limits = 0
    currency = None
    for loan, app, name in _open_loans(db, actor, OPEN_STATES):
        terms = terms_from_json(loan.terms)
        day = _as_of(loan, on)
        cents = _amounts(loan_exposure(terms, ledger_postings(loan), day, frozen_tranches(loan.terms)))
        limits += terms.limit_cents
        currency = currency or loan.currency
        state = by_state.setdefault(loan.state, {"loans": 0, **dict.fromkeys(FIELDS, 0)})
        state["loans"] += 1
        for key, value in cents.items():
            totals[key] += value
            state[key] += value
        rows.append(
            {
                "loan_id": loan.id,
                "application_id": loan.application_id,
                "farmer_id": loan.farmer_id,
                "farmer_name": name,
                "crop": app.crop,
                "state": loan.state,
                "finance_season": loan.terms.get("finance_season"),
                "currency": loan.currency,
                "as_of": day.isoformat(),
                "credit_limit": _money(terms.limit_cents),
                **{k: _money(v) for k, v in cents.items()},
            }
        )
    return {
        "as_of": None if on is None else on.isoformat(),
        "currency": currency,
        "loans": len(rows),
        "accepted_limits": _money(limits),
        "totals": {k: _money(v) for k, v in totals.items()},
        "by_state": [
            {"state": s, "loans": v["loans"], **{k: _money(v[k]) for k in FIELDS}} for s, v in sorted(by_state.items())
        ],
        "rows": rows,
    }


def ledger_book(db: Database, *, on: date | None = None) -> list[dict[str, Any]]:
    """The offers the stress test replays for the booked loans (``accepted``, ``disbursed``, ``overdue``), sized by
    the ledger on ``on``: each plot's stored offer (an override's re-priced one) with ``credit_limit`` its share of
    the loan's exposure (outstanding principal + committed tranches) and ``schedule`` its share of what is still
    due on that exposure (the remaining schedule, repayments booked, frozen tranches left out); ``expected_loss``
    scaled the same way. A loan with no exposure left is left out."""
    book: list[dict[str, Any]] = []
    for loan, app, _ in _open_loans(db, None, STRESSED_STATES):
        terms = terms_from_json(loan.terms)
        postings, day = ledger_postings(loan), _as_of(loan, on)
        exposure = loan_exposure(terms, postings, day, frozen_tranches(loan.terms))
        if exposure.exposure_cents <= 0:
            continue
        rest = remaining_schedule(terms, postings, day)
        planned = exposure.outstanding_cents + exposure.committed_cents + exposure.frozen_cents
        book.extend(_plot_offers(app.offers or [], exposure, rest, exposure.exposure_cents / planned))
    return book


def _plot_offers(
    offers: Sequence[Mapping[str, Any]], exposure: Exposure, rest: Sequence[Any], unfrozen: float
) -> list[dict[str, Any]]:
    """Each priced plot offer with its share (by its booked limit) of the loan's exposure and remaining dues."""
    priced = [o for o in offers if float(o.get("credit_limit") or 0) > 0 and o.get("schedule")]
    booked = sum(float(o["credit_limit"]) for o in priced)
    out = []
    for offer in priced:
        share = float(offer["credit_limit"]) / booked
        principal = exposure.exposure_cents / 100 * share
        schedule = [
            {
                "date": d.date.isoformat(),
                "principal": d.principal_cents / 100 * share * unfrozen,
                "interest": d.interest_cents / 100 * share * unfrozen,
                "fees": d.fee_cents / 100 * share * unfrozen,
                "total": d.total_cents / 100 * share * unfrozen,
            }
            for d in rest
        ]
        due = sum(d["total"] for d in schedule)
        if schedule and due < principal:  # float rounding only: never less due than lent
            schedule[-1]["total"] += principal - due
        out.append(
            {
                **offer,
                "decision": "approve",
                "credit_limit": round(principal, 2),
                "schedule": schedule,
                "expected_loss": float(offer.get("expected_loss") or 0) * principal / float(offer["credit_limit"]),
            }
        )
    return out
