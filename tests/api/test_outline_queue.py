"""Outline checks computed when an application is submitted (``agrisense.lending.outline_queue``): through a real
uvicorn server, the checks are stored without anyone opening the dashboard; the queue survives a failing
application, does not queue one twice, and drains on stop."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from agrisense.config import Settings
from agrisense.lending.outline_checks import UNAVAILABLE
from agrisense.lending.outline_queue import OutlineCheckQueue
from agrisense.store import Application, Database
from tests.web.conftest import uvicorn_thread

pytestmark = pytest.mark.slow  # a real server scoring a plot, then the boundary model (~20 s cold)

V1 = "/api/v1"
PHONE, PASSWORD = "13800000301", "correct-horse-7"


@dataclass
class Served:
    url: str
    settings: Settings
    db: Database
    app_id: int
    plot_ref: str


def _stored(db: Database, app_id: int) -> dict[str, Any] | None:
    with db.session(readonly=True) as session:
        app = session.get(Application, app_id)
        return None if app is None else app.outline_checks


def _wait_stored(db: Database, app_id: int, timeout: float = 180.0) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not _stored(db, app_id):
        time.sleep(0.25)
    return _stored(db, app_id)


@pytest.fixture(scope="module")
def served(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A farmer's application submitted over HTTP to the real app served by uvicorn."""
    from agrisense.app.api.main import create_app

    settings = Settings(
        region_dir=small_region, state_dir=tmp_path_factory.mktemp("queue-state"), rate_limit_per_minute=100_000
    )
    app = create_app(settings)
    feature = json.loads((small_region / "plots.geojson").read_text())["features"][2]
    with uvicorn_thread(app, join_s=120) as url, httpx.Client(base_url=url, timeout=300) as c:
        body = {"phone": PHONE, "password": PASSWORD, "name": "Queue farmer"}
        assert c.post(f"{V1}/auth/register", json=body).status_code == 201
        token = c.post(f"{V1}/auth/token", data={"username": PHONE, "password": PASSWORD}).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        plot = {"geometry": feature["geometry"], "declared_crop": feature["properties"]["declared_crop"]}
        r = c.post(f"{V1}/plots", json=plot, headers=h)
        assert r.status_code == 201, r.text
        r = c.post(f"{V1}/applications", json={"plot_ids": [r.json()["id"]], "consent": True}, headers=h)
        assert r.status_code == 201, r.text
        view = r.json()
        yield Served(url, settings, app.state.db, view["id"], view["plots"][0]["ref"])


def test_a_submitted_application_gets_its_outline_checks_stored_without_a_dashboard_visit(served: Served) -> None:
    stored = _wait_stored(served.db, served.app_id)
    assert stored is not None and list(stored) == [served.plot_ref], stored
    check = stored[served.plot_ref]
    assert check["verdict"] != UNAVAILABLE and check["message"].startswith("Drawn "), check
    assert check["outline_sha"] and check["checked_at"]


def test_the_queue_survives_a_failure_queues_once_and_drains_on_stop(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    assert _wait_stored(served.db, served.app_id)  # the server's own queue is done with it
    with served.db.session() as session:  # as before its checks were computed
        session.execute(update(Application).where(Application.id == served.app_id).values(outline_checks=None))
    checks = OutlineCheckQueue(served.db, served.settings, yield_s=0.0)
    with caplog.at_level(logging.WARNING, logger="agrisense.lending.outline_queue"):
        assert checks.submit(10_000)  # no such application: logged, and the next one is still checked
        assert checks.submit(served.app_id)
        assert checks.submit(served.app_id)  # already waiting: not queued twice
        assert checks.stop(timeout=180)  # returns once the queued ones are done
    assert "outline checks of application 10000 failed" in caplog.text
    stored = _stored(served.db, served.app_id)
    assert stored and stored[served.plot_ref]["verdict"] != UNAVAILABLE, stored
    assert not checks.submit(served.app_id)  # stopped: refused, not queued
