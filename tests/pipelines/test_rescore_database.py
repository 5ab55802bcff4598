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
    active_loans,
    create_plot,
    decide_application,
    list_warnings,
    portfolio,
    register_user,
    submit_application,
)
from agrisense.pipelines.rescore_run import rescore_region
from agrisense.store import Application, MonitoringWarning, RescoreRow, open_database


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


def _offers(region: Path, n: int, *, season: int, evidence_season: int | None = None) -> list[dict]:
    """Offers (``Offer.to_dict()`` with geometry) of the engine's quote for the region's first ``n`` farmers' plots,
    the failed (else late) field's plot first, one plot per farmer; quoted for at least 3 ha so that even the small
    region's plots get a loan."""
    from agrisense.agronomy.calendar import load_crop_table
    from agrisense.credit.engine import quote
    from agrisense.credit.policy import load_policy
    from agrisense.geo import make_plot

    settings = Settings()
    crops, policy = load_crop_table(settings.reference_dir / "crops.csv"), load_policy(settings.policy_file)
    first = _financed_feature(region)
    features = [first] + json.loads((region / "plots.geojson").read_text())["features"]
    offers, farmers = [], set()
    for f in features:
        props = f["properties"]
        if props["farmer_id"] in farmers or props.get("declared_crop") not in policy.financed_crops:
            continue
        farmers.add(props["farmer_id"])
        plot = make_plot(f)
        offer = quote(
            props["declared_crop"],
            max(plot.area_ha, 3.0),
            season=season,
            crops=crops,
            policy=policy,
            plot_id=str(props["plot_id"]),
            farmer_id=str(props["farmer_id"]),
            input_supplier="Seed Co",
        ).to_dict()
        offers.append({**offer, "geometry": f["geometry"], "evidence_season": evidence_season or season})
        if len(offers) == n:
            break
    return offers


@pytest.mark.slow  # a cold re-score of the region (~10 s)
def test_rescore_with_an_offers_file_and_the_database_records_warnings_without_loan_ids(
    small_region: Path, tmp_path: Path
) -> None:
    """#13: ``rescore --active-loans offers.json --database`` crashed (``int('P00011')``): the file's loans are not
    in the database, so their warnings are stored with the plot and no loan id."""
    from typer.testing import CliRunner

    from agrisense.app.cli.main import app

    offers_file = tmp_path / "offers.json"
    offers = _offers(small_region, 3, season=2026)
    offers_file.write_text(json.dumps(offers))
    state = tmp_path / "state"
    env = {
        "AGRISENSE_REGION_DIR": str(small_region),
        "AGRISENSE_STATE_DIR": str(state),
        "AGRISENSE_CACHE_DIR": str(tmp_path / "cache"),
    }
    out = tmp_path / "monitor"
    result = CliRunner().invoke(
        app,
        [
            "rescore",
            "--region",
            str(small_region),
            "--out",
            str(out),
            "--as-of",
            "2026-09-30",
            "--active-loans",
            str(offers_file),
            "--database",
            "--workers",
            "0",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    approved = [o for o in offers if o["decision"] == "approve" and o["credit_limit"] > 0]
    assert json.loads((out / "run.json").read_text())["loans_monitored"] == len(approved) > 0
    warnings = pd.read_parquet(out / "warnings.parquet")
    db = open_database(Settings(region_dir=small_region, state_dir=state))
    with db.session(readonly=True) as session:
        rows = session.scalars(select(MonitoringWarning)).all()
    assert len(rows) == len(warnings) and {r.loan_id for r in rows} <= {None}
    assert {r.plot_id for r in rows} == set(warnings["plot_id"])


def test_warnings_of_loans_outside_the_database_keep_no_loan_id(tmp_path: Path) -> None:
    """The crash itself: ``record_warnings`` with an offers file's plot id (``P00011``) as the loan id."""
    from agrisense.lending import record_warnings

    db = open_database(Settings(state_dir=tmp_path))
    base = {"run_id": "r", "code": "NO_EMERGENCE", "severity": "alert", "message_en": "x", "message_zh": "x"}
    assert record_warnings(db, [{**base, "plot_id": "P00011", "loan_id": "P00011"}, {**base, "plot_id": "P2"}]) == 2
    with db.session(readonly=True) as session:
        assert [r.loan_id for r in session.scalars(select(MonitoringWarning))] == [None, None]


@pytest.mark.slow  # a cold re-score of the region (~10 s)
def test_the_seed_books_loans_in_the_imagery_season_and_rescore_monitors_them(
    small_region: Path, tmp_path: Path
) -> None:
    """#13: the sample offers finance the season after their imagery; the seed books every second accepted loan in
    the imagery season itself (labelled), so ``rescore --database --as-of 2026-07-15`` monitors booked loans."""
    from agrisense.lending import seed_sample_county
    from agrisense.lending.seed import IN_SEASON_NOTE
    from agrisense.store import AuditEntry, Loan

    settings = Settings(region_dir=small_region, state_dir=tmp_path / "state", cache_dir=tmp_path / "cache")
    db = open_database(settings)
    offers = _offers(small_region, 8, season=2027, evidence_season=2026)
    summary = seed_sample_county(db, settings, offers)
    assert summary["in_season"] >= 1 and summary["accepted"] > summary["in_season"]
    with db.session(readonly=True) as session:
        loans = session.scalars(select(Loan)).all()
        seasons = sorted(loan.terms["finance_season"] for loan in loans)
        labelled = session.scalars(select(AuditEntry).where(AuditEntry.reason.contains(IN_SEASON_NOTE))).all()
    assert seasons.count(2026) == summary["in_season"] == len(labelled) and seasons.count(2027) >= 1
    in_season = [loan for loan in active_loans(db, season=2026)]
    assert len(in_season) == summary["in_season"]
    for loan in in_season:  # the tranches of the booked offer moved into the imagery season
        for plot in loan["plots"]:
            assert all(d["date"].startswith("2026") for d in plot["offer"]["disbursements"])

    out = tmp_path / "monitor"
    run = rescore_region(settings, out, as_of=date(2026, 7, 15), n_workers=0, use_database=True)
    assert run.loans == summary["in_season"]
    warnings = pd.read_parquet(out / "warnings.parquet")
    assert len(warnings) > 0
    with db.session(readonly=True) as session:
        rows = session.scalars(select(MonitoringWarning)).all()
    booked = {loan["loan_id"] for loan in in_season}
    assert rows and {r.loan_id for r in rows} <= booked and all(r.farmer_user_id is not None for r in rows)
    # conditional tranches: released through the ledger on confirmed emergence, or frozen, or still waiting
    from agrisense.lending.actors import Actor
    from agrisense.loans.service import list_loans

    views = [v for v in list_loans(db, Actor(0, "admin", "test")) if v["finance_season"] == 2026]
    released = [p for v in views for p in v["postings"] if p["client_key"].startswith(f"emergence:{run.run_id}:")]
    frozen = [t for v in views for t in v["tranches"] if t["status"] == "frozen"]
    assert f"{len(views)} booked loans monitored: {len(released)} tranches released, {len(frozen)} frozen" in str(
        run.database
    )
    for v in views:
        for t in v["tranches"]:
            if t["condition"] == "emergence_confirmed" and t["status"] == "disbursed":
                assert any(
                    p["tranche"] == t["index"] and p["client_key"].startswith("emergence:") for p in v["postings"]
                )
