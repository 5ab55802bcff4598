"""Every dashboard page and action through Streamlit's AppTest, on a seeded database of real small-region offers."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from agrisense.app.dashboard.drift import drift_table
from agrisense.app.dashboard.rescore import find_runs, read_run
from agrisense.config import Settings
from agrisense.lending import audit_log, get_application, list_review_queue, portfolio
from agrisense.lending.seed import DEMO_FARMER_PASSWORD, demo_phone
from agrisense.store import Database
from tests.dashboard.conftest import ANALYST_PHONE, DashboardData

HOME = str(Path(__file__).resolve().parents[2] / "agrisense" / "app" / "dashboard" / "Home.py")
TIMEOUT = 120


def _db(env: dict[str, str]) -> Database:
    return Database(env["AGRISENSE_DATABASE_URL"])


def _app() -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT)
    at.run()
    return at


def _login(at: AppTest, phone: str, password: str) -> AppTest:
    at.text_input(key="login_phone").input(phone)
    at.text_input(key="login_password").input(password)
    at.button[0].click()
    return at.run()


def _analyst(data: DashboardData) -> AppTest:
    at = _login(_app(), ANALYST_PHONE, data.analyst_password)
    assert "actor" in at.session_state, [e.value for e in at.error]
    return at


def _no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_login_refuses_a_wrong_password_and_farmers(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at = _login(_app(), ANALYST_PHONE, "not-the-password")
    assert "actor" not in at.session_state
    assert "Wrong phone number or password" in at.error[0].value
    assert not at.metric  # nothing of the book is shown before a log-in

    farmer = str(dashboard_data.offers[0]["farmer_id"])
    farmers = sorted({str(o["farmer_id"]) for o in dashboard_data.offers})
    at = _login(_app(), demo_phone(farmer, farmers.index(farmer) + 1), DEMO_FARMER_PASSWORD)
    assert "actor" not in at.session_state
    assert "for credit analysts" in at.error[0].value


def test_home_shows_the_queue_and_book_totals(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at = _analyst(dashboard_data)
    _no_exceptions(at)
    db = _db(dashboard_env)
    analyst = at.session_state["actor"]
    waiting = list_review_queue(db, analyst, status="in_review")
    book = portfolio(db, analyst)
    assert _metric(at, "Awaiting review") == str(len(waiting))
    assert _metric(at, "Financed plots") == str(len(book)) != "0"
    assert _metric(at, "Exposure") == f"{sum(r['exposure'] for r in book):,.0f}"
    at.button(key="logout").click().run()
    assert "actor" not in at.session_state and at.text_input(key="login_phone")


def test_pages_ask_for_a_login_first(dashboard_env: dict) -> None:
    for page in (
        "pages/1_Review_queue.py",
        "pages/2_Application.py",
        "pages/3_Portfolio.py",
        "pages/4_Model_monitoring.py",
    ):
        at = _app().switch_page(page).run()
        _no_exceptions(at)
        assert at.text_input(key="login_phone") and not at.dataframe and not at.metric, page


def test_queue_filters(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at = _analyst(dashboard_data).switch_page("pages/1_Review_queue.py").run()
    _no_exceptions(at)
    db = _db(dashboard_env)
    analyst = at.session_state["actor"]
    everything = list_review_queue(db, analyst)
    table = at.dataframe[0].value
    assert len(table) == len(everything) > 0
    assert list(table["age_h"]) == sorted(table["age_h"], reverse=True)  # oldest first

    at.selectbox(key="queue_status").select("in_review").run()
    table = at.dataframe[0].value
    assert set(table["status"]) == {"in_review"}
    assert len(table) == len(list_review_queue(db, analyst, status="in_review"))

    crop = sorted({r["crop"] for r in everything if r["status"] == "in_review"})[0]
    at.selectbox(key="queue_crop").select(crop).run()
    assert set(at.dataframe[0].value["crop"]) == {crop}

    at.number_input(key="queue_older").set_value(10_000.0).run()
    assert at.dataframe[0].value.empty
    assert "No application matches" in at.info[0].value


def test_queue_filters_by_pd(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at = _analyst(dashboard_data).switch_page("pages/1_Review_queue.py").run()
    _no_exceptions(at)
    pds = sorted(r["pd"] for r in list_review_queue(_db(dashboard_env), at.session_state["actor"]) if r["pd"])
    assert pds, "the seeded offers carry a PD"
    middle = pds[len(pds) // 2]
    at.slider(key="queue_pd").set_value((100 * middle, 100.0)).run()
    _no_exceptions(at)
    shown = at.dataframe[0].value
    assert len(shown) == sum(1 for p in pds if p >= middle) and (shown["pd"] >= middle - 1e-9).all()


def test_queue_opens_an_application(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at = _analyst(dashboard_data).switch_page("pages/1_Review_queue.py").run()
    chosen = at.dataframe[0].value["id"].iloc[-1]
    at.selectbox(key="queue_open_id").select(chosen).run()
    at.button(key="queue_open").click().run()
    _no_exceptions(at)
    assert at.session_state["app_id"] == chosen
    assert at.selectbox(key="application_pick").value == chosen


def _open_application(data: DashboardData, env: dict, status: str = "in_review") -> tuple[AppTest, dict]:
    at = _analyst(data)
    analyst = at.session_state["actor"]
    row = next(r for r in list_review_queue(_db(env), analyst, status=status) if r["proposed_limit"] > 0)
    at.session_state["app_id"] = row["id"]
    at.switch_page("pages/2_Application.py").run()
    _no_exceptions(at)
    return at, get_application(_db(env), analyst, row["id"])


def test_application_page_shows_the_evidence(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at, application = _open_application(dashboard_data, dashboard_env)
    offers = application["offer"]["offers"]
    assert _metric(at, "Status") == "in_review"
    assert _metric(at, "Engine decision") == application["engine_decision"]
    picker = at.selectbox(key=f"application_plot_{application['id']}")
    assert picker.options == [o["plot_id"] for o in offers] and picker.value == offers[0]["plot_id"]
    # map + the chosen plot's crop probabilities, NDVI, yield and weather (all real: the offers come from imagery)
    assert len(at.get("image")) == 1 + 4
    per_plot = at.dataframe[0].value
    assert list(per_plot["plot"]) == [o["plot_id"] for o in offers]
    reasons = at.dataframe[1].value
    assert list(reasons["code"]) == [r["code"] for r in offers[0]["reasons"]]
    schedule = at.dataframe[2].value
    assert schedule.loc[schedule["flow"] == "repayment", "principal"].sum() == pytest.approx(offers[0]["credit_limit"])
    audit = at.dataframe[-1].value
    assert "engine_decision" in set(audit["action"])
    # the chosen plot's drawn outline is checked against the field the model's boundary head finds there
    checks = [e.value for e in (*at.success, *at.warning) if "Drawn " in e.value]
    assert len(checks) == 1, checks
    assert "the model's field here" in checks[0] or "no separate field" in checks[0], checks


def test_application_page_draws_another_plot_on_demand(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at = _analyst(dashboard_data)
    analyst = at.session_state["actor"]
    db = _db(dashboard_env)
    row = next(r for r in list_review_queue(db, analyst) if len(r["plots"]) > 1)  # two farmers have two plots
    at.session_state["app_id"] = row["id"]
    at.switch_page("pages/2_Application.py").run()
    _no_exceptions(at)
    offers = get_application(db, analyst, row["id"])["offer"]["offers"]
    second = offers[1]
    at.selectbox(key=f"application_plot_{row['id']}").set_value(second["plot_id"]).run()
    _no_exceptions(at)
    assert len(at.get("image")) == 1 + 4
    assert list(at.dataframe[1].value["code"]) == [r["code"] for r in second["reasons"]]
    checks = [e.value for e in (*at.success, *at.warning) if "Drawn " in e.value]
    assert len(checks) == 1, checks


def _decide(at: AppTest, decision: str, reason: str, new_limit: float | None = None) -> AppTest:
    app_id = at.session_state["app_id"]
    at.radio(key=f"decide_decision_{app_id}").set_value(decision)
    if new_limit is not None:
        at.number_input(key=f"decide_limit_{app_id}").set_value(new_limit)
    at.text_area(key=f"decide_reason_{app_id}").input(reason)
    at.button(key=f"FormSubmitter:decide_{app_id}-Record decision").click()
    return at.run()


@pytest.mark.parametrize("decision", ["approve", "decline", "change_limit"])
def test_a_decision_without_a_reason_is_refused_and_nothing_is_written(
    decision: str, dashboard_data: DashboardData, dashboard_env: dict
) -> None:
    at, before = _open_application(dashboard_data, dashboard_env)
    analyst = at.session_state["actor"]
    entries = audit_log(_db(dashboard_env), analyst, app_id=before["id"])
    at = _decide(at, decision, "   ", new_limit=700.0 if decision == "change_limit" else None)
    _no_exceptions(at)
    assert any("A reason is required" in e.value and "Nothing was recorded" in e.value for e in at.error)
    after = get_application(_db(dashboard_env), analyst, before["id"])
    assert (after["status"], after["credit_limit"]) == (before["status"], before["credit_limit"])
    assert audit_log(_db(dashboard_env), analyst, app_id=before["id"]) == entries


def test_approve_with_a_reason_is_recorded_and_audited(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at, before = _open_application(dashboard_data, dashboard_env)
    at = _decide(at, "approve", "Crop confirmed on a field visit")
    _no_exceptions(at)
    assert any("Recorded: Approve" in s.value for s in at.success)
    after = get_application(_db(dashboard_env), at.session_state["actor"], before["id"])
    assert after["status"] == "offered" and after["credit_limit"] == before["proposed_limit"]
    last = after["decisions"][-1]
    assert (last["action"], last["reason"], last["actor_role"]) == (
        "approve",
        "Crop confirmed on a field visit",
        "analyst",
    )
    assert _metric(at, "Status") == "offered"  # the page shows the new state at once
    assert "approve" in set(at.dataframe[-1].value["action"])


def test_decline_with_a_reason(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at, before = _open_application(dashboard_data, dashboard_env)
    at = _decide(at, "decline", "Plot overlaps a neighbour's claim")
    _no_exceptions(at)
    after = get_application(_db(dashboard_env), at.session_state["actor"], before["id"])
    assert (after["status"], after["credit_limit"]) == ("declined", 0.0)
    assert after["decisions"][-1]["reason"] == "Plot overlaps a neighbour's claim"


def test_change_limit_needs_a_positive_limit_and_a_reason(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at, before = _open_application(dashboard_data, dashboard_env)
    at = _decide(at, "change_limit", "smaller first loan", new_limit=0.0)
    assert any("positive amount" in e.value for e in at.error)
    analyst = at.session_state["actor"]
    assert get_application(_db(dashboard_env), analyst, before["id"])["decisions"] == before["decisions"]
    at = _decide(at, "change_limit", "Smaller first loan for a new borrower", new_limit=650.0)
    _no_exceptions(at)
    after = get_application(_db(dashboard_env), analyst, before["id"])
    assert (after["status"], after["credit_limit"]) == ("offered", 650.0)
    assert after["decisions"][-1]["details"]["after"]["credit_limit"] == 650.0


def test_portfolio_page(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at = _analyst(dashboard_data).switch_page("pages/3_Portfolio.py").run()
    _no_exceptions(at)
    book = portfolio(_db(dashboard_env), at.session_state["actor"])
    assert _metric(at, "Financed plots") == str(len(book))
    assert _metric(at, "Expected loss").startswith(f"{sum(r['expected_loss'] for r in book):,.0f}")
    by_crop = at.dataframe[0].value
    assert by_crop["exposure"].sum() == pytest.approx(sum(r["exposure"] for r in book))
    stress = at.dataframe[2].value  # one row per price shock, the first without a shock
    assert list(stress["price_shock"]) == [0.0, -0.3]
    assert (stress["expected_loss"] >= 0).all() and stress["worst_loss"].iloc[1] >= stress["worst_loss"].iloc[0]
    assert len(at.get("image")) == 4  # map, two group bar charts, stress chart
    at.multiselect(key="portfolio_shocks").select(-0.5).run()
    _no_exceptions(at)
    assert list(at.dataframe[2].value["price_shock"]) == [0.0, -0.3, -0.5]


def test_monitoring_page_compares_the_last_two_runs(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at = _analyst(dashboard_data).switch_page("pages/4_Model_monitoring.py").run()
    _no_exceptions(at)
    baseline, current = (read_run(p) for p in find_runs(dashboard_data.rescore_dir))
    expected = drift_table(baseline.plots, current.plots)
    shown = at.dataframe[0].value
    assert (
        list(shown["variable"])
        == list(expected["variable"])
        == ["crop_probability", "pd", "credit_limit", "crop", "decision"]
    )
    assert shown["psi"].to_numpy() == pytest.approx(expected["psi"].to_numpy())
    assert _metric(at, "Plots (baseline → current)") == f"{len(baseline.plots)} → {len(current.plots)}"


def test_monitoring_explains_what_is_missing_with_one_run(
    dashboard_data: DashboardData, dashboard_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGRISENSE_DASHBOARD_RESCORE_DIR", str(dashboard_data.rescore_dir / "2026-main"))
    at = _analyst(dashboard_data).switch_page("pages/4_Model_monitoring.py").run()
    _no_exceptions(at)
    assert "compares two re-score runs; 1 found" in at.info[0].value


def test_settings_default_rescore_dir_is_in_the_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from agrisense.app.dashboard.config import load_config

    monkeypatch.delenv("AGRISENSE_DASHBOARD_RESCORE_DIR", raising=False)
    monkeypatch.setenv("AGRISENSE_STATE_DIR", str(tmp_path))
    assert load_config().rescore_dir == tmp_path / "rescore"
    assert load_config().settings == Settings(state_dir=tmp_path)


def test_an_application_link_opens_that_application(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at = _analyst(dashboard_data)
    wanted = list_review_queue(_db(dashboard_env), at.session_state["actor"])[-1]["id"]
    at.query_params["app"] = str(wanted)
    at.switch_page("pages/2_Application.py").run()
    _no_exceptions(at)
    assert at.selectbox(key="application_pick").value == wanted
    assert at.session_state["app_id"] == wanted


def test_picking_another_application_shows_it(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at = _analyst(dashboard_data)
    queue = list_review_queue(_db(dashboard_env), at.session_state["actor"])
    at.query_params["app"] = str(queue[0]["id"])
    at.switch_page("pages/2_Application.py").run()
    at.selectbox(key="application_pick").set_value(queue[1]["id"]).run()
    _no_exceptions(at)
    assert at.session_state["app_id"] == queue[1]["id"]
    assert at.query_params["app"] == str(queue[1]["id"])
    assert _metric(at, "Engine decision") == queue[1]["engine_decision"]


def test_each_application_starts_from_its_own_limit(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    """The limit box is keyed by application: a value typed on one does not leak into the next; an application
    without a proposed limit says why instead of offering a 0."""
    at = _analyst(dashboard_data)
    queue = list_review_queue(_db(dashboard_env), at.session_state["actor"], status="in_review")
    with_limit = [r for r in queue if r["proposed_limit"]]
    without = [r for r in queue if not r["proposed_limit"] and not r["credit_limit"]]
    first, second = with_limit[0], with_limit[1] if len(with_limit) > 1 else without[0]
    at.query_params["app"] = str(first["id"])
    at.switch_page("pages/2_Application.py").run()
    box = at.number_input(key=f"decide_limit_{first['id']}")
    assert box.value == pytest.approx(first["proposed_limit"])
    box.set_value(123.0).run()
    at.selectbox(key="application_pick").set_value(second["id"]).run()
    _no_exceptions(at)
    shown = at.number_input(key=f"decide_limit_{second['id']}").value
    assert shown == (pytest.approx(second["proposed_limit"]) if second["proposed_limit"] else None)
    if without:
        at.selectbox(key="application_pick").set_value(without[0]["id"]).run()
        _no_exceptions(at)
        assert at.number_input(key=f"decide_limit_{without[0]['id']}").value is None
        assert any("proposes no limit" in i.value and "reasons:" in i.value for i in at.info)


def test_a_reload_keeps_the_analyst_logged_in_until_logout(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    at = _analyst(dashboard_data)
    token = at.query_params["session"]
    assert token and at.session_state["session_token"] == token
    # a reload is a new browser session with the same address: the token in the query params logs in again
    again = AppTest.from_file(HOME, default_timeout=TIMEOUT)
    again.query_params["session"] = token
    again.run()
    _no_exceptions(again)
    assert "actor" in again.session_state and again.metric and not again.text_input
    again.button(key="logout").click().run()
    assert "actor" not in again.session_state and "session" not in again.query_params
    # the logged-out token is revoked: reusing the address shows the log-in form
    stale = AppTest.from_file(HOME, default_timeout=TIMEOUT)
    stale.query_params["session"] = token
    stale.run()
    assert "actor" not in stale.session_state and stale.text_input(key="login_phone")
    assert any("logged out" in w.value for w in stale.warning)
    # a forged token does not log in either
    forged = AppTest.from_file(HOME, default_timeout=TIMEOUT)
    forged.query_params["session"] = token[:-4] + "AAAA"
    forged.run()
    assert "actor" not in forged.session_state and forged.text_input(key="login_phone")


def test_the_application_header_shows_declared_verified_crop_and_one_confidence(
    dashboard_data: DashboardData, dashboard_env: dict
) -> None:
    from agrisense.app.dashboard.views import crop_confidence, typed_offers

    at, application = _open_application(dashboard_data, dashboard_env)
    offers = typed_offers(application)
    confidences = {crop_confidence(o) for o in offers}
    assert _metric(at, "Crop confidence") in confidences or " / " in _metric(at, "Crop confidence")
    assert _metric(at, "Declared crop") and _metric(at, "Verified crop")
    per_plot = at.dataframe[0].value
    assert list(per_plot["crop_confidence"]) == [crop_confidence(o) for o in offers]
    assert list(per_plot["verified_crop"]) == [o.crop for o in offers]
    captions = [c.value for c in at.caption if "crop confidence" in c.value]
    assert captions and all(any(v in c for v in confidences) for c in captions)


def test_queue_filters_by_reason_and_sorts(dashboard_data: DashboardData, dashboard_env: dict) -> None:
    import sqlite3

    # the generated region has no villages: give the plots of the first in-review application one
    at = _analyst(dashboard_data)
    first = list_review_queue(_db(dashboard_env), at.session_state["actor"])[0]
    with sqlite3.connect(dashboard_env["AGRISENSE_DATABASE_URL"].removeprefix("sqlite:///")) as conn:
        conn.executemany("UPDATE plots SET village = 'Dongcun' WHERE ref = ?", [(r,) for r in first["plots"]])
    at.switch_page("pages/1_Review_queue.py").run()
    _no_exceptions(at)
    everything = at.dataframe[0].value
    codes = at.selectbox(key="queue_reason").options
    assert len(codes) > 1
    code = codes[1]
    at.selectbox(key="queue_reason").select(code).run()
    table = at.dataframe[0].value
    assert 0 < len(table) <= len(everything)
    assert all(code in r.split(", ") for r in table["reasons"])
    at.selectbox(key="queue_sort").select("largest proposed limit").run()
    _no_exceptions(at)
    limits = list(at.dataframe[0].value["proposed"].fillna(0.0))
    assert limits == sorted(limits, reverse=True)
    assert at.selectbox(key="queue_village").options == ["(any)", "Dongcun"]
    at.selectbox(key="queue_reason").select("(any)").run()
    at.selectbox(key="queue_village").select("Dongcun").run()
    _no_exceptions(at)
    assert list(at.dataframe[0].value["id"]) == [first["id"]]
    assert not at.get("image")  # the map is drawn on demand
    at.toggle(key="queue_map").set_value(True).run()
    _no_exceptions(at)
    assert len(at.get("image")) == 1  # the map of the shown applications, coloured by engine decision
    at.radio(key="queue_map_colour").set_value("status").run()
    _no_exceptions(at)
    assert len(at.get("image")) == 1
