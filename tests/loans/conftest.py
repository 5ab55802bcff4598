"""The ``bank`` fixture of the loan tests: test_service's bank (the engine's quote stands in for the imagery
scorer) on SQLite and on PostgreSQL (skipped without AGRISENSE_TEST_POSTGRES_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agrisense.lending import scoring as lending_scoring
from tests.loans.test_service import Bank, QuoteBatcher, _bank


@pytest.fixture(params=["sqlite_db", "postgis_db"])
def bank(
    request: pytest.FixtureRequest, small_region: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Bank]:
    monkeypatch.setattr(lending_scoring, "_batcher", QuoteBatcher())
    yield _bank(request.getfixturevalue(request.param), small_region, tmp_path)
