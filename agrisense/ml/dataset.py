"""Spatially grouped train/val/test split of a region and random training tiles drawn from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from agrisense.errors import InvalidInput

TRAIN, VAL, TEST, EXCLUDED = 0, 1, 2, -1
SPLIT_NAMES = {TRAIN: "train", VAL: "val", TEST: "test"}
IGNORE = 255  # label of pixels without truth (nodata, other split, excluded)


@dataclass(frozen=True)
class BlockSplit:
    """Per-pixel split (``TRAIN``/``VAL``/``TEST``/``EXCLUDED``) and the split of each block."""

    split: np.ndarray  # (H, W) int8
    blocks: np.ndarray  # (n_blocks, n_blocks) int8

    def labels_for(self, labels: np.ndarray, which: int) -> np.ndarray:
        """``labels`` as int64 with every pixel outside split ``which`` set to IGNORE."""
        return np.where(self.split == which, labels, IGNORE).astype(np.int64)


def block_split(
    labels: np.ndarray,
    n_classes: int,
    *,
    n_blocks: int = 4,
    n_val: int = 3,
    n_test: int = 3,
    seed: int = 0,
    field_ids: np.ndarray | None = None,
    margin: int = 2,
    tries: int = 200,
) -> BlockSplit:
    """Cut the region into ``n_blocks x n_blocks`` blocks; whole blocks go to val/test, the rest to train.

    Of ``tries`` seeded assignments the one whose rarest class is best represented in val and test is kept.
    A field (``field_ids`` > 0) belongs to the split holding most of its pixels; its pixels in other blocks
    are EXCLUDED, so no field is on two sides. Pixels within ``margin`` of a block edge are EXCLUDED too.
    """
    h, w = labels.shape
    if n_blocks < 2 or h < n_blocks or w < n_blocks or n_val < 1 or n_test < 1 or n_val + n_test >= n_blocks**2:
        raise InvalidInput(
            f"cannot cut a {h}x{w} region into {n_blocks}x{n_blocks} blocks with {n_val} val and {n_test} test blocks"
        )
    block_row = np.minimum(np.arange(h) * n_blocks // h, n_blocks - 1)
    block_col = np.minimum(np.arange(w) * n_blocks // w, n_blocks - 1)
    block_of = block_row[:, None] * n_blocks + block_col[None, :]
    valid = labels < n_classes
    counts = np.bincount(
        block_of[valid] * n_classes + labels[valid].astype(np.int64), minlength=n_blocks**2 * n_classes
    ).reshape(n_blocks**2, n_classes)
    totals = counts.sum(axis=0)
    present = totals > 0
    rng = np.random.default_rng(seed)
    best_score, best = -1.0, np.zeros(n_blocks**2, dtype=np.int8)
    for _ in range(tries):
        order = rng.permutation(n_blocks**2)
        assignment = np.full(n_blocks**2, TRAIN, dtype=np.int8)
        assignment[order[:n_val]] = VAL
        assignment[order[n_val : n_val + n_test]] = TEST
        shares = [counts[assignment == s].sum(axis=0)[present] / totals[present] for s in (VAL, TEST)]
        expected = [n_val / n_blocks**2, n_test / n_blocks**2]
        score = min(float((sh / ex).min()) for sh, ex in zip(shares, expected, strict=True))
        if score > best_score:
            best_score, best = score, assignment
    split = best[block_of]
    if field_ids is not None:
        split = _keep_fields_whole(split, field_ids)
    if margin > 0:
        near_edge_row = _near_block_edge(block_row, margin)
        near_edge_col = _near_block_edge(block_col, margin)
        split = np.where(near_edge_row[:, None] | near_edge_col[None, :], EXCLUDED, split)
    return BlockSplit(split=split.astype(np.int8), blocks=best.reshape(n_blocks, n_blocks))


def class_weights(labels: np.ndarray, n_classes: int, power: float = 0.5) -> np.ndarray:
    """Loss weights ``freq ** -power``, scaled to a mean of 1 per labelled pixel (absent class -> max)."""
    valid = labels[labels < n_classes].astype(np.int64)
    if valid.size == 0:
        raise InvalidInput("no labelled pixel to compute class weights from; check the truth raster and split")
    freq = np.bincount(valid, minlength=n_classes) / valid.size
    weights = np.where(freq > 0, np.power(np.maximum(freq, 1e-12), -power), 0.0)
    weights = np.where(freq > 0, weights, weights.max())
    return (weights / (freq * weights).sum()).astype(np.float32)


class RandomTiles(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """``n_tiles`` random ``tile``-pixel crops with at least ``min_labelled`` labelled pixels.

    Item ``i`` of epoch ``e`` depends only on ``(seed, e, i)``; ``augment`` applies one of the 8 flips/rot90s.
    """

    def __init__(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        *,
        tile: int,
        n_tiles: int,
        seed: int = 0,
        augment: bool = True,
        min_labelled: float = 0.2,
    ) -> None:
        _, h, w = features.shape
        if labels.shape != (h, w):
            raise InvalidInput(f"labels {labels.shape} do not match features {features.shape}")
        if tile > h or tile > w:
            raise InvalidInput(f"tile {tile} is larger than the {h}x{w} image; use a smaller tile")
        self.features = features
        self.labels = labels
        self.tile = tile
        self.n_tiles = n_tiles
        self.seed = seed
        self.augment = augment
        self.epoch = 0
        share = _window_share(labels != IGNORE, tile)
        self.origins = np.flatnonzero(share >= min(min_labelled, share.max()))
        self.origin_cols = share.shape[1]
        if share.max() <= 0:
            raise InvalidInput("no labelled pixel in this split; check the truth raster and the block split")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n_tiles

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        r, c = divmod(int(self.origins[rng.integers(self.origins.size)]), self.origin_cols)
        x = self.features[:, r : r + self.tile, c : c + self.tile]
        y = self.labels[r : r + self.tile, c : c + self.tile]
        if self.augment:
            k = int(rng.integers(4))
            x, y = np.rot90(x, k, axes=(1, 2)), np.rot90(y, k)
            if rng.integers(2):
                x, y = x[:, :, ::-1], y[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))


class MixedTiles(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Tiles drawn from several regions' :class:`RandomTiles`: item ``i`` of epoch ``e`` comes from the region
    that ``(seed, e, i)`` picks with probability ``weights`` (e.g. each region's labelled training pixels)."""

    def __init__(self, members: Sequence[RandomTiles], weights: Sequence[float], *, seed: int = 0) -> None:
        if len(members) < 2 or len(weights) != len(members) or len({len(m) for m in members}) != 1:
            raise InvalidInput("MixedTiles needs two or more regions' tiles of one length and a weight for each")
        total = float(sum(weights))
        if total <= 0 or min(weights) < 0:
            raise InvalidInput(f"region weights must be >= 0 and not all 0, got {list(weights)}")
        self.members = list(members)
        self.p = np.asarray(weights, dtype=np.float64) / total
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        for member in self.members:
            member.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.members[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index, 1])
        return self.members[int(rng.choice(len(self.members), p=self.p))][index]


def training_tiles(
    members: Sequence[RandomTiles], weights: Sequence[float], *, seed: int = 0
) -> RandomTiles | MixedTiles:
    """One region's tiles as they are (a single region trains exactly as before), several regions' mixed."""
    return members[0] if len(members) == 1 else MixedTiles(members, weights, seed=seed)


def validation_tiles(members: Sequence[RandomTiles]) -> RandomTiles | ConcatDataset[tuple[torch.Tensor, torch.Tensor]]:
    """Every region's fixed validation tiles, one after the other (a single region's as they are)."""
    return members[0] if len(members) == 1 else ConcatDataset(members)


def _window_share(mask: np.ndarray, tile: int) -> np.ndarray:
    """Share of True in every ``tile x tile`` window, indexed by the window's top-left pixel."""
    integral = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    total = integral[tile:, tile:] - integral[:-tile, tile:] - integral[tile:, :-tile] + integral[:-tile, :-tile]
    return total / float(tile * tile)


def _keep_fields_whole(split: np.ndarray, field_ids: np.ndarray) -> np.ndarray:
    if field_ids.shape != split.shape:
        raise InvalidInput(f"field id raster {field_ids.shape} does not match the region {split.shape}")
    ids = field_ids.astype(np.int64)
    in_field = ids > 0
    counts = np.bincount(ids[in_field] * 3 + split[in_field], minlength=(ids.max() + 1) * 3).reshape(-1, 3)
    owner = counts.argmax(axis=1).astype(np.int8)
    return np.where(in_field & (split != owner[ids]), EXCLUDED, split)


def _near_block_edge(block_index: np.ndarray, margin: int) -> np.ndarray:
    """True for positions within ``margin`` pixels of a change of block along one axis."""
    change = np.flatnonzero(np.diff(block_index)) + 0.5
    pos = np.arange(block_index.size)
    if change.size == 0:
        return np.zeros(block_index.size, dtype=bool)
    return np.asarray((np.abs(pos[:, None] - change[None, :]) < margin).any(axis=1), dtype=bool)
