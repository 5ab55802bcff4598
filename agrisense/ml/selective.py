"""Selective decisions and calibration figures: the accuracy-coverage curve and the reliability diagram.

A lender acts on the predictions it is most confident of and refers the rest. ``accuracy_coverage`` says how
accurate the top-x % most confident predictions are, and which confidence threshold keeps that share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agrisense.errors import InvalidInput

COVERAGES: tuple[float, ...] = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)


@dataclass(frozen=True)
class CoveragePoint:
    """Accuracy on the ``coverage`` share of predictions with the highest confidence (>= ``threshold``)."""

    coverage: float
    n: int
    accuracy: float
    threshold: float


def accuracy_coverage(
    confidence: np.ndarray, correct: np.ndarray, coverages: Sequence[float] = COVERAGES
) -> list[CoveragePoint]:
    """One point per requested coverage; ties at the threshold are broken by order of appearance (stable)."""
    confidence = np.asarray(confidence, dtype=np.float64).ravel()
    correct = np.asarray(correct, dtype=bool).ravel()
    if confidence.shape != correct.shape or confidence.size == 0:
        raise InvalidInput("accuracy-coverage needs one confidence and one correct flag per prediction (at least one)")
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(correct[order])
    points = []
    for coverage in coverages:
        if not 0 < coverage <= 1:
            raise InvalidInput(f"coverage must lie in (0, 1], got {coverage}")
        n = max(1, int(round(coverage * confidence.size)))
        points.append(CoveragePoint(coverage, n, float(hits[n - 1] / n), float(confidence[order[n - 1]])))
    return points


def coverage_table(points: Sequence[CoveragePoint]) -> list[dict[str, Any]]:
    """JSON rows of an accuracy-coverage curve (rounded)."""
    return [{k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(p).items()} for p in points]


def threshold_for_accuracy(points: Sequence[CoveragePoint], target: float) -> CoveragePoint | None:
    """The largest-coverage point whose accuracy reaches ``target`` (None when none does)."""
    good = [p for p in points if p.accuracy >= target]
    return max(good, key=lambda p: p.coverage) if good else None


def lowest_threshold_for_accuracy(
    confidence: np.ndarray, correct: np.ndarray, target: float
) -> tuple[float, float, float] | None:
    """``(threshold, coverage, accuracy)``: the lowest confidence ``t`` such that the predictions with confidence
    ``>= t`` (ties kept together, as a refer rule ``p < t`` treats them) are right at least ``target`` of the time;
    None when no threshold reaches it. The exact point of the curve, not one of ``COVERAGES``."""
    confidence = np.asarray(confidence, dtype=np.float64).ravel()
    correct = np.asarray(correct, dtype=bool).ravel()
    if confidence.shape != correct.shape or confidence.size == 0:
        raise InvalidInput("a threshold needs one confidence and one correct flag per prediction (at least one)")
    values, inverse = np.unique(confidence, return_inverse=True)
    n_at = np.bincount(inverse, minlength=values.size)
    hits_at = np.bincount(inverse, weights=correct.astype(np.float64), minlength=values.size)
    n_above, hits_above = np.cumsum(n_at[::-1])[::-1], np.cumsum(hits_at[::-1])[::-1]  # decided when p >= value
    ok = np.nonzero(hits_above / n_above >= target)[0]
    if ok.size == 0:
        return None
    i = int(ok[0])
    return float(values[i]), float(n_above[i] / confidence.size), float(hits_above[i] / n_above[i])


def reliability_bins(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> list[dict[str, float]]:
    """Top-label reliability: per equal-width confidence bin, its count, mean confidence and accuracy."""
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0]:
        raise InvalidInput(f"probs must be (N, K) and labels (N,), got {probs.shape} and {labels.shape}")
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    bins = np.clip((confidence * n_bins).astype(int), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            rows.append(
                {
                    "lo": b / n_bins,
                    "hi": (b + 1) / n_bins,
                    "n": int(inside.sum()),
                    "confidence": round(float(confidence[inside].mean()), 4),
                    "accuracy": round(float(correct[inside].mean()), 4),
                }
            )
    return rows


def plot_reliability(rows: Sequence[dict[str, float]], path: Path, title: str = "") -> Path:
    """Reliability diagram (accuracy against mean confidence per bin, bar width = bin, count labelled) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4.4), dpi=110)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    for row in rows:
        ax.bar(row["lo"], row["accuracy"], width=row["hi"] - row["lo"], align="edge", alpha=0.6, color="tab:blue")
        ax.text((row["lo"] + row["hi"]) / 2, row["accuracy"] + 0.02, str(row["n"]), ha="center", fontsize=7)
    ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], "o-", color="tab:red", label="bins")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("confidence (calibrated top probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(title or "reliability")
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
