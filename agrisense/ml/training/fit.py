"""The training loop on in-memory arrays: random augmented tiles, class-weighted CE, AdamW, cosine LR."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from agrisense.errors import InvalidInput
from agrisense.ml.dataset import (
    IGNORE,
    TRAIN,
    VAL,
    BlockSplit,
    RandomTiles,
    class_weights,
    training_tiles,
    validation_tiles,
)
from agrisense.ml.unet import build_model


@dataclass(frozen=True)
class FitConfig:
    """Hyper-parameters of one training run."""

    tile: int = 128
    epochs: int = 40
    tiles_per_epoch: int = 64
    batch_size: int = 8
    val_tiles: int = 24
    lr: float = 2e-3
    weight_decay: float = 1e-4
    input_noise: float = 0.0  # regularisers, off by default: see docs/models.md
    stem_dropout: float = 0.0
    class_weight_power: float = 0.5
    seed: int = 0
    max_seconds: float = 15 * 60
    encoder: str = "resnet18"
    encoder_depth: int = 4
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16)
    stem_channels: int | None = 32


@dataclass(frozen=True)
class LabelledRegion:
    """One more training region for :func:`fit_landcover`: standardised features (C, H, W), labels (H, W) and
    its own block split (its val blocks join the validation tiles; its test blocks stay unseen)."""

    features: np.ndarray
    labels: np.ndarray
    split: BlockSplit


REGION_SEED_STRIDE = 7919  # the k-th region's tiles are drawn with seed + k * stride (k = 0: the main region)


@dataclass
class FitResult:
    """The trained network (best validation epoch) and its loss history."""

    module: nn.Module
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    stopped_early: bool = False
    class_weights: list[float] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA) and make cuDNN deterministic where that is cheap."""
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def fit_landcover(
    features: np.ndarray,
    labels: np.ndarray,
    split: BlockSplit,
    n_classes: int,
    config: FitConfig,
    device: torch.device,
    log: Callable[[str], None] = print,
    more: Sequence[LabelledRegion] = (),
) -> FitResult:
    """Train on standardised ``features`` (C, H, W) and ``labels`` (H, W; IGNORE = no truth) of ``split``.

    ``more`` adds other regions: each epoch's tiles are drawn from every region's training blocks (a region
    picked in proportion to its labelled training pixels), validation tiles come from every region's val
    blocks, and the class weights count all training pixels. Trains ``config.epochs`` epochs (warm-up then
    cosine LR), or fewer when the measured epoch time says ``config.max_seconds`` would be overrun: the plan
    (and the LR decay with it) is shortened after each epoch. Returns the weights of the epoch with the lowest
    validation loss.
    """
    regions = [LabelledRegion(features, labels, split), *more]
    for region in regions:
        if region.features.ndim != 3 or region.features.shape[1:] != region.labels.shape:
            raise InvalidInput(f"features {region.features.shape} and labels {region.labels.shape} do not line up")
        if region.features.shape[0] != features.shape[0]:
            raise InvalidInput(f"regions have {region.features.shape[0]} and {features.shape[0]} feature channels")
    seed_everything(config.seed)
    stride = 2**config.encoder_depth
    tile = min(config.tile, *(s // stride * stride for region in regions for s in region.labels.shape))
    train_labels = [region.split.labels_for(region.labels, TRAIN) for region in regions]
    weights = class_weights(
        np.concatenate([y.ravel() for y in train_labels]), n_classes, power=config.class_weight_power
    )
    seeds = [config.seed + k * REGION_SEED_STRIDE for k in range(len(regions))]
    train_set = training_tiles(
        [
            RandomTiles(region.features, y, tile=tile, n_tiles=config.tiles_per_epoch, seed=seed)
            for region, y, seed in zip(regions, train_labels, seeds, strict=True)
        ],
        [float((y < n_classes).sum()) for y in train_labels],
        seed=config.seed,
    )
    val_set = validation_tiles(
        [
            RandomTiles(
                region.features,
                region.split.labels_for(region.labels, VAL),
                tile=tile,
                n_tiles=config.val_tiles,
                seed=seed + 1,
                augment=False,
            )
            for region, seed in zip(regions, seeds, strict=True)
        ]
    )
    generator = torch.Generator().manual_seed(config.seed)
    noise_generator = torch.Generator().manual_seed(config.seed + 2)
    train_loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=False, generator=generator)
    val_loader = DataLoader(val_set, batch_size=config.batch_size, shuffle=False)

    module = build_model(
        features.shape[0],
        n_classes,
        encoder=config.encoder,
        encoder_depth=config.encoder_depth,
        decoder_channels=config.decoder_channels,
        stem_channels=config.stem_channels,
        stem_dropout=config.stem_dropout,
    ).to(device)
    loss_fn = nn.CrossEntropyLoss(weight=torch.from_numpy(weights).to(device), ignore_index=IGNORE)
    optimiser = torch.optim.AdamW(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = len(train_loader)
    plan = {"epochs": config.epochs}  # lowered after each epoch if the time budget would be overrun
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: _warmup_cosine(step, steps_per_epoch, plan["epochs"] * steps_per_epoch)
    )

    result = FitResult(module=module, class_weights=[float(w) for w in weights])
    best_state, best_val = copy.deepcopy(module.state_dict()), float("inf")
    start = time.perf_counter()
    epoch = 0
    while epoch < plan["epochs"]:
        epoch_start = time.perf_counter()
        train_set.set_epoch(epoch)
        module.train()
        total, n = 0.0, 0
        for x, y in train_loader:
            if config.input_noise > 0:  # Gaussian noise in standardised units, drawn on CPU for reproducibility
                x = x + config.input_noise * torch.randn(x.shape, generator=noise_generator)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with _autocast(device):
                loss = loss_fn(module(x).float(), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total, n = total + float(loss.detach()) * len(x), n + len(x)
        result.train_loss.append(total / max(n, 1))
        result.val_loss.append(_evaluate_loss(module, val_loader, loss_fn, device))
        if result.val_loss[-1] < best_val:
            best_val, result.best_epoch = result.val_loss[-1], epoch
            best_state = copy.deepcopy(module.state_dict())
        epoch += 1
        elapsed = time.perf_counter() - start
        log(
            f"epoch {epoch}/{plan['epochs']}: train loss {result.train_loss[-1]:.4f}, "
            f"val loss {result.val_loss[-1]:.4f}, lr {schedule.get_last_lr()[0]:.2e} "
            f"({time.perf_counter() - epoch_start:.1f} s, {elapsed:.0f} s total)"
        )
        affordable = epoch + int((config.max_seconds - elapsed) // (elapsed / epoch))
        if affordable < plan["epochs"]:
            plan["epochs"] = max(affordable, epoch)
            result.stopped_early = True
            log(f"time budget {config.max_seconds:.0f} s: training {plan['epochs']} epochs instead")
    module.load_state_dict(best_state)
    module.eval()
    result.seconds = time.perf_counter() - start
    return result


def _warmup_cosine(step: int, warmup: int, total: int) -> float:
    """LR factor: linear warm-up over ``warmup`` steps, then cosine decay to 2 % at ``total`` steps."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(total - warmup, 1))
    return 0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * progress))


def _evaluate_loss(
    module: nn.Module,
    loader: DataLoader[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: nn.Module,
    device: torch.device,
) -> float:
    module.eval()
    total, n = 0.0, 0
    with torch.inference_mode():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            with _autocast(device):
                logits = module(x).float()
            total, n = total + float(loss_fn(logits, y)) * len(x), n + len(x)
    return total / max(n, 1)


def _autocast(device: torch.device) -> AbstractContextManager[object]:
    """bf16 autocast on CUDA, plain fp32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()
