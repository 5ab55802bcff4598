"""Consent (#16): the statement stored is the one in the language the farmer read; withdrawing a consent cancels
the open application under it (plots released), leaves an active loan alone, and is the farmer's own act only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from agrisense.lending.applications import CONSENT_STATEMENTS
from agrisense.store import ApplicationPlot
from tests.api.conftest import PASSWORD, World

V1 = "/api/v1"
USED = {2, 3, 4, 6, 7, 9}  # plots other API tests draw


def _farmer_with_open_application(world: World, phone: str, feature: int, language: str) -> tuple[dict[str, str], Any]:
    c = world.client
    r = c.post(f"{V1}/auth/register", json={"phone": phone, "password": PASSWORD, "name": f"Farmer {phone[-3:]}"})
    assert r.status_code == 201, r.text
    h = world.login(phone)
    geometry = world.features[feature]["geometry"]
    r = c.post(f"{V1}/plots", json={"geometry": geometry, "declared_crop": "maize"}, headers=h)
    assert r.status_code == 201, r.text
    plot_id = r.json()["id"]
    r = c.post(
        f"{V1}/applications", json={"plot_ids": [plot_id], "consent": True, "consent_language": language}, headers=h
    )
    assert r.status_code == 201, r.text
    app = r.json()
    if app["status"] == "declined":  # the engine's call on a synthetic plot; an analyst reopens it as an offer
        r = c.post(
            f"{V1}/review/applications/{app['id']}/decision",
            json={"decision": "change_limit", "reason": "test: reopen as an offer", "new_limit": 1000.0},
            headers=world.headers["analyst"],
        )
        assert r.status_code == 200, r.text
        app = r.json()
    assert app["status"] in ("offered", "in_review")
    return h, app


def _free_features(world: World) -> list[int]:
    free = [i for i in range(len(world.features) - 1, -1, -1) if i not in USED]
    assert len(free) >= 2
    return free


def test_the_statement_stored_is_the_one_the_farmer_read(world: World) -> None:
    # farmer A's application (conftest) sent no consent_language: the farmer app's default, zh-CN
    export = world.client.get(f"{V1}/me/export", headers=world.headers["a"]).json()
    first = export["consents"][0]
    assert first["language"] == "zh-CN" and first["statement"] == CONSENT_STATEMENTS["zh-CN"]
    assert "卫星图像" in first["statement"] and first["withdrawn_at"] is None
    assert first["terms_version"] == world.settings.terms_version
    r = world.client.post(
        f"{V1}/applications",
        json={"plot_ids": [world.ids["a2"]], "consent": True, "consent_language": "fr"},
        headers=world.headers["a"],
    )
    assert r.status_code == 422  # only the languages the app shows


def test_withdrawal_cancels_the_open_application_and_releases_its_plots(world: World) -> None:
    c = world.client
    h, app = _farmer_with_open_application(world, "13800000551", _free_features(world)[0], "en")
    consent_id = app["consent"]["id"]
    assert app["consent"]["language"] == "en" and app["consent"]["withdrawn_at"] is None
    url = f"{V1}/me/consents/{consent_id}/withdraw"

    assert c.post(url, headers=world.headers["b"]).status_code == 404  # not B's consent: existence not leaked
    assert c.post(f"{V1}/me/consents/999999/withdraw", headers=h).status_code == 404
    r = c.post(url, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cancelled_applications"] == [app["id"]] and body["active_loans"] == []
    assert body["consent"]["withdrawn_at"] and "cancelled" in body["message"]
    assert c.post(url, headers=h).status_code == 409  # already withdrawn: nothing changes

    view = c.get(f"{V1}/applications/{app['id']}", headers=h).json()
    assert view["status"] == "withdrawn" and view["consent"]["withdrawn_at"] == body["consent"]["withdrawn_at"]
    assert c.post(f"{V1}/applications/{app['id']}/accept", headers=h).status_code == 409
    r = c.post(
        f"{V1}/review/applications/{app['id']}/decision",
        json={"decision": "approve", "reason": "too late"},
        headers=world.headers["analyst"],
    )
    assert r.status_code == 409
    with world.db.session(readonly=True) as session:
        links = session.scalars(select(ApplicationPlot).where(ApplicationPlot.application_id == app["id"])).all()
        assert links and not any(link.active for link in links)  # the plots are free for a new application

    export = c.get(f"{V1}/me/export", headers=h).json()
    (consent,) = export["consents"]
    assert consent["statement"] == CONSENT_STATEMENTS["en"] and consent["withdrawn_at"]
    actions = [e["action"] for e in export["audit_log"]]
    assert actions[-2:] == ["withdrawn", "consent_withdrawn"]
    assert export["audit_log"][-1]["details"]["cancelled_applications"] == [app["id"]]


def test_withdrawal_leaves_an_active_loan_alone(world: World) -> None:
    c = world.client
    h, app = _farmer_with_open_application(world, "13800000552", _free_features(world)[1], "zh-CN")
    if app["status"] == "in_review":
        r = c.post(
            f"{V1}/review/applications/{app['id']}/decision",
            json={"decision": "change_limit", "reason": "test: offer", "new_limit": 1000.0},
            headers=world.headers["analyst"],
        )
        assert r.status_code == 200, r.text
    assert c.post(f"{V1}/applications/{app['id']}/accept", headers=h).status_code == 200
    r = c.post(f"{V1}/me/consents/{app['consent']['id']}/withdraw", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cancelled_applications"] == [] and body["active_loans"] == [app["id"]]
    assert "credit contract" in body["message"] and "repaid" in body["message"]
    assert c.get(f"{V1}/applications/{app['id']}", headers=h).json()["status"] == "accepted"
