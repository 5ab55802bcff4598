"""A plot's crop from the real-label crop-type model: series, table, mapping onto the region's crops, pooling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrisense.errors import InvalidInput
from agrisense.ml.crop_model import load_crop_classifier
from agrisense.ml.plot_crop import (
    ASSETS,
    crop_given_cropland,
    cross_fitted_pool,
    monthly_weather,
    plot_band_series,
    pool,
    region_probabilities,
    series_table,
)

ROOT = Path(__file__).resolve().parents[2]
LABELS = {"maize": "maize", "sorghum": "sorghum", "groundnut": "other_oilseeds", "beans": "dry_pulses_legumes"}


def test_plot_series_is_the_coverage_weighted_mean_of_clear_pixels() -> None:
    stack = np.ones((10, 2, 2, 2))
    stack[:, 0, 0, 0] = 3.0  # month 0: pixel (0, 0) brighter
    stack[2, 1, :, 1] = np.nan  # month 1: half the pixels cloudy in one band -> not clear
    weights = np.array([[1.0, 0.5], [1.0, 0.5]])
    series = plot_band_series(stack, weights)
    assert series.shape == (10, 2)
    assert series[:, 0] == pytest.approx((3 * 1.0 + 1 * 2.0) / 3.0)
    assert series[:, 1] == pytest.approx(1.0)  # 2/3 of the coverage clear: kept, mean of the clear pixels
    stack[:, 1, 0, 0] = np.nan
    assert np.isnan(plot_band_series(stack, weights)[:, 1]).all()  # 1/3 clear < 0.5: missing


def test_plot_series_rejects_bad_weights() -> None:
    with pytest.raises(InvalidInput, match="weights"):
        plot_band_series(np.ones((10, 3, 2, 2)), np.zeros((2, 2)))
    with pytest.raises(InvalidInput, match="must be"):
        plot_band_series(np.ones((10, 3, 2, 2)), np.ones((3, 3)))


def test_series_table_places_calendar_months_after_december() -> None:
    months = list(range(3, 12))  # the county's March ... November
    series = np.full((2, 10, len(months)), 0.1)
    series[1, 0, 0] = 0.05
    table = series_table(["a", "b"], series, months, lonlat=np.array([[33.0, 2.3], [33.1, 2.2]]))
    assert table["B02_m03"].tolist() == pytest.approx([1000.0, 500.0])
    assert table[["B02_m00", "B12_m01", "B08_m02"]].isna().all().all()
    assert table["B12_m11"].tolist() == pytest.approx([1000.0, 1000.0])
    assert table["lon"].tolist() == [33.0, 33.1]
    with pytest.raises(InvalidInput, match="distinct calendar months"):
        series_table(["a", "b"], np.ones((2, 10, 2)), [3, 3])
    with pytest.raises(InvalidInput, match="bands=10"):
        series_table(["a"], np.ones((1, 9, 2)), [3, 4])


def test_monthly_weather_sums_precipitation_and_averages_temperature() -> None:
    dates = pd.date_range("2025-11-25", "2026-12-05", freq="D")
    daily = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "tmin_c": 20.0, "tmax_c": 30.0, "precip_mm": 1.0})
    weather = monthly_weather(daily, 2026)
    assert weather.precip_mm[0] == pytest.approx(31.0)  # December 2025
    assert weather.precip_mm[2] == pytest.approx(28.0)  # February 2026
    assert weather.tmean_c == pytest.approx(np.full(12, 25.0))
    with pytest.raises(InvalidInput, match="precip_mm"):
        monthly_weather(daily.drop(columns="precip_mm"), 2026)


def test_region_probabilities_send_other_labels_to_non_crop() -> None:
    model_classes = ("dry_pulses_legumes", "grasslands", "maize", "other_oilseeds", "sorghum", "trees_mixed")
    probs = np.array([[0.1, 0.2, 0.3, 0.05, 0.25, 0.1], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]])
    classes, out = region_probabilities(probs, model_classes, LABELS)
    assert classes == ("non_crop", "maize", "sorghum", "groundnut", "beans")
    assert out[0] == pytest.approx([0.3, 0.3, 0.25, 0.05, 0.1])
    assert out.sum(axis=1) == pytest.approx([1.0, 1.0])
    crops, conditional = crop_given_cropland(out, classes)
    assert crops == ("maize", "sorghum", "groundnut", "beans")
    assert conditional[0] == pytest.approx(np.array([0.3, 0.25, 0.05, 0.1]) / 0.7)
    with pytest.raises(InvalidInput, match=r"no class rice.*crops.csv"):
        region_probabilities(probs, model_classes, {**LABELS, "rice": "rice"})


def test_pool_ends_are_the_two_inputs_and_bad_weights_fail() -> None:
    a, b = np.array([[0.7, 0.3]]), np.array([[0.2, 0.8]])
    assert pool(a, b, 0.0) == pytest.approx(a)
    assert pool(a, b, 1.0) == pytest.approx(b)
    mid = pool(a, b, 0.5)
    assert mid[0, 1] == pytest.approx(np.sqrt(0.3 * 0.8) / (np.sqrt(0.7 * 0.2) + np.sqrt(0.3 * 0.8)))
    with pytest.raises(InvalidInput, match=r"\[0, 1\]"):
        pool(a, b, 1.5)


def _dirichlet_towards(y: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    alpha = np.ones((len(y), 4))
    alpha[np.arange(len(y)), y] += strength
    return np.array([rng.dirichlet(a) for a in alpha])


def test_cross_fitted_pool_weights_the_informative_model() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    good = _dirichlet_towards(y, 6.0, rng)
    noise = rng.dirichlet(np.ones(4), size=300)
    pooled, weights = cross_fitted_pool(noise, good, y, folds=5, seed=0)
    assert min(weights) >= 0.7
    assert (pooled.argmax(axis=1) == y).mean() >= (noise.argmax(axis=1) == y).mean() + 0.3
    _, weights_other_way = cross_fitted_pool(good, noise, y, folds=5, seed=0)
    assert max(weights_other_way) <= 0.3
    with pytest.raises(InvalidInput, match="folds"):
        cross_fitted_pool(good[:3], noise[:3], y[:3], folds=5)


def test_the_shipped_crop_model_reads_a_plot_table() -> None:
    """The real TempCNN + forest on tables built from the county generator's class means (March-November)."""
    means = pd.read_csv(ROOT / "data" / "sample_inputs" / "spectra_monthly_mean.csv")
    months = list(range(3, 12))
    crops = ["maize", "sorghum"]
    series = np.stack(
        [
            means[means["cls"] == crop].pivot(index="band", columns="month", values="mean").loc[list(ASSETS), months]
            for crop in crops
        ]
    ).astype(float)
    model = load_crop_classifier(ROOT / "models" / "croptype_tcnn")
    probs = model.predict_proba(series_table(crops, series, months), device="cpu")
    classes, region = region_probabilities(probs, model.classes, LABELS)
    assert region.sum(axis=1) == pytest.approx([1.0, 1.0], abs=1e-6)
    _, conditional = crop_given_cropland(region, classes)
    assert conditional.argmax(axis=1).tolist() == [0, 1]  # maize mean -> maize, sorghum mean -> sorghum
