"""The reconstruction check: hide part of real pixel series, encode the rest, let the pretrained decoder fill it in.

The encoder and decoder were pre-trained together to reconstruct hidden tokens, so under the input conventions they
were trained with (token-embedding layout, units, month index) the decoder's reconstruction of hidden Sentinel-2
values is far better than a naive guess; under a wrong convention it is not. Errors are mean squared errors in
Presto's normalised units (reflectance / 10,000) over the hidden Sentinel-2 channels, against the baseline "each
hidden value = that pixel's mean of the same band over its visible months".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from agrisense.errors import InvalidInput
from agrisense.ml.presto.decoder import PrestoDecoder
from agrisense.ml.presto.encoder import CHANNELS, GROUPS, PrestoEncoder
from agrisense.ml.presto.inputs import PrestoInputs

#: the Sentinel-2 channels scored, and the token groups hidden (NDVI too: it is computed from B4 and B8)
S2_CHANNELS: tuple[int, ...] = tuple(
    CHANNELS.index(b) for b in ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12")
)
HIDDEN_GROUPS: tuple[str, ...] = ("S2_RGB", "S2_Red_Edge", "S2_NIR_10m", "S2_NIR_20m", "S2_SWIR", "NDVI")


@dataclass(frozen=True)
class Hidden:
    """``inputs`` with some tokens hidden (masked) and ``hidden`` (N, T, 17) bool: the channels hidden that had a
    value, i.e. what the reconstruction is scored on. ``truth`` is the original ``x``."""

    inputs: PrestoInputs
    hidden: np.ndarray
    truth: np.ndarray


def hide_months(inputs: PrestoInputs, fraction: float, seed: int) -> Hidden:
    """Hide every Sentinel-2 token (and NDVI) of ``fraction`` of each pixel's clear months, at least one month
    hidden and one kept (pixels with fewer than two clear months are left whole and not scored)."""
    if not 0 < fraction < 1:
        raise InvalidInput(f"fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    s2_cols = [c for g in HIDDEN_GROUPS for c in GROUPS[g]]
    clear = inputs.mask[..., list(S2_CHANNELS)].min(axis=-1) == 0  # (N, T): some S2 band present
    hide = np.zeros(inputs.mask.shape, dtype=bool)
    for i in range(len(inputs)):
        months = np.flatnonzero(clear[i])
        if len(months) < 2:
            continue
        k = min(len(months) - 1, max(1, round(fraction * len(months))))
        chosen = rng.choice(months, size=k, replace=False)
        hide[i, chosen[:, None], s2_cols] = True
    return _apply(inputs, hide)


def hide_tokens(inputs: PrestoInputs, fraction: float, seed: int) -> Hidden:
    """Hide each present Sentinel-2 / NDVI token independently with probability ``fraction``."""
    if not 0 < fraction < 1:
        raise InvalidInput(f"fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    hide = np.zeros(inputs.mask.shape, dtype=bool)
    n, t, _ = inputs.mask.shape
    for group in HIDDEN_GROUPS:
        cols = list(GROUPS[group])
        present = inputs.mask[..., cols].min(axis=-1) == 0
        chosen = present & (rng.random((n, t)) < fraction)
        hide[..., cols] |= chosen[..., None]
    return _apply(inputs, hide)


def _apply(inputs: PrestoInputs, hide: np.ndarray) -> Hidden:
    hidden = hide & (inputs.mask == 0)
    mask = np.where(hide, 1.0, inputs.mask).astype(np.float32)
    x = np.where(hide, 0.0, inputs.x).astype(np.float32)
    masked = PrestoInputs(x, mask, inputs.dynamic_world, inputs.latlon, inputs.month)
    return Hidden(inputs=masked, hidden=hidden, truth=inputs.x)


@torch.inference_mode()
def reconstruct(encoder: PrestoEncoder, decoder: PrestoDecoder, inputs: PrestoInputs, size: int = 512) -> np.ndarray:
    """``(N, T, 17)`` the decoder's reconstruction of every channel from what ``inputs`` leaves visible (CPU)."""
    encoder.eval()
    decoder.eval()
    batch = inputs.to_batch()
    out = []
    for start in range(0, len(batch), size):
        part = batch[start : start + size]
        tokens, keep = encoder.encode_tokens(part)
        out.append(decoder(tokens, keep, part.month).numpy())
    return np.concatenate(out).astype(np.float64)


def visible_mean(hidden: Hidden) -> np.ndarray:
    """The baseline guess: every channel = the pixel's mean of that channel over its visible months."""
    visible = hidden.inputs.mask == 0
    total = np.where(visible, hidden.truth, 0.0).sum(axis=1, keepdims=True)
    count = visible.sum(axis=1, keepdims=True)
    mean = np.divide(total, count, out=np.zeros_like(total, dtype=np.float64), where=count > 0)
    return np.broadcast_to(mean, hidden.truth.shape)


def hidden_mse(prediction: np.ndarray, hidden: Hidden) -> float:
    """Mean squared error of ``prediction`` over the hidden Sentinel-2 values (normalised units)."""
    scored = hidden.hidden[..., list(S2_CHANNELS)]
    if not scored.any():
        raise InvalidInput("nothing was hidden: every pixel needs at least two clear months to be scored")
    error = (prediction[..., list(S2_CHANNELS)] - hidden.truth[..., list(S2_CHANNELS)]) ** 2
    return float(error[scored].mean())
