"""Issue #16: demo accounts (published passwords) are only seeded into an empty, local database; the demo
passwords pass the password rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from agrisense.config import Settings
from agrisense.lending import register_user
from agrisense.lending.actors import check_password
from agrisense.lending.seed import (
    DEMO_ADMIN_PHONE,
    DEMO_ANALYST_PASSWORD,
    DEMO_ANALYST_PHONE,
    DEMO_FARMER_PASSWORD,
    demo_phone,
    demo_seed_refusal,
    is_local_database,
)

OFFERS = [{"farmer_id": "F0001", "plot_id": "P1"}, {"farmer_id": "F0002", "plot_id": "P2"}]


def test_demo_passwords_pass_the_password_rule() -> None:
    check_password(DEMO_FARMER_PASSWORD, phone=demo_phone("F0001", 1))
    check_password(DEMO_ANALYST_PASSWORD, phone=DEMO_ANALYST_PHONE)
    check_password(DEMO_ANALYST_PASSWORD, phone=DEMO_ADMIN_PHONE)


def test_local_means_the_sqlite_file_in_the_state_dir(tmp_path: Path) -> None:
    assert is_local_database(Settings(state_dir=tmp_path))
    assert is_local_database(Settings(state_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    assert not is_local_database(Settings(state_dir=tmp_path, database_url="sqlite:////elsewhere/x.db"))
    assert not is_local_database(Settings(state_dir=tmp_path, database_url="postgresql+psycopg://db/agrisense"))


def test_seeding_is_refused_unless_empty_and_local(sqlite_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    local = Settings(state_dir=Path(str(sqlite_db.url).removeprefix("sqlite:///")).parent)
    remote = Settings(state_dir=tmp_path / "other", database_url="postgresql+psycopg://db/agrisense")
    assert demo_seed_refusal(sqlite_db, local, OFFERS) is None
    refusal = demo_seed_refusal(sqlite_db, remote, OFFERS)
    assert refusal is not None and "--allow-demo-accounts" in refusal
    assert demo_seed_refusal(sqlite_db, remote, OFFERS, allow_demo_accounts=True) is None
    # an earlier seed's demo accounts do not make it "not empty" (re-seeding stays idempotent) ...
    register_user(sqlite_db, phone=demo_phone("F0001", 1), password=DEMO_FARMER_PASSWORD, name="Farmer F0001")
    assert demo_seed_refusal(sqlite_db, local, OFFERS) is None
    # ... a real account does, even with the flag
    register_user(sqlite_db, phone="13700000001", password="a-real-farmers-pw", name="Real")
    for settings, allow in ((local, False), (remote, True)):
        refusal = demo_seed_refusal(sqlite_db, settings, OFFERS, allow_demo_accounts=allow)
        assert refusal is not None and "1 other account" in refusal


def test_the_cli_refuses_with_a_clear_message(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from agrisense.app.cli.main import app

    pytest.importorskip("typer")
    offers = tmp_path / "offers.json"
    offers.write_text(json.dumps([]))
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    result = runner.invoke(
        app, ["db", "seed", "--offers", str(offers), "--database-url", url, "--state-dir", str(tmp_path / "s")]
    )
    assert result.exit_code != 0
    assert "--allow-demo-accounts" in result.output
