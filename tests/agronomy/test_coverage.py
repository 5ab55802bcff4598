"""Leave-years-out p10-p90 coverage of the yield intervals, the default trend window, and monthly predictors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from agrisense.agronomy.calibration import calibrate, table_predictors, usda_yield_table
from agrisense.agronomy.coverage import crop_coverage, held_out_intervals, recent_window
from agrisense.app.cli.agronomy import calibrate_yield_command
from agrisense.app.cli.calibrate import calibrate_plots_command
from agrisense.errors import InvalidInput

USDA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "yields" / "usda_nass_state_yields.csv"


def lognormal_series(n_regions: int = 20, n_years: int = 30, cv: float = 0.15, seed: int = 0) -> pd.DataFrame:
    """Yields = linear trend x lognormal(mean 1, cv) noise, for several regions."""
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(np.log1p(cv**2))
    years = np.arange(1982, 1982 + n_years)
    rows = []
    for r in range(n_regions):
        trend = 4.0 + 0.1 * (years - 1982)
        noise = np.exp(sigma * rng.standard_normal(n_years) - sigma**2 / 2)
        rows.append(pd.DataFrame({"region": f"R{r}", "year": years, "crop": "corn", "yield_t_ha": trend * noise}))
    return pd.concat(rows, ignore_index=True)


def test_calibrated_intervals_cover_80_percent_and_a_fixed_wide_cv_does_not() -> None:
    table = lognormal_series()
    calibrated = crop_coverage(table, "corn")
    assert calibrated.region_years == 600 and calibrated.coverage == pytest.approx(0.80, abs=0.05)
    assert calibrated.mean_cv == pytest.approx(0.15, abs=0.03)
    assert crop_coverage(table, "corn", cv=0.40).coverage > 0.95  # too wide
    assert crop_coverage(table, "corn", cv=0.05).coverage < 0.5  # too narrow


def test_held_out_year_never_informs_its_own_interval() -> None:
    group = lognormal_series(n_regions=1)
    spiked = group.copy()
    spiked.loc[spiked["year"] == 2000, "yield_t_ha"] *= 5
    a, b = held_out_intervals(group), held_out_intervals(spiked)
    row = a["year"] == 2000
    assert a.loc[row, "predicted"].item() == pytest.approx(b.loc[row, "predicted"].item())
    assert not b.loc[row, "covered"].item()


def test_bad_coverage_inputs() -> None:
    group = lognormal_series(n_regions=1)
    with pytest.raises(InvalidInput, match="cv must be"):
        held_out_intervals(group, cv=-0.1)
    with pytest.raises(InvalidInput, match="quantiles"):
        held_out_intervals(group, lower=0.9, upper=0.1)
    with pytest.raises(InvalidInput, match="too few"):
        held_out_intervals(group.head(5))
    with pytest.raises(InvalidInput, match="one region"):
        held_out_intervals(lognormal_series(n_regions=2))
    with pytest.raises(InvalidInput, match="no region has"):
        crop_coverage(group, "corn", min_years=40)
    with pytest.raises(InvalidInput, match="too short"):
        recent_window(group, 3)


def test_recent_window_keeps_each_series_last_years() -> None:
    long = lognormal_series(n_regions=2, n_years=100)
    window = recent_window(long, 30)
    assert window.groupby("region")["year"].agg(["min", "max", "size"]).values.tolist() == [[2052, 2081, 30]] * 2


@pytest.mark.skipif(not USDA.is_file(), reason="shared real yield data not present")
def test_real_usda_slice_nebraska_corn_and_kansas_sorghum() -> None:
    table = recent_window(
        usda_yield_table(USDA, states=["Nebraska", "Kansas", "Iowa", "Texas"], crops=["corn", "sorghum"])
    )
    assert int(table["year"].max()) == 2011 and table.groupby(["region", "crop"]).size().max() == 30
    for crop in ("corn", "sorghum"):
        calibrated = crop_coverage(table, crop)
        assert 0.70 <= calibrated.coverage <= 0.90, calibrated
        assert crop_coverage(table, crop, cv=0.30).coverage >= 0.95  # the product's CV is far too wide here


def monthly_tables(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Yields that fall with July rain deficit, and the region-year table of monthly rain they depend on."""
    rng = np.random.default_rng(seed)
    years = np.arange(1985, 2015)
    weather = pd.DataFrame({"region": "A", "year": years})
    for m in range(5, 10):
        weather[f"precip_mm_m{m:02d}"] = rng.gamma(4.0, 25.0, years.size)
    yields = 6 + 0.05 * (years - 1985) + 0.02 * weather["precip_mm_m07"] + rng.normal(0, 0.2, years.size)
    return pd.DataFrame({"region": "A", "year": years, "crop": "maize", "yield_t_ha": yields}), weather


def test_monthly_predictors_of_a_region_year_table_improve_the_fit() -> None:
    yields, weather = monthly_tables()
    table, names = table_predictors(yields, ["precip_mm_m*"], weather)
    assert names == tuple(f"precip_mm_m{m:02d}" for m in range(5, 10))
    result, _ = calibrate(table, {"trend": (), "trend+table": names})
    rmse = result.set_index("model")["rmse_pct"]
    assert rmse["trend+table"] < 0.5 * rmse["trend"]
    with pytest.raises(InvalidInput, match="no predictor column matches"):
        table_predictors(yields, ["tmax_*"], weather)
    with pytest.raises(InvalidInput, match="appears twice"):
        table_predictors(yields, ["precip_mm_m07"], pd.concat([weather, weather.head(1)]))
    with pytest.raises(InvalidInput, match="keyed by region, year"):
        table_predictors(yields, ["precip_mm_m07"], weather.drop(columns="region"))


def test_calibrate_yield_command_takes_a_predictor_table_and_defaults_to_a_window(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("calibrate-yield")(calibrate_yield_command)
    app.command("calibrate-plots")(calibrate_plots_command)  # two commands: typer keeps the sub-command names
    yields, weather = monthly_tables()
    early = yields.assign(year=yields["year"] - 60, yield_t_ha=1.0 + 0.0 * yields["yield_t_ha"])
    pd.concat([early, yields]).to_csv(tmp_path / "yields.csv", index=False)
    weather.to_csv(tmp_path / "monthly.csv", index=False)
    args = ["calibrate-yield", "--yields", str(tmp_path / "yields.csv"), "--out", str(tmp_path / "cal")]
    result = CliRunner().invoke(
        app, [*args, "--predictor-table", str(tmp_path / "monthly.csv"), "--predictor", "precip_mm_m*"]
    )
    assert result.exit_code == 0, result.output
    assert "last 30 years (1985-2014 for the 1 of 1 series" in result.output
    cv = pd.read_csv(tmp_path / "cal" / "cv.csv").set_index("model")
    assert cv.loc["trend", "first_year"] == 1985 and cv.loc["trend+table", "rmse_pct"] < cv.loc["trend", "rmse_pct"]
    missing = CliRunner().invoke(app, [*args, "--predictor-table", str(tmp_path / "absent.csv")])
    assert missing.exit_code == 3 and "absent.csv" in missing.output and "exist" in missing.output
