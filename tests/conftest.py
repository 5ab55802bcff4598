"""Shared fixtures: a small sample region built once per test session by the real generator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.databases", "tests.browser"]  # sqlite_db, postgis_db; system_chromium

SMALL_REGION_KM = 2.0
SMALL_REGION_SEED = 7

SLOW_FIXTURES = frozenset({"postgis_db", "system_chromium"})
"""Every test that uses one of these (directly or through another fixture) is marked ``slow``: PostgreSQL, Chromium."""
SLOW_MODULES = frozenset({"test_wheel.py", "test_pages.py", "test_http_faults.py", "test_rescore.py"})
"""Modules marked ``slow`` as a whole: the wheel (built and installed into a fresh virtual environment), the
dashboard pages end to end (Streamlit AppTest over a seeded database, ~50 s), HTTP fault injection against local
servers (~17 s) and the county re-score runs (~25 s)."""
SLOW_TESTS = frozenset(
    {
        # a cold re-score of the whole region, twice (~17 s)
        "tests/test_logging.py::test_rescore_logs_plan_tiles_and_summary",
        # scores plots with a cold imagery cache (~13 s)
        "tests/credit/test_offer_schema.py::test_scored_offers_and_unusable_outlines_validate",
        # end to end through the CLI or a scored application (5-7 s each)
        "tests/api/test_consent.py::test_withdrawal_leaves_an_active_loan_alone",
        "tests/credit/test_commands.py::test_stress_command",
        "tests/geo/test_coverage.py::test_score_file_refers_outside_outlines_never_blames_clouds",
        "tests/ml/test_evaluate_cache.py::test_evaluate_writes_nothing_in_the_region",
    }
)
"""Single tests marked ``slow`` here rather than in their modules (modules other people are changing now)."""


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m deselection
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ``slow`` marker (``make check`` skips it) for PostgreSQL and browser tests, found by the fixtures they use,
    and for the modules and tests named above."""
    for item in items:
        if (
            SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ()))
            or item.path.name in SLOW_MODULES
            or item.nodeid.split("[")[0] in SLOW_TESTS
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def small_region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 km x 2 km region (same generator and schema as the 10 km sample county)."""
    from agrisense.sample.build import build_region

    root = tmp_path_factory.mktemp("region") / "small_county"
    build_region(root, seed=SMALL_REGION_SEED, size_km=SMALL_REGION_KM)
    return root


@pytest.fixture()
def small_settings(small_region: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    from agrisense.config import Settings

    return Settings(region_dir=small_region, cache_dir=tmp_path / "cache", dask_workers=2)


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """argon2id at its smallest cost in the test process (~5 ms a hash or check instead of ~100-200 ms): the same
    hashing and verification code, but registrations and logins no longer dominate the API, security and dashboard
    tests. Hashes carry their parameters, so a subprocess with the production hasher still verifies them."""
    from argon2 import PasswordHasher

    from agrisense.lending import actors

    patch = pytest.MonkeyPatch()
    if hasattr(actors, "_hasher"):
        cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
        patch.setattr(actors, "_hasher", cheap)
        if hasattr(actors, "_DUMMY_HASH"):  # the timing equaliser for unknown accounts: as cheap as a real check
            patch.setattr(actors, "_DUMMY_HASH", cheap.hash("agrisense-timing-equaliser"))
    yield
    patch.undo()


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never write the imagery cache into the repository's data/cache."""
    import os

    os.environ["AGRISENSE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
