"""The review queue carries each application's PD (its riskiest offer's) and filters by a PD range."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agrisense.config import Settings
from agrisense.errors import InvalidInput
from agrisense.lending import authenticate, list_review_queue, seed_sample_county
from agrisense.lending.applications import application_pd
from agrisense.lending.seed import DEMO_ANALYST_PASSWORD, DEMO_ANALYST_PHONE
from agrisense.store import Database

PDS = [0.01, 0.04, 0.12, None]


def _offers(small_region: Path) -> list[dict[str, Any]]:
    features = json.loads((small_region / "plots.geojson").read_text())["features"]
    return [
        {
            "plot_id": f["properties"]["plot_id"],
            "farmer_id": f["properties"]["farmer_id"],
            "declared_crop": f["properties"]["declared_crop"],
            "assessed_crop": f["properties"]["declared_crop"],
            "decision": "refer",
            "credit_limit": 1000.0,
            "currency": "CNY",
            "area_ha": 0.5,
            "pd": PDS[i % len(PDS)],
            "lgd": 0.6,
            "finance_season": 2027,
            "geometry": f["geometry"],
            "reasons": [],
        }
        for i, f in enumerate(features)
    ]


def test_queue_rows_carry_pd_and_filter_by_range(sqlite_db: Database, small_region: Path, tmp_path: Path) -> None:
    seed_sample_county(sqlite_db, Settings(region_dir=small_region, state_dir=tmp_path), _offers(small_region))
    analyst = authenticate(sqlite_db, DEMO_ANALYST_PHONE, DEMO_ANALYST_PASSWORD)
    everything = list_review_queue(sqlite_db, analyst)
    assert {row["pd"] for row in everything} <= {0.01, 0.04, 0.12, None}
    assert any(row["pd"] is None for row in everything)
    middle = list_review_queue(sqlite_db, analyst, pd_min=0.02, pd_max=0.12)
    assert middle and all(0.02 <= row["pd"] <= 0.12 for row in middle)
    assert len(middle) == sum(1 for row in everything if row["pd"] is not None and 0.02 <= row["pd"] <= 0.12)
    risky = list_review_queue(sqlite_db, analyst, pd_min=0.1)
    assert risky and {row["pd"] for row in risky} == {0.12}
    safe = list_review_queue(sqlite_db, analyst, pd_max=0.01)  # both ends included
    assert safe and {row["pd"] for row in safe} == {0.01}


def test_bad_pd_range_is_refused_with_the_fix(sqlite_db: Database, small_region: Path, tmp_path: Path) -> None:
    seed_sample_county(sqlite_db, Settings(region_dir=small_region, state_dir=tmp_path), _offers(small_region))
    analyst = authenticate(sqlite_db, DEMO_ANALYST_PHONE, DEMO_ANALYST_PASSWORD)
    with pytest.raises(InvalidInput, match="swap them"):
        list_review_queue(sqlite_db, analyst, pd_min=0.2, pd_max=0.1)
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        list_review_queue(sqlite_db, analyst, pd_min=5)
    assert len(list_review_queue(sqlite_db, analyst)) > 0  # nothing lost


def test_application_pd_is_the_riskiest_offer() -> None:
    assert application_pd([{"pd": 0.02}, {"pd": 0.07}, {"pd": None}]) == 0.07
    assert application_pd([{"pd": None}, {}]) is None
    assert application_pd([]) is None
