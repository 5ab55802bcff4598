"""Tiled, batched inference over a region's feature stack, and per-plot aggregation of probabilities.

Tiling: the standardised features are reflect-padded by ``overlap // 2`` on every side (so border pixels
get context) and up to one tile where the image is smaller; tiles of ``tile`` pixels step by
``tile - overlap``, the last one flush with the far edge. Each tile's logits are multiplied by a 2-D linear
ramp window (1 in the middle, falling towards the tile edges over ``overlap`` pixels, never 0) and
accumulated; dividing by the accumulated window gives a smooth blend with no seams. Logits (not
probabilities) are blended so that the temperature fitted on them applies unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from agrisense.errors import InvalidInput
from agrisense.ml.calibration import scaled_softmax, sigmoid
from agrisense.ml.features import standardise
from agrisense.ml.registry import NON_CROP, LoadedModel


@dataclass(frozen=True)
class PlotPrediction:
    """One plot's land cover from the coverage-weighted mean of its pixels' calibrated probabilities.

    ``class_probabilities`` is the expected share of the plot's area in each class; ``cropland_fraction``
    = 1 - share of non-crop; ``crop`` the most likely crop and ``crop_probability`` = P(crop | cropland),
    the crop's share among the crop classes only.
    """

    crop: str
    crop_probability: float
    cropland_fraction: float
    class_probabilities: dict[str, float]
    n_pixels: float
    model_version: str


@dataclass(frozen=True)
class RegionPrediction:
    """Calibrated class probabilities ``(K, H, W)`` and, for a model with a boundary head, the field-boundary
    probability ``(H, W)`` (``None`` otherwise); float32 on the features' grid."""

    probabilities: np.ndarray
    boundary: np.ndarray | None


def predict_logits(
    model: LoadedModel,
    features: np.ndarray,
    *,
    tile: int = 256,
    overlap: int = 32,
    batch_size: int = 4,
    boundary: bool = False,
) -> np.ndarray:
    """Blended logits ``(K, H, W)`` float32 for raw (unstandardised) ``features`` ``(C, H, W)``.

    ``boundary=True`` (a model with a boundary head only) appends the field-boundary logit: ``(K + 1, H, W)``.
    """
    out = _blend(model, features, tile, overlap, batch_size, boundary)
    return out.cpu().numpy() if isinstance(out, torch.Tensor) else out


def predict_maps(
    model: LoadedModel, features: np.ndarray, *, tile: int = 256, overlap: int = 32, batch_size: int = 4
) -> RegionPrediction:
    """Class probabilities and, when the model has a boundary head, the field-boundary probability."""
    with_boundary = model.bundle.boundary_head
    logits = predict_logits(model, features, tile=tile, overlap=overlap, batch_size=batch_size, boundary=with_boundary)
    k = len(model.bundle.classes)
    probabilities = scaled_softmax(logits[:k], model.bundle.temperature, axis=0)
    if not with_boundary:
        return RegionPrediction(probabilities=probabilities, boundary=None)
    return RegionPrediction(probabilities=probabilities, boundary=sigmoid(logits[k]))


def _blend(
    model: LoadedModel, features: np.ndarray, tile: int, overlap: int, batch_size: int, boundary: bool = False
) -> np.ndarray | torch.Tensor:
    """Blended logits: a NumPy array on CPU, a tensor on the model's device for CUDA."""
    bundle = model.bundle
    if boundary and not bundle.boundary_head:
        raise InvalidInput(
            f"model {bundle.name!r} has no field-boundary head; train one with `agrisense train boundary`"
        )
    if features.ndim != 3 or features.shape[0] != bundle.in_channels:
        raise InvalidInput(
            f"features have shape {features.shape}, model {bundle.name!r} expects "
            f"({bundle.in_channels}, H, W): "
            f"stack_features with bands={list(bundle.bands)}, indices={list(bundle.indices)}, "
            f"months={list(bundle.months)}"
        )
    stride = int(getattr(model.module, "input_multiple", 32))
    if tile <= 0 or tile % stride or not 0 <= overlap < tile or batch_size < 1:
        raise InvalidInput(
            f"tile must be a positive multiple of {stride}, 0 <= overlap < tile and batch_size >= 1; "
            f"got tile={tile}, overlap={overlap}, batch_size={batch_size}"
        )
    _, height, width = features.shape
    margin = overlap // 2
    tile_h = min(tile, _round_up(height + 2 * margin, stride))
    tile_w = min(tile, _round_up(width + 2 * margin, stride))
    pad_h = max(height + 2 * margin, tile_h) - height - margin
    pad_w = max(width + 2 * margin, tile_w) - width - margin
    if model.device.type == "cuda":
        pads, size = (pad_h, pad_w), (tile_h, tile_w)
        return _blend_on_device(model, features, margin, pads, size, overlap, batch_size, boundary)
    x = np.pad(
        standardise(features, bundle.channel_mean, bundle.channel_std),
        ((0, 0), (margin, pad_h), (margin, pad_w)),
        mode="symmetric" if min(height, width) < 2 else "reflect",
    )
    windows = [(r, c) for r in _starts(x.shape[1], tile_h, overlap) for c in _starts(x.shape[2], tile_w, overlap)]
    ramp = np.outer(_ramp(tile_h, overlap), _ramp(tile_w, overlap)).astype(np.float32)
    acc = np.zeros((len(bundle.classes) + int(boundary), *x.shape[1:]), dtype=np.float32)
    norm = np.zeros(x.shape[1:], dtype=np.float32)
    for (rows, cols), logits in _run_batches(model, x, windows, (tile_h, tile_w), batch_size, boundary):
        for (r, c), tile_logits in zip(zip(rows, cols, strict=True), logits, strict=True):
            acc[:, r : r + tile_h, c : c + tile_w] += tile_logits * ramp
            norm[r : r + tile_h, c : c + tile_w] += ramp
    out = (
        acc[:, margin : margin + height, margin : margin + width]
        / norm[margin : margin + height, margin : margin + width]
    )
    return out.astype(np.float32, copy=False)


def predict_probabilities(
    model: LoadedModel, features: np.ndarray, *, tile: int = 256, overlap: int = 32, batch_size: int = 4
) -> np.ndarray:
    """Calibrated class probabilities ``(K, H, W)`` float32: ``softmax(blended logits / temperature)``."""
    logits = _blend(model, features, tile, overlap, batch_size)
    if isinstance(logits, torch.Tensor):  # CUDA: softmax on the device, one download
        with torch.inference_mode():
            return torch.softmax(logits / model.bundle.temperature, dim=0).cpu().numpy()
    return scaled_softmax(logits, model.bundle.temperature, axis=0)


def aggregate_plot(
    probs: np.ndarray, weights: np.ndarray, classes: Sequence[str], *, model_version: str = "unknown"
) -> PlotPrediction:
    """Aggregate a plot's window of probabilities ``(K, h, w)`` with coverage ``weights`` ``(h, w)`` (0..1).

    Pixels without a prediction (NaN) are left out. The plot's class probabilities are the coverage-weighted
    mean of the pixel probabilities (the expected area share of each class).
    """
    classes = tuple(classes)
    if probs.ndim != 3 or probs.shape[0] != len(classes) or probs.shape[1:] != weights.shape:
        raise InvalidInput(
            f"probs {probs.shape} and weights {weights.shape} must be (K, h, w) and (h, w) with K = {len(classes)}"
        )
    if NON_CROP not in classes or len(classes) < 2:
        raise InvalidInput(f"classes {classes} must include {NON_CROP!r} and at least one crop")
    if np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise InvalidInput("plot coverage weights must be finite and >= 0")
    usable = np.isfinite(probs).all(axis=0) & (weights > 0)
    w = np.where(usable, weights, 0.0).astype(np.float64)
    total = float(w.sum())
    if total <= 0:
        raise InvalidInput("the plot covers no pixel with a prediction; check that it lies inside the region")
    mean = (np.nan_to_num(probs.astype(np.float64)) * w).sum(axis=(1, 2)) / total
    mean = mean / mean.sum()
    non_crop = classes.index(NON_CROP)
    crop_idx = [i for i in range(len(classes)) if i != non_crop]
    crop_share = mean[crop_idx]
    conditional = crop_share / crop_share.sum() if crop_share.sum() > 0 else np.full(len(crop_idx), 1 / len(crop_idx))
    best = int(np.argmax(conditional))
    return PlotPrediction(
        crop=classes[crop_idx[best]],
        crop_probability=float(conditional[best]),
        cropland_fraction=float(1.0 - mean[non_crop]),
        class_probabilities={c: float(p) for c, p in zip(classes, mean, strict=True)},
        n_pixels=total,
        model_version=model_version,
    )


def _run_batches(
    model: LoadedModel,
    x: np.ndarray,
    windows: list[tuple[int, int]],
    size: tuple[int, int],
    batch_size: int,
    boundary: bool = False,
) -> Iterator[tuple[tuple[list[int], list[int]], np.ndarray]]:
    """Yield ``((rows, cols), logits)`` per batch; the next batch is cut and copied while this one runs."""
    device = model.device
    cuda = device.type == "cuda"
    th, tw = size

    def prepare(batch: list[tuple[int, int]]) -> torch.Tensor:
        stacked = np.stack([x[:, r : r + th, c : c + tw] for r, c in batch])
        tensor = torch.from_numpy(stacked)
        if cuda:
            tensor = tensor.pin_memory()
        return tensor.to(device, non_blocking=cuda)

    batches = [windows[i : i + batch_size] for i in range(0, len(windows), batch_size)]
    with ThreadPoolExecutor(max_workers=1) as pool, torch.inference_mode():
        pending = pool.submit(prepare, batches[0])
        for i, batch in enumerate(batches):
            inputs = pending.result()
            if i + 1 < len(batches):
                pending = pool.submit(prepare, batches[i + 1])
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16) if cuda else nullcontext():
                logits = model.module(inputs, boundary=True) if boundary else model.module(inputs)
            rows = [r for r, _ in batch]
            cols = [c for _, c in batch]
            yield (rows, cols), logits.float().cpu().numpy()


def _blend_on_device(
    model: LoadedModel,
    features: np.ndarray,
    margin: int,
    pads: tuple[int, int],
    size: tuple[int, int],
    overlap: int,
    batch_size: int,
    boundary: bool,
) -> torch.Tensor:
    """CUDA path: the raw features go to the GPU once; standardising, padding, cutting tiles, the bf16 forward and
    the blend all run there, so the host neither copies tiles nor accumulates; returns (K, H, W) logits there."""
    bundle, device = model.bundle, model.device
    _, height, width = features.shape
    (pad_h, pad_w), (th, tw) = pads, size
    with torch.inference_mode():
        if min(height, width) < 2 or max(margin, pad_h) >= height or max(margin, pad_w) >= width:
            # torch's reflect padding needs pads smaller than the image: tiny inputs take NumPy's symmetric pad
            host = np.pad(
                standardise(features, bundle.channel_mean, bundle.channel_std),
                ((0, 0), (margin, pad_h), (margin, pad_w)),
                mode="symmetric" if min(height, width) < 2 else "reflect",
            )
            x = torch.from_numpy(host).to(device)
        else:
            raw = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
            mean = torch.tensor(bundle.channel_mean, dtype=torch.float32, device=device)[:, None, None]
            std = torch.tensor(bundle.channel_std, dtype=torch.float32, device=device)[:, None, None]
            x = torch.nan_to_num((raw - mean) / torch.where(std > 0, std, torch.ones_like(std)), 0.0, 0.0, 0.0)
            del raw
            x = torch.nn.functional.pad(x[None], (margin, pad_w, margin, pad_h), mode="reflect")[0]
        windows = [(r, c) for r in _starts(x.shape[1], th, overlap) for c in _starts(x.shape[2], tw, overlap)]
        ramp = torch.from_numpy(np.outer(_ramp(th, overlap), _ramp(tw, overlap)).astype(np.float32)).to(device)
        acc = torch.zeros((len(bundle.classes) + int(boundary), *x.shape[1:]), dtype=torch.float32, device=device)
        norm = torch.zeros(x.shape[1:], dtype=torch.float32, device=device)
        for i in range(0, len(windows), batch_size):
            batch = windows[i : i + batch_size]
            inputs = torch.stack([x[:, r : r + th, c : c + tw] for r, c in batch])
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                logits = (model.module(inputs, boundary=True) if boundary else model.module(inputs)).float()
            for (r, c), tile_logits in zip(batch, logits, strict=True):
                acc[:, r : r + th, c : c + tw] += tile_logits * ramp
                norm[r : r + th, c : c + tw] += ramp
        out = (
            acc[:, margin : margin + height, margin : margin + width]
            / norm[margin : margin + height, margin : margin + width]
        )
        return out


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def _ramp(size: int, overlap: int) -> np.ndarray:
    """1-D blending window: linear from ~0 to 1 over ``overlap`` pixels at both ends, never 0."""
    if overlap == 0:
        return np.ones(size, dtype=np.float32)
    pos = np.arange(size, dtype=np.float32) + 0.5
    return np.clip(np.minimum(pos, size - pos) / overlap, 1.0 / overlap, 1.0)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple
