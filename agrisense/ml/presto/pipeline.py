"""``train_presto``: labels -> spatially grouped CV (scores, cross-fitted calibration, accuracy-coverage) ->
final fit on all samples -> bundle folder with model card and reliability plot."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.special import softmax

from agrisense.ml.calibration import fit_temperature, negative_log_likelihood
from agrisense.ml.croptype.cv import grouped_folds, out_of_fold_logits, spatial_groups
from agrisense.ml.croptype.fit import resolve_device
from agrisense.ml.croptype.pipeline import score
from agrisense.ml.croptype.table import LABEL_SYNONYMS, validate_table
from agrisense.ml.metrics import expected_calibration_error
from agrisense.ml.presto.card import write_presto_card
from agrisense.ml.presto.encoder import PrestoEncoder
from agrisense.ml.presto.fit import PrestoFitConfig, fit_presto
from agrisense.ml.presto.inputs import presto_inputs, series_from_table
from agrisense.ml.presto.labels import encode, merge_rare
from agrisense.ml.presto.model import PrestoCropModel, save_presto_model
from agrisense.ml.selective import accuracy_coverage, coverage_table, plot_reliability, reliability_bins

MIN_CLASS_COUNT = 5
GROUP_DISTANCE_M = 300.0


def cross_fitted_probs(logits: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Probabilities with each fold scaled by a temperature fitted on the other folds' out-of-fold logits."""
    probs = np.zeros_like(logits)
    for fold in np.unique(folds):
        test = folds == fold
        probs[test] = softmax(logits[test] / fit_temperature(logits[~test], y[~test]), axis=1)
    return probs


def evaluation(probs: np.ndarray, y: np.ndarray, classes: tuple[str, ...]) -> dict[str, Any]:
    """Scores of calibrated probabilities: OA, macro-F1, per-class F1, ECE, accuracy-coverage, reliability."""
    pred = probs.argmax(axis=1)
    return {
        **asdict(score(y, pred, classes)),
        "ece": round(expected_calibration_error(probs, y), 4),
        "accuracy_coverage": coverage_table(accuracy_coverage(probs.max(axis=1), pred == y)),
        "reliability": reliability_bins(probs, y),
    }


def train_presto(
    table: pd.DataFrame,
    out_dir: Path,
    pretrained: PrestoEncoder,
    *,
    seed: int = 0,
    device: str = "auto",
    n_folds: int = 5,
    group_distance_m: float = GROUP_DISTANCE_M,
    config: PrestoFitConfig | None = None,
) -> dict[str, Any]:
    """Cross-validate, calibrate, fit on everything; write ``model.pt``, ``bundle.json``, ``MODEL_CARD.md`` and
    ``reliability.png`` into ``out_dir``. Returns the training report stored in ``bundle.json``."""
    started = time.perf_counter()
    validate_table(table, need_label=True)
    config = config or PrestoFitConfig()
    torch_device = resolve_device(device)
    torch.manual_seed(seed)
    labels, merged = merge_rare(table["label"], MIN_CLASS_COUNT)
    y, classes = encode(labels)
    batch = presto_inputs(series_from_table(table)).to_batch()
    groups = spatial_groups(table["lon"].to_numpy(), table["lat"].to_numpy(), group_distance_m)
    folds = grouped_folds(y, groups, n_folds, seed)

    def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        encoder, head = fit_presto(
            pretrained, batch[torch.from_numpy(train)], y[train], len(classes), config, seed, torch_device
        )
        return PrestoCropModel(classes, encoder, head).logits(batch[torch.from_numpy(test)], torch_device)

    oof = out_of_fold_logits(folds, len(classes), fit_predict)
    probs = cross_fitted_probs(oof, y, folds)
    temperature = fit_temperature(oof, y)
    regions = table["region"].astype(str).to_numpy() if "region" in table.columns else np.full(len(y), "all")
    cv: dict[str, Any] = {}
    for name, mask in [("pooled", np.ones(len(y), bool))] + [(r, regions == r) for r in sorted(set(regions))]:
        cv[name] = evaluation(probs[mask], y[mask], classes)
    cv_seconds = time.perf_counter() - started
    encoder, head = fit_presto(pretrained, batch, y, len(classes), config, seed, torch_device)
    fallback = int(np.bincount(y, minlength=len(classes)).argmax())
    model = PrestoCropModel(classes, encoder, head, temperature, fallback, merged)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_reliability(
        cv["pooled"]["reliability"], out_dir / "reliability.png", title=f"{n_folds}-fold spatial CV, cross-fitted T"
    )
    report = {
        "version": f"{out_dir.name}-seed{seed}",
        "trained_on": {
            "n_samples": int(len(y)),
            "class_counts": {c: int((y == i).sum()) for i, c in enumerate(classes)},
            "merged_rare_classes": merged,
            "regions": {r: int((regions == r).sum()) for r in sorted(set(regions))},
            "label_synonyms": dict(LABEL_SYNONYMS),
            "seed": seed,
            "device": str(torch_device),
            "fit": asdict(config),
        },
        "cv": {
            "n_folds": n_folds,
            "group_distance_m": group_distance_m,
            "n_groups": int(np.unique(groups).size),
            "scores": cv,
            "calibration": {
                "temperature": round(temperature, 4),
                "ece_uncalibrated": round(expected_calibration_error(softmax(oof, axis=1), y), 4),
                "ece_cross_fitted": cv["pooled"]["ece"],
                "nll_uncalibrated": round(negative_log_likelihood(oof, y), 4),
                "nll_cross_fitted": round(float(-np.log(np.clip(probs[np.arange(y.size), y], 1e-12, None)).mean()), 4),
            },
        },
        "timing_s": {"cv": round(cv_seconds, 1), "total": round(time.perf_counter() - started, 1)},
    }
    save_presto_model(model, out_dir, report)
    write_presto_card(report, out_dir)
    return report
