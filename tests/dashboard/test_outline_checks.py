"""Outline checks stored with the application (``agrisense.lending.outline_checks``): computed once with the real
model on the seeded small-region applications, read back afterwards, recomputed when the outline changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from agrisense.config import Settings
from agrisense.errors import Forbidden, NotFound
from agrisense.lending import authenticate, list_review_queue
from agrisense.lending.outline_checks import UNAVAILABLE, application_outline_checks, outline_sha, split_fresh
from agrisense.lending.seed import DEMO_FARMER_PASSWORD, demo_phone
from agrisense.store import Application, Database, FarmPlot
from tests.dashboard.conftest import ANALYST_PHONE, DashboardData

SQUARE = {"type": "Polygon", "coordinates": [[[32.0, 2.0], [32.001, 2.0], [32.001, 2.001], [32.0, 2.0]]]}


def test_split_fresh_keeps_entries_of_unchanged_outlines_only() -> None:
    moved = {"type": "Polygon", "coordinates": [[[32.1, 2.0], [32.101, 2.0], [32.101, 2.001], [32.1, 2.0]]]}
    sha = outline_sha(SQUARE)
    stored = {"a": {"outline_sha": sha, "verdict": "matches"}, "b": {"outline_sha": sha}}
    plots = [{"ref": "a", "geometry": SQUARE}, {"ref": "b", "geometry": moved}, {"ref": "c", "geometry": SQUARE}]
    fresh, missing = split_fresh(stored, [*plots, {"ref": "d", "geometry": None}])
    assert fresh == {"a": stored["a"]}
    assert [p["ref"] for p in missing] == ["b", "c"]  # b's outline changed, c was never checked, d has no outline
    assert split_fresh(None, plots)[1] == plots
    # the fingerprint ignores key order, not the coordinates
    assert outline_sha({"coordinates": SQUARE["coordinates"], "type": "Polygon"}) == outline_sha(SQUARE)
    assert outline_sha(moved) != outline_sha(SQUARE)


def _stored(db: Database, app_id: int) -> tuple[dict | None, object]:
    with db.session(readonly=True) as session:
        app = session.get(Application, app_id)
        assert app is not None
        return app.outline_checks, app.updated_at


def _clear(db: Database, app_id: int) -> None:
    """As before its first view (the test database's template has every check stored)."""
    with db.session() as session:
        session.execute(update(Application).where(Application.id == app_id).values(outline_checks=None))


def _logged_in(dashboard_data: DashboardData) -> Any:
    """A Streamlit AppTest of the dashboard with the analyst logged in."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "agrisense/app/dashboard/Home.py"))
    at.run(timeout=120)
    at.text_input(key="login_phone").input(ANALYST_PHONE)
    at.text_input(key="login_password").input(dashboard_data.analyst_password)
    at.button[0].click()
    return at.run(timeout=120)


def _settings(env: dict[str, str]) -> Settings:
    return Settings(region_dir=Path(env["AGRISENSE_REGION_DIR"]), state_dir=Path(env["AGRISENSE_STATE_DIR"]))


@pytest.mark.slow  # the boundary model on each plot's window (about a second a plot)
def test_checks_are_computed_once_stored_and_recomputed_when_the_outline_changes(
    dashboard_data: DashboardData, dashboard_env: dict
) -> None:
    db = Database(dashboard_env["AGRISENSE_DATABASE_URL"])
    settings = _settings(dashboard_env)
    analyst = authenticate(db, ANALYST_PHONE, dashboard_data.analyst_password)
    row = next(r for r in list_review_queue(db, analyst) if len(r["plots"]) > 1)
    _clear(db, row["id"])
    updated = _stored(db, row["id"])[1]

    checks = application_outline_checks(db, analyst, row["id"], settings=settings)
    assert sorted(checks) == sorted(row["plots"])
    assert all(c["verdict"] != UNAVAILABLE and c["message"].startswith("Drawn ") for c in checks.values()), checks
    stored, updated_after = _stored(db, row["id"])
    assert stored == checks and updated_after == updated  # kept, and the application's updated_at untouched

    # read back, not recomputed: a marked entry comes back as stored
    first, second = row["plots"][:2]
    marked = {**stored, first: {**stored[first], "message": "stored earlier"}}
    with db.session() as session:
        session.execute(update(Application).where(Application.id == row["id"]).values(outline_checks=marked))
    assert application_outline_checks(db, analyst, row["id"], settings=settings)[first]["message"] == "stored earlier"

    # the farmer redraws the second plot (shifted ~20 m): its entry is stale and computed again, the first is kept
    with db.session() as session:
        plot = session.scalars(select(FarmPlot).where(FarmPlot.ref == second)).one()
        ring = [[x + 0.0002, y] for x, y in plot.geometry_json["coordinates"][0]]
        plot.geometry_json = {"type": "Polygon", "coordinates": [ring]}
        new_sha = outline_sha(plot.geometry_json)
    again = application_outline_checks(db, analyst, row["id"], settings=settings)
    assert again[first]["message"] == "stored earlier"
    assert again[second]["outline_sha"] == new_sha != stored[second]["outline_sha"]
    assert _stored(db, row["id"])[0] == again


@pytest.mark.slow  # the seeded database (scored offers) of the dashboard tests
def test_checks_refuse_farmers_and_unknown_applications_and_keep_failures_unstored(
    dashboard_data: DashboardData, dashboard_env: dict, tmp_path: Path
) -> None:
    db = Database(dashboard_env["AGRISENSE_DATABASE_URL"])
    analyst = authenticate(db, ANALYST_PHONE, dashboard_data.analyst_password)
    row = list_review_queue(db, analyst)[0]
    farmers = sorted({str(o["farmer_id"]) for o in dashboard_data.offers})
    farmer = authenticate(db, demo_phone(farmers[0], 1), DEMO_FARMER_PASSWORD)
    with pytest.raises(Forbidden, match="review the outline checks"):
        application_outline_checks(db, farmer, row["id"], settings=_settings(dashboard_env))
    with pytest.raises(NotFound, match="review queue"):
        application_outline_checks(db, analyst, 10_000, settings=_settings(dashboard_env))
    # no model to run: every check says so, and nothing is stored (tried again on the next view)
    _clear(db, row["id"])
    no_model = _settings(dashboard_env).model_copy(update={"models_dir": tmp_path / "no-models"})
    checks = application_outline_checks(db, analyst, row["id"], settings=no_model)
    assert checks and all(c["verdict"] == UNAVAILABLE for c in checks.values()), checks
    assert all("Outline check unavailable" in c["message"] for c in checks.values())
    assert _stored(db, row["id"])[0] is None


@pytest.mark.slow  # Streamlit AppTest log-in, then the boundary model in the background
def test_log_in_checks_the_first_applications_of_the_queue_in_the_background(
    dashboard_data: DashboardData, dashboard_env: dict
) -> None:
    import time

    from agrisense.app.dashboard.data import PREFETCH

    db = Database(dashboard_env["AGRISENSE_DATABASE_URL"])
    analyst = authenticate(db, ANALYST_PHONE, dashboard_data.analyst_password)
    first = [r["id"] for r in list_review_queue(db, analyst)][:2]
    assert len(first) <= PREFETCH
    for app_id in first:
        _clear(db, app_id)
    at = _logged_in(dashboard_data)
    assert not at.exception and "actor" in at.session_state
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(_stored(db, i)[0] is None for i in first):
        time.sleep(0.5)
    for app_id in first:  # stored without the Application page ever being opened
        stored = _stored(db, app_id)[0]
        assert stored and all(c["message"].startswith("Drawn ") for c in stored.values()), stored


@pytest.mark.slow  # Streamlit AppTest: the Application page running the boundary model on each plot
def test_the_application_page_shows_progress_while_it_computes_missing_checks(
    dashboard_data: DashboardData, dashboard_env: dict
) -> None:

    from agrisense.app.dashboard.data import PREFETCH

    db = Database(dashboard_env["AGRISENSE_DATABASE_URL"])
    analyst = authenticate(db, ANALYST_PHONE, dashboard_data.analyst_password)
    queue = list_review_queue(db, analyst)
    assert len(queue) > PREFETCH  # the last one is not checked ahead by the log-in
    row = queue[-1]
    at = _logged_in(dashboard_data)
    _clear(db, row["id"])  # as if the API's queue had not got to it yet
    at.query_params["app"] = str(row["id"])
    at.switch_page("pages/2_Application.py").run(timeout=120)
    assert not at.exception, [e.value for e in at.exception]
    [box] = at.status
    assert box.label == f"Outlines compared: {len(row['plots'])} plot(s)" and box.state == "complete"
    assert [e.value for e in (*at.success, *at.warning) if "Drawn " in e.value]  # the check is shown
    assert sorted(_stored(db, row["id"])[0] or {}) == sorted(row["plots"])  # and stored
    at.run(timeout=120)  # stored now: no progress box on the next render
    assert not at.status and not at.exception
