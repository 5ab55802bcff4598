"""Error bodies carry a stable code, its parameters and the message in the request's language (zh-CN first,
English), from the one exception table; every code has both languages."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import agrisense
from agrisense.app.api.errors import ERROR_TABLE, HTTP_ERROR_CODES, error_code
from agrisense.app.api.messages import LANGUAGES, MESSAGES, message, negotiate
from agrisense.errors import InvalidGeometry, InvalidInput, NotFound
from tests.api.conftest import World, service_settings

V1 = "/api/v1"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_every_code_has_both_languages_with_the_same_parameters(code: str) -> None:
    templates = MESSAGES[code]
    assert set(templates) == set(LANGUAGES), f"{code} lacks {set(LANGUAGES) - set(templates)}"
    assert CJK.search(templates["zh-CN"]), f"{code}: the zh-CN message is not Chinese"
    assert not CJK.search(templates["en"]), f"{code}: the English message has Chinese in it"
    assert _fields(templates["zh-CN"]) == _fields(templates["en"]), code


def test_every_code_the_package_raises_is_in_the_catalog() -> None:
    root = Path(agrisense.__file__).parent
    raised = {m for f in root.rglob("*.py") for m in re.findall(r'\bcode="([A-Z][A-Z_]+)"', f.read_text())}
    assert raised, "no code= found: the scan is broken"
    assert raised <= set(MESSAGES), f"codes without messages: {sorted(raised - set(MESSAGES))}"
    table = {code for _, code in ERROR_TABLE.values()} | set(HTTP_ERROR_CODES.values())
    assert table <= set(MESSAGES), f"table codes without messages: {sorted(table - set(MESSAGES))}"


def test_codes_come_from_the_exception_or_its_class() -> None:
    assert error_code(InvalidGeometry("x", code="AREA_TOO_LARGE")) == "AREA_TOO_LARGE"
    assert error_code(InvalidGeometry("x")) == "INVALID_GEOMETRY"
    assert error_code(InvalidInput("x")) == "INVALID_INPUT"
    assert error_code(NotFound("x")) == "NOT_FOUND"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "zh-CN"),
        ("", "zh-CN"),
        ("en", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("zh-TW", "zh-CN"),
        ("fr-FR, en;q=0.5, zh;q=0.8", "zh-CN"),
        ("fr-FR, en;q=0.9, zh;q=0.3", "en"),
        ("de", "zh-CN"),
        ("en;q=0, zh;q=0.1", "zh-CN"),
        ("en;q=abc, garbage;;;", "zh-CN"),
        ("*", "zh-CN"),
    ],
)
def test_accept_language_negotiation(header: str | None, language: str) -> None:
    assert negotiate(header) == language


def test_a_missing_parameter_falls_back_to_the_generic_message() -> None:
    assert message("AREA_TOO_LARGE", {}, "en") == MESSAGES["ERROR"]["en"]
    assert message("NO_SUCH_CODE", {}, "zh-CN") == MESSAGES["ERROR"]["zh-CN"]


def test_area_too_large_is_localised_over_http(world: World) -> None:
    c, h = world.client, world.headers["a"]
    big = {"type": "Polygon", "coordinates": [[[32.0, 2.0], [32.5, 2.0], [32.5, 2.5], [32.0, 2.5], [32.0, 2.0]]]}
    zh = c.post(f"{V1}/plots", json={"geometry": big}, headers=h)
    en = c.post(f"{V1}/plots", json={"geometry": big}, headers={**h, "Accept-Language": "en-GB,en;q=0.9"})
    assert zh.status_code == en.status_code == 422
    assert zh.json()["code"] == en.json()["code"] == "AREA_TOO_LARGE"
    assert zh.json()["params"] == en.json()["params"] and en.json()["params"]["max_ha"] == 1000
    assert CJK.search(zh.json()["message"]) and "公顷" in zh.json()["message"]
    assert en.json()["message"].startswith("The plot is ") and not CJK.search(en.json()["message"])
    assert zh.headers["content-language"] == "zh-CN" and en.headers["content-language"] == "en"
    assert "larger than" in zh.json()["detail"]  # the English detail stays for developers
    assert len(c.get(f"{V1}/plots", headers=h).json()) >= 1  # nothing lost: the farmer's plots are still there


def test_validation_not_found_and_login_errors_have_codes(world: World) -> None:
    c, h = world.client, world.headers["a"]
    r = c.post(f"{V1}/plots", json={}, headers={**h, "Accept-Language": "en"})
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED" and "geometry" in r.json()["message"]
    r = c.get(f"{V1}/plots/999999", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "PLOT_NOT_FOUND" and "999999" in r.json()["message"]
    r = c.get(f"{V1}/no-such-route", headers={"Accept-Language": "en"})
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    r = c.get(f"{V1}/auth/me")
    assert r.status_code == 401 and r.json()["code"] == "LOGIN_REQUIRED" and r.json()["message"] == "请先登录。"


def test_middleware_answers_are_localised(small_region: Path, tmp_path: Path) -> None:
    from agrisense.app.api.main import create_app

    settings = service_settings(small_region, tmp_path, max_request_bytes=2048)
    settings = settings.model_copy(update={"rate_limit_per_minute": 3})
    with TestClient(create_app(settings)) as c:
        r = c.post(f"{V1}/plots", content=b"x" * 5000, headers={"Accept-Language": "en"})
        assert r.status_code == 413 and r.json()["code"] == "REQUEST_TOO_LARGE" and r.json()["params"] == {"max_kb": 2}
        for _ in range(3):
            c.get(f"{V1}/auth/me")
        r = c.get(f"{V1}/auth/me")
        assert r.status_code == 429 and r.json()["code"] == "TOO_MANY_REQUESTS"
        assert f"{r.json()['params']['seconds']} 秒" in r.json()["message"]
