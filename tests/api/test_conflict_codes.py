"""Application and loan refusals carry their own message code and parameters (not the class's generic CONFLICT /
INVALID_INPUT / NOT_FOUND), localised in zh-CN and English, and lose nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from agrisense.lending import register_user
from agrisense.store import Application, AuditEntry, Database
from tests.api.conftest import PASSWORD, World, service_settings

V1 = "/api/v1"
CJK = re.compile(r"[\u4e00-\u9fff]")
EN = {"Accept-Language": "en"}


def _count(db: Database, model: Any) -> int:
    with db.session(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _refused(r: Any, status: int, code: str, **params: Any) -> dict[str, Any]:
    body = r.json()
    assert r.status_code == status and body["code"] == code, r.text
    for key, value in params.items():
        assert body["params"][key] == value, body
    return body


def _both(c: TestClient, method: str, url: str, headers: dict[str, str], **kw: Any) -> tuple[Any, Any]:
    """The same refused request in zh-CN (the default) and in English."""
    return c.request(method, url, headers=headers, **kw), c.request(method, url, headers={**headers, **EN}, **kw)


def test_application_refusals_before_scoring_have_their_own_codes(world: World) -> None:
    c, h = world.client, world.headers["a"]
    before = (_count(world.db, Application), _count(world.db, AuditEntry))
    zh, en = _both(c, "GET", f"{V1}/applications/999999", h)
    for r in (zh, en):
        _refused(r, 404, "APPLICATION_NOT_FOUND", application_id=999999)
    assert CJK.search(zh.json()["message"]) and "999999" in zh.json()["message"]
    assert en.json()["message"] == "Application 999999 was not found among your applications."
    r = c.post(f"{V1}/applications", json={"plot_ids": [world.ids["a2"]], "consent": False}, headers=h)
    assert "勾选同意" in _refused(r, 422, "CONSENT_REQUIRED")["message"]
    r = c.post(f"{V1}/applications", json={"plot_ids": [world.ids["a2"]] * 2, "consent": True}, headers={**h, **EN})
    assert _refused(r, 422, "PLOT_LISTED_TWICE")["message"] == "A plot is listed twice. List each plot once."
    r = c.post(f"{V1}/applications", json={"plot_ids": [world.ids["b1"]], "consent": True}, headers=h)
    _refused(r, 404, "PLOT_NOT_FOUND", plot_id=world.ids["b1"])  # another farmer's plot
    r = c.post(f"{V1}/applications/{world.ids['app_a']}/accept", headers=world.headers["b"])
    _refused(r, 404, "APPLICATION_NOT_FOUND", application_id=world.ids["app_a"])
    r = c.post(
        f"{V1}/review/applications/{world.ids['app_a']}/decision",
        json={"decision": "approve", "reason": "   "},
        headers=world.headers["analyst"],
    )
    assert "审计日志" in _refused(r, 422, "REASON_REQUIRED")["message"]
    _refused(c.get(f"{V1}/loans/999999", headers=h), 404, "LOAN_NOT_FOUND", loan_id=999999)
    assert (_count(world.db, Application), _count(world.db, AuditEntry)) == before  # nothing written


@dataclass
class Lender:
    client: TestClient
    farmer: dict[str, str]
    analyst: dict[str, str]
    admin: dict[str, str]
    app: dict[str, Any]
    plot_id: int


@pytest.fixture(scope="module")
def lender(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lender]:
    """A service of its own: one farmer's application scored for real (not declined), an analyst and an admin."""
    import json

    from agrisense.app.api.main import create_app

    app = create_app(service_settings(small_region, tmp_path_factory.mktemp("codes-state")))
    features = json.loads((small_region / "plots.geojson").read_text())["features"]
    with TestClient(app) as c:
        assert c.post(
            f"{V1}/auth/register", json={"phone": "13700000201", "password": PASSWORD, "name": "F"}
        ).is_success
        register_user(app.state.db, phone="13900000201", password=PASSWORD, name="Analyst", role="analyst")
        register_user(app.state.db, phone="13900000202", password=PASSWORD, name="Admin", role="admin")
        tokens = [
            c.post(f"{V1}/auth/token", data={"username": p, "password": PASSWORD}).json()["access_token"]
            for p in ("13700000201", "13900000201", "13900000202")
        ]
        farmer, analyst, admin = ({"Authorization": f"Bearer {t}"} for t in tokens)
        for feature in features[2:]:
            body = {"geometry": feature["geometry"], "declared_crop": feature["properties"]["declared_crop"]}
            plot = c.post(f"{V1}/plots", json=body, headers=farmer).json()
            r = c.post(f"{V1}/applications", json={"plot_ids": [plot["id"]], "consent": True}, headers=farmer)
            if r.status_code == 201 and r.json()["status"] != "declined":
                break
        assert r.status_code == 201 and r.json()["status"] != "declined", r.text
        yield Lender(c, farmer, analyst, admin, r.json(), plot["id"])


@pytest.mark.slow  # scores a plot for real in a service of its own (5-15 s)
def test_application_and_loan_conflicts_have_their_own_codes(lender: Lender) -> None:
    c, farmer, analyst, admin = lender.client, lender.farmer, lender.analyst, lender.admin
    app_id, plot_id = lender.app["id"], lender.plot_id
    decide = f"{V1}/review/applications/{app_id}/decision"

    zh, en = _both(c, "POST", f"{V1}/applications", farmer, json={"plot_ids": [plot_id], "consent": True})
    for r in (zh, en):
        _refused(r, 409, "PLOT_ALREADY_APPLIED", plot_id=plot_id, application_id=app_id)
    assert CJK.search(zh.json()["message"]) and not CJK.search(en.json()["message"])

    assert c.post(decide, json={"decision": "decline", "reason": "test"}, headers=analyst).status_code == 200
    r = c.post(f"{V1}/applications/{app_id}/accept", headers={**farmer, **EN})
    assert "was declined" in _refused(r, 409, "APPLICATION_DECLINED", application_id=app_id)["message"]

    r = c.post(decide, json={"decision": "change_limit", "reason": "visit", "new_limit": 800}, headers=analyst)
    assert r.status_code == 200 and r.json()["status"] == "offered", r.text
    assert c.post(f"{V1}/applications/{app_id}/accept", headers=farmer).status_code == 200
    for r in (
        c.post(f"{V1}/applications/{app_id}/accept", headers=farmer),
        c.post(decide, json={"decision": "approve", "reason": "again"}, headers=analyst),
    ):
        _refused(r, 409, "APPLICATION_ACCEPTED", application_id=app_id)

    (loan,) = c.get(f"{V1}/loans", headers=farmer).json()
    url = f"{V1}/loans/{loan['id']}"
    r = c.post(f"{url}/repayments", json={"client_key": "r0", "amount": 5}, headers=admin)
    _refused(r, 409, "LOAN_TAKES_NO_REPAYMENT", loan_id=loan["id"], state="accepted")
    r = c.post(f"{url}/state", json={"state": "written_off", "reason": "test"}, headers=admin)
    _refused(r, 409, "LOAN_STATE_CHANGE_REFUSED", loan_id=loan["id"], state="accepted", new_state="written_off")
    paid = {"client_key": "d0", "tranche": 0, "date": loan["tranches"][0]["date"]}
    assert c.post(f"{url}/disbursements", json=paid, headers=admin).status_code == 200
    r = c.post(f"{url}/disbursements", json={**paid, "client_key": "d0-again"}, headers=admin)
    _refused(r, 409, "TRANCHE_ALREADY_PAID", loan_id=loan["id"], tranche=0)
    postings = len(c.get(url, headers=admin).json()["postings"])
    r = c.post(f"{url}/repayments", json={"client_key": "d0", "amount": 5, "date": paid["date"]}, headers=admin)
    _refused(r, 409, "CLIENT_KEY_REUSED", loan_id=loan["id"], client_key="d0")
    assert len(c.get(url, headers=admin).json()["postings"]) == postings  # nothing booked by the refusals
