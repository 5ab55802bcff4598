"""Shared fixtures: a small sample region built once per test session by the real generator."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.databases", "tests.browser"]  # sqlite_db, postgis_db; system_chromium

SMALL_REGION_KM = 2.0
SMALL_REGION_SEED = 7


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
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never write the imagery cache into the repository's data/cache."""
    import os

    os.environ["AGRISENSE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
