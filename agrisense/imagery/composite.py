"""Per-period (monthly by default) median composites of clear observations, with short gaps interpolated."""

from __future__ import annotations

import warnings
from datetime import date, datetime
from typing import TypeAlias

import numpy as np
import pandas as pd
import xarray as xr

from agrisense.errors import ImageryUnavailable, InvalidInput
from agrisense.imagery.indices import INDEX_NAMES, add_indices

PERIOD_FREQ_ATTR = "period_freq"
COMPOSITE_AUX_VARS = ("clear", "n_obs", "filled")
"""Variables that are not reflectance bands."""

DateLike: TypeAlias = date | datetime | str | np.datetime64 | pd.Timestamp


def band_names(ds: xr.Dataset) -> list[str]:
    """Reflectance band variables of a cube or composite (everything but indices and bookkeeping)."""
    return [str(v) for v in ds.data_vars if v not in COMPOSITE_AUX_VARS and v not in INDEX_NAMES]


def period_starts(start: DateLike, end: DateLike, period: str = "1MS") -> pd.DatetimeIndex:
    """Starts of the periods covering ``[start, end)``; the first one contains ``start`` (monthly periods
    begin on the 1st, ``"10D"`` periods at ``start``)."""
    try:
        offset = pd.tseries.frequencies.to_offset(period)
    except ValueError as exc:
        raise InvalidInput(f"period {period!r} is not a pandas frequency such as '1MS' or '10D'.") from exc
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    if t1 <= t0:
        raise InvalidInput(f"end {t1.date()} must be after start {t0.date()}.")
    first = offset.rollback(t0.normalize())
    starts = pd.date_range(first, t1, freq=offset, inclusive="left")
    return starts if len(starts) else pd.DatetimeIndex([first])


def period_bounds(starts: pd.DatetimeIndex, period: str) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``[start, next start)`` of every period."""
    offset = pd.tseries.frequencies.to_offset(period)
    return [(s, s + offset) for s in starts]


def composites(
    ds: xr.Dataset,
    *,
    period: str = "1MS",
    start: DateLike | None = None,
    end: DateLike | None = None,
    max_gap_periods: int = 1,
) -> xr.Dataset:
    """Median of the clear observations of each period, on dims ``(period, y, x)``.

    ``ds`` holds float reflectance bands on ``(time, y, x)`` (NaN = no clear observation) and optionally a
    bool ``clear``. Periods cover ``[start, end)`` (default: the data's time span), even empty ones.
    Runs of at most ``max_gap_periods`` empty periods between two observed ones are filled per pixel by linear
    interpolation in time (by days between period mid-points; ``filled`` is True there, ``n_obs`` stays 0).
    ``n_obs`` counts clear *days*: time steps of one solar day (coordinate ``solar_day`` when present, else the
    UTC date) count once. Indices are computed from the composite bands. Dask-backed input stays lazy.
    """
    if "time" not in ds.dims:
        raise InvalidInput("composites need a dataset with a 'time' dimension (see load_scenes).")
    if max_gap_periods < 0:
        raise InvalidInput(f"max_gap_periods must be >= 0, got {max_gap_periods}.")
    bands = band_names(ds)
    if not bands:
        raise InvalidInput("the dataset has no reflectance band variables to composite.")
    times = pd.DatetimeIndex(ds["time"].values)
    if start is None or end is None:
        if len(times) == 0:
            raise ImageryUnavailable("no observations to composite and no start/end given.")
        start = times.min() if start is None else start
        end = (times.max() + pd.Timedelta(days=1)) if end is None else end
    starts = period_starts(start, end, period)
    clear = ds["clear"] if "clear" in ds else ds[bands[0]].notnull()
    days = np.asarray(ds["solar_day"].values if "solar_day" in ds.coords else times.normalize().values)

    slices = []
    for lo, hi in period_bounds(starts, period):
        inside = np.flatnonzero((times >= lo) & (times < hi))
        sub = ds[bands].isel(time=inside)
        if len(inside):
            med = _median(sub)
            n_obs = _clear_days(clear.isel(time=inside), days[inside])
        else:
            med = ds[bands].isel(time=0, drop=True) * np.float32(np.nan) if ds.sizes["time"] else _empty(ds, bands)
            n_obs = xr.zeros_like(med[bands[0]], dtype=np.int16)
        slices.append(med.assign(n_obs=n_obs))
    out = xr.concat(slices, dim=pd.Index(starts.as_unit("ns"), name="period"), coords="minimal", compat="override")
    out = out.drop_vars([c for c in out.coords if "time" in out[c].dims or c == "time"], errors="ignore")
    for band in bands:
        out[band] = out[band].astype(np.float32)

    before = out[bands[0]].isnull()
    if max_gap_periods > 0 and out.sizes["period"] > 2:
        filled = _fill_gaps(out[bands], max_gap_periods, _midpoint_days(starts, period))
        for band in bands:
            out[band] = filled[band].astype(np.float32)
    out["filled"] = before & out[bands[0]].notnull()
    out["filled"].attrs = {"long_name": "value interpolated from neighbouring periods (no clear observation)"}
    out["n_obs"].attrs = {"long_name": "number of clear observations in the period"}
    out = add_indices(out)
    out.attrs = {PERIOD_FREQ_ATTR: period, "compositing": "per-pixel median of clear observations"}
    return out


def _clear_days(clear: xr.DataArray, days: np.ndarray) -> xr.DataArray:
    """Number of distinct days with a clear observation (several time steps of one day count once)."""
    unique = list(dict.fromkeys(days.tolist()))
    if len(unique) == len(days):
        return clear.sum("time").astype(np.int16)
    per_day = [clear.isel(time=np.flatnonzero(days == day)).any("time") for day in unique]
    return xr.concat(per_day, dim="time").sum("time").astype(np.int16)


def _midpoint_days(starts: pd.DatetimeIndex, period: str) -> np.ndarray:
    """Days from the first period's mid-point to every period's mid-point (the interpolation abscissa)."""
    mids = [lo + (hi - lo) / 2 for lo, hi in period_bounds(starts, period)]
    return np.asarray([(m - mids[0]) / pd.Timedelta(days=1) for m in mids], dtype=np.float64)


def _quiet_nanmedian(values: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels are expected: no clear view
        return np.nanmedian(values, axis=axis).astype(np.float32)


def _median(sub: xr.Dataset) -> xr.Dataset:
    """NaN-skipping median over ``time`` (chunk-wise for dask, time gathered in one chunk)."""
    if any(v.chunks for v in sub.data_vars.values()):
        sub = sub.chunk({"time": -1})
    return xr.apply_ufunc(
        _quiet_nanmedian,
        sub,
        input_core_dims=[["time"]],
        kwargs={"axis": -1},
        dask="parallelized",
        output_dtypes=[np.float32],
        keep_attrs=True,
    )


def _empty(ds: xr.Dataset, bands: list[str]) -> xr.Dataset:
    shape = (ds.sizes["y"], ds.sizes["x"])
    return xr.Dataset(
        {b: (("y", "x"), np.full(shape, np.nan, np.float32)) for b in bands},
        coords={c: ds[c] for c in ("y", "x", "spatial_ref") if c in ds.coords},
    )


def fill_short_gaps(values: np.ndarray, max_gap: int, axis: int = 0, positions: np.ndarray | None = None) -> np.ndarray:
    """Linear interpolation along ``axis`` over interior NaN runs of at most ``max_gap`` steps.

    ``positions`` (increasing, one per step, e.g. days) is the abscissa; by default the step index. Leading and
    trailing NaNs and longer runs stay NaN. Pure numpy; works on any float array."""
    v = np.moveaxis(np.asarray(values), axis, 0)
    n = v.shape[0]
    pos = np.arange(n, dtype=np.float64) if positions is None else np.asarray(positions, dtype=np.float64)
    if pos.shape != (n,) or (n > 1 and not np.all(np.diff(pos) > 0)):
        raise InvalidInput(f"positions must be {n} strictly increasing numbers, got {positions!r}.")
    valid = ~np.isnan(v)
    idx = np.arange(n).reshape((n,) + (1,) * (v.ndim - 1))
    prev = np.maximum.accumulate(np.where(valid, idx, -1), axis=0)
    nxt = np.flip(np.minimum.accumulate(np.flip(np.where(valid, idx, n), axis=0), axis=0), axis=0)
    gap = nxt - prev - 1
    todo = ~valid & (prev >= 0) & (nxt < n) & (gap <= max_gap)
    out = v.copy()
    if todo.any():
        lo = np.take_along_axis(v, np.clip(prev, 0, n - 1), axis=0)
        hi = np.take_along_axis(v, np.clip(nxt, 0, n - 1), axis=0)
        p_lo, p_hi = pos[np.clip(prev, 0, n - 1)], pos[np.clip(nxt, 0, n - 1)]
        p_at = pos[idx.reshape(-1)].reshape(idx.shape)
        weight = (p_at - p_lo) / np.where(p_hi > p_lo, p_hi - p_lo, 1.0)
        out[todo] = (lo + (hi - lo) * weight)[todo]
    return np.moveaxis(out, 0, axis)


def _fill_gaps(bands: xr.Dataset, max_gap_periods: int, positions: np.ndarray) -> xr.Dataset:
    """:func:`fill_short_gaps` along ``period`` (abscissa ``positions``) for every variable (lazy for dask)."""
    if any(v.chunks for v in bands.data_vars.values()):
        bands = bands.chunk({"period": -1})
    return xr.apply_ufunc(
        fill_short_gaps,
        bands,
        input_core_dims=[["period"]],
        output_core_dims=[["period"]],
        kwargs={"max_gap": max_gap_periods, "axis": -1, "positions": positions},
        dask="parallelized",
        output_dtypes=[np.float32],
        keep_attrs=True,
    ).transpose("period", ...)
