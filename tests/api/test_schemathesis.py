"""Fuzz every /api/v1 operation from the OpenAPI schema (schemathesis): no input may cause a server error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

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
    # the account must survive the run (DELETE /me is covered in test_flow); tiles belong to the web tests
    return schema.include(path_regex=r"^/(api/v1|healthz)").exclude(method="DELETE", path="/api/v1/me")


def test_no_server_errors(fuzz_schema: Any) -> None:
    """Every operation, a bounded number of generated cases each (positive and negative data)."""
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def fuzz(case: Any) -> None:
            response = case.call_and_validate(headers=_HEADERS["farmer"], checks=[not_a_server_error])
            statuses.append(response.status_code)

        try:
            fuzz()
        except Exception as exc:  # collect every failing operation, then fail once with all of them
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n".join(failures)
    assert len(statuses) > 100 and max(statuses) < 500
    assert {200, 422} <= set(statuses)  # real work and refused input were both exercised
