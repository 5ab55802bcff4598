"""Fitting a seeded ensemble of ``TempCNN`` members and predicting their averaged logits."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from agrisense.ml.croptype.forest import ForestConfig
from agrisense.ml.croptype.network import AugmentConfig, NetConfig, TempCNN, augment


@dataclass(frozen=True)
class FitConfig:
    """Optimisation settings; ``max_steps`` caps the work so a few thousand samples still train in minutes.

    Augmentation is off by default: every variant tried (month shift, noise, month dropout) lowered grouped-CV
    accuracy of the flatten-head network (docs/croptype.md).
    """

    epochs: int = 60
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-2
    class_weight_power: float = 0.25
    label_smoothing: float = 0.05
    members: int = 3
    max_steps: int = 600
    net: NetConfig = field(default_factory=NetConfig)
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(max_shift=0, noise=0.0, mask_prob=0.0))
    forest: ForestConfig = field(default_factory=ForestConfig)


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def class_weights(y: np.ndarray, n_classes: int, power: float) -> np.ndarray:
    """Weights proportional to frequency**-power, mean 1 per training sample; absent classes get 0."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, np.maximum(counts, 1) ** -power, 0.0)
    return (w / (w[y].mean() if y.size else 1.0)).astype(np.float32)


def fit_member(
    x: np.ndarray, y: np.ndarray, n_classes: int, config: FitConfig, seed: int, device: torch.device
) -> TempCNN:
    """One network on standardised ``x`` (N, T, C) and integer ``y``; deterministic for a seed on CPU."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = TempCNN(x.shape[2], n_classes, config.net).to(device)
    xt = torch.from_numpy(x).to(device)
    yt = torch.from_numpy(y.astype(np.int64)).to(device)
    weights = torch.from_numpy(class_weights(y, n_classes, config.class_weight_power)).to(device)
    loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=config.label_smoothing)
    steps_per_epoch = max(1, math.ceil(len(y) / config.batch_size))
    total = max(4, min(config.epochs * steps_per_epoch, config.max_steps))
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.lr, total_steps=total, pct_start=min(0.5, max(0.1, 3 / total))
    )
    model.train()
    step = 0
    while step < total:
        order = torch.randperm(len(y), generator=generator).to(device)
        for start in range(0, len(y), config.batch_size):
            batch = order[start : start + config.batch_size]
            if batch.numel() < 2:  # BatchNorm needs two samples
                continue
            logits = model(augment(xt[batch], config.augment, generator))
            loss = loss_fn(logits, yt[batch])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            step += 1
            if step >= total:
                break
    return model.eval()


def fit_ensemble(
    x: np.ndarray, y: np.ndarray, n_classes: int, config: FitConfig, seed: int, device: torch.device
) -> list[TempCNN]:
    """``config.members`` networks with seeds ``seed*1000 + m``.

    On CPU the fit runs on one torch thread (restored afterwards): these networks are so small that thread
    synchronisation costs more than it saves (measured 2-5x slower with 2 threads on the shared 2-core machine).
    """
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        return [fit_member(x, y, n_classes, config, seed * 1000 + m, device) for m in range(config.members)]
    finally:
        torch.set_num_threads(threads)


@torch.inference_mode()
def predict_logits(models: list[TempCNN], x: np.ndarray, device: torch.device, batch: int = 1024) -> np.ndarray:
    """Mean of the members' log-softmax outputs (a geometric-mean ensemble), ``(N, K)`` float64."""
    out = []
    for start in range(0, len(x), batch):
        xt = torch.from_numpy(x[start : start + batch]).to(device)
        member = [torch.log_softmax(m.to(device).eval()(xt).float(), dim=1) for m in models]
        out.append(torch.stack(member).mean(dim=0).cpu().numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 0))
