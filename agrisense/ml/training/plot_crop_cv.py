"""The plot crop model judged on real samples: spatially grouped cross-validation on the real rows it trains on.

Samples within :data:`GROUP_DISTANCE_M` of each other (chained) share a group and never fall on both sides of a
fold (:func:`agrisense.ml.croptype.cv.spatial_groups`, the crop-type models' rule). Each fold's samples are held
out of training; the county plots always train. Three variants on the same folds:

- ``as_trained``: the shipped recipe (every region's plots + the other folds' samples, the chosen ``C``);
- ``samples_only``: the other folds' samples alone (what real labels alone give);
- ``regions_only``: the regions' plots alone, never a real row (one fit; every sample is out of sample).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from agrisense.errors import InvalidInput
from agrisense.ml.croptype.cv import grouped_folds, spatial_groups
from agrisense.ml.metrics import confusion_matrix, expected_calibration_error, f1_per_class
from agrisense.ml.plot_crop_model import feature_matrix
from agrisense.ml.selective import accuracy_coverage, coverage_table, lowest_threshold_for_accuracy
from agrisense.ml.training.plot_crop import LabelledSeries, class_probabilities, feature_rows, fit_logistic

GROUP_DISTANCE_M = 300.0
MIN_CLASS_SAMPLES = 5  # macro-F1 over classes with at least this many samples (the rule)
TARGET_ACCURACY = 0.93


def sample_scores(probs: np.ndarray, y: np.ndarray, crops: Sequence[str]) -> dict[str, Any]:
    """OA, majority OA, macro-F1 (classes with >= 5 samples), per-class F1, ECE and the accuracy-coverage curve."""
    k = len(crops)
    cm = confusion_matrix(y, probs.argmax(axis=1), k)
    f1 = f1_per_class(cm)
    counts = np.bincount(y, minlength=k)
    scored = counts >= MIN_CLASS_SAMPLES
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    points = accuracy_coverage(confidence, correct)
    at_target = lowest_threshold_for_accuracy(confidence, correct, TARGET_ACCURACY)
    return {
        "n": int(len(y)),
        "overall_accuracy": round(float(correct.mean()), 4),
        "majority_accuracy": round(float(counts.max() / counts.sum()), 4),
        "macro_f1": round(float(f1[scored].mean()), 4) if scored.any() else None,
        "per_class": {c: {"n": int(n), "f1": round(float(v), 4)} for c, n, v in zip(crops, counts, f1, strict=True)},
        "ece": round(expected_calibration_error(probs, y), 4),
        "accuracy_coverage": coverage_table(points),
        "accuracy_at_80": round(next(p.accuracy for p in points if abs(p.coverage - 0.8) < 1e-9), 4),
        "threshold_for_93": None
        if at_target is None
        else {
            "threshold": round(at_target[0], 4),
            "coverage": round(at_target[1], 4),
            "accuracy": round(at_target[2], 4),
        },
        "confusion": cm.tolist(),
    }


def real_sample_cv(
    regions: Sequence[LabelledSeries],
    samples: LabelledSeries,
    crops: Sequence[str],
    *,
    months: Sequence[int],
    c: float,
    seed: int = 0,
    n_folds: int = 5,
) -> dict[str, Any]:
    """Out-of-fold crop probabilities of every real sample under the three variants, and their scores."""
    crops = tuple(crops)
    if samples.lonlat is None:
        raise InvalidInput("the real samples need lon / lat columns for spatially grouped cross-validation")
    y = np.array([crops.index(crop) for crop in samples.crops], dtype=np.int64)
    groups = spatial_groups(samples.lonlat[:, 0], samples.lonlat[:, 1], GROUP_DISTANCE_M)
    folds = grouped_folds(y, groups, n_folds, seed)
    x_samples = feature_matrix(samples.series, samples.months, months)
    x_regions, y_regions = feature_rows(list(regions), months, crops)
    k = len(crops)
    probs = {name: np.zeros((len(y), k)) for name in ("as_trained", "samples_only")}
    for fold in range(n_folds):
        train, test = folds != fold, folds == fold
        x_tr = np.concatenate([x_regions, x_samples[train]])
        y_tr = np.concatenate([y_regions, y[train]])
        probs["as_trained"][test] = class_probabilities(fit_logistic(x_tr, y_tr, c, seed), x_samples[test], k)
        alone = fit_logistic(x_samples[train], y[train], c, seed)
        probs["samples_only"][test] = class_probabilities(alone, x_samples[test], k)
    probs["regions_only"] = class_probabilities(fit_logistic(x_regions, y_regions, c, seed), x_samples, k)
    return {
        "folds": n_folds,
        "group_distance_m": GROUP_DISTANCE_M,
        "groups": int(len(np.unique(groups))),
        "seed": seed,
        "C": c,
        "scores": {name: sample_scores(p, y, crops) for name, p in probs.items()},
    }
