"""The four-eyes queue on the review page (#13): an override above the policy's threshold, asked for by another
analyst, is approved from the dashboard with a reason; the analyst who asked for one cannot approve it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agrisense.config import Settings
from agrisense.errors import InvalidInput
from agrisense.lending import decide_application, get_application, list_review_queue, register_user
from agrisense.lending.actors import Actor
from agrisense.lending.overrides import list_overrides
from agrisense.store import Database
from tests.dashboard.conftest import DashboardData
from tests.dashboard.test_pages import _analyst, _db, _no_exceptions

pytestmark = pytest.mark.slow  # Streamlit AppTest over a seeded database

THRESHOLD = 1000.0  # the sample plots are small: a policy whose four-eyes threshold they can exceed
LIMIT = 1100.0


@pytest.fixture()
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dashboard_env: dict) -> Settings:
    data = yaml.safe_load(Settings().policy_file.read_text(encoding="utf-8"))
    data["loans"]["second_approval_above"] = THRESHOLD
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("AGRISENSE_POLICY_FILE", str(path))  # the dashboard reads its settings every run
    return Settings()


def _request(db: Database, who: Actor, settings: Settings) -> int:
    """An override request above the threshold on the first open application whose bound allows it."""
    for row in list_review_queue(db, who):
        if row["status"] not in ("offered", "in_review"):
            continue
        try:
            view = decide_application(
                db, who, row["id"], decision="change_limit", reason="visit", new_limit=LIMIT, settings=settings
            )
        except InvalidInput:  # the policy's bound on this application is lower
            continue
        return int(view["pending_override"]["id"])
    raise AssertionError("no seeded application can take an override above the four-eyes threshold")


def test_second_analyst_approves_an_override_on_the_queue_page(
    dashboard_data: DashboardData, dashboard_env: dict, policy: Settings
) -> None:
    db = _db(dashboard_env)
    other = register_user(db, phone="13900000077", password="correct-horse-7", name="Analyst Two", role="analyst")
    request = _request(db, other, policy)
    at = _analyst(dashboard_data).switch_page("pages/1_Review_queue.py").run()
    _no_exceptions(at)
    assert any("Overrides waiting for a second analyst (1)" in h.value for h in at.subheader)
    at.selectbox(key="override_id").select(request).run()
    at.button(key="override_approve").click().run()  # no reason: refused, nothing written
    assert any("Nothing was recorded" in e.value for e in at.error)
    assert len(list_overrides(db, other)) == 1
    at.text_input(key="override_reason").input("photos of the irrigated field").run()
    at.button(key="override_approve").click().run()
    _no_exceptions(at)
    assert list_overrides(db, other) == []
    (done,) = list_overrides(db, other, status="approved")
    assert done["decided_by_name"] != "Analyst Two"
    assert get_application(db, other, done["application_id"])["credit_limit"] == LIMIT

    own = _request(db, at.session_state["actor"], policy)  # the dashboard analyst's own request: not theirs to approve
    at = at.switch_page("pages/1_Review_queue.py").run()
    at.selectbox(key="override_id").select(own).run()
    at.text_input(key="override_reason").input("mine").run()
    at.button(key="override_approve").click().run()
    assert any("four-eyes" in e.value for e in at.error)
    assert [r["id"] for r in list_overrides(db, other)] == [own]
