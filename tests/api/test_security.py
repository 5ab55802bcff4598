"""Issue #16 (security): login throttling in the database, the password rule, logout and password change revoking
tokens, and the security headers, each against a real app (its own SQLite state dir, so lockouts here never touch
the session-wide ``world``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agrisense.app.api.security import APP_CSP
from agrisense.lending.throttle import (
    ACCOUNT_FREE_FAILURES,
    ADDRESS_FREE_FAILURES,
    MAX_LOCK,
    check_not_locked,
    lock_duration,
    login_keys,
    record_failure,
)
from tests.api.conftest import PASSWORD, service_settings

V1 = "/api/v1"
PHONE = "13800000101"


def _app(region: Path, state: Path) -> TestClient:
    from agrisense.app.api.main import create_app

    return TestClient(create_app(service_settings(region, state)))


@pytest.fixture()
def client(small_region: Path, tmp_path: Path) -> Iterator[TestClient]:
    with _app(small_region, tmp_path / "state") as c:
        r = c.post(f"{V1}/auth/register", json={"phone": PHONE, "password": PASSWORD, "name": "Sec"})
        assert r.status_code == 201, r.text
        yield c


def _login(c: TestClient, password: str = PASSWORD, phone: str = PHONE, **kwargs: object):  # type: ignore[no-untyped-def]
    return c.post(f"{V1}/auth/token", data={"username": phone, "password": password}, **kwargs)  # type: ignore[arg-type]


def _bearer(c: TestClient, password: str = PASSWORD) -> dict[str, str]:
    r = _login(c, password)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


# --- 1. login throttling -----------------------------------------------------------------------------------------


def test_lockout_after_failures_refuses_even_the_right_password_and_a_token_does_not_bypass(
    client: TestClient,
) -> None:
    token = _bearer(client)  # the old bypass: any valid token on the login request
    answers = [_login(client, f"wrong-guess-{i}", headers=token).status_code for i in range(ACCOUNT_FREE_FAILURES)]
    assert answers == [401] * ACCOUNT_FREE_FAILURES
    locked = _login(client, "wrong-again", headers=token)
    assert locked.status_code == 429
    assert locked.json()["error"] == "LoginLocked"  # a RateLimited
    assert "Too many failed logins" in locked.json()["detail"]
    assert 50 <= int(locked.headers["Retry-After"]) <= 60
    right = _login(client)  # the correct password during the lockout is still refused
    assert right.status_code == 429 and "Retry-After" in right.headers
    assert client.get(f"{V1}/auth/me", headers=token).status_code == 200  # existing sessions are not affected


def test_success_resets_the_account_counter(client: TestClient) -> None:
    for _ in range(2):
        for i in range(ACCOUNT_FREE_FAILURES - 1):
            assert _login(client, f"wrong-{i}").status_code == 401
        assert _login(client).status_code == 200  # resets: the next round starts from zero again
    assert _login(client, "wrong-last").status_code == 401


def test_address_is_throttled_across_accounts(client: TestClient) -> None:
    # one address guessing many different phone numbers, one guess each
    for i in range(ADDRESS_FREE_FAILURES):
        assert _login(client, "wrong-password", phone=f"1380000{i:04d}").status_code == 401
    assert _login(client).status_code == 429


def test_backoff_doubles_and_is_capped(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    assert lock_duration(ACCOUNT_FREE_FAILURES - 1, ACCOUNT_FREE_FAILURES) is None
    assert lock_duration(5, 5) == timedelta(minutes=1)
    assert lock_duration(6, 5) == timedelta(minutes=2)
    assert lock_duration(7, 5) == timedelta(minutes=4)
    assert lock_duration(50, 5) == MAX_LOCK
    keys = login_keys(PHONE, "10.0.0.1")
    t0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    for i in range(ACCOUNT_FREE_FAILURES):
        record_failure(sqlite_db, keys, now=t0 + timedelta(seconds=i))
    t_lock = t0 + timedelta(seconds=ACCOUNT_FREE_FAILURES - 1)
    with pytest.raises(Exception, match="locked for 59 s") as info:
        check_not_locked(sqlite_db, keys, now=t_lock + timedelta(seconds=1))
    assert info.value.retry_after == 59  # type: ignore[attr-defined]
    after = t_lock + timedelta(minutes=1, seconds=1)
    check_not_locked(sqlite_db, keys, now=after)  # the lock has run out
    record_failure(sqlite_db, keys, now=after)  # one more failure: locked twice as long
    with pytest.raises(Exception, match="locked for 1 min 59 s"):
        check_not_locked(sqlite_db, keys, now=after + timedelta(seconds=1))


def test_the_lockout_holds_across_workers(small_region: Path, tmp_path: Path) -> None:
    """Two apps over one database stand for two uvicorn workers: failures on one lock the other."""
    state = tmp_path / "shared"
    with _app(small_region, state) as one, _app(small_region, state) as two:
        assert (
            one.post(f"{V1}/auth/register", json={"phone": PHONE, "password": PASSWORD, "name": "W"}).status_code == 201
        )
        for i in range(ACCOUNT_FREE_FAILURES):
            assert _login(one if i % 2 else two, f"wrong-{i}").status_code == 401
        assert _login(one).status_code == 429
        assert _login(two).status_code == 429
        # logout on one worker revokes the token on the other
        # (fresh account: the first is locked)
        phone = "13800000102"
        assert (
            one.post(f"{V1}/auth/register", json={"phone": phone, "password": PASSWORD, "name": "X"}).status_code == 201
        )
        r = _login(one, phone=phone)
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert two.get(f"{V1}/auth/me", headers=h).status_code == 200
        assert one.post(f"{V1}/auth/logout", headers=h).status_code == 204
        assert two.get(f"{V1}/auth/me", headers=h).status_code == 401


def test_the_request_rate_limit_on_login_ignores_tokens(small_region: Path, tmp_path: Path) -> None:
    from agrisense.app.api.main import create_app
    from agrisense.config import Settings

    settings = Settings(region_dir=small_region, state_dir=tmp_path / "state", rate_limit_per_minute=8)
    with TestClient(create_app(settings)) as c:
        assert (
            c.post(f"{V1}/auth/register", json={"phone": PHONE, "password": PASSWORD, "name": "R"}).status_code == 201
        )
        h = _bearer(c)
        codes = [
            c.post(f"{V1}/auth/token", data={"username": f"1390000{i:04d}", "password": "x"}, headers=h).status_code
            for i in range(8)
        ]
        assert codes.count(429) >= 1  # the address's window, not a fresh one for the token's user


# --- 2. password rule --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pw", "at least 10 characters"),
        ("password1234", "too common"),
        ("Qwertyuiop", "too common"),
        ("1234567890!", "too common"),
        ("zzzzzzzzzzzz", "too common"),
        ("13800000199", "phone number"),
        ("+13800000199", "phone number"),
    ],
)
def test_weak_passwords_are_refused_with_a_clear_422(client: TestClient, password: str, message: str) -> None:
    r = client.post(f"{V1}/auth/register", json={"phone": "13800000199", "password": password, "name": "W"})
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"]


# --- 3. logout and password change -------------------------------------------------------------------------------


def test_logout_revokes_only_the_presented_token(client: TestClient) -> None:
    first, second = _bearer(client), _bearer(client)
    assert client.post(f"{V1}/auth/logout", headers=first).status_code == 204
    for path in (f"{V1}/auth/me", f"{V1}/plots", f"{V1}/applications"):
        r = client.get(path, headers=first)
        assert r.status_code == 401, path
    assert "logged out" in client.get(f"{V1}/auth/me", headers=first).json()["detail"]
    assert client.post(f"{V1}/auth/logout", headers=first).status_code == 401
    assert client.get(f"{V1}/auth/me", headers=second).status_code == 200


def test_password_change_revokes_every_token(client: TestClient) -> None:
    first, second = _bearer(client), _bearer(client)
    new = "another-long-secret-9"
    wrong = client.post(f"{V1}/auth/password", json={"old_password": "not-it", "new_password": new}, headers=first)
    assert wrong.status_code == 422 and "current password" in wrong.json()["detail"]
    weak = client.post(
        f"{V1}/auth/password", json={"old_password": PASSWORD, "new_password": "password123"}, headers=first
    )
    assert weak.status_code == 422 and "too common" in weak.json()["detail"]
    r = client.post(f"{V1}/auth/password", json={"old_password": PASSWORD, "new_password": new}, headers=first)
    assert r.status_code == 200, r.text
    fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}
    for old in (first, second):
        answer = client.get(f"{V1}/auth/me", headers=old)
        assert answer.status_code == 401 and "password was changed" in answer.json()["detail"]
    assert client.get(f"{V1}/auth/me", headers=fresh).status_code == 200
    assert _login(client).status_code == 401
    assert _login(client, new).status_code == 200


# --- 4. security headers -----------------------------------------------------------------------------------------


def test_security_headers_on_every_kind_of_response(client: TestClient) -> None:
    for path in (
        "/",
        "/static/app.js",
        "/app-config.json",
        "/healthz",
        f"{V1}/auth/me",
        "/tiles/ndvi/3/1/1.png",
        "/nope",
    ):
        r = client.get(path)
        assert r.headers["Content-Security-Policy"] == APP_CSP, path
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert "geolocation=(self)" in r.headers["Permissions-Policy"]
    assert "frame-ancestors 'none'" in APP_CSP and "script-src 'self'" in APP_CSP
    assert "cdn.jsdelivr.net" in client.get("/docs").headers["Content-Security-Policy"]  # Swagger UI only


def test_the_farmer_app_has_nothing_inline_that_the_policy_would_block(client: TestClient) -> None:
    html = client.get("/").text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert all(src.startswith("/") for src in re.findall(r'(?:src|href)="([^"]+)"', html) if not src.startswith("#"))
