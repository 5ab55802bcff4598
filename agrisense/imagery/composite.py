"""Per-period (monthly by default) median composites of clear observations, with short gaps interpolated."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeAlias

import dask.array as da
import numpy as np
import numpy.typing as npt
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
    UTC date) count once. Indices are computed from the composite bands. ``filled`` is taken from the first
    band. Dask-backed input stays lazy: one task per band and spatial chunk takes every time step of that chunk
    (median of every period and gap fill in one pass, no rechunk).
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
    labels = np.full(len(times), -1)
    for k, (lo, hi) in enumerate(period_bounds(starts, period)):
        labels[(times >= lo) & (times < hi)] = k
    inside = np.flatnonzero(labels >= 0)
    order = inside[np.argsort(labels[inside], kind="stable")]  # time steps grouped by period, in period order
    counts = np.bincount(labels[order], minlength=len(starts))
    days = np.asarray(ds["solar_day"].values if "solar_day" in ds.coords else times.normalize().values)[order]
    plan = _PeriodPlan(
        steps=tuple(tuple(int(t) for t in part) for part in np.split(order, np.cumsum(counts)[:-1])),
        day_index=tuple(_day_index(days, counts)),
        positions=_midpoint_days(starts, period),
        max_gap=max_gap_periods if len(starts) > 2 else 0,
    )
    clear = ds["clear"] if "clear" in ds else ds[bands[0]].notnull()

    space = tuple(str(d) for d in ds[bands[0]].dims if d != "time")
    dims = ("period", *space)
    coords = {c: ds[c] for c in ds[bands[0]].coords if c != "time" and set(ds[c].dims) <= set(space)}

    def over_time(var: xr.DataArray) -> Any:
        return var.transpose("time", *space).data

    variables: dict[str, tuple[tuple[str, ...], Any, dict[str, Any]]] = {
        band: (dims, _reduce_time(_band_composite, over_time(ds[band]), plan, np.float32), dict(ds[band].attrs))
        for band in bands
    }
    n_obs = _reduce_time(_clear_days_composite, over_time(clear), plan, np.int16)
    variables["n_obs"] = (dims, n_obs, {"long_name": "number of clear observations in the period"})
    filled = _reduce_time(_filled, over_time(ds[bands[0]]), plan, np.bool_, variables[bands[0]][1])
    variables["filled"] = (
        dims,
        filled,
        {"long_name": "value interpolated from neighbouring periods (no clear observation)"},
    )
    out = xr.Dataset(coords={**coords, "period": pd.Index(starts.as_unit("ns"), name="period")}).assign(variables)
    out = add_indices(out)
    out.attrs = {PERIOD_FREQ_ATTR: period, "compositing": "per-pixel median of clear observations"}
    return out


@dataclass(frozen=True)
class _PeriodPlan:
    """Which time steps (indices along ``time``) fall in each period, and how gaps are filled."""

    steps: tuple[tuple[int, ...], ...]
    day_index: tuple[np.ndarray, ...]
    positions: np.ndarray
    max_gap: int


def _reduce_time(
    kernel: Callable[..., np.ndarray], values: Any, plan: _PeriodPlan, dtype: type[np.generic], *per_period: Any
) -> Any:
    """``kernel(time_blocks, *per_period, plan=plan)`` from ``(time, ...)`` to ``(period, ...)``.

    Dask input stays lazy: one task per spatial chunk gets every time block of that chunk (no rechunk), and
    ``per_period`` arrays (already on ``(period, ...)``) ride along; numpy input is reduced directly."""
    if not isinstance(values, da.Array):
        return kernel([np.asarray(values)], *(np.asarray(p) for p in per_period), plan=plan)
    space = tuple(f"s{i}" for i in range(values.ndim - 1))
    out_index = ("period", *space)
    args: list[Any] = [values, ("time", *space)]
    for extra in per_period:
        args += [extra, out_index]
    return da.blockwise(
        kernel,
        out_index,
        *args,
        new_axes={} if per_period else {"period": len(plan.steps)},
        concatenate=False,
        dtype=dtype,
        meta=np.empty((0,) * values.ndim, dtype=dtype),
        plan=plan,
    )


def _time_steps(blocks: Sequence[np.ndarray] | np.ndarray) -> tuple[list[np.ndarray], tuple[int, ...]]:
    """The slice of every time step, in time order, from the blocks along ``time``; and the spatial shape."""
    if isinstance(blocks, np.ndarray):
        blocks = [blocks]
    return [step for block in blocks for step in block], tuple(blocks[0].shape[1:])


def _band_composite(blocks: Sequence[np.ndarray], *, plan: _PeriodPlan) -> np.ndarray:
    """NaN-median of every period's time steps, short gaps filled: ``(time, ...)`` blocks -> ``(period, ...)``."""
    steps, shape = _time_steps(blocks)
    out = np.full((len(plan.steps), *shape), np.nan, np.float32)
    for k, members in enumerate(plan.steps):
        if members:
            out[k] = _nanmedian_time([steps[t] for t in members])
    if plan.max_gap > 0:
        out = _fill_float32(out, plan.max_gap, plan.positions)
    return out


def _clear_days_composite(blocks: Sequence[np.ndarray], *, plan: _PeriodPlan) -> np.ndarray:
    """Clear days per period (int16): ``(time, ...)`` bool blocks -> ``(period, ...)``."""
    steps, shape = _time_steps(blocks)
    out = np.zeros((len(plan.steps), *shape), np.int16)
    for k, members in enumerate(plan.steps):
        if members:
            out[k] = _clear_days(np.stack([steps[t] for t in members]), plan.day_index[k])
    return out


def _filled(blocks: Sequence[np.ndarray], composite: np.ndarray, *, plan: _PeriodPlan) -> npt.NDArray[np.bool_]:
    """True where a period had no valid value of the band but its (gap-filled) composite has one."""
    steps, _ = _time_steps(blocks)
    observed = np.zeros(composite.shape, bool)
    for k, members in enumerate(plan.steps):
        for t in members:
            observed[k] |= ~np.isnan(steps[t])
    filled: npt.NDArray[np.bool_] = ~observed & ~np.isnan(composite)
    return filled


def _day_index(days: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """Per period, the index of each of its time steps' day among the period's distinct days."""
    out, start = [], 0
    for n in counts:
        _, index = np.unique(days[start : start + n], return_inverse=True)
        out.append(index.reshape(-1))
        start += n
    return out


def _clear_days(clear: np.ndarray, day_index: np.ndarray) -> npt.NDArray[np.int16]:
    """Number of distinct days with a clear observation (several time steps of one day count once)."""
    if len(day_index) == 0:
        return np.zeros(clear.shape[1:], np.int16)
    if day_index.max() + 1 == len(day_index):
        days: npt.NDArray[np.int16] = clear.sum(axis=0, dtype=np.int16)
        return days
    per_day = np.zeros((int(day_index.max()) + 1, *clear.shape[1:]), dtype=bool)
    for t, d in enumerate(day_index):
        per_day[d] |= clear[t]
    distinct_days: npt.NDArray[np.int16] = per_day.sum(axis=0, dtype=np.int16)
    return distinct_days


_NETWORK_MAX_STEPS = 6
"""Up to this many time steps the median sorts with a compare-exchange network (faster than ``np.sort``)."""


def _nanmedian_time(values: np.ndarray | Sequence[np.ndarray]) -> npt.NDArray[np.float32]:
    """NaN-skipping median over axis 0 (or over a list of equally shaped arrays), float32; NaN where nothing
    is valid.

    The same numbers as ``np.nanmedian`` (mean of the two middle values for an even count), several times
    faster on the short time axes of a period: NaNs sort last (as if +inf), the middle is picked per pixel."""
    # a fresh float32 copy: sorted in place below
    v = (
        np.array(values, dtype=np.float32)
        if isinstance(values, np.ndarray)
        else np.stack(values).astype(np.float32, copy=False)
    )
    steps = v.shape[0]
    if steps == 0:
        return np.full(v.shape[1:], np.nan, np.float32)
    n = np.subtract(steps, np.isnan(v).sum(axis=0, dtype=np.int16 if steps < 2**15 else np.intp), dtype=np.intp)
    if steps <= _NETWORK_MAX_STEPS:
        low = np.empty_like(v[0])
        for r in range(steps):  # odd-even transposition sort along axis 0; fmin/maximum: NaN acts as +inf
            for i in range(r % 2, steps - 1, 2):
                np.fmin(v[i], v[i + 1], out=low)
                np.maximum(v[i], v[i + 1], out=v[i + 1])
                v[i] = low
    else:
        v.sort(axis=0)  # NaNs last
    # flat positions of the two middle valid values of every pixel
    flat, size = v.reshape(-1), v[0].size
    base = np.arange(size, dtype=np.intp).reshape(v.shape[1:])
    lo = np.maximum(n - 1, 0) >> 1
    lo *= size
    lo += base
    hi = n >> 1
    hi *= size
    hi += base
    out: npt.NDArray[np.float32] = flat.take(lo)
    out += flat.take(hi)
    out /= np.float32(2)
    out[n == 0] = np.nan
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
    out = flat.copy()
    # per step, the last valid step at or before it and the first at or after it (row by row: numpy's
    # accumulate along axis 0 of a wide array is several times slower)
    prev = np.empty(flat.shape, np.int32)
    nxt = np.empty(flat.shape, np.int32)
    last = np.full(flat.shape[1:], -1, np.int32)
    for k in range(n):
        np.copyto(last, np.int32(k), where=valid[k])
        prev[k] = last
    last.fill(n)
    for k in range(n - 1, -1, -1):
        np.copyto(last, np.int32(k), where=valid[k])
        nxt[k] = last
    for k in range(1, n - 1):  # interpolate only where a short interior gap is
        col = np.flatnonzero(~valid[k] & (prev[k] >= 0) & (nxt[k] < n) & (nxt[k] - prev[k] - 1 <= max_gap))
        if col.size:
            before, after = prev[k, col], nxt[k, col]
            lo, hi = flat[before, col], flat[after, col]
            weight = (pos[k] - pos[before]) / (pos[after] - pos[before])
            out[k, col] = lo + (hi - lo) * weight
    return np.moveaxis(out.reshape(v.shape), 0, axis)


def _fill_float32(values: np.ndarray, max_gap: int, positions: np.ndarray) -> np.ndarray:
    return fill_short_gaps(values, max_gap, axis=0, positions=positions).astype(np.float32, copy=False)
