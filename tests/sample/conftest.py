"""A small sample region built once per test session (3 km, ~10 scenes across the season)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agrisense.sample.build import RegionSummary, build_region


@pytest.fixture(scope="session")
def region(tmp_path_factory: pytest.TempPathFactory) -> RegionSummary:
    out = tmp_path_factory.mktemp("region") / "county"
    return build_region(out, seed=7, size_km=3.0, scene_interval_days=(20, 30))


@pytest.fixture(scope="session")
def region_dir(region: RegionSummary) -> Path:
    return region.out_dir
