"""Fitting the head (logistic regression on frozen embeddings) and, optionally, fine-tuning encoder + head.

The head starts as an L2-regularised multinomial logistic regression (scikit-learn) on the standardised 128-d
embeddings, folded into one ``nn.Linear``. With ``finetune_epochs > 0`` encoder and head then train together
(AdamW, a smaller learning rate for the encoder, seeded); on CPU that costs about a minute per epoch of 400
samples on the shared 2-core machine.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

from agrisense.ml.presto.encoder import EMBED_DIM, PrestoBatch, PrestoEncoder
from agrisense.ml.presto.model import autocast


@dataclass(frozen=True)
class PrestoFitConfig:
    """``c``: inverse L2 strength of the logistic head; ``class_weight``: None or ``"balanced"`` (scikit-learn);
    fine-tuning settings (0 epochs = frozen encoder); ``validation_share`` > 0: early stopping, i.e. that share of
    the training rows (stratified) is held out, the head is fitted on the rest, and the epoch (0 = the frozen
    starting point) with the lowest held-out loss is kept."""

    c: float = 0.1
    class_weight: str | None = None
    finetune_epochs: int = 0
    encoder_lr: float = 1e-4
    head_lr: float = 1e-3
    batch_size: int = 32
    weight_decay: float = 0.01
    label_smoothing: float = 0.05
    validation_share: float = 0.0


@torch.inference_mode()
def embed(encoder: PrestoEncoder, batch: PrestoBatch, device: torch.device, size: int = 4096) -> np.ndarray:
    """``(N, 128)`` float64 embeddings in eval mode."""
    encoder.to(device).eval()
    out = []
    for start in range(0, len(batch), size):
        with autocast(device):
            out.append(encoder(batch[start : start + size].to(device)).float().cpu().numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, EMBED_DIM))


def logistic_head(
    z: np.ndarray, y: np.ndarray, n_classes: int, c: float, seed: int, class_weight: str | None = None
) -> nn.Linear:
    """Multinomial logistic regression on standardised ``z``, folded into ``nn.Linear(128, n_classes)``.

    A class absent from ``y`` (possible inside a CV fold) gets a bias of -30 (never predicted).
    """
    scaler = StandardScaler().fit(z)
    fitted = LogisticRegression(C=c, max_iter=5000, random_state=seed, class_weight=class_weight)
    fitted.fit(scaler.transform(z), y)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    weight = np.zeros((n_classes, z.shape[1]))
    bias = np.full(n_classes, -30.0)
    coef = fitted.coef_ if len(fitted.classes_) > 2 else np.vstack([-fitted.coef_[0], fitted.coef_[0]]) / 2
    intercept = fitted.intercept_ if len(fitted.classes_) > 2 else np.array([-1, 1]) * fitted.intercept_[0] / 2
    for row, k in enumerate(fitted.classes_):
        weight[k] = coef[row] / scale
        bias[k] = intercept[row] - float(coef[row] @ (scaler.mean_ / scale))
    head = nn.Linear(z.shape[1], n_classes)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weight))
        head.bias.copy_(torch.from_numpy(bias))
    return head.eval()


def fit_presto(
    pretrained: PrestoEncoder,
    batch: PrestoBatch,
    y: np.ndarray,
    n_classes: int,
    config: PrestoFitConfig,
    seed: int,
    device: torch.device,
) -> tuple[PrestoEncoder, nn.Linear]:
    """A copy of ``pretrained`` (fine-tuned when configured) and its head, both in eval mode on the CPU."""
    encoder = copy.deepcopy(pretrained).to(device)
    train, held_out = _validation_split(y, config, seed)
    z = embed(encoder, batch[torch.from_numpy(train)], device)
    head = logistic_head(z, y[train], n_classes, config.c, seed, config.class_weight).to(device)
    if config.finetune_epochs > 0:
        _finetune(encoder, head, batch, y, (train, held_out), config, seed, device)
    return encoder.cpu().eval(), head.cpu().eval()


def _validation_split(y: np.ndarray, config: PrestoFitConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out row indices: all rows and none unless fine-tuning with early stopping."""
    rows = np.arange(len(y))
    if config.finetune_epochs == 0 or config.validation_share <= 0:
        return rows, rows[:0]
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    train, held_out = train_test_split(rows, test_size=config.validation_share, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(held_out)


@torch.inference_mode()
def _held_out_loss(
    encoder: PrestoEncoder, head: nn.Linear, batch: PrestoBatch, target: torch.Tensor, device: torch.device
) -> float:
    encoder.eval()
    head.eval()
    with autocast(device):
        logits = head(encoder(batch.to(device))).float()
    loss = float(nn.functional.cross_entropy(logits, target.to(device)))
    encoder.train()
    head.train()
    return loss


def _finetune(
    encoder: PrestoEncoder,
    head: nn.Linear,
    batch: PrestoBatch,
    y: np.ndarray,
    split: tuple[np.ndarray, np.ndarray],
    config: PrestoFitConfig,
    seed: int,
    device: torch.device,
) -> None:
    """Train encoder + head together on ``split[0]``; with held-out rows ``split[1]``, keep the best epoch."""
    train, held_out = split
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(
        [
            {"params": [p for p in encoder.parameters() if p.requires_grad], "lr": config.encoder_lr},
            {"params": head.parameters(), "lr": config.head_lr},
        ],
        weight_decay=config.weight_decay,
    )
    target = torch.from_numpy(y.astype(np.int64))
    check = batch[torch.from_numpy(held_out)] if len(held_out) else None
    best = (np.inf, copy.deepcopy(encoder.state_dict()), copy.deepcopy(head.state_dict()))
    encoder.train()
    head.train()
    if check is not None:
        best = (_held_out_loss(encoder, head, check, target[held_out], device), *best[1:])
    rows = torch.from_numpy(train)
    for _ in range(config.finetune_epochs):
        order = rows[torch.randperm(len(rows), generator=generator)]
        for start in range(0, len(order), config.batch_size):
            index = order[start : start + config.batch_size]
            with autocast(device):
                logits = head(encoder(batch[index].to(device))).float()
            loss = nn.functional.cross_entropy(logits, target[index].to(device), label_smoothing=config.label_smoothing)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        if check is not None:
            held_out_loss = _held_out_loss(encoder, head, check, target[held_out], device)
            if held_out_loss < best[0]:
                best = (held_out_loss, copy.deepcopy(encoder.state_dict()), copy.deepcopy(head.state_dict()))
    if check is not None:
        encoder.load_state_dict(best[1])
        head.load_state_dict(best[2])
    encoder.eval()
    head.eval()
