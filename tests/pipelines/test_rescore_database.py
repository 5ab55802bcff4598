"""County re-score with the service database: financed plots come from accepted loans, rows and warnings go back,
and the warnings reach the farmer (API layer) and the analysts (portfolio)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from sqlalchemy import func, select, update

from agrisense.config import Settings
from agrisense.lending import (
    accept_offer,
    create_plot,
    decide_application,
    list_warnings,
    portfolio,
    register_user,
    submit_application,
)
from agrisense.pipelines.rescore_run import rescore_region
from agrisense.store import Application, RescoreRow, open_database


def _financed_feature(region: Path) -> dict:
    """A plot on a failed (else late) field of the region, where monitoring has something to say."""
    truth = pd.read_parquet(region / "truth" / "plots_truth.parquet")
    fields = gpd.read_parquet(region / "truth" / "fields.parquet")[["field_id", "status"]]
    good = truth[truth["kind"] == "good"].merge(fields, on="field_id")
    good = good.assign(rank=good["status"].map({"failed": 0, "late": 1, "normal": 2})).sort_values(["rank", "plot_id"])
    features = {f["properties"]["plot_id"]: f for f in json.loads((region / "plots.geojson").read_text())["features"]}
    return features[str(good["plot_id"].iloc[0])]


@pytest.mark.slow  # two cold re-scores of the region through the service database (~20 s)
def test_rescore_reads_loans_and_writes_rows_and_warnings_to_the_database(small_region: Path, tmp_path: Path) -> None:
    settings = Settings(region_dir=small_region, state_dir=tmp_path / "state", cache_dir=tmp_path / "cache")
    db = open_database(settings)
    farmer = register_user(db, phone="13800000011", password="pw-farmer-11", name="Farmer")
    analyst = register_user(db, phone="13900000011", password="pw-analyst-11", name="Analyst", role="analyst")
    feature = _financed_feature(small_region)
    plot = create_plot(
        db,
        farmer,
        geometry=feature["geometry"],
        settings=settings,
        declared_crop=feature["properties"]["declared_crop"],
    )
    app = submit_application(db, farmer, plot_ids=[plot["id"]], consent=True, settings=settings)
    if app["status"] != "offered":
        decide_application(
            db, analyst, app["id"], decision="change_limit", reason="field visit confirmed the crop", new_limit=2000.0
        )
    accept_offer(db, farmer, app["id"])
    with db.session() as session:  # a loan financed for the imagery's season (the sample offers finance the next)
        session.execute(update(Application).where(Application.id == app["id"]).values(finance_season=2026))

    out = tmp_path / "monitor"
    run = rescore_region(settings, out, season=2026, as_of=date(2026, 9, 30), n_workers=0, use_database=True)

    summary = json.loads((out / "run.json").read_text())
    assert "recorded" in json.dumps(summary)
    with db.session(readonly=True) as session:
        rows = session.scalar(select(func.count()).select_from(RescoreRow))
    assert rows == run.n_plots > 0  # every scored plot, the financed one included
    warnings = pd.read_parquet(out / "warnings.parquet")
    mine = list_warnings(db, farmer)
    assert mine, "a plot on a failed field raises an early warning"
    assert len(mine) == len(warnings)  # every warning of the run is about this farmer's one loan
    assert {w["code"] for w in mine} == set(warnings["code"])
    book = portfolio(db, analyst)
    assert len(book) == 1 and book[0]["warnings"] == len(mine) and book[0]["rescore_run_id"] == run.run_id
    # idempotent: the same run again writes no duplicates
    rescore_region(settings, out, season=2026, as_of=date(2026, 9, 30), n_workers=0, use_database=True)
    with db.session(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(RescoreRow)) == rows
    assert len(list_warnings(db, farmer)) == len(mine)
