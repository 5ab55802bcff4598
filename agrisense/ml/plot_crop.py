"""A plot's crop from the real-label crop-type model: the plot's mean monthly series -> class probabilities of the
model's labels -> probabilities of the region's crops, and log-linear pooling with the land-cover U-Net.

All pure (arrays in, arrays out). The model is anything with ``predict_proba(table)`` on the wide sample table
(``agrisense.ml.crop_model.CropClassifier``); ``benchmarks/crop_in_scoring.py`` measures it on a region's truth.

Mapping onto the region: each region crop names the model label it is (``data/reference/crops.csv``,
``sample_labels``). The probability of every other model label (grassland, trees, sunflower, ...) goes to
``non_crop``: for the lender it is "not one of the crops financed here". The crop the plot is taken to grow is the
most likely region crop *given cropland* (the same rule as ``agrisense.ml.inference.aggregate_plot``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from agrisense.errors import InvalidInput
from agrisense.ml.croptype.table import BANDS, N_MONTHS
from agrisense.ml.registry import NON_CROP

#: Earth Search asset names of the composites in the crop-type table's band order (``B02 ... B12``)
ASSETS: tuple[str, ...] = (
    "blue",
    "green",
    "red",
    "rededge1",
    "rededge2",
    "rededge3",
    "nir",
    "nir08",
    "swir16",
    "swir22",
)
SEASON_START_MONTH = 12
"""The crop-type tables' month ``m00`` (both training regions start in December)."""
MIN_PLOT_CLEAR = 0.5
"""A month enters a plot's series when at least this share of the plot (by coverage) had a clear value."""


def plot_band_series(stack: np.ndarray, weights: np.ndarray, *, min_clear: float = MIN_PLOT_CLEAR) -> np.ndarray:
    """``(B, T)`` coverage-weighted mean of a plot's window ``stack`` ``(B, T, h, w)`` over its clear pixels.

    A pixel is clear in a month when all its bands are finite; a month with less than ``min_clear`` of the plot's
    coverage clear is NaN (missing) for every band."""
    if stack.ndim != 4 or stack.shape[2:] != weights.shape:
        raise InvalidInput(f"stack {stack.shape} and weights {weights.shape} must be (B, T, h, w) and (h, w)")
    if np.any(weights < 0) or not np.all(np.isfinite(weights)) or float(weights.sum()) <= 0:
        raise InvalidInput("plot coverage weights must be finite, >= 0 and cover at least one pixel")
    clear = np.isfinite(stack).all(axis=0) & (weights > 0)  # (T, h, w)
    w = np.where(clear, weights, 0.0)
    share = w.sum(axis=(1, 2)) / float(weights.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (np.nan_to_num(stack.astype(np.float64)) * w).sum(axis=(2, 3)) / w.sum(axis=(1, 2))
    mean[:, share < min_clear] = np.nan
    return mean


def series_table(
    plot_ids: Sequence[str],
    series: np.ndarray,
    months: Sequence[int],
    *,
    season_start: int = SEASON_START_MONTH,
    lonlat: np.ndarray | None = None,
    weather: MonthlyWeather | None = None,
) -> pd.DataFrame:
    """The wide crop-type table (``sample_id``, ``B02_m00 ... B12_m11``, reflectance x 10,000) of plot series
    ``(N, B, T)`` (reflectance 0-1, bands in ``ASSETS`` order) over calendar ``months`` ``(T,)``; months outside the
    series are NaN (missing). ``lonlat`` ``(N, 2)`` adds ``lon``/``lat``, ``weather`` the region's
    ``precip_mm_mXX`` / ``tmean_c_mXX`` (the same for every plot); Presto needs both, the TempCNN neither."""
    if series.ndim != 3 or series.shape[:2] != (len(plot_ids), len(BANDS)) or series.shape[2] != len(months):
        raise InvalidInput(
            f"series {series.shape} must be (plots={len(plot_ids)}, bands={len(BANDS)}, months={len(months)})"
        )
    slots = [(int(m) - season_start) % N_MONTHS for m in months]
    if len(set(slots)) != len(slots) or any(not 1 <= int(m) <= 12 for m in months):
        raise InvalidInput(f"months {list(months)} must be distinct calendar months 1-12 (one season at most)")
    wide = np.full((len(plot_ids), len(BANDS), N_MONTHS), np.nan)
    wide[:, :, slots] = series * 10000.0
    columns = {f"{band}_m{t:02d}": wide[:, b, t] for b, band in enumerate(BANDS) for t in range(N_MONTHS)}
    table = pd.DataFrame({"sample_id": list(plot_ids), **columns})
    if lonlat is not None:
        table["lon"], table["lat"] = np.asarray(lonlat, dtype=np.float64).T
    if weather is not None:
        for t in range(N_MONTHS):
            table[f"precip_mm_m{t:02d}"] = weather.precip_mm[t]
            table[f"tmean_c_m{t:02d}"] = weather.tmean_c[t]
    return table


def table_series(table: pd.DataFrame, *, season_start: int = SEASON_START_MONTH) -> tuple[np.ndarray, tuple[int, ...]]:
    """The inverse of :func:`series_table`: series ``(N, B, 12)`` (reflectance 0-1, ``ASSETS`` order) of a wide
    sample table (columns checked by :func:`agrisense.ml.croptype.table.validate_table`) and their calendar months."""
    wide = np.stack(
        [np.stack([table[f"{b}_m{t:02d}"].to_numpy(dtype=np.float64) for t in range(N_MONTHS)], axis=1) for b in BANDS],
        axis=1,
    )
    months = tuple((season_start - 1 + t) % 12 + 1 for t in range(N_MONTHS))
    return wide / 10000.0, months


@dataclass(frozen=True)
class MonthlyWeather:
    """A season's monthly precipitation total (mm) and mean temperature (deg C), ``(12,)`` each, from ``m00``."""

    precip_mm: np.ndarray
    tmean_c: np.ndarray


def monthly_weather(daily: pd.DataFrame, season: int, *, season_start: int = SEASON_START_MONTH) -> MonthlyWeather:
    """The season's 12 months (from ``season_start`` of the year before ``season`` when it is after June) of a
    daily station table (``date``, ``tmin_c``, ``tmax_c``, ``precip_mm``); a month without days is NaN."""
    missing = {"date", "tmin_c", "tmax_c", "precip_mm"} - set(daily.columns)
    if missing:
        raise InvalidInput(
            f"the weather table lacks {', '.join(sorted(missing))}; it needs date,tmin_c,tmax_c,precip_mm"
        )
    first = pd.Timestamp(year=season - 1 if season_start > 6 else season, month=season_start, day=1)
    dates = pd.to_datetime(daily["date"])
    period = (dates.dt.year - first.year) * 12 + dates.dt.month - first.month
    frame = daily.assign(period=period, tmean=(daily["tmin_c"] + daily["tmax_c"]) / 2.0)
    frame = frame[(frame["period"] >= 0) & (frame["period"] < N_MONTHS)]
    grouped = frame.groupby("period")
    slots = pd.RangeIndex(N_MONTHS)
    return MonthlyWeather(
        precip_mm=grouped["precip_mm"].sum().reindex(slots).to_numpy(dtype=np.float64),
        tmean_c=grouped["tmean"].mean().reindex(slots).to_numpy(dtype=np.float64),
    )


def region_probabilities(
    probs: np.ndarray, model_classes: Sequence[str], crop_labels: Mapping[str, str]
) -> tuple[tuple[str, ...], np.ndarray]:
    """``(classes, probabilities)``: the model's ``(N, K)`` probabilities onto ``(non_crop, *region crops)``.

    ``crop_labels`` maps each region crop to the model label it is; all other labels' probability is non-crop."""
    model_classes = tuple(model_classes)
    if probs.ndim != 2 or probs.shape[1] != len(model_classes):
        raise InvalidInput(f"probabilities {probs.shape} must be (N, {len(model_classes)}) for {model_classes}")
    unknown = sorted({label for label in crop_labels.values() if label not in model_classes})
    if unknown or not crop_labels:
        raise InvalidInput(
            f"the crop model has no class {', '.join(unknown) or '(no crops given)'}; its classes are "
            f"{', '.join(model_classes)} (fix sample_labels in data/reference/crops.csv)"
        )
    crops = tuple(crop_labels)
    crop_cols = [model_classes.index(crop_labels[c]) for c in crops]
    crop_p = probs[:, crop_cols]
    non_crop = np.clip(probs.sum(axis=1) - crop_p.sum(axis=1), 0.0, None)
    return (NON_CROP, *crops), np.column_stack([non_crop, crop_p])


def crop_given_cropland(probs: np.ndarray, classes: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """``(crops, (N, C))``: probabilities over the crop classes only (``non_crop`` dropped, rows renormalised;
    a row with no crop mass at all is uniform)."""
    classes = tuple(classes)
    keep = [i for i, c in enumerate(classes) if c != NON_CROP]
    share = probs[:, keep].astype(np.float64)
    total = share.sum(axis=1, keepdims=True)
    uniform = np.full_like(share, 1.0 / len(keep))
    return tuple(classes[i] for i in keep), np.where(total > 0, share / np.where(total > 0, total, 1.0), uniform)


def pool(p_a: np.ndarray, p_b: np.ndarray, weight: float, *, floor: float = 1e-6) -> np.ndarray:
    """Log-linear pooling ``p_a^(1 - weight) * p_b^weight``, renormalised per row (``floor`` keeps a zero from
    vetoing a class)."""
    if p_a.shape != p_b.shape or p_a.ndim != 2:
        raise InvalidInput(f"pooled probabilities must have one shape (N, C); got {p_a.shape} and {p_b.shape}")
    if not 0.0 <= weight <= 1.0:
        raise InvalidInput(f"pooling weight must lie in [0, 1], got {weight}")
    logp = (1.0 - weight) * np.log(np.maximum(p_a, floor)) + weight * np.log(np.maximum(p_b, floor))
    logp -= logp.max(axis=1, keepdims=True)
    out = np.exp(logp)
    return np.asarray(out / out.sum(axis=1, keepdims=True))


def best_weight(p_a: np.ndarray, p_b: np.ndarray, y: np.ndarray, grid: Sequence[float]) -> float:
    """The pooling weight of ``grid`` with the highest mean log-likelihood of the true classes ``y``."""
    rows = np.arange(len(y))
    scores = [float(np.mean(np.log(np.maximum(pool(p_a, p_b, w)[rows, y], 1e-12)))) for w in grid]
    return float(grid[int(np.argmax(scores))])


def cross_fitted_pool(
    p_a: np.ndarray,
    p_b: np.ndarray,
    y: np.ndarray,
    *,
    folds: int = 5,
    seed: int = 0,
    grid: Sequence[float] = tuple(np.round(np.linspace(0, 1, 21), 2)),
) -> tuple[np.ndarray, list[float]]:
    """Out-of-fold pooled probabilities ``(N, C)``: each fold pooled with the weight fitted on the other folds.

    Returns the probabilities and the weight of each fold (``y``: index of the true class per row)."""
    from sklearn.model_selection import KFold

    y = np.asarray(y, dtype=int)
    if not 2 <= folds <= len(y):
        raise InvalidInput(f"folds={folds} must be between 2 and the number of plots ({len(y)})")
    out = np.zeros_like(p_a, dtype=np.float64)
    weights = []
    for train, test in KFold(n_splits=folds, shuffle=True, random_state=seed).split(y):
        w = best_weight(p_a[train], p_b[train], y[train], grid)
        out[test] = pool(p_a[test], p_b[test], w)
        weights.append(w)
    return out, weights
