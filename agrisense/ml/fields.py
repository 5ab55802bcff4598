"""Field extents from the land-cover model: field-boundary targets, field labelling and object-level metrics.

Pure functions on arrays, apart from :func:`field_polygons` (rasterio vectorisation):

* :func:`boundary_target` marks the pixels where two truth fields touch (what the boundary head learns);
* :func:`label_fields` cuts cropland into fields: connected pixels that are cropland and not boundary form a
  field's core, and each core is then grown back over the cropland boundary pixels next to it (so field
  areas are not shrunk by the boundary line);
* :func:`match_fields` scores predicted fields against truth fields one to one by intersection over union.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from agrisense.errors import InvalidInput

FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


@dataclass(frozen=True)
class FieldThresholds:
    """How probabilities become fields: cropland at ``cropland`` or above, boundary at ``boundary`` or above;
    cores smaller than ``min_pixels`` are dropped; cores grow over boundary pixels up to ``grow`` pixels."""

    cropland: float = 0.5
    boundary: float = 0.5
    min_pixels: int = 4
    grow: int = 2


@dataclass(frozen=True)
class FieldMatch:
    """Object-level agreement of predicted and truth fields (one-to-one at IoU > ``iou_threshold``)."""

    n_truth: int
    n_predicted: int
    matched: int
    recall: float  # share of truth fields with a predicted field at IoU > threshold
    precision: float  # share of predicted fields with a truth field at IoU > threshold
    f1: float
    median_best_iou: float  # over truth fields: IoU with the predicted field that overlaps them most
    merged: int  # predicted fields holding >= 50 % of two or more truth fields (under-segmentation)
    split: int  # truth fields whose largest predicted piece holds < 50 % of them (over-segmentation)
    iou_threshold: float

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def boundary_target(field_ids: np.ndarray) -> np.ndarray:
    """``(H, W)`` uint8: 1 on field pixels with a 4-neighbour in a *different* field, else 0.

    Symmetric (both sides of a shared edge, a 2-pixel line), so flips and rotations of a tile keep it valid.
    Edges against non-field land are left to the cropland classes.
    """
    ids = np.asarray(field_ids)
    if ids.ndim != 2:
        raise InvalidInput(f"field ids must be a 2-D raster, got shape {ids.shape}")
    out = np.zeros(ids.shape, dtype=bool)
    for a, b, sl_a, sl_b in (
        (ids[:, :-1], ids[:, 1:], (slice(None), slice(None, -1)), (slice(None), slice(1, None))),
        (ids[:-1, :], ids[1:, :], (slice(None, -1), slice(None)), (slice(1, None), slice(None))),
    ):
        touching = (a > 0) & (b > 0) & (a != b)
        out[sl_a] |= touching
        out[sl_b] |= touching
    return out.astype(np.uint8)


def label_fields(
    cropland: np.ndarray, boundary: np.ndarray | None, thresholds: FieldThresholds = FieldThresholds()
) -> np.ndarray:
    """Field labels ``(H, W)`` int32 (0 = no field, 1..n) from cropland and boundary probabilities ``(H, W)``.

    NaN (no prediction) is never cropland. ``boundary=None`` labels connected cropland only (no separation of
    touching fields): the baseline the boundary head is measured against.
    """
    crop = np.asarray(cropland, dtype=np.float32)
    if crop.ndim != 2:
        raise InvalidInput(f"cropland must be (H, W), got shape {crop.shape}")
    if boundary is not None and np.shape(boundary) != crop.shape:
        raise InvalidInput(f"boundary {np.shape(boundary)} and cropland {crop.shape} must have the same shape")
    if not 0 < thresholds.cropland < 1 or not 0 < thresholds.boundary <= 1 or thresholds.min_pixels < 1:
        raise InvalidInput(f"thresholds must lie in (0, 1) and min_pixels >= 1, got {thresholds}")
    is_crop = np.nan_to_num(crop, nan=0.0) >= thresholds.cropland
    edge = np.zeros_like(is_crop) if boundary is None else np.nan_to_num(boundary, nan=1.0) >= thresholds.boundary
    cores, n = ndimage.label(is_crop & ~edge, structure=FOUR_CONNECTED)
    if n:
        sizes = np.bincount(cores.ravel(), minlength=n + 1)
        keep = sizes >= thresholds.min_pixels
        keep[0] = False
        renumber = np.zeros(n + 1, dtype=np.int32)
        renumber[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
        cores = renumber[cores]
    labels = cores.astype(np.int32)
    if thresholds.grow > 0 and labels.any():
        distance, (rows, cols) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
        nearest = labels[rows, cols]
        grow = is_crop & (labels == 0) & (distance <= thresholds.grow)
        labels = np.where(grow, nearest, labels).astype(np.int32)
    return labels


def match_fields(
    predicted: np.ndarray, truth: np.ndarray, *, scope: np.ndarray | None = None, iou_threshold: float = 0.5
) -> FieldMatch:
    """Match predicted field labels to truth field labels (both ``(H, W)``, 0 = none) by IoU.

    ``scope`` (bool ``(H, W)``) limits the evaluation: truth fields are those with any pixel in scope, and
    predicted fields those with at least half their pixels in scope. IoU uses each field's whole extent.
    """
    pred = np.asarray(predicted, dtype=np.int64)
    true = np.asarray(truth, dtype=np.int64)
    if pred.shape != true.shape or pred.ndim != 2:
        raise InvalidInput(f"predicted {pred.shape} and truth {true.shape} must be the same 2-D shape")
    if not 0 < iou_threshold <= 1:
        raise InvalidInput(f"iou_threshold must lie in (0, 1], got {iou_threshold}")
    in_scope = np.ones(pred.shape, dtype=bool) if scope is None else np.asarray(scope, dtype=bool)
    pred_size = np.bincount(pred.ravel())
    true_size = np.bincount(true.ravel())
    pred_in = np.bincount(pred[in_scope], minlength=pred_size.size)
    truth_ids = np.flatnonzero(np.bincount(true[in_scope], minlength=true_size.size) > 0)
    truth_ids = truth_ids[truth_ids > 0]
    pred_ids = np.flatnonzero((pred_size > 0) & (2 * pred_in >= pred_size))
    pred_ids = pred_ids[pred_ids > 0]

    both = (pred > 0) & (true > 0)
    pairs, overlap = np.unique(pred[both] * (true_size.size + 1) + true[both], return_counts=True)
    p_of, t_of = np.divmod(pairs, true_size.size + 1)
    iou = overlap / (pred_size[p_of] + true_size[t_of] - overlap)

    best_iou = np.zeros(true_size.size)
    np.maximum.at(best_iou, t_of, iou)
    best_piece = np.zeros(true_size.size)
    np.maximum.at(best_piece, t_of, overlap / true_size[t_of])
    good = iou > iou_threshold  # strict: one-to-one even for two equal halves
    truth_matched = np.zeros(true_size.size, dtype=bool)
    truth_matched[t_of[good]] = True
    pred_matched = np.zeros(pred_size.size, dtype=bool)
    pred_matched[p_of[good]] = True
    holds_most = overlap / true_size[t_of] >= 0.5
    merged_count = np.bincount(p_of[holds_most], minlength=pred_size.size)

    n_truth, n_pred = int(truth_ids.size), int(pred_ids.size)
    recall = float(truth_matched[truth_ids].mean()) if n_truth else float("nan")
    precision = float(pred_matched[pred_ids].mean()) if n_pred else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return FieldMatch(
        n_truth=n_truth,
        n_predicted=n_pred,
        matched=int(truth_matched[truth_ids].sum()),
        recall=recall,
        precision=precision,
        f1=float(f1),
        median_best_iou=float(np.median(best_iou[truth_ids])) if n_truth else float("nan"),
        merged=int((merged_count[pred_ids] >= 2).sum()),
        split=int((best_piece[truth_ids] < 0.5).sum()),
        iou_threshold=iou_threshold,
    )
