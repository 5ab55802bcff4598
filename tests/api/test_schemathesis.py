"""Fuzz every /api/v1 operation from the OpenAPI schema (schemathesis): no input may cause a server error, and every
response conforms to the document: a documented status, content type, headers and body schema (``ErrorBody`` for
errors, the response models for 2xx)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from tests.api.conftest import PASSWORD, service_settings

pytestmark = pytest.mark.slow  # fuzzes every operation (make test)

_HEADERS: dict[str, dict[str, str]] = {}


@pytest.fixture(scope="module")
def fuzz_schema(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from agrisense.app.api.main import create_app

    app = create_app(service_settings(small_region, tmp_path_factory.mktemp("fuzz")))
    client = TestClient(app)
    client.post("/api/v1/auth/register", json={"phone": "13800000888", "password": PASSWORD, "name": "Fuzz"})
    token = client.post("/api/v1/auth/token", data={"username": "13800000888", "password": PASSWORD}).json()
    _HEADERS["farmer"] = {"Authorization": f"Bearer {token['access_token']}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # the account and its token must survive the run (DELETE /me is covered in test_flow, logout in test_security);
    # tiles belong to the web tests
    return (
        schema.include(path_regex=r"^/(api/v1|healthz)")
        .exclude(method="DELETE", path="/api/v1/me")
        .exclude(method="POST", path="/api/v1/auth/logout")
    )


# Every built-in check (``--checks all``: not_a_server_error, status_code_conformance, content_type_conformance,
# response_headers_conformance, response_schema_conformance, negative_data_rejection, ignored_auth,
# unsupported_method, ...) except positive_data_acceptance: a schema-valid request may still be refused with 422 by
# the service's own rules, which JSON Schema cannot express (a known crop of the region's catalogue, a point or outline
# inside the imagery, a non-empty outline, consent that is true, a phone number the service can normalise).
EXCLUDED_CHECKS = [positive_data_acceptance]

# Examples per operation (15 in all): schema-valid data and schema-violating data as the signed-in farmer (200s,
# 403s, 404s, 409s, 422s), and one request without a token (401s, which must be documented too).
RUNS = (
    ("positive", GenerationMode.POSITIVE, "farmer", 8),
    ("negative", GenerationMode.NEGATIVE, "farmer", 6),
    ("anonymous", GenerationMode.POSITIVE, "anonymous", 1),
)


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str], examples: int, statuses: list[int]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
    )
    def fuzz(case: Any) -> None:
        response = case.call_and_validate(headers=headers, excluded_checks=EXCLUDED_CHECKS)
        statuses.append(response.status_code)

    fuzz()


def test_responses_conform_to_the_schema(fuzz_schema: Any) -> None:
    """Every operation, a bounded number of generated cases each: no server error, and every response (status,
    content type, headers, body) is the one the OpenAPI document declares."""
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    statuses: list[int] = []
    for operation in operations:
        takes_input = any(True for _ in operation.iter_parameters()) or len(operation.body) > 0
        for label, mode, who, examples in RUNS:
            if mode is GenerationMode.NEGATIVE and not takes_input:
                continue  # nothing to get wrong (no parameters, no body)
            try:
                _fuzz(operation, mode, _HEADERS.get(who, {}), examples, statuses)
            # collect every failing operation (schemathesis raises a FailureGroup), then fail once with all of them
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} ({label}): {exc}")
    assert not failures, "\n".join(failures)
    assert len(statuses) > 150 and max(statuses) < 500
    # real work, refused input, refused roles and missing tokens were all exercised
    assert {200, 401, 403, 404, 422} <= set(statuses)
