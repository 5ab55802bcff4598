"""Classification and calibration metrics on flat label arrays, and the confusion-matrix figure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agrisense.errors import InvalidInput


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``(K, K)`` int64 counts, rows = truth, columns = prediction."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise InvalidInput(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    if y_true.size and (y_true.min() < 0 or y_true.max() >= n_classes or y_pred.min() < 0 or y_pred.max() >= n_classes):
        raise InvalidInput(f"labels must lie in 0..{n_classes - 1}; drop nodata pixels first")
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def f1_per_class(cm: np.ndarray) -> np.ndarray:
    """F1 of each class from a confusion matrix; NaN for a class absent from truth and prediction."""
    tp = np.diag(cm).astype(float)
    denom = cm.sum(axis=0) + cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, np.nan)


def iou_per_class(cm: np.ndarray) -> np.ndarray:
    """Intersection over union of each class; NaN for a class absent from truth and prediction."""
    tp = np.diag(cm).astype(float)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE: sum over equal-width confidence bins of ``|accuracy - confidence| * share``.

    ``probs`` is ``(N, K)``, ``labels`` ``(N,)``.
    """
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0]:
        raise InvalidInput(f"probs must be (N, K) and labels (N,), got {probs.shape} and {labels.shape}")
    if probs.shape[0] == 0:
        return float("nan")
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(float)
    bins = np.clip((confidence * n_bins).astype(int), 0, n_bins - 1)
    acc_sum = np.bincount(bins, weights=correct, minlength=n_bins)
    conf_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
    return float(np.abs(acc_sum - conf_sum).sum() / probs.shape[0])


@dataclass(frozen=True)
class ClassificationReport:
    """Pixel metrics of one evaluation split."""

    classes: tuple[str, ...]
    confusion: np.ndarray
    overall_accuracy: float
    macro_f1: float
    f1: dict[str, float]
    iou: dict[str, float]
    cropland_iou: float
    n_pixels: int

    def to_json(self) -> dict[str, Any]:
        return {
            "overall_accuracy": round(self.overall_accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "f1": {k: round(v, 4) for k, v in self.f1.items()},
            "iou": {k: round(v, 4) for k, v in self.iou.items()},
            "cropland_iou": round(self.cropland_iou, 4),
            "n_pixels": self.n_pixels,
            "confusion": self.confusion.tolist(),
        }


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str], non_crop_index: int = 0
) -> ClassificationReport:
    """OA, macro-F1 (over classes present in truth), per-class F1/IoU and cropland-vs-non-crop IoU."""
    k = len(classes)
    cm = confusion_matrix(y_true, y_pred, k)
    total = int(cm.sum())
    f1 = f1_per_class(cm)
    iou = iou_per_class(cm)
    present = cm.sum(axis=1) > 0
    binary = np.array(
        [
            [cm[non_crop_index, non_crop_index], np.delete(cm[non_crop_index], non_crop_index).sum()],
            [np.delete(cm[:, non_crop_index], non_crop_index).sum(), 0],
        ]
    )
    binary[1, 1] = total - binary[0, 0] - binary[0, 1] - binary[1, 0]
    return ClassificationReport(
        classes=tuple(classes),
        confusion=cm,
        overall_accuracy=float(np.trace(cm) / total) if total else float("nan"),
        macro_f1=float(f1[present].mean()) if present.any() else float("nan"),
        f1={c: float(v) for c, v in zip(classes, f1, strict=True)},
        iou={c: float(v) for c, v in zip(classes, iou, strict=True)},
        cropland_iou=float(iou_per_class(binary)[1]),
        n_pixels=total,
    )


def plot_confusion_matrix(cm: np.ndarray, classes: Sequence[str], path: Path, title: str = "") -> Path:
    """Row-normalised confusion matrix with counts, saved as PNG (matplotlib Agg, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    fig, ax = plt.subplots(figsize=(6.4, 5.4), dpi=110)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(
                j,
                i,
                f"{share[i, j]:.2f}\n({cm[i, j]})",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if share[i, j] > 0.6 else "black",
            )
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("truth")
    ax.set_title(title or "confusion matrix (row share, pixel count)")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
