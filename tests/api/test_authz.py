"""Object-level authorization on every route: farmer A vs farmer B vs analyst vs admin vs nobody."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from agrisense.lending import record_warnings
from tests.api.conftest import PASSWORD, World

V1 = "/api/v1"


def test_plots_are_private(world: World) -> None:
    c, h, ids = world.client, world.headers, world.ids
    a_plots = {p["id"] for p in c.get(f"{V1}/plots", headers=h["a"]).json()}
    b_plots = {p["id"] for p in c.get(f"{V1}/plots", headers=h["b"]).json()}
    assert {ids["a1"], ids["a2"]} <= a_plots and ids["b1"] not in a_plots
    assert b_plots == {ids["b1"]}
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"name": "mine now"}} if method == "patch" else {}
        r = getattr(c, method)(f"{V1}/plots/{ids['a2']}", headers=h["b"], **kwargs)
        assert r.status_code == 404, (method, r.text)
        assert "not found among your plots" in r.json()["detail"]
    assert c.get(f"{V1}/plots/{ids['a2']}", headers=h["a"]).json()["name"] is None  # B changed nothing
    assert c.get(f"{V1}/plots/{ids['a2']}", headers=h["analyst"]).status_code == 200
    assert c.patch(f"{V1}/plots/{ids['a2']}", json={"name": "x"}, headers=h["analyst"]).status_code == 403
    assert c.delete(f"{V1}/plots/{ids['a2']}", headers=h["analyst"]).status_code == 403
    feature = world.features[6]
    assert c.post(f"{V1}/plots", json={"geometry": feature["geometry"]}, headers=h["analyst"]).status_code == 403


def test_applications_are_private(world: World) -> None:
    c, h, ids = world.client, world.headers, world.ids
    app_url = f"{V1}/applications/{ids['app_a']}"
    assert c.get(app_url, headers=h["a"]).status_code == 200
    assert c.get(app_url, headers=h["b"]).status_code == 404
    assert c.get(app_url, headers=h["analyst"]).status_code == 200
    assert all(a["id"] != ids["app_a"] for a in c.get(f"{V1}/applications", headers=h["b"]).json())
    assert c.post(f"{app_url}/accept", headers=h["b"]).status_code == 404
    assert c.post(f"{app_url}/accept", headers=h["analyst"]).status_code == 403
    r = c.post(f"{V1}/applications", json={"plot_ids": [ids["a2"]], "consent": True}, headers=h["b"])
    assert r.status_code == 404  # B cannot apply with A's plot
    r = c.post(f"{V1}/applications", json={"plot_ids": [ids["a2"]], "consent": True}, headers=h["analyst"])
    assert r.status_code == 403
    assert c.get(f"{V1}/audit", params={"application_id": ids["app_a"]}, headers=h["b"]).status_code == 404
    assert c.get(f"{V1}/audit", params={"application_id": ids["app_a"]}, headers=h["a"]).status_code == 200


def test_review_is_for_staff(world: World) -> None:
    c, h, ids = world.client, world.headers, world.ids
    decision = {"decision": "approve", "reason": "looks fine"}
    for who in ("a", "b"):
        assert c.get(f"{V1}/review/applications", headers=h[who]).status_code == 403
        r = c.post(f"{V1}/review/applications/{ids['app_a']}/decision", json=decision, headers=h[who])
        assert r.status_code == 403
    for who in ("analyst", "admin"):
        queue = c.get(f"{V1}/review/applications", headers=h[who]).json()
        assert ids["app_a"] in {row["id"] for row in queue}


def test_exports_warnings_and_portfolio_are_private(world: World) -> None:
    c, h = world.client, world.headers
    a_ref = c.get(f"{V1}/plots/{world.ids['a1']}", headers=h["a"]).json()["ref"]
    record_warnings(
        world.db,
        [
            {
                "run_id": "r-authz",
                "plot_id": a_ref,
                "code": "NDVI_DROP",
                "severity": "high",
                "message_en": "Check crop",
                "message_zh": "检查作物",
                "action": "visit",
                "season": 2027,
            }
        ],
    )
    assert [w["plot_id"] for w in c.get(f"{V1}/me/warnings", headers=h["a"]).json()] == [a_ref]
    assert c.get(f"{V1}/me/warnings", headers=h["b"]).json() == []
    export_b = c.get(f"{V1}/me/export", headers=h["b"]).json()
    assert export_b["account"]["phone"] == "13800000002"
    assert {p["id"] for p in export_b["plots"]} == {world.ids["b1"]}
    assert export_b["applications"] == []
    assert c.get(f"{V1}/portfolio", headers=h["b"]).json() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/plots"),
        ("post", "/plots"),
        ("get", "/plots/1"),
        ("patch", "/plots/1"),
        ("delete", "/plots/1"),
        ("get", "/applications"),
        ("post", "/applications"),
        ("get", "/applications/1"),
        ("post", "/applications/1/accept"),
        ("get", "/review/applications"),
        ("post", "/review/applications/1/decision"),
        ("get", "/audit"),
        ("get", "/portfolio"),
        ("get", "/me/export"),
        ("delete", "/me"),
        ("get", "/me/warnings"),
        ("get", "/auth/me"),
    ],
)
def test_every_protected_route_needs_a_valid_token(world: World, method: str, path: str) -> None:
    c = world.client
    key = world.client.app.state.signing_key  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    expired = jwt.encode(
        {"sub": "1", "iss": "agrisense", "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)},
        key,
        algorithm="HS256",
    )
    forged = jwt.encode(
        {"sub": "1", "iss": "agrisense", "exp": now + timedelta(hours=1)},
        "a-wrong-key-that-is-long-enough-for-hs256!!",
        algorithm="HS256",
    )
    for headers in ({}, {"Authorization": f"Bearer {expired}"}, {"Authorization": f"Bearer {forged}"}):
        r = c.request(method.upper(), f"{V1}{path}", headers=headers, json={} if method in ("post", "patch") else None)
        assert r.status_code == 401, (headers, r.text)
        assert "log in" in r.json()["detail"].lower()
        assert r.headers["www-authenticate"] == "Bearer"


def test_only_admins_create_staff_accounts(world: World) -> None:
    c, h = world.client, world.headers
    body = {"phone": "13900000077", "password": PASSWORD, "name": "New analyst", "role": "analyst"}
    assert c.post(f"{V1}/auth/register", json=body).status_code == 403
    assert c.post(f"{V1}/auth/register", json=body, headers=h["a"]).status_code == 403
    assert c.post(f"{V1}/auth/register", json=body, headers=h["analyst"]).status_code == 403
    r = c.post(f"{V1}/auth/register", json=body, headers=h["admin"])
    assert r.status_code == 201 and r.json()["role"] == "analyst"
    assert c.post(f"{V1}/auth/register", json=body, headers=h["admin"]).status_code == 409  # phone taken


def test_wrong_password_and_unknown_phone_get_the_same_answer(world: World) -> None:
    c = world.client
    wrong = c.post(f"{V1}/auth/token", data={"username": "13800000001", "password": "not-the-password"})
    unknown = c.post(f"{V1}/auth/token", data={"username": "13812345678", "password": "not-the-password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
