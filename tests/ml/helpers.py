"""Bundles and models for the ML tests."""

from __future__ import annotations

import torch
from torch import nn

from agrisense.ml.registry import LoadedModel, ModelBundle, build_module

CLASSES = ("non_crop", "maize", "sorghum", "groundnut", "beans")


def tiny_bundle(n_bands: int = 2, n_months: int = 2, temperature: float = 1.0, **kw) -> ModelBundle:
    c = n_bands * n_months
    defaults = dict(
        name="landcover_unet",
        version="test",
        classes=CLASSES,
        bands=tuple(f"b{i}" for i in range(n_bands)),
        indices=(),
        months=tuple(range(3, 3 + n_months)),
        channel_mean=tuple(0.5 for _ in range(c)),
        channel_std=tuple(2.0 for _ in range(c)),
        temperature=temperature,
        encoder_depth=3,
        decoder_channels=(32, 16, 8),
        stem_channels=8,
    )
    defaults.update(kw)
    return ModelBundle(**defaults)


def tiny_unet(bundle: ModelBundle, seed: int = 0) -> LoadedModel:
    torch.manual_seed(seed)
    module = build_module(bundle)
    for m in module.modules():  # non-trivial BN statistics so eval mode is really exercised
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return LoadedModel(bundle=bundle, module=module.eval(), device=torch.device("cpu"))


class Pointwise(nn.Module):
    """A 1x1 convolution: its output at a pixel depends on that pixel only (no context, no padding)."""

    def __init__(self, c: int, k: int) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.conv = nn.Conv2d(c, k, kernel_size=1)
        self.input_multiple = 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)
