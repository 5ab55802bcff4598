"""The farmer's and the analyst's journey: offer, review with a reason (audited), accept, loans, privacy."""

from __future__ import annotations

from typing import Any

from agrisense.credit.offer import SCHEMA_VERSION
from agrisense.lending import active_loans, record_rescore
from tests.api.conftest import PASSWORD, World

V1 = "/api/v1"


def test_offer_follows_the_offer_schema_and_consent_is_recorded(world: World) -> None:
    app = world.client.get(f"{V1}/applications/{world.ids['app_a']}", headers=world.headers["a"]).json()
    offer = app["offer"]["offers"][0]
    assert offer["schema_version"] == SCHEMA_VERSION
    assert offer["decision"] in ("approve", "refer", "decline")
    assert offer["reasons"] and {"code", "kind", "message_en", "message_zh"} <= set(offer["reasons"][0])
    assert offer["imagery"]["status"] in ("ok", "no_clear_imagery")
    assert app["engine_decision"] == offer["decision"]
    assert app["status"] == {"approve": "offered", "refer": "in_review", "decline": "declined"}[offer["decision"]]
    assert app["consent"]["terms_version"] == world.settings.terms_version
    assert app["decisions"][0]["action"] == "engine_decision"
    consents = world.client.get(f"{V1}/me/export", headers=world.headers["a"]).json()["consents"]
    assert consents[0]["purpose"] == "credit_assessment_imagery" and consents[0]["granted_at"] <= app["created_at"]


def test_review_decide_accept_and_audit(world: World) -> None:
    c, h, app_id = world.client, world.headers, world.ids["app_a"]
    url = f"{V1}/review/applications/{app_id}/decision"
    r = c.post(url, json={"decision": "change_limit", "reason": "   "}, headers=h["analyst"])
    assert r.status_code == 422  # a reason is mandatory
    r = c.post(url, json={"decision": "change_limit", "reason": "field visit confirmed maize"}, headers=h["analyst"])
    assert r.status_code == 422 and "new_limit" in r.json()["detail"]
    r = c.post(url, json={"decision": "decline", "reason": "double pledge suspected"}, headers=h["analyst"])
    assert r.status_code == 200 and r.json()["status"] == "declined" and r.json()["credit_limit"] == 0
    assert c.post(f"{V1}/applications/{app_id}/accept", headers=h["a"]).status_code == 409
    r = c.post(
        url,
        json={"decision": "change_limit", "reason": "override: visit confirmed the crop", "new_limit": 1500.0},
        headers=h["analyst"],
    )
    assert r.status_code == 200 and r.json()["status"] == "offered" and r.json()["credit_limit"] == 1500.0
    queue = c.get(f"{V1}/review/applications", params={"status": "offered"}, headers=h["analyst"]).json()
    assert app_id in {row["id"] for row in queue}
    r = c.post(f"{V1}/applications/{app_id}/accept", headers=h["a"])
    assert r.status_code == 200 and r.json()["status"] == "accepted" and r.json()["accepted_at"]
    assert c.post(f"{V1}/applications/{app_id}/accept", headers=h["a"]).status_code == 409
    r = c.post(url, json={"decision": "decline", "reason": "too late"}, headers=h["admin"])
    assert r.status_code == 409  # an active loan is not overridden
    audit = c.get(f"{V1}/audit", params={"application_id": app_id}, headers=h["analyst"]).json()
    assert [e["action"] for e in audit] == ["engine_decision", "decline", "change_limit", "accept"]
    assert audit[2]["reason"] == "override: visit confirmed the crop"
    assert audit[2]["details"]["before"]["status"] == "declined"
    assert audit[2]["actor_role"] == "analyst"

    loans = active_loans(world.db)
    loan = next(loan for loan in loans if loan["loan_id"] == app_id)
    assert loan["credit_limit"] == 1500.0 and loan["geometry"]["type"] == "MultiPolygon"
    ref = loan["plot_ids"][0]
    assert (
        record_rescore(world.db, run_id="run-1", season=2027, rows=[{"plot_id": ref, "pd": 0.2, "crop": "maize"}]) == 1
    )
    assert (
        record_rescore(world.db, run_id="run-1", season=2027, rows=[{"plot_id": ref, "pd": 0.3, "crop": "maize"}]) == 1
    )
    book = c.get(f"{V1}/portfolio", headers=h["analyst"]).json()
    row = next(r for r in book if r["plot_id"] == ref)
    assert row["pd"] == 0.3 and row["exposure"] == 1500.0 and row["risk"] == "high"
    assert c.get(f"{V1}/portfolio", headers=h["a"]).json()[0]["plot_id"] == ref

    r = c.delete(f"{V1}/me", headers=h["a"])
    assert r.status_code == 409 and "active loan" in r.json()["detail"]


def test_farmer_deletes_their_data(world: World) -> None:
    c = world.client
    phone = "13800000333"
    assert (
        c.post(f"{V1}/auth/register", json={"phone": phone, "password": PASSWORD, "name": "Leaving"}).status_code == 201
    )
    h = world.login(phone)
    r = c.post(f"{V1}/plots", json={"geometry": world.features[9]["geometry"], "declared_crop": "maize"}, headers=h)
    assert r.status_code == 201
    export: dict[str, Any] = c.get(f"{V1}/me/export", headers=h).json()
    assert export["account"]["phone"] == phone and len(export["plots"]) == 1
    assert c.delete(f"{V1}/me", headers=h).status_code == 204
    assert c.get(f"{V1}/plots", headers=h).status_code == 401  # the account is gone, its token with it
    assert c.post(f"{V1}/auth/token", data={"username": phone, "password": PASSWORD}).status_code == 401
    deletions = [e for e in c.get(f"{V1}/audit", headers=world.headers["admin"]).json() if e["action"] == "delete_data"]
    assert deletions and deletions[-1]["details"] == {"plots": 1, "applications": 0}


def test_health_and_openapi(world: World) -> None:
    assert world.client.get("/healthz").json()["status"] == "ok"
    paths = world.client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/auth/register",
        "/api/v1/auth/token",
        "/api/v1/plots",
        "/api/v1/plots/{plot_id}",
        "/api/v1/applications",
        "/api/v1/applications/{app_id}",
        "/api/v1/applications/{app_id}/accept",
        "/api/v1/review/applications",
        "/api/v1/review/applications/{app_id}/decision",
        "/tiles/{layer}/{z}/{x}/{y}.png",
    ):
        assert path in paths
