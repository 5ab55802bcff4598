"""A small temporal 1-D CNN over (months, features) and the augmentations used to train it on tiny data."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class NetConfig:
    """Architecture of ``TempCNN``: conv widths, kernel size, dropout, head width and how time is reduced.

    ``head="flatten"`` keeps each month's position (as in Pelletier et al.: green-up *timing* separates crops);
    ``head="pool"`` (mean + max over months) is shift-invariant and was measured weaker (docs/croptype.md).
    """

    widths: tuple[int, ...] = (32, 32, 32)
    kernel: int = 3
    dropout: float = 0.3
    hidden: int = 64
    head: str = "flatten"
    n_months: int = 12


class TempCNN(nn.Module):
    """TempCNN (Pelletier et al. 2019): conv-BN-ReLU-dropout blocks over months, then flatten (or pool), MLP.

    Input ``(N, T, C)``; output logits ``(N, K)``.
    """

    def __init__(self, in_channels: int, n_classes: int, config: NetConfig = NetConfig()) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_channels
        for width in config.widths:
            layers += [
                nn.Conv1d(prev, width, config.kernel, padding=config.kernel // 2),
                nn.BatchNorm1d(width),
                nn.ReLU(),
                nn.Dropout(config.dropout),
            ]
            prev = width
        self.body = nn.Sequential(*layers)
        if config.head not in ("flatten", "pool"):
            raise ValueError(f"NetConfig.head must be 'flatten' or 'pool', got {config.head!r}")
        self.flatten = config.head == "flatten"
        self.head = nn.Sequential(
            nn.Linear(prev * (config.n_months if self.flatten else 2), config.hidden),
            nn.BatchNorm1d(config.hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x.transpose(1, 2))
        if self.flatten:
            return self.head(h.flatten(1))
        return self.head(torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1))


@dataclass(frozen=True)
class AugmentConfig:
    """Random temporal shift (months), Gaussian noise (standardised units), share of months masked out."""

    max_shift: int = 1
    noise: float = 0.1
    mask_prob: float = 0.1


def augment(x: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Shift each sample by -s..s months (edge months repeated), add noise, blank random months (valid flag 0).

    ``x`` is standardised ``(N, T, C)`` whose last channel is the valid flag; a blanked month takes the training
    mean (0) in every feature, exactly like a missing month that could not be interpolated.
    """
    n, t, _ = x.shape
    if config.max_shift:
        shift = torch.randint(-config.max_shift, config.max_shift + 1, (n, 1), generator=generator)
        index = (torch.arange(t).unsqueeze(0) - shift).clamp(0, t - 1)
        x = torch.gather(x, 1, index.unsqueeze(2).expand_as(x).to(x.device))
    if config.noise:
        noise = torch.randn(x.shape, generator=generator).to(x.device) * config.noise
        noise[..., -1] = 0
        x = x + noise
    if config.mask_prob:
        keep = (torch.rand((n, t, 1), generator=generator) >= config.mask_prob).to(x.device, x.dtype)
        x = x * keep
    return x
