"""``agrisense stress --database`` (#13): the weather replay over the booked loans of the database sized by the
ledger (outstanding principal + committed tranches, repayments booked; an analyst's override included), printing
its assumptions and the scorecard's booked EL beside the weather-replay EL."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from typer.testing import CliRunner

from agrisense.app.cli.main import app
from agrisense.config import Settings
from agrisense.lending import accept_offer, decide_application
from agrisense.lending import scoring as lending_scoring
from agrisense.loans.exposure import portfolio_exposure
from agrisense.loans.service import list_loans, post_disbursement, post_repayment
from agrisense.store import open_database
from tests.loans.test_service import QuoteBatcher, _bank


def test_stress_of_the_booked_loans(small_region: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(lending_scoring, "_batcher", QuoteBatcher())
    state = tmp_path / "state"
    db = open_database(Settings(region_dir=small_region, state_dir=state))
    bank = _bank(db, small_region, tmp_path)
    limits = []
    for n, ha in ((1, 3.0), (2, 5.0)):
        farmer = bank.farmer(n)
        application = bank.apply(farmer, bank.field(farmer, ha, dx=0.004 * n))
        if n == 2:  # an override: the booked limit is the analyst's
            application = decide_application(
                db,
                bank.analyst,
                application["id"],
                decision="change_limit",
                reason="visit",
                new_limit=1500.0,
                settings=bank.settings,
            )
        accept_offer(db, farmer, application["id"])
        limits.append(application["credit_limit"])
    out = tmp_path / "stress"
    env = {"AGRISENSE_STATE_DIR": str(state), "AGRISENSE_REGION_DIR": str(small_region)}
    result = CliRunner().invoke(
        app,
        ["stress", "--database", "--region", str(small_region), "--out", str(out), "--repayment-capacity", "0.6"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "stress.json").read_text())
    assert summary["offers"] == "database" and summary["n_loans"] == 2
    assert summary["exposure"] == sum(limits) and 1500.0 in limits
    assert "repayment capacity 60% of the harvest value" in result.output
    assert "booked EL (scorecard)" in result.output and "weather-replay EL" in result.output

    # money paid out and partly repaid: the book is what the ledger says, no longer the accepted limits
    loan = list_loans(db, bank.analyst)[-1]
    day = date.fromisoformat(loan["tranches"][0]["date"])
    post_disbursement(db, bank.admin, loan["id"], client_key="d0", tranche=0, on=day)
    post_repayment(db, bank.admin, loan["id"], client_key="r0", amount="300.00", on=day + timedelta(days=20))
    on = (day + timedelta(days=20)).isoformat()
    args = ["stress", "--database", "--as-of", on, "--region", str(small_region), "--out", str(out)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "stress.json").read_text())
    ledger = portfolio_exposure(db, bank.analyst, on=date.fromisoformat(on))["totals"]
    assert summary["ledger_as_of"] == on and summary["exposure"] == ledger["exposure"] < sum(limits)
    assert "exposure from the ledger on" in result.output
