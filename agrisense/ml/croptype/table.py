"""The wide crop-sample table: validation, label synonyms, and the (N, T, C) feature tensor with a missing mask."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from agrisense.errors import InvalidInput

BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")
N_MONTHS = 12
#: normalised differences (name, a, b) = (a - b) / (a + b)
INDICES: tuple[tuple[str, str, str], ...] = (
    ("ndvi", "B08", "B04"),
    ("ndwi", "B03", "B08"),
    ("ndre", "B08", "B05"),
    ("ndmi", "B08", "B11"),
    ("nbr", "B08", "B12"),
    ("re1", "B06", "B05"),
    ("re2", "B07", "B05"),
    ("ndre2", "B8A", "B05"),
    ("swir", "B11", "B12"),
    ("gndvi", "B08", "B03"),
)
CHANNELS: tuple[str, ...] = (
    *BANDS,
    *(name for name, _, _ in INDICES),
    *(f"{name}_anom" for name, _, _ in INDICES),
    "valid",
)

#: label synonyms applied before pooling regions (Flanders LPIS names -> East Africa ``sampling_label`` groups);
#: see docs/croptype.md for the reasoning behind each line.
LABEL_SYNONYMS: Mapping[str, str] = {
    "managed_grasslands": "grasslands",
    "non_cropland_herbaceous": "herbaceous_vegetation",
    "trees_unspecified_deciduous": "trees_mixed",
    "permanent_tree_shrub_flowers": "trees_mixed",
    "pears_quinces": "trees_mixed",
    "permanent_crops": "trees_mixed",
    "groundnuts": "other_oilseeds",
    "sesame": "other_oilseeds",
    "beans": "dry_pulses_legumes",
    "cow_peas": "dry_pulses_legumes",
    "cotton": "fibre_crops",
    "cassava": "root_tuber_crops",
    "sweet_potatoes": "potatoes",
    "unspecified_sorghum": "sorghum",
    "unspecified_millet": "millet",
}


def band_columns() -> list[str]:
    """The 120 spectral columns, band-major: ``B02_m00 … B12_m11``."""
    return [f"{band}_m{t:02d}" for band in BANDS for t in range(N_MONTHS)]


def validate_table(table: pd.DataFrame, *, need_label: bool) -> None:
    """Raise ``InvalidInput`` naming the first missing or malformed column."""
    if len(table) == 0:
        raise InvalidInput("the sample table is empty; pass a parquet file with at least one row")
    required = ["sample_id", *(["label"] if need_label else []), *band_columns()]
    for column in required:
        if column not in table.columns:
            near = [c for c in table.columns if c.lower() == column.lower()]
            hint = f" (found {near[0]!r}: band names are case-sensitive, e.g. B8A_m00)" if near else ""
            raise InvalidInput(
                f"the sample table has no column {column!r}{hint}; it needs sample_id"
                f"{', label' if need_label else ''} and {{B02..B12}}_m00..m11 (reflectance x 10000)"
            )
    for column in band_columns():
        if not pd.api.types.is_numeric_dtype(table[column]):
            raise InvalidInput(f"column {column!r} must be numeric reflectance x 10000, got {table[column].dtype}")
    if table["sample_id"].duplicated().any():
        dup = table.loc[table["sample_id"].duplicated(), "sample_id"].iloc[0]
        raise InvalidInput(f"column 'sample_id' must be unique; {dup!r} occurs more than once")
    if need_label and table["label"].isna().any():
        raise InvalidInput("column 'label' has empty values; drop unlabelled rows before training")


def harmonise_labels(labels: pd.Series) -> pd.Series:
    """Lower-snake-case labels with the synonyms of ``LABEL_SYNONYMS`` mapped to one name."""
    clean = labels.astype(str).str.strip().str.lower().str.replace(r"[\s\-]+", "_", regex=True)
    return clean.map(lambda name: LABEL_SYNONYMS.get(name, name))


def _interpolate_time(x: np.ndarray) -> np.ndarray:
    """Linear interpolation along axis 1 of (N, T, B); ends hold the nearest clear value; all-NaN stays NaN."""
    out = x.copy()
    t = np.arange(x.shape[1])
    for i, b in zip(*np.nonzero(np.isnan(x).any(axis=1)), strict=True):
        series = x[i, :, b]
        ok = ~np.isnan(series)
        if ok.any():
            out[i, :, b] = np.interp(t, t[ok], series[ok])
    return out


@dataclass(frozen=True)
class SampleFeatures:
    """Per-sample monthly features ``(N, T, C)`` (NaN where a band was never observed) and clear-month share."""

    values: np.ndarray
    valid_fraction: np.ndarray
    channels: tuple[str, ...] = CHANNELS


def build_features(table: pd.DataFrame) -> SampleFeatures:
    """Reflectance (/10000), indices, index anomalies and a per-month valid flag, gaps interpolated along time.

    A month counts as valid when any band is observed. Reflectance outside [0, 2] is treated as missing. A band
    never observed in a sample (Flanders B8A) stays NaN here and becomes the training mean after standardisation.
    An index anomaly is the index minus its mean over the sample's valid months (a per-sample normalisation that
    keeps the seasonal shape but not the level, which shifts with soil, region and compositing).
    """
    raw = table[band_columns()].to_numpy(dtype=np.float64).reshape(len(table), len(BANDS), N_MONTHS)
    refl = np.transpose(raw, (0, 2, 1)) / 10000.0  # (N, T, B)
    refl[(refl < 0) | (refl > 2)] = np.nan
    valid: np.ndarray = np.asarray((~np.isnan(refl)).any(axis=2))
    filled = _interpolate_time(refl)
    idx = {band: i for i, band in enumerate(BANDS)}
    with np.errstate(invalid="ignore", divide="ignore"):
        indices = [
            np.clip((filled[..., idx[a]] - filled[..., idx[b]]) / (filled[..., idx[a]] + filled[..., idx[b]]), -1, 1)
            for _, a, b in INDICES
        ]
    index = np.stack(indices, axis=2)
    weight = valid[..., None].astype(np.float64)
    with np.errstate(invalid="ignore"):
        level = np.nansum(index * weight, axis=1, keepdims=True) / np.maximum(weight.sum(axis=1, keepdims=True), 1)
    values = np.concatenate([filled, index, index - level, weight], axis=2)
    return SampleFeatures(values=values.astype(np.float32), valid_fraction=valid.mean(axis=1).astype(np.float32))


@dataclass(frozen=True)
class Standardiser:
    """Per-channel mean/std; NaN -> 0 (the training mean) after scaling."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Standardiser:
        flat = values.reshape(-1, values.shape[-1]).astype(np.float64)
        if not flat.size:
            raise InvalidInput("cannot standardise zero samples")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a band never observed (Flanders B8A)
            mean = np.nan_to_num(np.nanmean(flat, axis=0))
            std = np.nan_to_num(np.nanstd(flat, axis=0), nan=1.0)
        std = np.where(std < 1e-6, 1.0, std)
        mean[-1], std[-1] = 0.0, 1.0  # the valid flag stays 0/1
        return cls(mean=mean.astype(np.float32), std=std.astype(np.float32))

    def apply(self, values: np.ndarray) -> np.ndarray:
        return np.nan_to_num((values - self.mean) / self.std, nan=0.0).astype(np.float32)
