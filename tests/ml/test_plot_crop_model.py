"""The plot crop model: features, fitting by measurement, pooling with the U-Net, its JSON bundle, and the scorer
using it (the small region names it in region.json, as every East-African county does)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrisense.errors import InvalidInput, ModelUnavailable
from agrisense.ml.croptype.table import BANDS
from agrisense.ml.plot_crop import ASSETS
from agrisense.ml.plot_crop_model import (
    PLOT_CROP_FILE,
    feature_matrix,
    load_plot_crop_model,
    model_from_json,
    month_features,
)
from agrisense.ml.training.plot_crop import LabelledSeries, fit_plot_crop, sample_rows

CROPS = ("maize", "sorghum")
MONTHS = (5, 6, 7, 8)


def _region(source: str, n: int, seed: int, *, unet_noise: float, trained_here: bool) -> LabelledSeries:
    """Plots whose NIR in July separates the crops (maize bright), and a U-Net that guesses with noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    series = rng.normal(0.1, 0.01, (n, len(ASSETS), len(MONTHS)))
    series[:, ASSETS.index("nir"), 2] = np.where(y == 0, 0.45, 0.30) + rng.normal(0, 0.03, n)
    right = rng.random(n) > unet_noise
    p_true = np.where(right, 0.7, 0.3)
    unet = np.column_stack(
        [np.full(n, 0.1), 0.9 * np.where(y == 0, p_true, 1 - p_true), 0.9 * np.where(y == 1, p_true, 1 - p_true)]
    )
    return LabelledSeries(
        source, tuple(f"{source}-{i}" for i in range(n)), series, MONTHS, tuple(CROPS[k] for k in y), unet, trained_here
    )


def test_month_features_add_ndvi_and_ndmi_and_keep_missing_months_missing() -> None:
    series = np.full((1, len(ASSETS), 2), 0.1)
    series[0, ASSETS.index("nir")] = 0.3
    series[0, :, 1] = np.nan
    features = month_features(series)
    assert features.shape == (1, 2, 12)
    assert features[0, 0, 10] == pytest.approx((0.3 - 0.1) / 0.4)  # NDVI
    assert np.isnan(features[0, 1]).all()
    wide = feature_matrix(series, (6, 7), (5, 6, 7))
    assert np.isnan(wide[0, :12]).all() and wide[0, 12 + 10] == pytest.approx(0.5)
    with pytest.raises(InvalidInput, match="10 bands"):
        month_features(np.zeros((1, 3, 2)))


def test_fit_chooses_by_held_out_regions_and_beats_a_noisy_unet(tmp_path: Path) -> None:
    regions = [
        _region("a", 150, 1, unet_noise=0.2, trained_here=True),
        _region("b", 150, 2, unet_noise=0.4, trained_here=False),
        _region("c", 150, 3, unet_noise=0.4, trained_here=False),
    ]
    model, report = fit_plot_crop(regions, None, CROPS, name="plotcrop_test", seed=0)
    assert report["pool_weight_fitted_on"] == "out-of-region predictions on b, c"
    for source in ("b", "c"):
        numbers = report["regions"][source]
        assert numbers["model_accuracy"] > 0.95 > numbers["unet_accuracy"]
        assert numbers["pooled_accuracy"] >= numbers["unet_accuracy"]
    assert model.pool_weight > 0.5  # the model is the better judge here, and the fitted weight says so
    p = model.predict_proba(regions[1].series, MONTHS)
    assert p.shape == (150, 2) and np.allclose(p.sum(axis=1), 1.0)
    truth = np.array([CROPS.index(c) for c in regions[1].crops])
    assert np.mean(p.argmax(axis=1) == truth) > 0.95  # the stored arrays (two crops: one sklearn row) predict
    model.save(tmp_path / "plotcrop_test")
    loaded = load_plot_crop_model(tmp_path, "plotcrop_test")
    assert loaded.label == model.label and np.allclose(loaded.predict_proba(regions[1].series, MONTHS), p)


def test_refine_keeps_the_unet_cropland_share_and_pools_its_crops() -> None:
    model, _ = fit_plot_crop(
        [
            _region("a", 80, 1, unet_noise=0.3, trained_here=False),
            _region("b", 80, 2, unet_noise=0.3, trained_here=False),
        ],
        None,
        CROPS,
        name="m",
    )
    series = _region("c", 5, 9, unet_noise=0.0, trained_here=False).series
    unet = np.tile([[0.3, 0.35, 0.35]], (5, 1))  # a U-Net that cannot tell maize from sorghum
    classes = ("non_crop", *CROPS)
    refined = model.refine(unet, classes, series, MONTHS)
    assert np.allclose(refined[:, 0], 0.3) and np.allclose(refined.sum(axis=1), 1.0)
    expected = model.predict_proba(series, MONTHS).argmax(axis=1)
    assert (refined[:, 1:].argmax(axis=1) == expected).all()
    with pytest.raises(InvalidInput, match="train it on this region's crops"):
        model.refine(unet, ("non_crop", "maize", "beans"), series, MONTHS)


def test_a_broken_or_missing_bundle_says_how_to_retrain(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="agrisense train plot-crop"):
        load_plot_crop_model(tmp_path, "absent")
    model, _ = fit_plot_crop([_region("a", 60, 1, unet_noise=0.3, trained_here=False)], None, CROPS, name="m")
    data = model.to_json()
    data["coef"] = data["coef"][:1]
    with pytest.raises(InvalidInput, match="do not match"):
        model_from_json(data)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / PLOT_CROP_FILE).write_text(json.dumps(data))
    with pytest.raises(ModelUnavailable, match="retrain"):
        load_plot_crop_model(tmp_path, "broken")


def test_sample_rows_keep_the_region_crops_of_the_chosen_table_regions() -> None:
    rows = []
    for i, (label, region) in enumerate([("maize", "ea"), ("sorghum", "ea"), ("trees", "ea"), ("maize", "be")]):
        rows.append(
            {
                "sample_id": f"s{i}",
                "label": label,
                "region": region,
                **{f"{b}_m{t:02d}": 1000.0 + t for b in BANDS for t in range(12)},
            }
        )
    table = pd.DataFrame(rows)
    picked = sample_rows(table, {"maize": "maize", "sorghum": "sorghum"}, regions=("ea",))
    assert picked.crops == ("maize", "sorghum") and picked.series.shape == (2, 10, 12)
    assert picked.months[0] == 12 and picked.series[0, 0, 1] == pytest.approx(0.1001)
    with pytest.raises(InvalidInput, match="no row labelled"):
        sample_rows(table, {"beans": "dry_pulses_legumes"})


def test_the_scorer_pools_the_regions_plot_crop_model(small_settings) -> None:  # type: ignore[no-untyped-def]
    """A plot of the small region scored as every front end scores it: its evidence names both models and its
    crop probabilities are the pooled ones (the U-Net's alone differ)."""
    import dataclasses

    from agrisense import services
    from agrisense.region import load_region
    from agrisense.scoring.tasks import plan_tiles
    from agrisense.scoring.tile import score_tile

    region = load_region(small_settings.region_dir)
    assert region.crop_model == "plotcrop_ea"
    inputs = services.scoring_inputs(small_settings, region)
    plots, _ = services.read_region_plots(region.plots, small_settings)
    job = plan_tiles(plots, resolution=region.resolution)[0]
    pooled = {e.plot_id: e for e in score_tile(job, inputs).evidence if e.imagery_ok}
    alone = {e.plot_id: e for e in score_tile(job, dataclasses.replace(inputs, crop_model=None)).evidence}
    crop_model = load_plot_crop_model(inputs.models_dir, "plotcrop_ea")
    assert pooled
    for pid, ev in pooled.items():
        assert ev.model_version == f"{alone[pid].model_version}+{crop_model.label}"
        assert ev.class_probabilities["non_crop"] == pytest.approx(alone[pid].class_probabilities["non_crop"])
        assert sum(ev.class_probabilities.values()) == pytest.approx(1.0)
    assert any(ev.class_probabilities != alone[pid].class_probabilities for pid, ev in pooled.items())
    maps = score_tile(job, inputs, maps=True, scheduler="sync")
    maps_alone = score_tile(job, dataclasses.replace(inputs, crop_model=None), maps=True, scheduler="sync")
    assert maps.crop_class is not None and maps_alone.crop_class is not None
    shown = maps.crop_class != 255
    assert np.array_equal(shown, maps_alone.crop_class != 255)  # the same pixels have imagery
    assert np.allclose(maps.cropland[shown], maps_alone.cropland[shown], atol=1e-5)  # cropland is the U-Net's
    assert (maps.crop_class[shown] != maps_alone.crop_class[shown]).any()  # the crops are pooled per pixel


def test_refine_pixels_is_refine_on_each_pixel_as_a_one_pixel_plot() -> None:
    model, _ = fit_plot_crop([_region("a", 80, 1, unet_noise=0.3, trained_here=False)], None, CROPS, name="m")
    rng = np.random.default_rng(5)
    unet = rng.dirichlet(np.ones(3), size=(2, 3)).transpose(2, 0, 1)  # (K=3, H=2, W=3)
    unet[:, 1, 2] = np.nan  # outside the imagery: stays NaN
    stack = rng.normal(0.2, 0.05, (len(ASSETS), len(MONTHS), 2, 3))
    stack[0, 1, 0, 0] = np.nan  # one band missing in one month: the month is missing for that pixel
    classes = ("non_crop", *CROPS)
    out = model.refine_pixels(unet, classes, stack, MONTHS, chunk=2)
    assert np.isnan(out[:, 1, 2]).all()
    for y, x in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        series = stack[:, :, y, x].copy()[None]
        series[:, :, ~np.isfinite(series[0]).all(axis=0)] = np.nan
        expected = model.refine(unet[:, y, x][None], classes, series, MONTHS)[0]
        np.testing.assert_allclose(out[:, y, x], expected)
