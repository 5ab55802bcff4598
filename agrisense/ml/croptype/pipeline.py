"""``train_croptype``: labels -> grouped CV (metrics, temperature) -> final fit on all samples -> bundle."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import softmax

from agrisense.errors import InvalidInput
from agrisense.ml.calibration import fit_temperature, negative_log_likelihood
from agrisense.ml.croptype.card import write_card
from agrisense.ml.croptype.cv import grouped_folds, out_of_fold_logits, spatial_groups
from agrisense.ml.croptype.fit import FitConfig, resolve_device
from agrisense.ml.croptype.model import fit_model, save_model
from agrisense.ml.croptype.table import LABEL_SYNONYMS, build_features, harmonise_labels, validate_table
from agrisense.ml.metrics import confusion_matrix, expected_calibration_error, f1_per_class, plot_confusion_matrix


@dataclass(frozen=True)
class Scores:
    """OA, macro-F1 (classes present in truth), per-class F1, majority-class OA, confusion matrix."""

    n: int
    overall_accuracy: float
    macro_f1: float
    majority_accuracy: float
    f1: dict[str, float]
    confusion: list[list[int]]


def score(y: np.ndarray, pred: np.ndarray, classes: tuple[str, ...]) -> Scores:
    cm = confusion_matrix(y, pred, len(classes))
    f1 = f1_per_class(cm)
    present = cm.sum(axis=1) > 0
    return Scores(
        n=int(y.size),
        overall_accuracy=round(float(np.trace(cm) / max(cm.sum(), 1)), 4),
        macro_f1=round(float(np.nanmean(np.nan_to_num(f1[present]))), 4),
        majority_accuracy=round(float(np.bincount(y).max() / max(y.size, 1)), 4),
        f1={c: round(float(np.nan_to_num(v)), 4) for c, v, p in zip(classes, f1, present, strict=True) if p},
        confusion=cm.tolist(),
    )


def prepare_labels(table: pd.DataFrame, min_count: int) -> tuple[pd.DataFrame, np.ndarray, tuple[str, ...]]:
    """Harmonised labels; classes with fewer than ``min_count`` samples are dropped (they cannot be learned)."""
    labels = harmonise_labels(table["label"])
    counts = labels.value_counts()
    keep = labels.map(counts).to_numpy() >= min_count
    if len(set(labels[keep])) < 2:
        raise InvalidInput(f"training needs at least 2 classes with >= {min_count} samples each in column 'label'")
    classes = tuple(sorted(set(labels[keep])))
    y = labels[keep].map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=np.int64)
    return table.loc[keep].reset_index(drop=True), y, classes


def _ece_cross_fitted(logits: np.ndarray, y: np.ndarray, folds: np.ndarray) -> tuple[float, float]:
    """ECE and NLL with each fold scaled by a temperature fitted on the other folds' out-of-fold logits."""
    probs = np.zeros_like(logits)
    for fold in np.unique(folds):
        test = folds == fold
        t = fit_temperature(logits[~test], y[~test])
        probs[test] = softmax(logits[test] / t, axis=1)
    nll = float(-np.log(np.clip(probs[np.arange(y.size), y], 1e-12, None)).mean())
    return expected_calibration_error(probs, y), nll


def train_croptype(
    table: pd.DataFrame,
    out_dir: Path,
    *,
    seed: int = 0,
    device: str = "auto",
    n_folds: int = 5,
    min_class_count: int = 3,
    group_distance_m: float = 1500.0,
    config: FitConfig | None = None,
) -> dict[str, Any]:
    """Cross-validate, calibrate, fit on everything and write ``model.pt``, ``bundle.json``, confusion PNG.

    Returns the report stored in ``bundle.json`` (CV scores for the whole table and per region).
    """
    started = time.perf_counter()
    validate_table(table, need_label=True)
    for column in ("lon", "lat"):
        if column not in table.columns:
            raise InvalidInput(f"the sample table has no column {column!r}; spatial cross-validation needs it")
    config = config or FitConfig()
    torch_device = resolve_device(device)
    data, y, classes = prepare_labels(table, min_class_count)
    features = build_features(data)
    groups = spatial_groups(data["lon"].to_numpy(), data["lat"].to_numpy(), group_distance_m)
    folds = grouped_folds(y, groups, n_folds, seed)
    parts: dict[str, np.ndarray] = {}

    def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        model = fit_model(features.values[train], y[train], classes, config, seed, torch_device)
        cnn, forest = model.part_log_probs(features.values[test], torch_device)
        parts.setdefault("cnn", np.zeros((len(y), len(classes))))[test] = cnn
        parts.setdefault("forest", np.zeros((len(y), len(classes))))[test] = forest
        return model.log_probs(features.values[test], torch_device)

    oof = out_of_fold_logits(folds, len(classes), fit_predict)
    temperature = fit_temperature(oof, y)
    regions = data["region"].astype(str).to_numpy() if "region" in data.columns else np.full(len(y), "all")
    cv: dict[str, Any] = {}
    for name, mask in [("pooled", np.ones(len(y), bool))] + [(r, regions == r) for r in sorted(set(regions))]:
        cv[name] = {
            "blend": asdict(score(y[mask], oof[mask].argmax(1), classes)),
            "tempcnn_only": asdict(score(y[mask], parts["cnn"][mask].argmax(1), classes)),
            "forest_only": asdict(score(y[mask], parts["forest"][mask].argmax(1), classes)),
        }
    ece_cf, nll_cf = _ece_cross_fitted(oof, y, folds)
    calibration = {
        "temperature": round(temperature, 4),
        "ece_before": round(expected_calibration_error(softmax(oof, axis=1), y), 4),
        "ece_after_in_sample": round(expected_calibration_error(softmax(oof / temperature, axis=1), y), 4),
        "ece_after_cross_fitted": round(ece_cf, 4),
        "nll_before": round(negative_log_likelihood(oof, y), 4),
        "nll_after_in_sample": round(negative_log_likelihood(oof, y, temperature), 4),
        "nll_after_cross_fitted": round(nll_cf, 4),
    }
    cv_seconds = time.perf_counter() - started
    final = fit_model(features.values, y, classes, config, seed, torch_device)
    final = replace(final, temperature=temperature)
    out_dir.mkdir(parents=True, exist_ok=True)
    focus = next((r for r in cv if r.startswith("east_africa")), "pooled")
    focus_mask = regions == focus if focus != "pooled" else np.ones(len(y), bool)
    plot_confusion_matrix(
        confusion_matrix(y[focus_mask], oof[focus_mask].argmax(1), len(classes)),
        classes,
        out_dir / "confusion_matrix.png",
        title=f"crop type, {n_folds}-fold spatial CV, {focus} (row share, count)",
    )
    dropped = harmonise_labels(table["label"]).value_counts()
    report = {
        "version": f"croptype_tcnn-seed{seed}",
        "trained_on": {
            "n_samples": int(len(y)),
            "n_dropped_rare": int(len(table) - len(y)),
            "dropped_classes": sorted(c for c, n in dropped.items() if n < min_class_count),
            "class_counts": {c: int((y == i).sum()) for i, c in enumerate(classes)},
            "regions": {r: int((regions == r).sum()) for r in sorted(set(regions))},
            "label_synonyms": dict(LABEL_SYNONYMS),
            "seed": seed,
            "device": str(torch_device),
            "fit": {k: v for k, v in asdict(config).items() if k not in ("net",)},
        },
        "cv": {
            "n_folds": n_folds,
            "group_distance_m": group_distance_m,
            "n_groups": int(np.unique(groups).size),
            "scores": cv,
            "calibration": calibration,
        },
        "timing_s": {"cv": round(cv_seconds, 1), "total": round(time.perf_counter() - started, 1)},
    }
    save_model(final, out_dir, report)
    write_card(report, out_dir)
    return report
