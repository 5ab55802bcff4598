"""The Presto encoder (Tseng et al. 2023), written from the paper's description, loading the published weights.

A pixel's monthly series becomes tokens: per step one token per channel group (a linear projection of the
group's normalised channels) and one Dynamic World token; each gets a month, channel-group and time-position
embedding added; one lat/lon token (unit-sphere coordinates, projected) joins them. Tokens whose channels are all
missing are dropped (here: excluded from attention and from the mean through a key mask, which is the same as
removing them per sample). Two pre-norm transformer blocks follow; the output is the layer norm of the mean of the
kept tokens, 128 numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional

from agrisense.errors import ModelUnavailable

#: the 17 input channels in Presto's order
CHANNELS: tuple[str, ...] = (
    "VV", "VH", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12",
    "temperature_2m", "total_precipitation", "elevation", "slope", "NDVI",
)  # fmt: skip
#: channel groups (one token each per step), in the order of ``channel_embed`` rows 0..8; row 9 is Dynamic World
GROUPS: dict[str, tuple[int, ...]] = {
    "S1": (0, 1),
    "S2_RGB": (2, 3, 4),
    "S2_Red_Edge": (5, 6, 7),
    "S2_NIR_10m": (8,),
    "S2_NIR_20m": (9,),
    "S2_SWIR": (10, 11),
    "ERA5": (12, 13),
    "SRTM": (14, 15),
    "NDVI": (16,),
}
DW_UNKNOWN = 9
MAX_STEPS = 24
#: the order in which month, channel-group and time-position embeddings are concatenated into a token's position
#: embedding: the published weights' order, confirmed by the decoder's reconstruction check (docs/croptype.md)
EMBEDDING_ORDER: tuple[str, str, str] = ("month", "channel", "position")
EMBED_DIM = 128
WEIGHTS_FILE = "default_model.pt"
WEIGHTS_SHA256 = "559c9d76f525bdf2dd3774da8b1e7f1510769b73baacac12e9e4d8d5c67fbe65"


@dataclass(frozen=True)
class PrestoBatch:
    """Encoder inputs for N pixels of T monthly steps.

    ``x`` (N, T, 17) normalised channels (0 where missing), ``mask`` (N, T, 17) 1 = missing, ``dynamic_world``
    (N, T) int classes 0..8 or 9 = unknown, ``latlon`` (N, 2) degrees, ``month`` (N,) month of the first step
    (0 = January).
    """

    x: torch.Tensor
    mask: torch.Tensor
    dynamic_world: torch.Tensor
    latlon: torch.Tensor
    month: torch.Tensor

    def to(self, device: torch.device | str) -> PrestoBatch:
        return PrestoBatch(*(t.to(device) for t in (self.x, self.mask, self.dynamic_world, self.latlon, self.month)))

    def __getitem__(self, index: slice | torch.Tensor) -> PrestoBatch:
        return PrestoBatch(
            self.x[index], self.mask[index], self.dynamic_world[index], self.latlon[index], self.month[index]
        )

    def __len__(self) -> int:
        return int(self.x.shape[0])


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection; ``keep`` (N, L) bool masks keys out."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        n, length, dim = x.shape
        q, k, v = self.qkv(x).reshape(n, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        out = functional.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :])
        return self.proj(out.transpose(1, 2).reshape(n, length, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(functional.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), keep)
        return x + self.mlp(self.norm2(x))


def unit_sphere(latlon: torch.Tensor) -> torch.Tensor:
    """(N, 2) latitude, longitude in degrees -> (N, 3) cartesian coordinates on the unit sphere."""
    lat, lon = torch.deg2rad(latlon[:, 0]), torch.deg2rad(latlon[:, 1])
    return torch.stack([torch.cos(lat) * torch.cos(lon), torch.cos(lat) * torch.sin(lon), torch.sin(lat)], dim=1)


def position_embedding(
    order: tuple[str, str, str], month: torch.Tensor, channel: torch.Tensor, position: torch.Tensor
) -> torch.Tensor:
    """The three parts concatenated in ``order`` (names ``month``, ``channel``, ``position``)."""
    parts = {"month": month, "channel": channel, "position": position}
    return torch.cat([parts[name] for name in order], dim=-1)


class PrestoEncoder(nn.Module):
    """Presto's encoder; parameter names match the ``encoder.*`` tensors of the published state dict."""

    def __init__(
        self, depth: int = 2, heads: int = 8, mlp_ratio: int = 4, order: tuple[str, str, str] = EMBEDDING_ORDER
    ) -> None:
        super().__init__()
        if sorted(order) != ["channel", "month", "position"]:
            raise ValueError(f"order must be a permutation of month, channel, position; got {order}")
        self.order = order
        d = EMBED_DIM
        self.eo_patch_embed = nn.ModuleDict({name: nn.Linear(len(idx), d) for name, idx in GROUPS.items()})
        self.dw_embed = nn.Embedding(DW_UNKNOWN + 1, d)
        self.latlon_embed = nn.Linear(3, d)
        self.blocks = nn.ModuleList(Block(d, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(d)
        # fixed (pretrained, not trained further) embeddings: time position 64, month 32, channel group 32
        self.pos_embed = nn.Parameter(torch.zeros(1, MAX_STEPS, d // 2), requires_grad=False)
        self.month_embed = nn.Embedding(12, d // 4)
        self.channel_embed = nn.Embedding(len(GROUPS) + 1, d // 4)

    def tokens(self, batch: PrestoBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, L, 128)`` embedded tokens and ``(N, L)`` bool keep flags; L = T * (groups + 1) + 1."""
        n, t, _ = batch.x.shape
        if t > MAX_STEPS:
            raise ValueError(f"Presto takes at most {MAX_STEPS} monthly steps, got {t}")
        months = (batch.month.long()[:, None] + torch.arange(t, device=batch.x.device)[None, :]) % 12
        parts = {"month": self.month_embed(months), "position": self.pos_embed[:, :t, :].expand(n, -1, -1)}
        tokens, keeps = [], []
        for g, (name, idx) in enumerate(GROUPS.items()):
            cols = list(idx)
            channel = self.channel_embed.weight[g].expand(n, t, -1)
            tokens.append(self.eo_patch_embed[name](batch.x[..., cols]) + self._position(parts, channel))
            keeps.append(~batch.mask[..., cols].bool().all(dim=-1))
        dw = batch.dynamic_world.long()
        channel = self.channel_embed.weight[len(GROUPS)].expand(n, t, -1)
        tokens.append(self.dw_embed(dw) + self._position(parts, channel))
        keeps.append(dw != DW_UNKNOWN)
        latlon = self.latlon_embed(unit_sphere(batch.latlon.float()))[:, None, :]
        x = torch.cat([latlon, *tokens], dim=1)
        keep = torch.cat([torch.ones(n, 1, dtype=torch.bool, device=x.device), *keeps], dim=1)
        return x, keep

    def _position(self, parts: dict[str, torch.Tensor], channel: torch.Tensor) -> torch.Tensor:
        return position_embedding(self.order, parts["month"], channel, parts["position"])

    def _transform(self, batch: PrestoBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Tokens through the blocks: ``(N, L', 128)`` outputs and ``(N, L')`` keep flags of the used slots, plus
        the ``(L,)`` used-slot flags and the full ``(N, L)`` keep flags. Slots that no pixel of the batch keeps
        (S1, SRTM, unknown DW) are skipped: they cost nothing."""
        x, keep = self.tokens(batch)
        used = keep.any(dim=0)
        h, kept = x[:, used], keep[:, used]
        for block in self.blocks:
            h = block(h, kept)
        return h, kept, used, keep

    def encode_tokens(self, batch: PrestoBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, L, 128)`` layer-normed final tokens (the decoder's input; dropped slots are zeros) and ``(N, L)``
        keep flags, in the layout of ``tokens``."""
        h, _, used, keep = self._transform(batch)
        out = torch.zeros(*keep.shape, h.shape[-1], dtype=h.dtype, device=h.device)
        out[:, used] = self.norm(h)
        return out, keep

    def forward(self, batch: PrestoBatch) -> torch.Tensor:
        """``(N, 128)`` embeddings: the layer norm of the mean of the kept final tokens."""
        x, keep, _, _ = self._transform(batch)
        weight = keep.to(x.dtype)[..., None]
        mean = (x * weight).sum(dim=1) / weight.sum(dim=1)
        return self.norm(mean)


def load_part(weights: Path, prefix: str, module: nn.Module, refusal: str) -> None:
    """Load the ``{prefix}.*`` tensors of the published state dict at ``weights`` into ``module`` (strict=True);
    ``ModelUnavailable`` saying where the weights live when missing, ``refusal`` + the reason when they do not fit."""
    if not weights.is_file():
        raise ModelUnavailable(
            f"no Presto weights at {weights}; the repository ships them in models/presto_encoder/ "
            "(set AGRISENSE_MODELS_DIR to a folder that holds presto_encoder/default_model.pt)"
        )
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        part = {k.removeprefix(f"{prefix}."): v for k, v in state.items() if k.startswith(f"{prefix}.")}
        module.load_state_dict(part, strict=True)
    except (RuntimeError, ValueError, KeyError, AttributeError) as exc:
        raise ModelUnavailable(f"the Presto weights at {weights} {refusal} ({exc})") from exc


def load_encoder(weights: Path, order: tuple[str, str, str] = EMBEDDING_ORDER) -> PrestoEncoder:
    """A ``PrestoEncoder`` with the ``encoder.*`` tensors of ``weights`` loaded ``strict=True``, in eval mode
    (``order``: the position-embedding layout, see ``EMBEDDING_ORDER``)."""
    encoder = PrestoEncoder(order=order)
    load_part(weights, "encoder", encoder, "do not fit this encoder")
    return encoder.eval()


def encoder_weights_path(models_dir: Path) -> Path:
    """Where the bundled encoder weights live under a models folder (``settings.models_dir``)."""
    return Path(models_dir) / "presto_encoder" / WEIGHTS_FILE
