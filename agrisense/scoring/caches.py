"""The scorer's caches: model probabilities per tile on disk, and recently scored tiles in a serving process."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


def model_fingerprint(bundle_json: dict[str, object]) -> str:
    """Hex digest of a model bundle's description (name, version, classes, normalisation, temperature…)."""
    return hashlib.sha256(json.dumps(bundle_json, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached_probabilities(
    composites_id: str, model_id: str, cache_dir: Path, compute: Callable[[], np.ndarray]
) -> np.ndarray:
    """The model's class probabilities ``(K, H, W)`` of a tile, from ``cache_dir`` when the same composites
    (``composites_id`` from :func:`~agrisense.imagery.cache.build_composites_keyed`) went through the same model
    before, else ``compute()`` stored atomically (``.npy``). A new plot in a scored tile then needs only zonal
    statistics."""
    path = cache_dir / f"{hashlib.sha256(f'{composites_id}|{model_id}'.encode()).hexdigest()[:32]}.npy"
    if path.is_file():
        try:
            return np.asarray(np.load(path, allow_pickle=False), dtype=np.float32)
        except (OSError, ValueError):
            pass  # unreadable entry: recompute and overwrite
    probs = np.ascontiguousarray(compute(), dtype=np.float32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp.npy")
    try:
        np.save(tmp, probs, allow_pickle=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return probs


class TileMemory(Generic[T]):
    """Scored tiles a serving process keeps for ``max_age_s`` seconds (least recently used out past ``max_tiles``),
    so a new plot in a tile scored a moment ago costs only its zonal statistics and no catalog search.

    Owned by whoever serves (the API's scoring batcher); batch jobs pass none and always ask the catalog."""

    def __init__(self, max_age_s: float, max_tiles: int = 16) -> None:
        self.max_age_s = max_age_s
        self.max_tiles = max_tiles  # about 7 MB a tile without maps
        self._tiles: OrderedDict[Hashable, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> T | None:
        with self._lock:
            hit = self._tiles.get(key)
            if hit is None or time.monotonic() - hit[0] > self.max_age_s:
                return None
            self._tiles.move_to_end(key)
            return hit[1]

    def put(self, key: Hashable, value: T) -> None:
        with self._lock:
            self._tiles[key] = (time.monotonic(), value)
            self._tiles.move_to_end(key)
            while len(self._tiles) > self.max_tiles:
                self._tiles.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._tiles.clear()
