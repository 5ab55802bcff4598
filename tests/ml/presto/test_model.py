"""Head, training pipeline, bundle round trip, selective metrics and the commands of the Presto crop model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import typer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from agrisense.app.cli.models import classify_samples_command, evaluate_command, train_croptype_command
from agrisense.errors import InvalidInput
from agrisense.ml.crop_model import load_crop_classifier
from agrisense.ml.presto.encoder import PrestoEncoder
from agrisense.ml.presto.fit import PrestoFitConfig, _held_out_loss, _validation_split, embed, fit_presto, logistic_head
from agrisense.ml.presto.inputs import presto_inputs, series_from_table
from agrisense.ml.presto.labels import merge_rare
from agrisense.ml.presto.model import PrestoCropModel
from agrisense.ml.presto.pipeline import train_presto
from agrisense.ml.selective import accuracy_coverage, threshold_for_accuracy
from tests.ml.croptype.helpers import synthetic_table

from .test_encoder import needs_weights


def _encoder() -> PrestoEncoder:
    torch.manual_seed(0)
    return PrestoEncoder().eval()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("croptype_presto")
    report = train_presto(synthetic_table(n_per_class=12, seed=0), out, _encoder(), seed=0, device="cpu", n_folds=3)
    return out, report


def test_accuracy_coverage_ranks_by_confidence() -> None:
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    correct = np.array([1, 1, 1, 1, 0, 1, 0, 0, 0, 0], dtype=bool)
    points = accuracy_coverage(confidence, correct, (1.0, 0.5, 0.4))
    assert [p.accuracy for p in points] == [0.5, 0.8, 1.0]
    assert points[2].threshold == 0.6 and points[1].n == 5
    best = threshold_for_accuracy(points, 0.8)
    assert best is not None and best.coverage == 0.5
    with pytest.raises(InvalidInput, match="coverage"):
        accuracy_coverage(confidence, correct, (1.5,))
    with pytest.raises(InvalidInput, match="one confidence"):
        accuracy_coverage(confidence, correct[:3])


def test_logistic_head_equals_scikit_learn_and_absent_classes_are_never_predicted() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(60, 128)) + np.repeat(np.eye(3, 128) * 3, 20, axis=0)
    y = np.repeat([0, 2, 3], 20)  # class 1 absent (as in a CV fold)
    head = logistic_head(z, y, 4, c=0.1, seed=0)
    scaler = StandardScaler().fit(z)
    reference = LogisticRegression(C=0.1, max_iter=5000).fit(scaler.transform(z), y)
    with torch.no_grad():
        probs = torch.softmax(head(torch.from_numpy(z).float()), dim=1).numpy()
    np.testing.assert_allclose(probs[:, [0, 2, 3]], reference.predict_proba(scaler.transform(z)), atol=1e-4)
    assert probs[:, 1].max() < 1e-6


def test_rare_labels_merge_into_other_groups_and_nothing_is_dropped() -> None:
    labels = pd.Series(["sorghum"] * 6 + ["cotton", "Open Water", "maize", "maize", "maize", "maize", "maize"])
    merged, mapping = merge_rare(labels, 5)
    assert mapping == {"fibre_crops": "other_crop", "open_water": "non_cropland_incl_perennial"}
    assert len(merged) == len(labels) and set(merged) == {
        "sorghum",
        "maize",
        "other_crop",
        "non_cropland_incl_perennial",
    }


def test_training_writes_a_bundle_whose_model_predicts_like_the_fitted_one(trained: tuple[Path, dict]) -> None:
    out, report = trained
    pooled = report["cv"]["scores"]["pooled"]
    assert pooled["overall_accuracy"] > 0.6  # chance 1/3, even through a random (untrained) encoder
    assert [p["coverage"] for p in pooled["accuracy_coverage"]][:3] == [1.0, 0.9, 0.8]
    assert {p.name for p in out.iterdir()} >= {"model.pt", "bundle.json", "MODEL_CARD.md", "reliability.png"}
    card = (out / "MODEL_CARD.md").read_text()
    assert "Accuracy-coverage" in card and "against the goal" in card
    model = load_crop_classifier(out)
    assert isinstance(model, PrestoCropModel) and model.classes == ("maize", "sorghum", "trees_mixed")
    table = synthetic_table(n_per_class=3, seed=4)
    probs = model.predict_proba(table, device="cpu")
    np.testing.assert_array_equal(probs, load_crop_classifier(out).predict_proba(table, device="cpu"))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)


def test_finetuning_changes_the_encoder_and_is_seeded() -> None:
    from agrisense.ml.presto.fit import PrestoFitConfig, fit_presto
    from agrisense.ml.presto.inputs import presto_inputs, series_from_table

    table = synthetic_table(n_per_class=3, seed=1)
    batch = presto_inputs(series_from_table(table)).to_batch()
    y = pd.factorize(table["label"], sort=True)[0]
    config = PrestoFitConfig(finetune_epochs=1, batch_size=9)
    base = _encoder()
    a, _ = fit_presto(base, batch, y, 3, config, 0, torch.device("cpu"))
    b, _ = fit_presto(base, batch, y, 3, config, 0, torch.device("cpu"))
    assert not torch.equal(a.blocks[0].attn.qkv.weight, base.blocks[0].attn.qkv.weight)
    assert torch.equal(a.blocks[0].attn.qkv.weight, b.blocks[0].attn.qkv.weight)
    assert torch.equal(a.pos_embed, base.pos_embed)  # the fixed embedding stays fixed


def _app() -> typer.Typer:
    app = typer.Typer()
    train_app = typer.Typer()
    train_app.command("crop-type")(train_croptype_command)
    app.add_typer(train_app, name="train")
    app.command("classify-samples")(classify_samples_command)
    app.command("evaluate")(evaluate_command)
    return app


@needs_weights
@pytest.mark.slow
def test_commands_train_classify_and_evaluate_with_the_accuracy_coverage_curve(tmp_path: Path) -> None:
    samples = tmp_path / "s.parquet"
    synthetic_table(n_per_class=12, seed=2).to_parquet(samples)
    model = tmp_path / "croptype_presto"
    runner = CliRunner()
    result = runner.invoke(
        _app(),
        ["train", "crop-type", "--arch", "presto", "--samples", str(samples), "--out", str(model), "--folds", "3"],
    )
    assert result.exit_code == 0, result.output
    assert "accuracy on 80% most confident" in result.output
    assert json.loads((model / "bundle.json").read_text())["arch"] == "presto"
    result = runner.invoke(
        _app(), ["classify-samples", "--model", str(model), "--samples", str(samples), "--out", str(tmp_path / "p.csv")]
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "p.csv")) == 36
    result = runner.invoke(
        _app(), ["evaluate", "--model", str(model), "--samples", str(samples), "--out", str(tmp_path / "ev")]
    )
    assert result.exit_code == 0, result.output
    assert "most confident  80%" in result.output
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["accuracy_coverage"][0]["coverage"] == 1.0


def test_train_command_refuses_an_unknown_architecture(tmp_path: Path) -> None:
    samples = tmp_path / "s.parquet"
    synthetic_table(n_per_class=2).to_parquet(samples)
    result = CliRunner().invoke(_app(), ["train", "crop-type", "--samples", str(samples), "--arch", "svm"])
    assert result.exit_code == 2 and "presto or tcnn" in result.output


@pytest.mark.slow  # two short fine-tunes: about 15 s on the loaded 2-core machine
def test_early_stopping_never_ends_worse_on_held_out_rows_than_the_frozen_start() -> None:
    """With learning rates that wreck the encoder, early stopping keeps the best epoch (here the frozen start)."""
    table = synthetic_table(n_per_class=8, seed=1)
    y = pd.factorize(table["label"], sort=True)[0]
    batch = presto_inputs(series_from_table(table)).to_batch()
    cpu = torch.device("cpu")
    wild = PrestoFitConfig(finetune_epochs=2, encoder_lr=1.0, head_lr=1.0, validation_share=0.25)
    train, held_out = _validation_split(y, wild, 0)
    assert len(held_out) == 6 and not set(train) & set(held_out)
    assert len(_validation_split(y, replace(wild, validation_share=0.0), 0)[1]) == 0
    target, check = torch.from_numpy(y[held_out]), batch[torch.from_numpy(held_out)]
    start_head = logistic_head(embed(_encoder(), batch[torch.from_numpy(train)], cpu), y[train], 3, 0.1, 0)
    start = _held_out_loss(_encoder(), start_head, check, target, cpu)
    stopped = _held_out_loss(*fit_presto(_encoder(), batch, y, 3, wild, 0, cpu), check, target, cpu)
    unstopped = _held_out_loss(
        *fit_presto(_encoder(), batch, y, 3, replace(wild, validation_share=0.0), 0, cpu), check, target, cpu
    )
    assert stopped <= start + 1e-6 and stopped <= unstopped
