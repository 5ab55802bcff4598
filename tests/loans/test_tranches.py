"""Conditional tranches (#13): a tranche with ``condition: emergence_confirmed`` is paid out only once in-season
monitoring confirms emergence on the loan's plots (released through the ledger), and frozen where the warnings
policy's ``freeze_undisbursed`` names it; both visible in the ledger, the audit log and the farmer's loan view.
SQLite and PostgreSQL (``bank`` fixture of tests/loans/conftest.py)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from agrisense.errors import Conflict
from agrisense.lending import accept_offer
from agrisense.lending.actors import Actor
from agrisense.loans.service import apply_monitoring, get_loan, list_loans, post_disbursement
from agrisense.store import AuditEntry
from tests.loans.test_service import Bank


def _loan(bank: Bank, n: int) -> tuple[Actor, dict[str, Any]]:
    farmer = bank.farmer(n)
    app = bank.apply(farmer, bank.field(farmer, 3.0, dx=0.002 * n))
    accept_offer(bank.db, farmer, app["id"])
    (loan,) = list_loans(bank.db, farmer)
    return farmer, loan


def _conditional(loan: dict) -> dict:
    (tranche,) = [t for t in loan["tranches"] if t["condition"] == "emergence_confirmed"]
    return tranche


def _audits(bank: Bank, action: str) -> list[AuditEntry]:
    with bank.db.session(readonly=True) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_emergence_releases_the_conditional_tranche_through_the_ledger(bank: Bank) -> None:
    farmer, loan = _loan(bank, 1)
    t = _conditional(loan)
    assert t["status"] == "awaiting_emergence" and loan["finance_season"] == 2027
    with pytest.raises(Conflict, match="awaiting_emergence"):
        post_disbursement(bank.db, bank.admin, loan["id"], client_key="early", tranche=t["index"])
    due = date.fromisoformat(t["date"])
    nothing: list[dict[str, Any]] = [
        {"plot_id": "p", "emerged": None, "frozen_dates": []}
    ]  # not seen yet: nothing changes
    assert apply_monitoring(bank.db, loan["id"], run_id="r0", as_of=due, plots=nothing)["postings"] == []
    seen = [{"plot_id": "p", "emerged": due - timedelta(days=5), "frozen_dates": []}]
    view = apply_monitoring(bank.db, loan["id"], run_id="r1", as_of=due + timedelta(days=1), plots=seen)
    (posting,) = view["postings"]
    assert posting["tranche"] == t["index"] and posting["amount"] == t["amount"] and posting["kind"] == "disbursement"
    assert posting["client_key"] == f"emergence:r1:{t['index']}" and view["state"] == "disbursed"
    assert view["tranches"][t["index"]]["status"] == "disbursed" and view["drawn"] == t["amount"]
    again = apply_monitoring(bank.db, loan["id"], run_id="r1", as_of=due + timedelta(days=1), plots=seen)
    assert len(again["postings"]) == 1  # the same run again pays nothing twice
    mine = get_loan(bank.db, farmer, loan["id"])  # the farmer's view
    assert mine["tranches"][t["index"]]["status"] == "disbursed" and "emergence confirmed" in str(
        mine["tranches"][t["index"]]["status_reason"]
    )
    assert len(_audits(bank, "loan_tranche_confirmed")) == 1 and len(_audits(bank, "loan_disbursement")) == 1


def test_a_freeze_blocks_the_tranche_until_a_later_run_confirms_emergence(bank: Bank) -> None:
    farmer, loan = _loan(bank, 2)
    t = _conditional(loan)
    day = date.fromisoformat(t["date"]) - timedelta(days=3)
    frozen = [{"plot_id": "p", "emerged": None, "frozen_dates": [t["date"]], "reason": "NO_EMERGENCE"}]
    view = apply_monitoring(bank.db, loan["id"], run_id="w1", as_of=day, plots=frozen)
    assert view["tranches"][t["index"]]["status"] == "frozen" and view["postings"] == []
    assert "NO_EMERGENCE" in str(get_loan(bank.db, farmer, loan["id"])["tranches"][t["index"]]["status_reason"])
    with pytest.raises(Conflict, match="frozen"):
        post_disbursement(bank.db, bank.admin, loan["id"], client_key="k", tranche=t["index"], on=day)
    # one plot frozen, another emerged: the tranche stays frozen
    mixed: list[dict[str, Any]] = [*frozen, {"plot_id": "q", "emerged": day, "frozen_dates": []}]
    assert (
        apply_monitoring(bank.db, loan["id"], run_id="w2", as_of=day, plots=mixed)["tranches"][t["index"]]["status"]
        == "frozen"
    )
    (entry,) = _audits(bank, "loan_tranche_frozen")  # audited once (the status did not change in w2)
    assert entry.details["loan_id"] == loan["id"] and entry.details["tranche"] == t["index"]
    later = date.fromisoformat(t["date"]) + timedelta(days=10)
    seen = [{"plot_id": "p", "emerged": later - timedelta(days=2), "frozen_dates": []}]
    view = apply_monitoring(bank.db, loan["id"], run_id="w3", as_of=later, plots=seen)
    assert view["tranches"][t["index"]]["status"] == "disbursed" and len(view["postings"]) == 1
