from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from agrisense.app.cli.agronomy import calibrate_yield_command
from agrisense.app.cli.credit import quote_command, stress_command
from agrisense.credit.engine import quote

from ..agronomy.conftest import make_synthetic_weather

app = typer.Typer()
app.command("quote")(quote_command)
app.command("stress")(stress_command)
app.command("calibrate-yield")(calibrate_yield_command)
runner = CliRunner()


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("region")
    (folder / "weather").mkdir()
    make_synthetic_weather(1990, 2021, dry_year=2005).to_csv(folder / "weather" / "daily.csv", index=False)
    return folder


def test_quote_json(region):
    result = runner.invoke(app, ["quote", "--crop", "maize", "--area-ha", "1.2", "--region", str(region),
                                 "--season", "2026", "--declared-area-ha", "1.25", "--crop-probability", "0.9",
                                 "--ndvi-anomaly", "0.4", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    offer = json.loads(result.stdout)
    assert offer["area_ha"] == 1.2 and offer["evidence"]["declared_area_ha"] == 1.25
    assert offer["weather_risk"]["n_years"] >= 30 and offer["policy_version"] == "2026.6"
    assert offer["decision"] in ("approve", "refer") and offer["pd"] > 0 and offer["apr"] <= 0.15
    assert sum(i["principal"] for i in offer["schedule"]) == pytest.approx(offer["credit_limit"])


def test_quote_errors(region, tmp_path):
    bad = runner.invoke(app, ["quote", "--crop", "maize", "--area-ha", "-1", "--region", str(region),
                              "--season", "2026"])  # fmt: skip
    assert bad.exit_code == 2 and "area_ha" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(app, ["quote", "--crop", "maize", "--area-ha", "1", "--region", str(tmp_path / "nope"),
                                  "--season", "2026"])  # fmt: skip
    assert missing.exit_code == 3 and "region folder" in missing.output


def test_stress_command(region, tmp_path, crops, policy, weather):
    offers = [
        quote(
            "maize",
            1.0 + k,
            season=2026,
            crops=crops,
            policy=policy,
            weather=weather,
            ndvi_anomaly=0.0,
            plot_id=f"P{k}",
        ).to_dict()  # fmt: skip
        for k in range(3)
    ]
    path = tmp_path / "offers.json"
    path.write_text(json.dumps(offers), encoding="utf-8")
    out = tmp_path / "stress"
    result = runner.invoke(app, ["stress", "--offers", str(path), "--region", str(region), "--price-shock", "-0.3",
                                 "--price-shock", "-0.5", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "stress.json").read_text())
    assert summary["n_loans"] == 3 and [r["price_shock"] for r in summary["by_price_shock"]] == [0.0, -0.3, -0.5]
    scenarios = pd.read_csv(out / "scenarios.csv")
    assert len(scenarios) == 3 * scenarios["year"].nunique() and (out / "stress.png").stat().st_size > 1000
    nothing = runner.invoke(app, ["stress", "--offers", str(tmp_path / "none.json"), "--region", str(region)])
    assert nothing.exit_code == 3


def test_calibrate_yield_command(tmp_path):
    from ..agronomy.test_calibration import synthetic_table

    path = tmp_path / "yields.csv"
    synthetic_table().drop(columns="weather_loss").to_csv(path, index=False)
    result = runner.invoke(app, ["calibrate-yield", "--yields", str(path), "--scheme", "blocked",
                                 "--out", str(tmp_path / "cal")])  # fmt: skip
    assert result.exit_code == 0, result.output
    cv = pd.read_csv(tmp_path / "cal" / "cv.csv")
    assert cv["model"].tolist() == ["trend"] and 0 < cv["rmse_pct"].iloc[0] < 20
    bad = runner.invoke(app, ["calibrate-yield", "--yields", str(path), "--weather", str(path)])
    assert bad.exit_code == 2 and "--weather-region" in bad.output
