"""Portfolio exposure and the stress book from the ledger (#13), not from accepted limits: outstanding principal
= disbursed - repaid principal, undisbursed committed tranches apart (frozen ones apart again), overrides included.
SQLite and PostgreSQL (the ``bank`` fixture of conftest.py)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from agrisense.agronomy.calendar import load_crop_table
from agrisense.agronomy.weather import LocalCsvWeather, weather_risk
from agrisense.credit.stress import stress_test
from agrisense.lending import accept_offer, decide_application, portfolio
from agrisense.lending.actors import Actor
from agrisense.loans.exposure import ledger_book, portfolio_exposure
from agrisense.loans.service import apply_monitoring, list_loans, post_disbursement, post_repayment
from tests.loans.test_service import Bank, _offered


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def _loan(bank: Bank, n: int, ha: float, limit: float | None = None) -> tuple[Actor, dict[str, Any]]:
    farmer = bank.farmer(n)
    plot = bank.field(farmer, ha, dx=0.004 * n)
    app = _offered(bank, farmer, plot) if limit is None else bank.apply(farmer, plot)
    if limit is not None:  # an analyst's override: the booked limit is the analyst's
        app = decide_application(
            bank.db,
            bank.analyst,
            app["id"],
            decision="change_limit",
            reason="visit",
            new_limit=limit,
            settings=bank.settings,
        )
    accept_offer(bank.db, farmer, app["id"])
    (loan,) = list_loans(bank.db, farmer)
    return farmer, loan


def test_exposure_follows_the_ledger_postings(bank: Bank) -> None:
    _, first = _loan(bank, 1, 3.0)
    farmer2, second = _loan(bank, 2, 5.0, limit=1500.0)
    t0, t1 = first["tranches"]
    day = date.fromisoformat(t0["date"])
    empty = portfolio_exposure(bank.db, bank.analyst, on=day - timedelta(days=1))
    assert empty["totals"]["outstanding_principal"] == 0 and empty["loans"] == 2
    assert _d(empty["totals"]["committed_undrawn"]) == _d(first["credit_limit"]) + _d("1500")
    assert empty["accepted_limits"] == empty["totals"]["exposure"]  # nothing paid out: the limits are committed

    post_disbursement(bank.db, bank.admin, first["id"], client_key="d0", tranche=0, on=day)
    repaid = post_repayment(bank.db, bank.admin, first["id"], client_key="r0", amount="500.00", on=day + timedelta(30))
    frozen = [{"plot_id": "p", "emerged": None, "frozen_dates": [t1["date"]], "reason": "NO_EMERGENCE"}]
    apply_monitoring(bank.db, first["id"], run_id="w1", as_of=day + timedelta(30), plots=frozen)
    book = portfolio_exposure(bank.db, bank.analyst, on=day + timedelta(30))
    row = next(r for r in book["rows"] if r["loan_id"] == first["id"])
    principal_paid = _d(t0["amount"]) - _d(repaid["principal_outstanding"])
    assert 0 < principal_paid < _d("500")  # the fee and interest were paid first
    assert _d(row["outstanding_principal"]) == _d(t0["amount"]) - principal_paid == _d(row["drawn"]) - principal_paid
    assert _d(row["repaid_principal"]) == principal_paid
    assert row["committed_undrawn"] == 0 and row["frozen_undrawn"] == t1["amount"]  # frozen, not committed
    assert _d(row["exposure"]) == _d(row["outstanding_principal"])
    other = next(r for r in book["rows"] if r["loan_id"] == second["id"])
    assert other["exposure"] == other["committed_undrawn"] == 1500.0  # the override, not the engine's limit
    totals = book["totals"]
    assert _d(totals["exposure"]) == _d(row["exposure"]) + _d("1500")
    assert _d(totals["exposure"]) < _d(book["accepted_limits"])  # repaid and frozen money is not exposure
    assert {s["state"]: s["loans"] for s in book["by_state"]} == {"accepted": 1, "disbursed": 1}
    mine = portfolio_exposure(bank.db, farmer2, on=day)  # a farmer sees their own loan only
    assert [r["loan_id"] for r in mine["rows"]] == [second["id"]]

    stressed = ledger_book(bank.db, on=day + timedelta(30))
    by_loan = {o["plot_id"]: o for o in stressed}
    assert len(stressed) == 2
    assert sum(_d(o["credit_limit"]) for o in stressed) == _d(totals["exposure"])
    for offer in by_loan.values():
        assert sum(float(i["total"]) for i in offer["schedule"]) >= float(offer["credit_limit"])
    crops = load_crop_table(bank.settings.reference_dir / "crops.csv")
    history = LocalCsvWeather(bank.settings.region_dir / "weather" / "daily.csv").history()
    weather = {"maize": weather_risk(history, crops["maize"], "maize")}
    result = stress_test(stressed, crops, weather)
    assert result.n_loans == 2 and abs(result.exposure - float(totals["exposure"])) < 0.01
    plots = portfolio(bank.db, bank.analyst)  # the risk view's plots: shares of the same ledger exposure
    assert abs(sum(r["exposure"] for r in plots) - result.exposure) < 0.02
