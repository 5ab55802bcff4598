"""Lending functions without HTTP: overlap with other farmers (PostGIS and shapely agree), seeding, warnings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely

from agrisense.config import Settings
from agrisense.errors import AuthenticationFailed, Forbidden, InvalidInput, NotFound
from agrisense.geo import make_plot
from agrisense.lending import (
    authenticate,
    create_plot,
    list_review_queue,
    list_warnings,
    portfolio,
    record_warnings,
    register_user,
    seed_sample_county,
)
from agrisense.lending.plots import overlap_with_others
from agrisense.lending.seed import DEMO_ANALYST_PASSWORD, DEMO_ANALYST_PHONE, DEMO_FARMER_PASSWORD, demo_phone
from agrisense.store import Database


def _settings(region: Path, tmp_path: Path) -> Settings:
    return Settings(region_dir=region, state_dir=tmp_path)


def _square(lon: float, lat: float, d: float) -> dict[str, Any]:
    return json.loads(shapely.to_geojson(shapely.box(lon, lat, lon + d, lat + d)))


def _overlaps(db: Database, small_region: Path, tmp_path: Path) -> dict[str, float]:
    settings = _settings(small_region, tmp_path)
    region = json.loads((small_region / "region.json").read_text())
    lon, lat = region["bbox_lonlat"][0] + 0.005, region["bbox_lonlat"][1] + 0.005
    a = register_user(db, phone="13800000001", password="password-a", name="A")
    b = register_user(db, phone="13800000002", password="password-b", name="B")
    create_plot(db, b, geometry=_square(lon, lat, 0.002), settings=settings, declared_crop="maize")
    create_plot(db, b, geometry=_square(lon + 0.001, lat, 0.002), settings=settings)  # overlaps B's first plot
    create_plot(db, a, geometry=_square(lon + 0.01, lat, 0.002), settings=settings)  # A's own plot, same place
    plots = [
        make_plot({"geometry": _square(lon + 0.001, lat, 0.002), "properties": {"plot_id": "half"}}),
        make_plot({"geometry": _square(lon + 0.01, lat, 0.002), "properties": {"plot_id": "own"}}),
        make_plot({"geometry": _square(lon + 0.02, lat, 0.002), "properties": {"plot_id": "free"}}),
    ]
    with db.session(readonly=True) as session:
        return overlap_with_others(session, plots, a.user_id, postgis=db.is_postgis)


def test_overlap_with_other_farmers_sqlite(sqlite_db: Database, small_region: Path, tmp_path: Path) -> None:
    shares = _overlaps(sqlite_db, small_region, tmp_path)
    assert shares["half"] == pytest.approx(1.0, abs=0.01)  # B's two plots together cover it
    assert shares["own"] == 0.0 and shares["free"] == 0.0


def test_overlap_with_other_farmers_postgis(postgis_db: Database, small_region: Path, tmp_path: Path) -> None:
    assert postgis_db.is_postgis
    shares = _overlaps(postgis_db, small_region, tmp_path)
    assert shares["half"] == pytest.approx(1.0, abs=0.01)
    assert shares["own"] == 0.0 and shares["free"] == 0.0


def test_postgis_partial_overlap_matches_shapely(
    postgis_db: Database, sqlite_db: Database, small_region: Path, tmp_path: Path
) -> None:
    settings = _settings(small_region, tmp_path)
    region = json.loads((small_region / "region.json").read_text())
    lon, lat = region["bbox_lonlat"][0] + 0.005, region["bbox_lonlat"][1] + 0.005
    probe = make_plot({"geometry": _square(lon + 0.0005, lat, 0.002), "properties": {"plot_id": "quarter"}})
    results = []
    for db in (postgis_db, sqlite_db):
        other = register_user(db, phone="13800000009", password="password-x", name="X")
        create_plot(db, other, geometry=_square(lon, lat, 0.002), settings=settings)
        with db.session(readonly=True) as session:
            results.append(overlap_with_others(session, [probe], 10_000, postgis=db.is_postgis)["quarter"])
    assert results[0] == pytest.approx(0.75, abs=0.01)
    assert results[0] == pytest.approx(results[1], abs=0.005)


def _offers(small_region: Path) -> list[dict[str, Any]]:
    features = json.loads((small_region / "plots.geojson").read_text())["features"]
    decisions = ["approve", "refer", "decline"]
    return [
        {
            "plot_id": f["properties"]["plot_id"],
            "farmer_id": f["properties"]["farmer_id"],
            "declared_crop": f["properties"]["declared_crop"],
            "assessed_crop": f["properties"]["declared_crop"],
            "decision": decisions[i % 3],
            "credit_limit": 1000.0 + i,
            "currency": "CNY",
            "area_ha": 0.5,
            "pd": 0.05,
            "lgd": 0.6,
            "finance_season": 2027,
            "geometry": f["geometry"],
            "reasons": [],
        }
        for i, f in enumerate(features)
    ]


def test_seed_sample_county_is_idempotent_and_logins_work(
    sqlite_db: Database, small_region: Path, tmp_path: Path
) -> None:
    settings = _settings(small_region, tmp_path)
    offers = _offers(small_region)
    summary = seed_sample_county(sqlite_db, settings, offers)
    assert summary["plots"] == len(offers) and summary["farmers"] == len({o["farmer_id"] for o in offers})
    assert seed_sample_county(sqlite_db, settings, offers)["farmers"] == 0  # second run adds nothing
    analyst = authenticate(sqlite_db, DEMO_ANALYST_PHONE, DEMO_ANALYST_PASSWORD)
    farmer = authenticate(sqlite_db, demo_phone("F0001", 1), DEMO_FARMER_PASSWORD)
    queue = list_review_queue(sqlite_db, analyst)
    assert len(queue) == summary["applications"]
    assert {row["status"] for row in queue} <= {"offered", "in_review", "declined", "accepted"}
    assert list_review_queue(sqlite_db, analyst, older_than_hours=200) == []
    book = portfolio(sqlite_db, analyst)
    assert len({row["loan_id"] for row in book}) == summary["accepted"]
    with pytest.raises(Forbidden):
        list_review_queue(sqlite_db, farmer)
    with pytest.raises(InvalidInput):
        seed_sample_county(sqlite_db, settings, [{"plot_id": "x"}])


def test_warnings_idempotent_and_private(sqlite_db: Database, small_region: Path, tmp_path: Path) -> None:
    settings = _settings(small_region, tmp_path)
    seed_sample_county(sqlite_db, settings, _offers(small_region))
    analyst = authenticate(sqlite_db, DEMO_ANALYST_PHONE, DEMO_ANALYST_PASSWORD)
    f1 = authenticate(sqlite_db, demo_phone("F0001", 1), DEMO_FARMER_PASSWORD)
    warning = {
        "plot_id": "P00001",
        "code": "NDVI_DROP",
        "severity": "high",
        "message_en": "Crop looks stressed",
        "message_zh": "作物长势差",
        "action": "Visit the field",
        "season": 2027,
    }
    assert record_warnings(sqlite_db, [{**warning, "run_id": "r1"}]) == 1
    assert record_warnings(sqlite_db, [{**warning, "run_id": "r1"}]) == 1  # idempotent
    record_warnings(sqlite_db, [{**warning, "run_id": "r2", "code": "LATE_SOWING"}])
    assert [w["code"] for w in list_warnings(sqlite_db, f1)] == ["LATE_SOWING"]  # latest run only
    assert len(list_warnings(sqlite_db, f1, active_only=False)) == 2
    f2 = authenticate(sqlite_db, demo_phone("F0002", 2), DEMO_FARMER_PASSWORD)
    assert list_warnings(sqlite_db, f2) == []
    assert len(list_warnings(sqlite_db, analyst, active_only=False)) == 2
    with pytest.raises(InvalidInput):
        record_warnings(sqlite_db, [{"run_id": "r3", "plot_id": "P00001"}])


def test_accounts(sqlite_db: Database) -> None:
    actor = register_user(sqlite_db, phone="+86 138-0013-8000", password="long-password", name=" Wang ")
    assert actor.name == "Wang" and actor.role == "farmer"
    assert authenticate(sqlite_db, "+8613800138000", "long-password") == actor
    with pytest.raises(AuthenticationFailed):
        authenticate(sqlite_db, "+8613800138000", "wrong-password")
    with pytest.raises(InvalidInput):
        register_user(sqlite_db, phone="13800000001", password="x", name="A")
    with pytest.raises(InvalidInput):
        register_user(sqlite_db, phone="13800000001", password="long-password", name="A", role="root")


def test_plot_of_another_farmer_is_not_found(sqlite_db: Database, small_region: Path, tmp_path: Path) -> None:
    from agrisense.lending import get_plot

    settings = _settings(small_region, tmp_path)
    feature = json.loads((small_region / "plots.geojson").read_text())["features"][0]
    a = register_user(sqlite_db, phone="13800000001", password="password-a", name="A")
    b = register_user(sqlite_db, phone="13800000002", password="password-b", name="B")
    plot = create_plot(sqlite_db, a, geometry=feature["geometry"], settings=settings)
    with pytest.raises(NotFound):
        get_plot(sqlite_db, b, plot["id"])
