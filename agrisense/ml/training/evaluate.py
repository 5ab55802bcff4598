"""Calibrate on validation blocks, then measure pixels and whole fields on test blocks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from agrisense.ml.calibration import fit_temperature, negative_log_likelihood, scaled_softmax
from agrisense.ml.dataset import TEST, VAL, BlockSplit
from agrisense.ml.inference import aggregate_plot, predict_logits
from agrisense.ml.metrics import ClassificationReport, classification_report, expected_calibration_error
from agrisense.ml.registry import NON_CROP, LoadedModel
from agrisense.ml.training.region import TrainingRegion

MAX_CALIBRATION_PIXELS = 200_000


@dataclass(frozen=True)
class Evaluation:
    """Test metrics, the fitted temperature and calibration before/after it."""

    test: ClassificationReport
    val: ClassificationReport
    temperature: float
    calibration: dict[str, float]
    field_accuracy: float
    n_fields: int
    field_confusion: np.ndarray
    regions: tuple[dict[str, Any], ...] = field(default=())  # the other training regions' test blocks

    def to_json(self) -> dict[str, Any]:
        result = {
            "test": self.test.to_json(),
            "val": {k: v for k, v in self.val.to_json().items() if k != "confusion"},
            "temperature": round(self.temperature, 4),
            "calibration": {k: round(v, 4) for k, v in self.calibration.items()},
            "field_accuracy": round(self.field_accuracy, 4),
            "n_test_fields": self.n_fields,
            "field_confusion": self.field_confusion.tolist(),
        }
        if self.regions:
            result["regions"] = list(self.regions)
        return result


def evaluate(
    model: LoadedModel,
    features: np.ndarray,
    labels: np.ndarray,
    split: BlockSplit,
    field_ids: np.ndarray,
    field_classes: np.ndarray,
    *,
    tile: int = 256,
    batch_size: int = 4,
    seed: int = 0,
    more: Sequence[TrainingRegion] = (),
) -> Evaluation:
    """Predict the whole region once, fit the temperature on val pixels, score test pixels and fields.

    With ``more`` regions the temperature is fitted on the val pixels of all of them, and each of them gets
    its own test-block scores (``regions``); the main test metrics stay the main region's.
    """
    classes = model.bundle.classes
    n_classes = len(classes)

    def predict(raw: np.ndarray) -> np.ndarray:
        return predict_logits(model, raw, tile=tile, overlap=32, batch_size=batch_size)

    def pixels(logits: np.ndarray, truth: np.ndarray, blocks: BlockSplit, which: int) -> tuple[np.ndarray, ...]:
        mask = (truth < n_classes) & (blocks.split == which)
        return logits[:, mask].T, truth[mask].astype(np.int64)

    logits = predict(features)
    others = [(region, predict(region.features)) for region in more]
    val_logits, val_labels = pixels(logits, labels, split, VAL)
    if others:
        extra_val = [pixels(lg, region.truth.labels, region.split, VAL) for region, lg in others]
        val_logits = np.concatenate([val_logits, *(v[0] for v in extra_val)])
        val_labels = np.concatenate([val_labels, *(v[1] for v in extra_val)])
    rng = np.random.default_rng(seed)
    if val_labels.size > MAX_CALIBRATION_PIXELS:
        pick = np.sort(rng.choice(val_labels.size, MAX_CALIBRATION_PIXELS, replace=False))
        val_logits, val_labels = val_logits[pick], val_labels[pick]
    temperature = fit_temperature(val_logits, val_labels)
    test_logits, test_labels = pixels(logits, labels, split, TEST)
    calibration = {
        "val_nll_before": negative_log_likelihood(val_logits, val_labels, 1.0),
        "val_nll_after": negative_log_likelihood(val_logits, val_labels, temperature),
        "val_ece_before": expected_calibration_error(scaled_softmax(val_logits, 1.0), val_labels),
        "val_ece_after": expected_calibration_error(scaled_softmax(val_logits, temperature), val_labels),
        "test_nll_before": negative_log_likelihood(test_logits, test_labels, 1.0),
        "test_nll_after": negative_log_likelihood(test_logits, test_labels, temperature),
        "test_ece_before": expected_calibration_error(scaled_softmax(test_logits, 1.0), test_labels),
        "test_ece_after": expected_calibration_error(scaled_softmax(test_logits, temperature), test_labels),
    }
    test = classification_report(test_labels, test_logits.argmax(axis=1), classes)
    val = classification_report(val_labels, val_logits.argmax(axis=1), classes)
    probs = scaled_softmax(logits, temperature, axis=0)
    accuracy, n_fields, confusion = field_accuracy(
        probs, np.where(split.split == TEST, field_ids, 0), field_classes, classes, model.bundle.version
    )
    return Evaluation(
        test=test,
        val=val,
        temperature=temperature,
        calibration=calibration,
        field_accuracy=accuracy,
        n_fields=n_fields,
        field_confusion=confusion,
        regions=tuple(_region_test(model, region, lg, temperature) for region, lg in others),
    )


def _region_test(model: LoadedModel, region: TrainingRegion, logits: np.ndarray, temperature: float) -> dict[str, Any]:
    """Pixel and field scores of one more region's test blocks (its name, seed and generator with them)."""
    classes = model.bundle.classes
    truth, split = region.truth, region.split
    mask = (truth.labels < len(classes)) & (split.split == TEST)
    report = classification_report(truth.labels[mask].astype(np.int64), logits[:, mask].T.argmax(axis=1), classes)
    probs = scaled_softmax(logits, temperature, axis=0)
    accuracy, n_fields, _ = field_accuracy(
        probs,
        np.where(split.split == TEST, truth.field_ids, 0),
        truth.field_classes,
        classes,
        model.bundle.version,
    )
    return {
        **region.describe(),
        "test_overall_accuracy": round(report.overall_accuracy, 4),
        "test_macro_f1": round(report.macro_f1, 4),
        "test_ece_after": round(expected_calibration_error(probs[:, mask].T, truth.labels[mask].astype(np.int64)), 4),
        "field_accuracy": round(accuracy, 4),
        "n_test_fields": n_fields,
    }


def field_accuracy(
    probs: np.ndarray,
    field_ids: np.ndarray,
    field_classes: np.ndarray,
    classes: tuple[str, ...],
    model_version: str,
) -> tuple[float, int, np.ndarray]:
    """Share of fields whose aggregated crop (:func:`aggregate_plot`) is their true crop, over fields in
    ``field_ids`` (> 0); also the crop confusion matrix (rows truth, columns prediction, crops only)."""
    crops = [c for c in classes if c != NON_CROP]
    confusion = np.zeros((len(crops), len(crops)), dtype=np.int64)
    for index, window in enumerate(ndimage.find_objects(field_ids), start=1):
        if window is None:
            continue
        weights = (field_ids[window] == index).astype(np.float32)
        prediction = aggregate_plot(probs[(slice(None), *window)], weights, classes, model_version=model_version)
        truth = classes[int(field_classes[index])]
        confusion[crops.index(truth), crops.index(prediction.crop)] += 1
    n = int(confusion.sum())
    return (float(np.trace(confusion) / n) if n else float("nan")), n, confusion
