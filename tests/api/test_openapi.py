"""The OpenAPI document: every operation declares its success schema and the error statuses it can return, and the
error bodies really sent are the documented ``ErrorBody``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from agrisense.app.api.limits import BodySizeLimit, RateLimit, RateLimiter
from agrisense.app.api.models import ErrorBody
from agrisense.credit.offer import Offer
from tests.api.conftest import World

V1 = "/api/v1"
METHODS = ("get", "post", "put", "patch", "delete")
ERROR_REF = "#/components/schemas/ErrorBody"


def _operations(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    paths = world.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [(m.upper(), path, op) for path, ops in paths.items() for m, op in ops.items() if m in METHODS]


def _json_schema(response: dict[str, Any]) -> dict[str, Any] | None:
    return (response.get("content") or {}).get("application/json", {}).get("schema")


def test_every_operation_documents_a_success_schema(world: World) -> None:
    operations = _operations(world)
    assert len(operations) >= 20
    for method, path, op in operations:
        success = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        assert success, f"{method} {path} documents no 2xx response"
        for code, response in success.items():
            if code == "204":
                assert not response.get("content"), f"{method} {path}: 204 has no body"
            elif path.startswith("/tiles/"):
                assert "image/png" in response["content"]
            else:
                schema = _json_schema(response)
                assert schema and (schema.get("$ref") or schema.get("items")), f"{method} {path} {code}: no schema"


def test_every_operation_documents_its_errors_with_error_body(world: World) -> None:
    spec = world.client.app.openapi()  # type: ignore[attr-defined]
    # FastAPI's default 422 schema is not what the handler sends: it must not be documented anywhere
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for method, path, op in _operations(world):
        responses = op["responses"]
        errors = {int(code) for code in responses if code[0] in "45"}
        for code in errors:
            assert _json_schema(responses[str(code)]) == {"$ref": ERROR_REF}, f"{method} {path} {code}"
        expected = {500}
        if path != "/healthz":
            expected.add(429)  # the rate limit applies to everything but the health check
        if op.get("security"):
            expected.add(401)
        if op.get("parameters") or op.get("requestBody"):
            expected.add(422)
        if op.get("requestBody"):
            expected |= {400, 413}  # an unparseable body; a body over max_request_bytes
        if "{" in path:
            expected.add(404)
        assert expected <= errors, f"{method} {path} does not document {sorted(expected - errors)}"
    assert "WWW-Authenticate" in spec["paths"][f"{V1}/auth/me"]["get"]["responses"]["401"]["headers"]
    assert "Retry-After" in spec["paths"][f"{V1}/plots"]["get"]["responses"]["429"]["headers"]


def test_offers_are_documented_as_the_offer_model(world: World) -> None:
    schemas = world.client.app.openapi()["components"]["schemas"]  # type: ignore[attr-defined]
    offers = schemas["ApplicationOffer"]["properties"]["offers"]
    assert offers["items"] == {"$ref": "#/components/schemas/Offer"}
    assert set(schemas["Offer"]["properties"]) == {f.alias or name for name, f in Offer.model_fields.items()}
    assert schemas["Offer"]["properties"]["credit_limit"]["type"] == "number"  # Money: a JSON number on the wire
    assert schemas["ApplicationView"]["properties"]["credit_limit"]["type"] == "number"


def _error(response: Any, status: int, error: str) -> ErrorBody:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = ErrorBody.model_validate(response.json())
    assert body.error == error and body.detail
    return body


def test_real_error_bodies_are_error_bodies(world: World) -> None:
    c, farmer = world.client, world.headers["a"]
    body = _error(c.post(f"{V1}/plots", json={"geometry": {"type": "Point"}}, headers=farmer), 422, "InvalidInput")
    assert body.errors and all(e.field.startswith("geometry") for e in body.errors)  # schema violation: the fields
    refused = c.post(f"{V1}/applications", json={"plot_ids": [world.ids["a2"]], "consent": False}, headers=farmer)
    assert not _error(refused, 422, "InvalidInput").errors and "errors" not in refused.json()  # the service's own 422
    _error(c.get(f"{V1}/plots/999999", headers=farmer), 404, "NotFound")
    _error(c.get(f"{V1}/applications/{world.ids['app_a']}", headers=world.headers["b"]), 404, "NotFound")
    unauthenticated = c.get(f"{V1}/auth/me")
    _error(unauthenticated, 401, "AuthenticationFailed")
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    _error(c.get(f"{V1}/auth/me", headers={"Authorization": "Bearer not-a-token"}), 401, "AuthenticationFailed")
    _error(c.get(f"{V1}/review/applications", headers=farmer), 403, "Forbidden")
    unparseable = c.post(f"{V1}/plots", content=b"\xff{", headers={**farmer, "content-type": "application/json"})
    _error(unparseable, 400, "InvalidInput")
    _error(c.get(f"{V1}/no-such-route"), 404, "NotFound")


def test_limit_middleware_bodies_are_error_bodies() -> None:
    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = RateLimit(BodySizeLimit(inner, max_bytes=10), limiter=RateLimiter(2), user_of=lambda token: None)
    client = TestClient(app)  # type: ignore[arg-type]
    _error(client.post("/", content=b"x" * 11), 413, "RequestTooLarge")
    assert client.get("/").status_code == 200
    limited = client.get("/")
    _error(limited, 429, "RateLimited")
    assert int(limited.headers["retry-after"]) >= 1


@pytest.mark.parametrize("payload", [{"detail": "x", "error": "E", "extra": 1}, {"error": "E"}])
def test_error_body_is_strict(payload: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ErrorBody.model_validate(payload)
