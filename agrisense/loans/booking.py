"""Booking a loan when a farmer accepts an offer (called inside the accept transaction), and a booked loan's
postings as the pure ledger (``loans.ledger``) sees them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from agrisense.credit.money import from_cents
from agrisense.credit.schedule import to_cents
from agrisense.loans.ledger import Posting
from agrisense.loans.terms import terms_json, terms_of
from agrisense.store import Application, Loan


def book_loan(session: Session, app: Application) -> Loan:
    """A new loan (state ``accepted``) on the application's priced offers; nothing is paid out yet. The season it
    finances (the application's, from its offers) is part of the booked terms."""
    terms = terms_of(app.offers)
    loan = Loan(
        application_id=app.id,
        farmer_id=app.farmer_id,
        state="accepted",
        currency=app.currency,
        credit_limit=from_cents(terms.limit_cents),
        annual_rate=terms.annual_rate,
        arrangement_fee=from_cents(terms.fee_cents),
        terms={**terms_json(terms), "finance_season": app.finance_season},
    )
    session.add(loan)
    session.flush()
    return loan


def ledger_postings(loan: Loan) -> list[Posting]:
    """The loan's postings as the pure ledger sees them."""
    return [
        Posting(kind=p.kind, on=p.on_date, amount_cents=to_cents(p.amount), tranche=p.tranche)  # type: ignore[arg-type]
        for p in loan.postings
    ]
