"""Small synthetic composites and truth for the ML tests: crop rectangles with distinct seasonal curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from agrisense.ml.features import DEFAULT_BANDS, DEFAULT_INDICES

CLASSES = ("non_crop", "maize", "sorghum", "groundnut", "beans")


def synthetic_truth(height: int, width: int, seed: int = 0, n_fields: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(labels uint8, field_ids int32): random rectangular fields of classes 1..4 on non-crop."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((height, width), dtype=np.uint8)
    field_ids = np.zeros((height, width), dtype=np.int32)
    for i in range(n_fields):
        h, w = rng.integers(5, 14, size=2)
        r, c = rng.integers(0, height - h), rng.integers(0, width - w)
        labels[r : r + h, c : c + w] = 1 + i % 4
        field_ids[r : r + h, c : c + w] = i + 1
    return labels, field_ids


def synthetic_composites(
    labels: np.ndarray, months: tuple[int, ...] = (3, 4, 5, 6, 7, 8), seed: int = 0, cloud: float = 0.1
) -> xr.Dataset:
    """Composites whose pixel curves depend on the class (peak month and height), with noise and NaN gaps."""
    rng = np.random.default_rng(seed)
    h, w = labels.shape
    t = np.arange(len(months), dtype=np.float32)[:, None, None]
    peak = np.array([0.0, 2.0, 3.0, 4.0, 5.0], dtype=np.float32)[labels]
    height = np.array([0.15, 0.6, 0.5, 0.45, 0.4], dtype=np.float32)[labels]
    green = 0.2 + height * np.exp(-((t - peak) ** 2) / 1.5) + rng.normal(0, 0.03, (len(months), h, w))
    data = {}
    for i, band in enumerate(DEFAULT_BANDS):
        sign = 1.0 if band.startswith(("nir", "rededge2", "rededge3")) else -0.3
        data[band] = (0.1 + 0.02 * i + sign * 0.2 * green).astype(np.float32)
    for j, index in enumerate(DEFAULT_INDICES):
        data[index] = (green * (1 - 0.1 * j)).astype(np.float32)
    gaps = rng.random((len(months), h, w)) < cloud
    ds = xr.Dataset(
        {k: (("period", "y", "x"), np.where(gaps, np.nan, v).astype(np.float32)) for k, v in data.items()},
        coords={
            "period": pd.to_datetime([f"2026-{m:02d}-01" for m in months]),
            "y": 1000.0 - 10 * np.arange(h) - 5,
            "x": 500.0 + 10 * np.arange(w) + 5,
        },
    )
    ds["n_obs"] = (("period", "y", "x"), (~gaps).astype(np.int16))
    return ds


@pytest.fixture(scope="session")
def small_scene() -> tuple[xr.Dataset, np.ndarray, np.ndarray]:
    labels, field_ids = synthetic_truth(64, 64)
    return synthetic_composites(labels), labels, field_ids
