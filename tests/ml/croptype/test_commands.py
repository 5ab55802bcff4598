from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from agrisense.app.cli.models import classify_samples_command, train_croptype_command
from agrisense.ml.croptype.fit import FitConfig
from agrisense.ml.croptype.forest import ForestConfig
from agrisense.ml.croptype.pipeline import train_croptype

from .helpers import synthetic_table

FAST = FitConfig(epochs=10, max_steps=30, members=1, forest=ForestConfig(n_trees=20, n_jobs=1))
SHARED = (
    Path(__file__).resolve().parents[3].parent / "shared" / "data" / "real" / "crop_samples" / "dev_samples.parquet"
)


def _app() -> typer.Typer:
    app = typer.Typer()
    train_app = typer.Typer()
    train_app.command("crop-type")(train_croptype_command)
    app.add_typer(train_app, name="train")
    app.command("classify-samples")(classify_samples_command)
    return app


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("croptype")
    report = train_croptype(synthetic_table(seed=0), out, seed=0, device="cpu", n_folds=3, config=FAST)
    return out, report


def test_training_beats_chance_and_writes_bundle(trained: tuple[Path, dict]) -> None:
    out, report = trained
    blend = report["cv"]["scores"]["pooled"]["blend"]
    assert blend["overall_accuracy"] > 0.8  # chance = 1/3
    assert {p.name for p in out.iterdir()} >= {"model.pt", "bundle.json", "confusion_matrix.png", "MODEL_CARD.md"}
    cal = report["cv"]["calibration"]
    assert cal["nll_after_in_sample"] <= cal["nll_before"] + 1e-9
    assert json.loads((out / "bundle.json").read_text())["classes"] == ["maize", "sorghum", "trees_mixed"]
    for part in ("tempcnn_only", "forest_only"):
        assert report["cv"]["scores"]["pooled"][part]["overall_accuracy"] > 0.6


def test_saved_model_predicts_like_the_fitted_one(trained: tuple[Path, dict]) -> None:
    from agrisense.ml.croptype.model import load_model

    model = load_model(trained[0])
    table = synthetic_table(n_per_class=3, seed=4)
    probs = model.predict_proba(table, device="cpu")
    again = load_model(trained[0]).predict_proba(table, device="cpu")
    np.testing.assert_array_equal(probs, again)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)


def test_classify_samples_without_labels(trained: tuple[Path, dict], tmp_path: Path) -> None:
    model_dir, _ = trained
    table = synthetic_table(n_per_class=4, seed=9, with_label=False)
    bands = [c for c in table.columns if c.startswith("B")]
    table.loc[0, bands] = np.nan  # no clear observation at all
    samples = tmp_path / "s.parquet"
    table.to_parquet(samples)
    result = CliRunner().invoke(
        _app(),
        ["classify-samples", "--model", str(model_dir), "--samples", str(samples), "--out", str(tmp_path / "p.csv")],
    )
    assert result.exit_code == 0, result.output
    pred = pd.read_csv(tmp_path / "p.csv")
    assert list(pred.columns) == ["sample_id", "label", "probability"]
    assert pred["sample_id"].tolist() == table["sample_id"].tolist()
    assert pred["probability"].between(0, 1).all()
    assert pred.loc[0, "probability"] == pytest.approx(1 / 3, abs=1e-3)
    assert pred.loc[0, "label"] in ("maize", "sorghum", "trees_mixed")
    truth = pred["sample_id"].str.rsplit("-", n=1).str[0]
    assert (pred["label"][1:] == truth[1:]).mean() > 0.8


def test_train_command_and_bad_input(tmp_path: Path) -> None:
    samples = tmp_path / "bad.parquet"
    synthetic_table(n_per_class=3).drop(columns="B11_m05").to_parquet(samples)
    result = CliRunner().invoke(_app(), ["train", "crop-type", "--samples", str(samples), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "B11_m05" in result.output
    result = CliRunner().invoke(
        _app(), ["classify-samples", "--model", str(tmp_path / "none"), "--samples", str(samples), "--out", "x.csv"]
    )
    assert result.exit_code == 5  # ModelUnavailable


@pytest.mark.skipif(not SHARED.is_file(), reason="real sample table (../shared) not present")
def test_real_table_builds_features_and_groups() -> None:
    from agrisense.ml.croptype.cv import spatial_groups
    from agrisense.ml.croptype.table import CHANNELS, build_features, validate_table

    table = pd.read_parquet(SHARED)
    validate_table(table, need_label=True)
    f = build_features(table)
    assert f.values.shape == (len(table), 12, len(CHANNELS))
    groups = spatial_groups(table["lon"].to_numpy(), table["lat"].to_numpy())
    assert len(np.unique(groups)) > 20


def test_training_is_deterministic_for_a_seed(trained: tuple[Path, dict], tmp_path: Path) -> None:
    from agrisense.ml.croptype.model import load_model

    report = train_croptype(synthetic_table(seed=0), tmp_path, seed=0, device="cpu", n_folds=3, config=FAST)
    assert report["cv"] == trained[1]["cv"]
    table = synthetic_table(n_per_class=3, seed=5)
    np.testing.assert_array_equal(
        load_model(tmp_path).predict_proba(table, device="cpu"),
        load_model(trained[0]).predict_proba(table, device="cpu"),
    )
