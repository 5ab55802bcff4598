"""The plot crop model judged on, and answering for, real-style sample tables: spatially grouped cross-validation
of the training recipe, and ``classify-samples`` / ``evaluate --samples`` with the model that scores plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from agrisense.app.cli.models import classify_samples_command, evaluate_command
from agrisense.ml.crop_model import load_crop_classifier
from agrisense.ml.croptype.table import BANDS
from agrisense.ml.plot_crop import ASSETS, series_table
from agrisense.ml.training.plot_crop import LabelledSeries, fit_plot_crop, sample_rows
from agrisense.ml.training.plot_crop_cv import real_sample_cv, sample_scores

CROPS = ("maize", "groundnut")
LABELS = {"maize": "maize", "groundnut": "other_oilseeds"}
MONTHS = (5, 6, 7, 8)


def _series(y: np.ndarray, rng: np.random.Generator, shift: float) -> np.ndarray:
    """Series whose July NIR separates the crops (maize brighter by ``shift``)."""
    series = rng.normal(0.1, 0.01, (len(y), len(ASSETS), len(MONTHS)))
    series[:, ASSETS.index("nir"), 2] = np.where(y == 0, 0.30 + shift, 0.30) + rng.normal(0, 0.03, len(y))
    return series


def _region(seed: int) -> LabelledSeries:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 120)
    unet = np.column_stack([np.full(120, 0.1), np.full(120, 0.45), np.full(120, 0.45)])
    return LabelledSeries(
        f"r{seed}", tuple(f"r{seed}-{i}" for i in range(120)), _series(y, rng, 0.15), MONTHS,
        tuple(CROPS[k] for k in y), unet, False,
    )  # fmt: skip


def _sample_table(n_sites: int, seed: int) -> pd.DataFrame:
    """Two samples per site, 30 m apart (one spatial group), on a 2 km grid; labels in the table's vocabulary."""
    rng = np.random.default_rng(seed)
    y = np.repeat(rng.integers(0, 2, n_sites), 2)
    lon = np.repeat(32.0 + 0.02 * np.arange(n_sites), 2) + np.tile([0.0, 0.0003], n_sites)
    table = series_table([f"s{i}" for i in range(len(y))], _series(y, rng, 0.15), MONTHS,
                         lonlat=np.column_stack([lon, np.full(len(y), 2.5)]))  # fmt: skip
    table["label"] = [LABELS[CROPS[k]] for k in y]
    table["region"] = "ea"
    return table


def test_real_sample_cv_holds_out_whole_sites_and_scores_each_variant() -> None:
    regions = [_region(1), _region(2)]
    samples = sample_rows(_sample_table(40, 3), LABELS)
    assert samples.lonlat is not None and samples.lonlat.shape == (80, 2)
    cv = real_sample_cv(regions, samples, CROPS, months=MONTHS, c=2.0, seed=0, n_folds=4)
    assert cv["groups"] == 40 and cv["group_distance_m"] == 300.0
    assert set(cv["scores"]) == {"as_trained", "samples_only", "regions_only"}
    for scores in cv["scores"].values():
        assert scores["n"] == 80
        assert scores["overall_accuracy"] > 0.85  # the signal is shared by regions and samples
        assert set(scores["per_class"]) == set(CROPS) and scores["macro_f1"] is not None
        assert [p["coverage"] for p in scores["accuracy_coverage"]][:3] == [1.0, 0.9, 0.8]
        assert 0.0 <= scores["ece"] <= 1.0


def test_sample_scores_count_macro_f1_over_classes_with_five_samples() -> None:
    y = np.array([0] * 10 + [1] * 4)
    probs = np.column_stack([np.full(14, 0.8), np.full(14, 0.2)])  # always class 0
    scores = sample_scores(probs, y, CROPS)
    assert scores["overall_accuracy"] == pytest.approx(10 / 14, abs=1e-4) == scores["majority_accuracy"]
    assert scores["macro_f1"] == scores["per_class"]["maize"]["f1"]  # groundnut has 4 samples: not counted
    assert scores["threshold_for_93"] is None


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("classify-samples")(classify_samples_command)
    app.command("evaluate")(evaluate_command)
    return app


def test_classify_samples_and_evaluate_answer_with_the_plot_crop_model(tmp_path: Path) -> None:
    samples = sample_rows(_sample_table(30, 4), LABELS)
    model, _ = fit_plot_crop([_region(1), _region(2)], samples, CROPS, name="plotcrop_t", sample_labels=LABELS)
    model.save(tmp_path / "plotcrop_t")
    classifier = load_crop_classifier(tmp_path / "plotcrop_t")
    assert classifier.classes == ("maize", "other_oilseeds")

    table = _sample_table(10, 5)
    table.loc[0, [c for c in table.columns if c[:3] in BANDS or c.startswith("B8A")]] = np.nan
    path = tmp_path / "s.parquet"
    table.to_parquet(path)
    out = tmp_path / "pred.csv"
    args = ["classify-samples", "--model", str(tmp_path / "plotcrop_t"), "--samples", str(path), "--out", str(out)]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    pred = pd.read_csv(out)
    assert pred["sample_id"].tolist() == table["sample_id"].tolist()
    assert set(pred["label"]) <= {"maize", "other_oilseeds"} and pred["probability"].between(0.5, 1).all()
    assert (pred["label"] == table["label"]).iloc[1:].mean() > 0.85

    evaluated = tmp_path / "eval"
    args = ["evaluate", "--model", str(tmp_path / "plotcrop_t"), "--samples", str(path), "--out", str(evaluated)]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((evaluated / "metrics.json").read_text())
    assert metrics["n_samples"] == 20 and metrics["overall_accuracy"] > 0.8 and metrics["accuracy_coverage"]

    broken = table.drop(columns=["B11_m05"])
    broken.to_parquet(path)
    result = CliRunner().invoke(
        _cli(), ["classify-samples", "--model", str(tmp_path / "plotcrop_t"), "--samples", str(path), "--out", "x.csv"]
    )
    assert result.exit_code == 2 and "B11_m05" in result.output  # InvalidInput naming the column
