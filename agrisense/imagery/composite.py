"""Per-period (monthly by default) median composites of clear observations, with short gaps interpolated."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeAlias

import dask.array as da
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
    bounds = period_bounds(starts, period)
    labels = np.full(len(times), -1)
    for k, (lo, hi) in enumerate(bounds):
        labels[(times >= lo) & (times < hi)] = k
    inside = np.flatnonzero(labels >= 0)
    order = inside[np.argsort(labels[inside], kind="stable")]  # time steps grouped by period, in period order
    counts = np.bincount(labels[order], minlength=len(starts))
    days = np.asarray(ds["solar_day"].values if "solar_day" in ds.coords else times.normalize().values)[order]
    clear = ds["clear"] if "clear" in ds else ds[bands[0]].notnull()

    sorted_already = np.array_equal(order, np.arange(len(times)))

    def by_period(var: xr.DataArray) -> Any:
        data = var.transpose("time", ...).data
        return data if sorted_already else data[order]

    space = tuple(d for d in ds[bands[0]].dims if d != "time")
    dims = ("period", *space)
    coords = {c: ds[c] for c in ds[bands[0]].coords if c != "time" and set(ds[c].dims) <= set(space)}
    out = xr.Dataset(coords={**coords, "period": pd.Index(starts.as_unit("ns"), name="period")})
    for band in bands:
        med = _per_period(by_period(ds[band]), counts, _nanmedian_time, np.float32, np.nan)
        out[band] = xr.DataArray(med, dims=dims, attrs=dict(ds[band].attrs))
    n_obs = _per_period(by_period(clear), counts, _clear_days, np.int16, 0, extra=_day_index(days, counts))
    out["n_obs"] = xr.DataArray(n_obs, dims=dims)

    before = out[bands[0]].isnull()
    if max_gap_periods > 0 and out.sizes["period"] > 2:
        positions = _midpoint_days(starts, period)
        for band in bands:
            out[band] = out[band].copy(data=_fill_gaps(out[band].data, max_gap_periods, positions))
    out["filled"] = before & out[bands[0]].notnull()
    out["filled"].attrs = {"long_name": "value interpolated from neighbouring periods (no clear observation)"}
    out["n_obs"].attrs = {"long_name": "number of clear observations in the period"}
    out = add_indices(out)
    out.attrs = {PERIOD_FREQ_ATTR: period, "compositing": "per-pixel median of clear observations"}
    return out


def _day_index(days: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """Per period, the index of each of its time steps' day among the period's distinct days."""
    out, start = [], 0
    for n in counts:
        _, index = np.unique(days[start : start + n], return_inverse=True)
        out.append(index.reshape(-1))
        start += n
    return out


def _clear_days(clear: np.ndarray, day_index: np.ndarray) -> np.ndarray:
    """Number of distinct days with a clear observation (several time steps of one day count once)."""
    if len(day_index) == 0:
        return np.zeros(clear.shape[1:], np.int16)
    if day_index.max() + 1 == len(day_index):
        return clear.sum(axis=0, dtype=np.int16)
    per_day = np.zeros((int(day_index.max()) + 1, *clear.shape[1:]), dtype=bool)
    for t, d in enumerate(day_index):
        per_day[d] |= clear[t]
    return per_day.sum(axis=0, dtype=np.int16)


_NETWORK_MAX_STEPS = 6
"""Up to this many time steps the median sorts with a compare-exchange network (faster than ``np.sort``)."""


def _nanmedian_time(values: np.ndarray) -> np.ndarray:
    """NaN-skipping median over axis 0, float32; NaN where nothing is valid.

    The same numbers as ``np.nanmedian`` (mean of the two middle values for an even count), several times
    faster on the short time axes of a period: NaNs sort last (as +inf), the middle is picked per pixel."""
    v = np.asarray(values, dtype=np.float32)
    steps = v.shape[0]
    if steps == 0:
        return np.full(v.shape[1:], np.nan, np.float32)
    missing = np.isnan(v)
    n = steps - missing.sum(axis=0, dtype=np.intp)
    if steps <= _NETWORK_MAX_STEPS:
        ordered = np.where(missing, np.float32(np.inf), v)
        for r in range(steps):  # odd-even transposition sort along axis 0
            for i in range(r % 2, steps - 1, 2):
                low = np.minimum(ordered[i], ordered[i + 1])
                np.maximum(ordered[i], ordered[i + 1], out=ordered[i + 1])
                ordered[i] = low
    else:
        ordered = np.sort(v, axis=0)
    lo = np.take_along_axis(ordered, np.maximum((n - 1) // 2, 0)[None], axis=0)[0]
    hi = np.take_along_axis(ordered, (n // 2)[None], axis=0)[0]
    out = (lo + hi) / np.float32(2)
    out[n == 0] = np.nan
    return out


def _per_period(
    values: Any,
    counts: np.ndarray,
    reduce: Callable[..., np.ndarray],
    dtype: type[np.generic],
    empty: float,
    extra: Sequence[np.ndarray] | None = None,
) -> Any:
    """``reduce`` over the time steps of each period of a time-sorted ``(time, y, x)`` array -> ``(period, y, x)``.

    ``counts`` is the number of time steps per period; empty periods get ``empty``; ``extra[k]`` is passed to
    the reduction of period ``k``. A dask array is rechunked once so that every chunk holds one period and
    reduced chunk-wise (stays lazy); a numpy array is reduced period by period."""
    args = list(extra) if extra is not None else [None] * len(counts)
    nonempty = [k for k, n in enumerate(counts) if n]
    if isinstance(values, da.Array):
        spatial = values.chunks[1:]
        parts: list[Any] = []
        if nonempty:
            grouped = values.rechunk({0: tuple(int(counts[k]) for k in nonempty)})

            def one(block: np.ndarray, block_id: tuple[int, ...] = (0,)) -> np.ndarray:
                k = nonempty[block_id[0]]
                out = reduce(block) if args[k] is None else reduce(block, args[k])
                return out.astype(dtype, copy=False)[None]

            reduced = grouped.map_blocks(one, chunks=((1,) * len(nonempty), *spatial), dtype=dtype)
            parts = [reduced[j : j + 1] for j in range(len(nonempty))]
        filler = da.full((1, *values.shape[1:]), empty, dtype=dtype, chunks=(1, *spatial))
        position = {k: j for j, k in enumerate(nonempty)}
        return da.concatenate([parts[position[k]] if k in position else filler for k in range(len(counts))])
    out = np.full((len(counts), *values.shape[1:]), empty, dtype=dtype)
    start = 0
    for k, n in enumerate(counts):
        if n:
            block = values[start : start + n]
            out[k] = reduce(block) if args[k] is None else reduce(block, args[k])
        start += n
    return out


def _midpoint_days(starts: pd.DatetimeIndex, period: str) -> np.ndarray:
    """Days from the first period's mid-point to every period's mid-point (the interpolation abscissa)."""
    mids = [lo + (hi - lo) / 2 for lo, hi in period_bounds(starts, period)]
    return np.asarray([(m - mids[0]) / pd.Timedelta(days=1) for m in mids], dtype=np.float64)


def fill_short_gaps(values: np.ndarray, max_gap: int, axis: int = 0, positions: np.ndarray | None = None) -> np.ndarray:
    """Linear interpolation along ``axis`` over interior NaN runs of at most ``max_gap`` steps.

    ``positions`` (increasing, one per step, e.g. days) is the abscissa; by default the step index. Leading and
    trailing NaNs and longer runs stay NaN. Pure numpy; works on any float array."""
    v = np.moveaxis(np.asarray(values), axis, 0)
    n = v.shape[0]
    pos = np.arange(n, dtype=np.float64) if positions is None else np.asarray(positions, dtype=np.float64)
    if pos.shape != (n,) or (n > 1 and not np.all(np.diff(pos) > 0)):
        raise InvalidInput(f"positions must be {n} strictly increasing numbers, got {positions!r}.")
    flat = v.reshape(n, -1)
    valid = ~np.isnan(flat)
    idx = np.arange(n, dtype=np.int32)[:, None]
    prev = np.maximum.accumulate(np.where(valid, idx, np.int32(-1)), axis=0)  # last valid step at or before
    nxt = np.minimum.accumulate(np.where(valid, idx, np.int32(n))[::-1], axis=0)[::-1]  # first at or after
    todo = ~valid & (prev >= 0) & (nxt < n) & (nxt - prev - 1 <= max_gap)
    out = flat.copy()
    step, col = np.nonzero(todo)
    if step.size:  # interpolate only where a short interior gap is
        before, after = prev[step, col], nxt[step, col]
        lo, hi = flat[before, col], flat[after, col]
        weight = (pos[step] - pos[before]) / (pos[after] - pos[before])
        out[step, col] = lo + (hi - lo) * weight
    return np.moveaxis(out.reshape(v.shape), 0, axis)


def _fill_gaps(values: Any, max_gap_periods: int, positions: np.ndarray) -> Any:
    """:func:`fill_short_gaps` along axis 0 (``period``, abscissa ``positions``), float32; lazy for dask."""
    if isinstance(values, da.Array):
        return values.rechunk({0: -1}).map_blocks(
            _fill_float32, dtype=np.float32, max_gap=max_gap_periods, positions=positions
        )
    return _fill_float32(values, max_gap=max_gap_periods, positions=positions)


def _fill_float32(values: np.ndarray, max_gap: int, positions: np.ndarray) -> np.ndarray:
    return fill_short_gaps(values, max_gap, axis=0, positions=positions).astype(np.float32, copy=False)
