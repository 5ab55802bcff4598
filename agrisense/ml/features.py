"""Stack monthly composites into the model's (C, H, W) feature array.

Channel order is period-major: for every selected month, the bands then the indices, so channel
``t * V + v`` is variable ``v`` of month ``t`` (``V = len(bands) + len(indices)``).

Gap filling (NaN = no clear observation) happens in two steps:

1. :func:`stack_features` interpolates each pixel's time series linearly between the nearest clear
   months, and holds the first/last clear value at the ends of the season. A month that the
   composites do not contain at all is an all-NaN period and is filled the same way.
2. What is still NaN (a pixel with no clear observation of a variable in any selected month) is left
   NaN here and becomes 0 after :func:`standardise`, i.e. it is filled with the channel's
   normalisation mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import xarray as xr

from agrisense.errors import InvalidInput
from agrisense.imagery.load import ALL_BANDS

DEFAULT_BANDS: tuple[str, ...] = ALL_BANDS
DEFAULT_INDICES: tuple[str, ...] = ("ndvi", "evi", "ndwi", "ndre")
DEFAULT_MONTHS: tuple[int, ...] = (3, 4, 5, 6, 7, 8, 9, 10, 11)


def channel_names(bands: Sequence[str], indices: Sequence[str], months: Sequence[int]) -> list[str]:
    """Names of the stacked channels, e.g. ``m03_blue``, in the order :func:`stack_features` writes them."""
    return [f"m{m:02d}_{v}" for m in months for v in (*bands, *indices)]


def stack_features(
    composites: xr.Dataset,
    *,
    bands: Sequence[str],
    indices: Sequence[str],
    months: Sequence[int],
) -> np.ndarray:
    """Select ``months`` (month-of-year of each period) and variables, gap-fill along time, stack.

    Returns float32 ``(len(months) * (len(bands) + len(indices)), H, W)``; NaN only where a pixel has no
    clear value of a variable in any selected month (see the module docstring).
    """
    variables = [*bands, *indices]
    cube = _select_months(composites, variables, months)  # (T, V, H, W)
    t, v, h, w = cube.shape
    for var in range(v):  # one variable at a time keeps the index temporaries small
        cube[:, var] = interpolate_time(cube[:, var].reshape(t, h * w)).reshape(t, h, w)
    return cube.reshape(t * v, h, w)


def valid_fraction(composites: xr.Dataset, months: Sequence[int], variable: str = "red") -> np.ndarray:
    """Per-pixel share (0..1, float32 ``(H, W)``) of the selected months with a clear observation."""
    cube = _select_months(composites, [variable], months)[:, 0]
    return np.isfinite(cube).mean(axis=0).astype(np.float32)


def interpolate_time(series: np.ndarray) -> np.ndarray:
    """Fill NaN along axis 0 of ``(T, N)`` linearly between clear steps; hold the ends; all-NaN stays NaN."""
    if series.ndim != 2:
        raise InvalidInput(f"interpolate_time expects a (T, N) array, got shape {series.shape}")
    values = np.asarray(series, dtype=np.float32)
    valid = np.isfinite(values)
    if valid.all():
        return values.copy()
    n_steps = values.shape[0]
    steps = np.arange(n_steps)[:, None]
    prev_idx = np.maximum.accumulate(np.where(valid, steps, -1), axis=0)
    next_idx = np.minimum.accumulate(np.where(valid, steps, n_steps)[::-1], axis=0)[::-1]
    has_prev = prev_idx >= 0
    has_next = next_idx < n_steps
    cols = np.arange(values.shape[1])[None, :]
    prev_val = values[np.clip(prev_idx, 0, n_steps - 1), cols]
    next_val = values[np.clip(next_idx, 0, n_steps - 1), cols]
    span = np.maximum(next_idx - prev_idx, 1)
    frac = ((steps - prev_idx) / span).astype(np.float32)
    between = prev_val + frac * (next_val - prev_val)
    out = np.where(has_prev & has_next, between, np.where(has_prev, prev_val, next_val))
    out = np.where(has_prev | has_next, out, np.nan)
    return np.where(valid, values, out).astype(np.float32)


def standardise(features: np.ndarray, mean: npt.ArrayLike, std: npt.ArrayLike) -> np.ndarray:
    """``(x - mean) / std`` per channel as float32, NaN -> 0 (the channel mean)."""
    mean_arr = np.asarray(mean, dtype=np.float32)
    std_arr = np.asarray(std, dtype=np.float32)
    if features.ndim != 3 or features.shape[0] != mean_arr.size or mean_arr.size != std_arr.size:
        raise InvalidInput(
            f"features have shape {features.shape} but the normalisation has {mean_arr.size} channels; "
            "stack them with the bundle's bands, indices and months"
        )
    out = (features - mean_arr[:, None, None]) / np.where(std_arr > 0, std_arr, 1.0)[:, None, None]
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32, copy=False)


def channel_statistics(features: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """NaN-aware per-channel mean and std of ``(C, H, W)`` features over ``mask`` pixels (all when None)."""
    flat = features.reshape(features.shape[0], -1)
    if mask is not None:
        flat = flat[:, mask.reshape(-1)]
    with np.errstate(all="ignore"):
        mean = np.nanmean(flat, axis=1)
        std = np.nanstd(flat, axis=1)
    mean = np.nan_to_num(mean, nan=0.0)
    std = np.where(np.isfinite(std) & (std > 1e-6), std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def _select_months(composites: xr.Dataset, variables: Sequence[str], months: Sequence[int]) -> np.ndarray:
    """``(T, V, H, W)`` float32 with one period per requested month; absent months are all NaN."""
    if not months:
        raise InvalidInput("months is empty: give the month-of-year of each period to use, e.g. 3..11")
    if len(set(months)) != len(months) or not all(1 <= int(m) <= 12 for m in months):
        raise InvalidInput(f"months must be distinct month numbers 1..12, got {list(months)}")
    missing = [name for name in variables if name not in composites.data_vars]
    if missing:
        raise InvalidInput(
            f"composites lack variables {missing}; build them with agrisense.imagery.timeseries.build_composites"
        )
    if "period" not in composites.dims or not {"y", "x"} <= set(composites.dims):
        raise InvalidInput(f"composites need dims (period, y, x), got {tuple(composites.dims)}")
    period_months = composites["period"].dt.month.values.astype(int).tolist()
    if len(set(period_months)) != len(period_months):
        raise InvalidInput(
            f"composites have several periods in the same month ({period_months}); use monthly composites "
            "of a single season"
        )
    h, w = composites.sizes["y"], composites.sizes["x"]
    cube = np.full((len(months), len(variables), h, w), np.nan, dtype=np.float32)
    for t, month in enumerate(months):
        if int(month) not in period_months:
            continue
        period = period_months.index(int(month))
        for v, name in enumerate(variables):
            cube[t, v] = composites[name].isel(period=period).transpose("y", "x").values
    return cube
