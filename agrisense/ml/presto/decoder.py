"""Presto's masked-autoencoding decoder, written from the paper's description, loading the published weights.

The published state dict holds the decoder next to the encoder (``decoder.*``, 52 tensors). It is not needed to
classify; it is here to *check* the encoder: hide part of a real pixel's series, encode the rest, and let the
decoder reconstruct what was hidden. Only the encoder's true input conventions (embedding layout, units) give the
decoder tokens it can read, so the reconstruction error tells the right convention from the wrong ones
(``reconstruction.py``, docs/croptype.md *Is our Presto right?*).

Layout: the encoder's final tokens (layer-normed) go through ``decoder_embed``; every slot the encoder dropped
(missing or hidden) becomes the learned ``mask_token``; each slot gets its month (48), channel-group (32, shared
with the encoder) and time-position (48) embedding added, in the encoder's order; SRTM is one token without month or
position (it does not change over time), the lat/lon token gets no embedding. Two transformer blocks over all
slots, a layer norm, then one linear read-out per channel group (and one for Dynamic World's 9 classes).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from agrisense.ml.presto.encoder import (
    CHANNELS,
    DW_UNKNOWN,
    EMBED_DIM,
    EMBEDDING_ORDER,
    GROUPS,
    MAX_STEPS,
    Block,
    load_part,
    position_embedding,
)

_SRTM = list(GROUPS).index("SRTM")


class PrestoDecoder(nn.Module):
    """Presto's decoder; parameter names match the ``decoder.*`` tensors of the published state dict."""

    def __init__(
        self, depth: int = 2, heads: int = 8, mlp_ratio: int = 4, order: tuple[str, str, str] = EMBEDDING_ORDER
    ) -> None:
        super().__init__()
        d = EMBED_DIM
        self.order = order
        self.decoder_embed = nn.Linear(d, d)
        self.mask_token = nn.Parameter(torch.zeros(d))
        self.decoder_blocks = nn.ModuleList(Block(d, heads, mlp_ratio) for _ in range(depth))
        self.decoder_norm = nn.LayerNorm(d)
        self.eo_decoder_pred = nn.ModuleDict({name: nn.Linear(d, len(idx)) for name, idx in GROUPS.items()})
        self.dw_decoder_pred = nn.Linear(d, DW_UNKNOWN)
        channel = d // 4
        self.channel_embeddings = nn.Embedding(len(GROUPS) + 1, channel)
        self.pos_embed = nn.Parameter(torch.zeros(1, MAX_STEPS, (d - channel) // 2), requires_grad=False)
        self.month_embed = nn.Embedding(12, (d - channel) // 2)

    def _embeddings(self, n: int, t: int, month: torch.Tensor) -> torch.Tensor:
        """``(N, 1 + 10 T, 128)`` position embeddings in the encoder's token layout (lat/lon first, zero)."""
        months = (month.long()[:, None] + torch.arange(t, device=month.device)[None, :]) % 12
        month_part = self.month_embed(months)
        pos_part = self.pos_embed[:, :t, :].expand(n, -1, -1)
        rows = []
        for g in range(len(GROUPS) + 1):
            channel = self.channel_embeddings.weight[g].expand(n, t, -1)
            if g == _SRTM:  # one static token: no month, no position
                rows.append(position_embedding(self.order, month_part * 0, channel, pos_part * 0))
            else:
                rows.append(position_embedding(self.order, month_part, channel, pos_part))
        latlon = torch.zeros(n, 1, EMBED_DIM, device=month.device, dtype=month_part.dtype)
        return torch.cat([latlon, *rows], dim=1)

    def forward(self, tokens: torch.Tensor, keep: torch.Tensor, month: torch.Tensor) -> torch.Tensor:
        """Reconstructed normalised channels ``(N, T, 17)`` from the encoder's ``encode_tokens`` output.

        ``tokens`` (N, 1 + 10 T, 128) and ``keep`` (N, 1 + 10 T) in the encoder's layout, ``month`` (N,) month of
        the first step.
        """
        n, length, _ = tokens.shape
        t = (length - 1) // (len(GROUPS) + 1)
        x = torch.where(keep[..., None], self.decoder_embed(tokens), self.mask_token.to(tokens.dtype))
        x = x + self._embeddings(n, t, month)
        # SRTM is a single token: keep its first step, drop the other T - 1 slots
        slots = torch.ones(length, dtype=torch.bool, device=x.device)
        srtm_start = 1 + _SRTM * t
        slots[srtm_start + 1 : srtm_start + t] = False
        h = x[:, slots]
        everything = torch.ones(h.shape[:2], dtype=torch.bool, device=h.device)
        for block in self.decoder_blocks:
            h = block(h, everything)
        h = self.decoder_norm(h)
        full = x.clone()
        full[:, slots] = h
        full[:, srtm_start + 1 : srtm_start + t] = h[:, srtm_start : srtm_start + 1]
        out = torch.zeros(n, t, len(CHANNELS), dtype=h.dtype, device=h.device)
        for g, (name, idx) in enumerate(GROUPS.items()):
            group = full[:, 1 + g * t : 1 + (g + 1) * t]
            out[..., list(idx)] = self.eo_decoder_pred[name](group)
        return out


def load_decoder(weights: Path, order: tuple[str, str, str] = EMBEDDING_ORDER) -> PrestoDecoder:
    """A ``PrestoDecoder`` with the ``decoder.*`` tensors of ``weights`` loaded ``strict=True``, in eval mode."""
    decoder = PrestoDecoder(order=order)
    load_part(weights, "decoder", decoder, "hold no decoder that fits")
    return decoder.eval()
