"""Overdue and default (#13): the pure past-due rule, and ``mark_delinquent`` (audited, idempotent, cures) over the
service on SQLite and PostgreSQL (the ``bank`` fixture of conftest.py), the CLI and the farmer's view."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from agrisense.credit.policy import load_policy
from agrisense.lending import accept_offer
from agrisense.loans.ledger import Delinquency, Due, Posting, Terms, Tranche, delinquency, position
from agrisense.loans.service import get_loan, list_loans, post_repayment
from agrisense.loans.servicing import _steps, mark_delinquent
from agrisense.store import AuditEntry
from tests.loans.test_service import Bank, _draw_all, _offered

TERMS = Terms(
    limit_cents=100_000,
    annual_rate=Decimal("0.12"),
    fee_cents=1_000,
    tranches=(Tranche(date(2027, 3, 1), 60_000, "Seed Co", None), Tranche(date(2027, 4, 1), 40_000, "borrower", None)),
    dues=(Due(date(2027, 9, 1), 50_000, 4_000, 1_000), Due(date(2027, 10, 1), 50_000, 500, 0)),
)
DRAWN = [Posting("disbursement", date(2027, 3, 1), 60_000, 0), Posting("disbursement", date(2027, 4, 1), 40_000, 1)]


def test_past_due_rule() -> None:
    assert delinquency(TERMS, DRAWN, date(2027, 9, 1)).days_past_due == 0  # due today: not late yet
    late = delinquency(TERMS, DRAWN, date(2027, 9, 11))
    assert late.past_due_since == date(2027, 9, 1) and late.days_past_due == 10
    assert late.amount_past_due_cents == 50_000
    paid = [*DRAWN, Posting("repayment", date(2027, 9, 1), 60_000)]  # fee, interest, then > 50,000 principal
    assert delinquency(TERMS, paid, date(2027, 9, 20)).days_past_due == 0
    short = [*DRAWN, Posting("repayment", date(2027, 9, 1), 20_000)]
    assert delinquency(TERMS, short, date(2027, 9, 20)).past_due_since == date(2027, 9, 1)
    half = DRAWN[:1]  # the second tranche was never paid out (frozen): the plan scales to what was drawn
    assert (
        delinquency(TERMS, [*half, Posting("repayment", date(2027, 9, 1), 35_000)], date(2027, 9, 5)).days_past_due == 0
    )
    after = delinquency(TERMS, paid, date(2027, 10, 31))  # past the last due date: the whole balance
    assert after.past_due_since == date(2027, 10, 1) and after.days_past_due == 30
    assert after.amount_past_due_cents == position(TERMS, paid, date(2027, 10, 31)).balance_cents > 0
    assert delinquency(TERMS, [], date(2028, 1, 1)).days_past_due == 0  # nothing paid out: nothing due


def test_state_steps() -> None:
    on = date(2027, 9, 11)
    late, very_late = Delinquency(on, date(2027, 9, 1), 1), Delinquency(on, date(2027, 6, 1), 1)
    assert _steps("disbursed", late, 90) == ["overdue"] and _steps("overdue", late, 90) == []
    assert _steps("disbursed", very_late, 90) == ["overdue", "defaulted"]
    assert _steps("overdue", Delinquency(on, None, 0), 90) == ["disbursed"]  # cured: nothing past due any more
    assert _steps("disbursed", Delinquency(on, None, 0), 90) == []


def _disbursed(bank: Bank, n: int) -> tuple[Any, dict[str, Any]]:
    farmer = bank.farmer(n)
    app = _offered(bank, farmer, bank.field(farmer, 2.0, dx=0.004 * n))
    accept_offer(bank.db, farmer, app["id"], settings=bank.settings)
    (loan,) = list_loans(bank.db, farmer)
    return farmer, _draw_all(bank, loan)


def _actions(bank: Bank, loan_id: int) -> list[tuple[str, str]]:
    with bank.db.session(readonly=True) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action.like("loan_%")).order_by(AuditEntry.id)).all()
    return [(r.action, r.actor_role) for r in rows if (r.details or {}).get("loan_id") == loan_id]


def test_overdue_then_default_after_the_grace_and_a_cure(bank: Bank) -> None:
    grace = load_policy(bank.settings.policy_file).loans.default_after_days
    farmer, late = _disbursed(bank, 1)
    _, cured = _disbursed(bank, 2)
    due = date.fromisoformat(late["schedule"][0]["date"])
    run = mark_delinquent(bank.db, as_of=due + timedelta(days=1), settings=bank.settings)
    assert sorted(run["overdue"]) == sorted([late["id"], cured["id"]]) and run["defaulted"] == []
    again = mark_delinquent(bank.db, as_of=due + timedelta(days=1), settings=bank.settings)
    assert again["overdue"] == again["defaulted"] == again["cured"] == []  # idempotent
    mine = get_loan(bank.db, farmer, late["id"], on=due + timedelta(days=1))  # the farmer's "my loans" shows it
    assert mine["state"] == "overdue" and mine["past_due_since"] == due.isoformat()

    # a late repayment in full: the overdue loan is repaid (one balloon instalment: everything was past due)
    balance = get_loan(bank.db, bank.admin, cured["id"], on=due + timedelta(days=3))["balance"]
    done = post_repayment(
        bank.db, bank.admin, cured["id"], client_key="late", amount=str(balance), on=due + timedelta(days=3)
    )
    assert done["state"] == "repaid" and done["days_past_due"] == 0
    run = mark_delinquent(bank.db, as_of=due + timedelta(days=3), settings=bank.settings)
    assert (
        run["checked"] == 1 and get_loan(bank.db, farmer, late["id"], on=due + timedelta(days=3))["days_past_due"] == 3
    )

    assert mark_delinquent(bank.db, as_of=due + timedelta(days=grace), settings=bank.settings)["defaulted"] == []
    run = mark_delinquent(bank.db, as_of=due + timedelta(days=grace + 1), settings=bank.settings)
    assert run["defaulted"] == [late["id"]] and run["default_after_days"] == grace
    assert list_loans(bank.db, farmer)[0]["state"] == "defaulted"
    assert _actions(bank, late["id"])[-2:] == [("loan_overdue", "system"), ("loan_defaulted", "system")]


def test_cli_marks_loans_overdue(bank: Bank, small_region: Path, tmp_path: Path) -> None:
    from agrisense.app.cli.main import app

    if bank.db.is_postgis:
        return  # the command over the service is the same; run once, on SQLite
    _, loan = _disbursed(bank, 1)
    due = date.fromisoformat(loan["schedule"][0]["date"])
    url = f"sqlite:///{tmp_path / 'test.db'}"
    args = ["loans", "delinquency", "--as-of", (due + timedelta(days=5)).isoformat(), "--database-url", url]
    result = CliRunner().invoke(app, args, env={"AGRISENSE_STATE_DIR": str(tmp_path / "state")})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout[result.stdout.index("{") :])["overdue"] == [loan["id"]], result.output
    bad = CliRunner().invoke(app, ["loans", "delinquency", "--as-of", "soon", "--database-url", url])
    assert bad.exit_code != 0 and "soon" in bad.output
