"""The field-boundary head: trained on top of a frozen land-cover U-Net, then scored on whole fields.

The land-cover weights (and so every class probability and the calibrated temperature that credit limits
depend on) stay exactly as they are: only the small head learns, from the truth fields' shared edges
(:func:`agrisense.ml.fields.boundary_target`). The boundary threshold is chosen on the validation blocks by
field-level F1, and the test blocks report how many truth fields come out whole, against the baseline of
cutting cropland into connected patches without the head.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from agrisense.errors import InvalidInput
from agrisense.ml.dataset import IGNORE, TEST, TRAIN, VAL, BlockSplit, RandomTiles
from agrisense.ml.fields import FieldMatch, FieldThresholds, boundary_target, label_fields, match_fields
from agrisense.ml.inference import predict_maps
from agrisense.ml.registry import NON_CROP, LoadedModel
from agrisense.ml.training.fit import _autocast, seed_everything
from agrisense.ml.unet import LandcoverUNet

THRESHOLD_GRID = (0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass(frozen=True)
class BoundaryConfig:
    """Hyper-parameters of the boundary head's training."""

    tile: int = 128
    epochs: int = 40
    tiles_per_epoch: int = 96
    batch_size: int = 8
    val_tiles: int = 24
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    max_seconds: float = 10 * 60


@dataclass(frozen=True)
class BoundaryFit:
    """Loss history of the head (best validation epoch kept) and the positive-class weight used."""

    train_loss: tuple[float, ...]
    val_loss: tuple[float, ...]
    best_epoch: int
    seconds: float
    pos_weight: float


@dataclass(frozen=True)
class FieldEvaluation:
    """Field-level results on the test blocks with and without the boundary head."""

    threshold: float
    val_f1_by_threshold: dict[str, float]
    test: FieldMatch
    test_without_head: FieldMatch

    def to_json(self) -> dict[str, Any]:
        return {
            "boundary_threshold": self.threshold,
            "val_f1_by_threshold": self.val_f1_by_threshold,
            "test": self.test.to_json(),
            "test_cropland_only": self.test_without_head.to_json(),
        }


def fit_boundary_head(
    module: LandcoverUNet,
    features: np.ndarray,
    field_ids: np.ndarray,
    split: BlockSplit,
    config: BoundaryConfig,
    device: torch.device,
    log: Callable[[str], None] = print,
) -> BoundaryFit:
    """Attach a new boundary head to ``module`` and train it on standardised ``features`` (C, H, W).

    The rest of the network is frozen (eval mode, no gradients). Targets come from ``field_ids`` (H, W);
    pixels outside the training (validation) blocks are ignored. Keeps the epoch with the lowest val loss.
    """
    if features.ndim != 3 or features.shape[1:] != field_ids.shape:
        raise InvalidInput(f"features {features.shape} and field ids {field_ids.shape} do not line up")
    if not (field_ids > 0).any():
        raise InvalidInput("the region has no truth fields (truth/fields.parquet) to learn field boundaries from")
    seed_everything(config.seed)
    target = boundary_target(field_ids)
    in_train = split.split == TRAIN
    if not in_train.any():
        raise InvalidInput("the block split has no training pixels; check the truth raster and the split")
    train_target = np.where(in_train, target, IGNORE).astype(np.int64)
    val_target = np.where(split.split == VAL, target, IGNORE).astype(np.int64)
    positives = float(target[in_train].mean())
    pos_weight = float(np.clip(np.sqrt((1 - positives) / max(positives, 1e-6)), 1.0, 10.0))
    stride = module.input_multiple
    tile = min(config.tile, *(s // stride * stride for s in field_ids.shape))
    train_set = RandomTiles(features, train_target, tile=tile, n_tiles=config.tiles_per_epoch, seed=config.seed)
    val_set = RandomTiles(
        features, val_target, tile=tile, n_tiles=config.val_tiles, seed=config.seed + 1, augment=False
    )

    module.to(device).eval()
    frozen = [p for p in module.parameters() if p.requires_grad]
    for parameter in frozen:
        parameter.requires_grad_(False)
    head = module.add_boundary_head().to(device)
    try:
        return _fit_head(module, head, train_set, val_set, config, pos_weight, device, log)
    finally:
        for parameter in frozen:
            parameter.requires_grad_(True)


def _fit_head(
    module: LandcoverUNet,
    head: nn.Module,
    train_set: RandomTiles,
    val_set: RandomTiles,
    config: BoundaryConfig,
    pos_weight: float,
    device: torch.device,
    log: Callable[[str], None],
) -> BoundaryFit:
    train_loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=False)
    val_loader = DataLoader(val_set, batch_size=config.batch_size, shuffle=False)
    optimiser = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    total_steps = config.epochs * len(train_loader)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr, total_steps=max(total_steps, 1))
    weight = torch.tensor(pos_weight, device=device)

    def loss_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with _autocast(device):
            logit = module(x, boundary=True)[:, -1].float()
        mask = y != IGNORE
        return nn.functional.binary_cross_entropy_with_logits(
            logit[mask], y[mask].float(), pos_weight=weight, reduction="mean"
        )

    train_loss: list[float] = []
    val_loss: list[float] = []
    best_state, best_val, best_epoch = copy.deepcopy(head.state_dict()), float("inf"), 0
    start = time.perf_counter()
    for epoch in range(config.epochs):
        train_set.set_epoch(epoch)
        head.train()
        total, n = 0.0, 0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            if not (y != IGNORE).any():
                continue
            loss = loss_of(x, y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total, n = total + float(loss.detach()) * len(x), n + len(x)
        train_loss.append(total / max(n, 1))
        head.eval()
        with torch.inference_mode():
            losses = [
                (float(loss_of(x.to(device), y.to(device))), len(x)) for x, y in val_loader if (y != IGNORE).any()
            ]
        val_loss.append(sum(v * k for v, k in losses) / max(sum(k for _, k in losses), 1))
        if val_loss[-1] < best_val:
            best_val, best_epoch, best_state = val_loss[-1], epoch, copy.deepcopy(head.state_dict())
        elapsed = time.perf_counter() - start
        log(f"boundary head epoch {epoch + 1}/{config.epochs}: train {train_loss[-1]:.4f}, val {val_loss[-1]:.4f}")
        if elapsed / (epoch + 1) * (epoch + 2) > config.max_seconds:
            log(f"boundary head: time budget {config.max_seconds:.0f} s reached after {epoch + 1} epochs")
            break
    head.load_state_dict(best_state)
    head.eval()
    return BoundaryFit(
        train_loss=tuple(train_loss),
        val_loss=tuple(val_loss),
        best_epoch=best_epoch + 1,
        seconds=time.perf_counter() - start,
        pos_weight=pos_weight,
    )


def evaluate_fields(
    model: LoadedModel,
    features: np.ndarray,
    field_ids: np.ndarray,
    split: BlockSplit,
    *,
    batch_size: int = 4,
    base: FieldThresholds = FieldThresholds(),
) -> FieldEvaluation:
    """Pick the boundary threshold on val fields (F1 at IoU 0.5), then score test fields with it and without
    the head (connected cropland only)."""
    prediction = predict_maps(model, features, batch_size=batch_size)
    if prediction.boundary is None:
        raise InvalidInput("the model has no boundary head to evaluate")
    cropland = 1.0 - prediction.probabilities[model.bundle.classes.index(NON_CROP)]

    def score(threshold: float | None, which: int) -> FieldMatch:
        thresholds = base if threshold is None else replace(base, boundary=threshold)
        labels = label_fields(cropland, None if threshold is None else prediction.boundary, thresholds)
        truth = np.where(split.split == which, field_ids, 0)
        return match_fields(labels, truth, scope=split.split == which)

    by_threshold = {t: score(t, VAL).f1 for t in THRESHOLD_GRID}
    best = max(THRESHOLD_GRID, key=lambda t: (by_threshold[t], -abs(t - 0.5)))
    return FieldEvaluation(
        threshold=best,
        val_f1_by_threshold={f"{t:g}": round(v, 4) for t, v in by_threshold.items()},
        test=score(best, TEST),
        test_without_head=score(None, TEST),
    )


def boundary_card_section(fit: BoundaryFit, evaluation: FieldEvaluation, config: BoundaryConfig) -> str:
    """The model card's "Field boundaries" section."""
    test, base = evaluation.test, evaluation.test_without_head
    rows = "\n".join(
        f"| {name} | {m.n_truth} | {m.n_predicted} | {m.recall:.3f} | {m.precision:.3f} | **{m.f1:.3f}** | "
        f"{m.median_best_iou:.3f} | {m.merged} | {m.split} |"
        for name, m in (("with the boundary head", test), ("cropland patches only (baseline)", base))
    )
    grid = ", ".join(f"{t}: {v:.3f}" for t, v in evaluation.val_f1_by_threshold.items())
    return f"""{CARD_SECTION}
A small head (two 3x3 convolutions over the last decoder features, the class logits and the temporal stem's
per-pixel embedding) predicts where two fields touch. It was trained **after** the land-cover network, with that
network frozen, so the class probabilities, the temperature and every number above are unchanged by it.

- Target: field pixels with a 4-neighbour in a different truth field (a 2-pixel line along shared edges).
- Training: {len(fit.train_loss)} epochs of {config.tiles_per_epoch} random {config.tile} px tiles from the
  training blocks, binary cross-entropy with positive weight {fit.pos_weight:.2f}, AdamW one-cycle (lr
  {config.lr}), seed {config.seed}; best validation epoch {fit.best_epoch}; {fit.seconds:.0f} s.
- Fields = connected pixels with cropland >= 0.5 and boundary < threshold (4-connected), cores under 4 pixels
  dropped, then grown over cropland boundary pixels within 2 pixels. Threshold **{evaluation.threshold}**,
  chosen on the validation blocks by field F1 (val F1 by threshold: {grid}).
- Scored on the test blocks, one to one at IoU > 0.5 (merged = one predicted field holding most of two or more
  truth fields; split = a truth field whose largest predicted piece holds under half of it):

| fields | truth | predicted | recall | precision | F1 | median best IoU | merged | split |
|---|---|---|---|---|---|---|---|---|
{rows}

`agrisense.ml.fields.label_fields` turns the two maps into field labels; the service uses it to suggest a
plot outline where the farmer taps. Retrain the head alone with
`agrisense train boundary --region DIR --model models/landcover_unet`.
"""


CARD_SECTION = "## Field boundaries"


def replace_card_section(card: str, section: str) -> str:
    """``card`` with its field-boundary section replaced by ``section`` (appended when absent)."""
    head, _, rest = card.partition(CARD_SECTION)
    tail = ""
    if rest:
        following = rest.find("\n## ")
        tail = rest[following + 1 :] if following >= 0 else ""
    return head.rstrip() + "\n\n" + section.rstrip() + "\n" + ("\n" + tail if tail else "")
