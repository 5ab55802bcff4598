"""The whole path on a small region: plots → STAC → odc-stac → mask → composites → U-Net → offer."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agrisense.app.cli.main import app

pytestmark = pytest.mark.slow  # the whole CLI path, imagery to offer (make test)

OFFER_KEYS = {
    "plot_id",
    "crop",
    "crop_probability",
    "area_ha",
    "area_mu",
    "credit_limit",
    "currency",
    "decision",
    "reasons",
    "schedule",
    "disbursements",
}


@pytest.fixture(scope="module")
def some_plots(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    collection = json.loads((small_region / "plots.geojson").read_text())
    collection["features"] = collection["features"][:6]
    path = tmp_path_factory.mktemp("plots") / "some.geojson"
    path.write_text(json.dumps(collection))
    return path


def test_score_json_gives_one_offer_per_feature(small_region: Path, some_plots: Path) -> None:
    result = CliRunner().invoke(app, ["score", str(some_plots), "--json", "--region", str(small_region)])
    assert result.exit_code == 0, result.output
    offers = json.loads(result.stdout)
    features = json.loads(some_plots.read_text())["features"]
    assert [o["plot_id"] for o in offers] == [f["properties"]["plot_id"] for f in features]
    for offer in offers:
        assert offer.keys() >= OFFER_KEYS
        assert offer["decision"] in {"approve", "refer", "decline"}
        assert offer["currency"] == "CNY"
        assert offer["area_mu"] == pytest.approx(offer["area_ha"] * 15, rel=1e-3)
        assert offer["credit_limit"] >= 0
        assert 0.0 <= offer["crop_probability"] <= 1.0
        # principal repaid equals what was disbursed, to the cent
        paid = sum(Decimal(str(i["principal"])) for i in offer["schedule"])
        lent = sum(Decimal(str(d["amount"])) for d in offer["disbursements"])
        assert paid == lent
        if offer["decision"] != "approve":
            assert offer["reasons"], "a referral or decline must say why"
        # the evidence came from real imagery: clear months and NDVI were measured
        assert offer["imagery"]["scenes"] > 0


def test_bad_features_are_referred_not_lost(small_region: Path, some_plots: Path, tmp_path: Path) -> None:
    collection = json.loads(some_plots.read_text())
    collection["features"] = collection["features"][:2]
    bowtie = [[33.0, 2.3], [33.001, 2.301], [33.001, 2.3], [33.0, 2.301], [33.0, 2.3]]
    collection["features"].insert(
        1,
        {
            "type": "Feature",
            "properties": {"plot_id": "bad"},
            "geometry": {"type": "Polygon", "coordinates": [bowtie]},
        },
    )
    path = tmp_path / "mixed.geojson"
    path.write_text(json.dumps(collection))
    result = CliRunner().invoke(app, ["score", str(path), "--json", "--region", str(small_region)])
    assert result.exit_code == 0, result.output
    offers = json.loads(result.stdout)
    assert [o["plot_id"] for o in offers][1] == "bad"
    assert offers[1]["decision"] == "refer" and offers[1]["reasons"][0]["code"] == "INVALID_GEOMETRY"
    assert offers[0]["imagery"]["scenes"] > 0 and offers[2]["imagery"]["scenes"] > 0


def test_missing_region_is_a_clear_error(tmp_path: Path, some_plots: Path) -> None:
    result = CliRunner().invoke(app, ["score", str(some_plots), "--region", str(tmp_path / "nowhere")])
    assert result.exit_code == 3
    assert "make data" in " ".join(result.output.split())


def test_demo_on_small_region_writes_offers_report_and_map(small_region: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--region", str(small_region), "--out", str(out), "--workers", "2"])
    assert result.exit_code == 0, result.output
    offers = json.loads((out / "offers.json").read_text())
    n_plots = len(json.loads((small_region / "plots.geojson").read_text())["features"])
    assert len(offers) == n_plots
    assert {o["decision"] for o in offers} <= {"approve", "refer", "decline"}
    assert (out / "map.png").stat().st_size > 10_000
    report = (out / "report.md").read_text()
    assert "plots scored" in report and "map.png" in report
    summary = json.loads((out / "summary.json").read_text())
    assert summary["plots"] == n_plots
    assert "Summary" in result.output


def test_demo_refuses_an_outline_outside_the_imagery_as_score_does(small_region: Path, tmp_path: Path) -> None:
    """The demo reads the plots as `agrisense score` and the API do: a plot reaching past the imagery is an
    OUTSIDE_IMAGERY entry in both, and every other plot gets the same decision and reasons."""
    region = tmp_path / "region"
    shutil.copytree(small_region, region)
    collection = json.loads((region / "plots.geojson").read_text())
    west = json.loads((region / "region.json").read_text())["bbox_lonlat"][0]
    edge = json.loads(json.dumps(collection["features"][0]))
    ring = edge["geometry"]["coordinates"][0]
    shift = min(x for x, _ in ring) - west + 0.0005  # the copy sticks out ~50 m west of the imagery
    edge["geometry"]["coordinates"][0] = [[x - shift, y] for x, y in ring]
    edge["properties"]["plot_id"] = "EDGE"
    collection["features"].append(edge)
    (region / "plots.geojson").write_text(json.dumps(collection))
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--region", str(region), "--out", str(out), "--workers", "2"])
    assert result.exit_code == 0, result.output
    scored = CliRunner().invoke(app, ["score", str(region / "plots.geojson"), "--json", "--region", str(region)])
    assert scored.exit_code == 0, scored.output

    def decisions(offers: list[dict]) -> dict[str, tuple[str, list[str]]]:
        return {o["plot_id"]: (o["decision"], [r["code"] for r in o["reasons"]]) for o in offers}

    demo = decisions(json.loads((out / "offers.json").read_text()))
    assert "OUTSIDE_IMAGERY" in demo["EDGE"][1]
    assert demo == decisions(json.loads(scored.stdout))


def test_unreadable_imagery_refers_every_plot_never_declines(
    small_region: Path, some_plots: Path, tmp_path: Path
) -> None:
    """Every COG missing (a broken mirror): scenes are recorded as failed, plots are referred, nothing reads as 0."""
    broken = tmp_path / "broken_region"
    shutil.copytree(small_region, broken, ignore=shutil.ignore_patterns("*.tif"))
    result = CliRunner().invoke(app, ["score", str(some_plots), "--json", "--region", str(broken)])
    assert result.exit_code == 0, result.output
    offers = json.loads(result.stdout)
    assert offers and all(o["decision"] == "refer" for o in offers)
    for offer in offers:
        assert offer["credit_limit"] == 0
        assert offer["imagery"]["status"] != "ok"
        assert "NO_CLEAR_IMAGERY" in {r["code"] for r in offer["reasons"]}
