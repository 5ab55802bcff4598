from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrisense.agronomy.calibration import (
    calibrate,
    cross_validate,
    fit_yield_model,
    rmse_pct,
    usda_yield_table,
    validate_yield_table,
    with_season_indices,
    year_folds,
)
from agrisense.errors import InvalidInput

USDA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "yields" / "usda_nass_state_yields.csv"


def synthetic_table(n_years: int = 30, weather_effect: float = 1.5, noise: float = 0.2, seed: int = 0) -> pd.DataFrame:
    """Yield = 5 + 0.08 (year - 1990) - weather_effect x loss + noise; loss is known per year."""
    rng = np.random.default_rng(seed)
    years = np.arange(1980, 1980 + n_years)
    loss = rng.uniform(0.0, 0.5, n_years)
    yields = 5 + 0.08 * (years - 1990) - weather_effect * loss + rng.normal(0, noise, n_years)
    return pd.DataFrame({"region": "A", "year": years, "crop": "maize", "yield_t_ha": yields, "weather_loss": loss})


def test_fit_recovers_trend_and_weather_effect():
    fit = fit_yield_model(synthetic_table(noise=0.05), ("weather_loss",), ridge=0.0)
    assert fit.trend[1] == pytest.approx(0.08, abs=0.01)
    assert fit.coefficients["weather_loss"] == pytest.approx(-1.5, abs=0.15)
    assert fit.loss_scaling == pytest.approx(1.5 / fit.mean_yield, rel=0.1)
    table = synthetic_table()
    assert np.allclose(fit.predict(table), fit.predict(table.iloc[::-1])[::-1])


def test_weather_predictor_beats_trend_when_weather_matters():
    table = synthetic_table(weather_effect=2.0)
    result, fits = calibrate(table, {"trend": (), "trend+loss": ("weather_loss",)})
    rmse = result.set_index("model")["rmse_pct"]
    assert rmse["trend+loss"] < 0.7 * rmse["trend"]
    assert {f.predictors for f in fits} == {(), ("weather_loss",)}
    blocked, _ = calibrate(table, {"trend": ()}, scheme="blocked", n_blocks=5)
    assert blocked["scheme"].iloc[0] == "blocked" and blocked["rmse_pct"].iloc[0] > 0


def test_cross_validation_holds_out_each_year_and_does_not_leak():
    table = synthetic_table(n_years=12)
    cv = cross_validate(table, ("weather_loss",))
    assert cv["year"].tolist() == table["year"].tolist()
    # An outlier year changes its own out-of-sample prediction not at all (it is never in its training set).
    spiked = table.copy()
    spiked.loc[5, "yield_t_ha"] += 50.0
    cv2 = cross_validate(spiked, ("weather_loss",))
    assert cv2.loc[5, "predicted"] == pytest.approx(cv.loc[5, "predicted"])
    assert cv2.loc[5, "observed"] == cv.loc[5, "observed"] + 50.0
    assert rmse_pct(pd.DataFrame({"observed": [10.0, 10.0], "predicted": [11.0, 9.0]})) == pytest.approx(10.0)


def test_year_folds():
    assert [f.tolist() for f in year_folds([2001, 2000, 2002, 2001])] == [[2000], [2001], [2002]]
    blocks = year_folds(list(range(2000, 2010)), "blocked", 3)
    assert [len(b) for b in blocks] == [4, 3, 3] and blocks[0][0] == 2000
    with pytest.raises(InvalidInput, match="scheme"):
        year_folds([2000, 2001], "random")  # type: ignore[arg-type]


def test_with_season_indices_joins_only_that_region_and_crop():
    table = pd.concat([synthetic_table().drop(columns="weather_loss"), synthetic_table().assign(region="B")])
    indices = pd.DataFrame({"year": [1980, 1981], "spi_long": [-1.0, 0.5]})
    joined = with_season_indices(table.drop(columns="weather_loss"), indices, region="A", crop="maize")
    a = joined[joined["region"] == "A"].set_index("year")["spi_long"]
    assert a[1980] == -1.0 and a[1981] == 0.5 and np.isnan(a[1990])
    assert joined[joined["region"] == "B"]["spi_long"].isna().all()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.drop(columns="yield_t_ha"), "missing column"),
        (lambda t: t.assign(yield_t_ha=t.yield_t_ha.where(t.index != 3, -1.0)), "positive"),
        (lambda t: pd.concat([t, t.iloc[[0]]]), "appears twice"),
        (lambda t: t.assign(year="x"), "non-numeric"),
    ],
)
def test_bad_tables(mutate, message):
    with pytest.raises(InvalidInput, match=message):
        validate_yield_table(mutate(synthetic_table()))


def test_too_few_years():
    with pytest.raises(InvalidInput, match="too few"):
        fit_yield_model(synthetic_table(n_years=4), ("weather_loss",))
    with pytest.raises(InvalidInput, match="no region-crop"):
        calibrate(synthetic_table(n_years=4), {"trend": ()})


def test_real_usda_series():
    if not USDA.is_file():
        pytest.skip("shared real yield data not present")
    table = usda_yield_table(USDA, states=["Iowa"], crops=["corn"], first_year=1982, last_year=2011)
    assert len(table) == 30 and 5.0 < table["yield_t_ha"].mean() < 11.0  # ~140 bu/acre x 0.0628
    result, _ = calibrate(table, {"trend": ()})
    assert 5.0 < result["rmse_pct"].iloc[0] < 25.0
