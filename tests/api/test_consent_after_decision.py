"""Consent withdrawal wherever PIPL expects it (#16): listed under /me/consents and possible before or after a
decision; a declined application stays as the decision's record, an accepted loan keeps the ledger records the
credit contract needs (and says which)."""

from __future__ import annotations

from agrisense.lending.privacy import RETAINED_WITH_LOAN
from tests.api.conftest import World
from tests.api.test_consent import _farmer_with_open_application, _free_features

V1 = "/api/v1"


def _decide(world: World, app_id: int, decision: str, **extra: float) -> None:
    r = world.client.post(
        f"{V1}/review/applications/{app_id}/decision",
        json={"decision": decision, "reason": "test: decided", **extra},
        headers=world.headers["analyst"],
    )
    assert r.status_code == 200, r.text


def test_a_declined_application_s_consent_can_be_withdrawn(world: World) -> None:
    c = world.client
    h, app = _farmer_with_open_application(world, "13800000561", _free_features(world)[2], "zh-CN")
    _decide(world, app["id"], "decline")
    (listed,) = c.get(f"{V1}/me/consents", headers=h).json()
    assert listed["id"] == app["consent"]["id"] and listed["withdrawable"] is True
    assert listed["applications"] == [{"id": app["id"], "status": "declined"}] and listed["active_loans"] == []
    r = c.post(f"{V1}/me/consents/{listed['id']}/withdraw", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cancelled_applications"] == [] and body["active_loans"] == [] and body["retained_records"] == []
    assert "record of the decision" in body["message"]
    assert c.get(f"{V1}/applications/{app['id']}", headers=h).json()["status"] == "declined"
    (after,) = c.get(f"{V1}/me/consents", headers=h).json()
    assert after["withdrawable"] is False and after["withdrawn_at"] == body["consent"]["withdrawn_at"]
    again = c.post(f"{V1}/me/consents/{listed['id']}/withdraw", headers={**h, "Accept-Language": "en"})
    assert again.status_code == 409  # nothing changes the second time


def test_an_accepted_loan_keeps_its_ledger_records(world: World) -> None:
    c = world.client
    h, app = _farmer_with_open_application(world, "13800000562", _free_features(world)[3], "en")
    if app["status"] == "in_review":
        _decide(world, app["id"], "change_limit", new_limit=1000.0)
    assert c.post(f"{V1}/applications/{app['id']}/accept", headers=h).status_code == 200
    (loan,) = c.get(f"{V1}/loans", headers=h).json()
    (listed,) = c.get(f"{V1}/me/consents", headers=h).json()
    assert listed["active_loans"] == [app["id"]] and listed["withdrawable"] is True
    body = c.post(f"{V1}/me/consents/{listed['id']}/withdraw", headers=h).json()
    assert body["active_loans"] == [app["id"]] and body["retained_records"] == list(RETAINED_WITH_LOAN)
    (kept,) = c.get(f"{V1}/loans", headers=h).json()
    assert kept["id"] == loan["id"] and kept["state"] == loan["state"] and kept["schedule"] == loan["schedule"]
    export = c.get(f"{V1}/me/export", headers=h).json()
    assert export["audit_log"][-1]["details"]["retained_records"] == list(RETAINED_WITH_LOAN)
    others = c.get(f"{V1}/me/consents", headers=world.headers["b"]).json()
    assert listed["id"] not in {row["id"] for row in others}  # only your own consents


def test_another_farmer_cannot_withdraw_or_list_your_consent(world: World) -> None:
    c = world.client
    mine = c.get(f"{V1}/me/consents", headers=world.headers["a"]).json()
    assert mine and all(row["id"] for row in mine)
    r = c.post(f"{V1}/me/consents/{mine[0]['id']}/withdraw", headers=world.headers["b"])
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
