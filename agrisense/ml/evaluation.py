"""Evaluate a trained model against truth: pixels of a region (land-cover U-Net) or a labelled sample table.

Both report overall accuracy, macro-F1, per-class F1 and IoU, and calibration (ECE, NLL) before (T = 1) and after
the model's fitted temperature. Spatial grouping: region pixels are scored per block of a ``n_blocks x n_blocks``
grid as well, so the spread between blocks shows how much the numbers depend on where one looks; when the region
is the one the model was trained on, only its held-out test blocks are scored (the training blocks would flatter it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agrisense.errors import InvalidInput
from agrisense.ml.calibration import negative_log_likelihood, scaled_softmax
from agrisense.ml.dataset import TEST, block_split
from agrisense.ml.metrics import ClassificationReport, classification_report, expected_calibration_error
from agrisense.ml.registry import NON_CROP

MAX_CALIBRATION_PIXELS = 500_000


@dataclass(frozen=True)
class EvaluationResult:
    """Metrics of one evaluation, JSON-ready through ``to_json``."""

    report: ClassificationReport
    calibration: dict[str, float]
    temperature: float
    scope: str  # which pixels / samples were scored
    blocks: list[dict[str, Any]] = field(default_factory=list)
    field_accuracy: float | None = None
    n_fields: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    has_non_crop: bool = True  # cropland IoU only means something with a non-crop class

    def to_json(self) -> dict[str, Any]:
        oa = [b["overall_accuracy"] for b in self.blocks if b["n_pixels"]]
        report = self.report.to_json()
        if not self.has_non_crop:
            report.pop("cropland_iou")
        return {
            "scope": self.scope,
            "classes": list(self.report.classes),
            **report,
            "temperature": round(self.temperature, 4),
            "calibration": {k: round(v, 4) for k, v in self.calibration.items()},
            "field_accuracy": None if self.field_accuracy is None else round(self.field_accuracy, 4),
            "n_fields": self.n_fields,
            "blocks": self.blocks,
            "block_overall_accuracy": (
                {"mean": round(float(np.mean(oa)), 4), "std": round(float(np.std(oa)), 4), "n": len(oa)} if oa else None
            ),
            **self.extra,
        }


def calibration_metrics(logits: np.ndarray, labels: np.ndarray, temperature: float) -> dict[str, float]:
    """NLL and ECE (15 bins, top label) of ``softmax(logits)`` and of ``softmax(logits / temperature)``."""
    return {
        "nll_before": negative_log_likelihood(logits, labels, 1.0),
        "nll_after": negative_log_likelihood(logits, labels, temperature),
        "ece_before": expected_calibration_error(scaled_softmax(logits, 1.0), labels),
        "ece_after": expected_calibration_error(scaled_softmax(logits, temperature), labels),
    }


def scoring_mask(
    labels: np.ndarray,
    n_classes: int,
    *,
    trained_here: bool,
    split_seed: int = 0,
    field_ids: np.ndarray | None = None,
) -> tuple[np.ndarray, str]:
    """Pixels to score: all labelled ones, or only the training run's test blocks when the model saw this region.

    The split is ``block_split`` with the training seed, exactly as ``train_landcover`` made it.
    """
    labelled = labels < n_classes
    if not trained_here:
        return labelled, "all labelled pixels (region not used in training)"
    split = block_split(labels, n_classes, seed=split_seed, field_ids=field_ids)
    return labelled & (split.split == TEST), "test blocks of the training split (the model was trained on this region)"


def evaluate_pixels(
    logits: np.ndarray,
    labels: np.ndarray,
    mask: np.ndarray,
    classes: Sequence[str],
    temperature: float,
    *,
    n_blocks: int = 4,
    scope: str = "",
    seed: int = 0,
) -> EvaluationResult:
    """Score region logits ``(K, H, W)`` against ``labels`` ``(H, W)`` on ``mask``, overall and per spatial block."""
    classes = tuple(classes)
    if (
        logits.ndim != 3
        or logits.shape[0] != len(classes)
        or logits.shape[1:] != labels.shape
        or labels.shape != mask.shape
    ):
        raise InvalidInput(f"logits {logits.shape}, labels {labels.shape} and mask {mask.shape} do not match")
    if not mask.any():
        raise InvalidInput("no labelled pixel to score; check truth/landcover.tif and the region's classes")
    flat_logits, flat_labels = logits[:, mask].T, labels[mask].astype(np.int64)
    predicted = flat_logits.argmax(axis=1)
    report = classification_report(flat_labels, predicted, classes, non_crop_index=classes.index(NON_CROP))
    pick = np.arange(flat_labels.size)
    if pick.size > MAX_CALIBRATION_PIXELS:
        pick = np.sort(np.random.default_rng(seed).choice(pick.size, MAX_CALIBRATION_PIXELS, replace=False))
    calibration = calibration_metrics(flat_logits[pick], flat_labels[pick], temperature)
    h, w = labels.shape
    block_row = np.minimum(np.arange(h) * n_blocks // h, n_blocks - 1)
    block_col = np.minimum(np.arange(w) * n_blocks // w, n_blocks - 1)
    block_of = (block_row[:, None] * n_blocks + block_col[None, :])[mask]
    blocks = []
    for b in np.unique(block_of):
        inside = block_of == b
        sub = classification_report(flat_labels[inside], predicted[inside], classes)
        blocks.append(
            {
                "block": [int(b // n_blocks), int(b % n_blocks)],
                "n_pixels": sub.n_pixels,
                "overall_accuracy": round(sub.overall_accuracy, 4),
                "macro_f1": round(sub.macro_f1, 4),
            }
        )
    return EvaluationResult(report, calibration, temperature, scope, blocks)


def evaluate_samples(
    probabilities: np.ndarray, labels: Sequence[str], classes: Sequence[str], temperature: float
) -> EvaluationResult:
    """Score calibrated sample probabilities ``(N, K)`` against string labels; labels outside ``classes`` are left
    out and counted. ECE before temperature is recovered from the calibrated log-probabilities times T."""
    classes = tuple(classes)
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != len(labels) or probs.shape[1] != len(classes):
        raise InvalidInput(f"probabilities {probs.shape} do not match {len(labels)} labels and {len(classes)} classes")
    index = {c: i for i, c in enumerate(classes)}
    known = np.array([label in index for label in labels])
    if not known.any():
        raise InvalidInput(f"no sample label is one of the model's classes {classes}")
    y = np.array([index[label] for label, ok in zip(labels, known, strict=True) if ok], dtype=np.int64)
    logits = np.log(np.clip(probs[known], 1e-12, 1.0)) * temperature  # softmax(logits / T) = probs
    has_non_crop = NON_CROP in classes
    non_crop = classes.index(NON_CROP) if has_non_crop else 0
    report = classification_report(y, probs[known].argmax(axis=1), classes, non_crop_index=non_crop)
    unknown = sorted({label for label, ok in zip(labels, known, strict=True) if not ok})
    return EvaluationResult(
        report,
        calibration_metrics(logits, y, temperature),
        temperature,
        scope=f"{int(known.sum())} labelled samples",
        extra={"n_unknown_label": int((~known).sum()), "unknown_labels": unknown},
        has_non_crop=has_non_crop,
    )
