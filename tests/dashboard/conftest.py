"""Dashboard test data: offers scored once per session on the small region, a seeded SQLite template database,
two re-score runs in the pipeline's layout, and the environment the dashboard reads its settings from."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

N_PLOTS = 16  # enough referred applications, with and without a limit, to be left in review after the book


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Streamlit's AppTest runs a page as ``__main__``; put the real one back, or later multiprocessing spawns (Dask
    LocalCluster workers in other tests) would re-run the dashboard page as their main module."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


ANALYST_PHONE = "13900000001"


@dataclass(frozen=True)
class DashboardData:
    offers: list[dict[str, Any]]
    template_db: Path
    rescore_dir: Path
    analyst_password: str
    farmer_password: str


def _score_one_tile(region: Path, cache_dir: Path) -> list[dict[str, Any]]:
    """Real offers for the plots of the small region's busiest imagery tile (in-process: one tile, no Dask)."""
    from agrisense import services
    from agrisense.config import Settings
    from agrisense.geo import read_plots
    from agrisense.scoring import plan_tiles

    settings = Settings(region_dir=region, cache_dir=cache_dir)
    plots, _ = read_plots(region / "plots.geojson")
    busiest = max(plan_tiles(plots), key=lambda job: len(job.plot_ids))
    chosen = [p for p in plots if p.plot_id in set(busiest.plot_ids)][:N_PLOTS]
    return [o.to_dict() for o in services.score_plots(chosen, settings=settings).offers]


def _write_run(folder: Path, run_id: str, season: int, offers: list[dict[str, Any]], region: Path) -> None:
    """A re-score output folder (run.json + GeoParquet plots.parquet) with the pipeline's own row builder."""
    import geopandas as gpd

    from agrisense.credit.offer import Offer
    from agrisense.geo import read_plots
    from agrisense.pipelines.rescore import offer_rows

    plots, _ = read_plots(region / "plots.geojson")
    by_id = {o["plot_id"]: Offer.model_validate(o) for o in offers}
    chosen = [p for p in plots if p.plot_id in by_id]
    frame = offer_rows(by_id, chosen, "t0")
    geo = gpd.GeoDataFrame(
        frame.drop(columns="geometry"), geometry=gpd.GeoSeries.from_wkb(frame["geometry"]), crs="EPSG:4326"
    )
    folder.mkdir(parents=True)
    geo.to_parquet(folder / "plots.parquet")
    (folder / "run.json").write_text(json.dumps({"run_id": run_id, "season": season}), encoding="utf-8")


@pytest.fixture(scope="session")
def dashboard_data(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> DashboardData:
    import os

    from agrisense.config import Settings
    from agrisense.lending import accept_offer, authenticate, decide_application, list_review_queue, seed_sample_county
    from agrisense.lending.outline_checks import application_outline_checks
    from agrisense.lending.seed import DEMO_ANALYST_PASSWORD, DEMO_FARMER_PASSWORD, demo_phone
    from agrisense.store import open_database

    root = tmp_path_factory.mktemp("dashboard")
    offers = _score_one_tile(small_region, Path(os.environ["AGRISENSE_CACHE_DIR"]))
    settings = Settings(
        region_dir=small_region, state_dir=root / "template", database_url=f"sqlite:///{root / 'template.db'}"
    )
    db = open_database(settings)
    seed_sample_county(db, settings, offers)
    # an analyst approves two referred applications with a proposed limit and their farmers accept: a small book
    analyst = authenticate(db, ANALYST_PHONE, DEMO_ANALYST_PASSWORD)
    farmers = sorted({str(o["farmer_id"]) for o in offers})
    phone_of = {f: demo_phone(f, i) for i, f in enumerate(farmers, start=1)}
    financed = 0
    for row in list_review_queue(db, analyst, status="in_review"):
        if financed == 2 or not row["proposed_limit"]:
            continue
        decide_application(db, analyst, row["id"], decision="approve", reason="field visit confirmed the crop")
        farmer_ref = next(o["farmer_id"] for o in offers if o["plot_id"] == row["plots"][0])
        farmer = authenticate(db, phone_of[str(farmer_ref)], DEMO_FARMER_PASSWORD)
        accept_offer(db, farmer, row["id"])
        financed += 1
    # each application's outline checks computed once here, as its first view stores them: the pages read them
    # instead of running the boundary model in the background of every test's log-in
    for row in list_review_queue(db, analyst):
        application_outline_checks(db, analyst, row["id"], settings=settings)
    db.dispose()
    rescore = root / "rescore"
    half = offers[: len(offers) // 2]
    _write_run(rescore / "2025-main", "2025-main", 2025, half, small_region)
    _write_run(rescore / "2026-main", "2026-main", 2026, offers, small_region)
    return DashboardData(offers, root / "template.db", rescore, DEMO_ANALYST_PASSWORD, DEMO_FARMER_PASSWORD)


@pytest.fixture()
def dashboard_env(
    dashboard_data: DashboardData, small_region: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """A fresh copy of the seeded database and the environment the dashboard reads (also for a subprocess)."""
    db_file = tmp_path / "agrisense.db"
    shutil.copy(dashboard_data.template_db, db_file)
    env = {
        "AGRISENSE_REGION_DIR": str(small_region),
        "AGRISENSE_STATE_DIR": str(tmp_path / "state"),
        "AGRISENSE_DATABASE_URL": f"sqlite:///{db_file}",
        "AGRISENSE_DASHBOARD_RESCORE_DIR": str(dashboard_data.rescore_dir),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
