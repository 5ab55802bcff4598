from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from agrisense.imagery.composite import _nanmedian_time, composites, fill_short_gaps


@pytest.mark.parametrize("steps", [0, 1, 2, 3, 5, 6, 7, 12])
def test_fast_median_gives_numpys_nanmedian(steps: int) -> None:
    rng = np.random.default_rng(steps)
    values = rng.random((steps, 16, 16), dtype=np.float32)
    values[values < 0.35] = np.nan
    values[:, :3] = np.nan  # pixels never clear
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels
        expected = np.nanmedian(values, axis=0) if steps else np.full((16, 16), np.nan)
    out = _nanmedian_time(values)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected.astype(np.float32))


def _random_cube(chunked: bool) -> xr.Dataset:
    rng = np.random.default_rng(7)
    times = pd.DatetimeIndex(["2026-04-20", "2026-03-03", "2026-03-03T00:00:05", "2026-03-18", "2026-06-09"])
    red = rng.random((len(times), 6, 5), dtype=np.float32)
    red[red < 0.3] = np.nan
    data = da.from_array(red, chunks=(1, 4, 5)) if chunked else red
    ds = xr.Dataset(
        {"red": (("time", "y", "x"), data)}, coords={"time": times, "y": np.arange(6.0), "x": np.arange(5.0)}
    )
    days = np.asarray(times.normalize().values, dtype="datetime64[D]")
    return ds.assign(clear=ds.red.notnull()).assign_coords(solar_day=("time", days))


def test_lazy_and_eager_composites_agree_for_unsorted_times_and_repeated_days() -> None:
    eager = composites(_random_cube(chunked=False), start="2026-03-01", end="2026-08-01")
    lazy = composites(_random_cube(chunked=True), start="2026-03-01", end="2026-08-01")
    assert isinstance(lazy.red.data, da.Array)
    lazy = lazy.compute()
    for name in ("red", "n_obs", "filled"):
        np.testing.assert_array_equal(lazy[name].values, eager[name].values)
    cube = _random_cube(chunked=False)
    march = cube.red.values[[1, 2, 3]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_array_equal(eager.red.values[0], np.nanmedian(march, axis=0).astype(np.float32))
    seen = np.isfinite(march)
    expected_days = (seen[0] | seen[1]).astype(int) + seen[2]  # two time steps of 3 March count once
    np.testing.assert_array_equal(eager.n_obs.values[0], expected_days)
    assert eager.n_obs.values[2].sum() == 0 and eager.filled.values[2].any()  # empty May filled from Apr/Jun


def test_fast_median_takes_a_list_of_scenes() -> None:
    rng = np.random.default_rng(3)
    values = rng.random((4, 8, 8), dtype=np.float32)
    values[values < 0.4] = np.nan
    np.testing.assert_array_equal(_nanmedian_time(list(values)), _nanmedian_time(values))


def _reference_fill(values: np.ndarray, max_gap: int, positions: np.ndarray) -> np.ndarray:
    """Pixel by pixel: interior NaN runs of at most max_gap steps, linear in ``positions``."""
    out = values.copy()
    for col in np.ndindex(values.shape[1:]):
        series = values[(slice(None), *col)]
        seen = np.flatnonzero(~np.isnan(series))
        for left, right in zip(seen[:-1], seen[1:], strict=True):
            if 1 <= right - left - 1 <= max_gap:
                for k in range(left + 1, right):
                    w = (positions[k] - positions[left]) / (positions[right] - positions[left])
                    out[(k, *col)] = series[left] + (series[right] - series[left]) * w
    return out


@pytest.mark.parametrize("max_gap", [1, 2, 3])
def test_fill_short_gaps_matches_a_pixel_by_pixel_reference(max_gap: int) -> None:
    rng = np.random.default_rng(max_gap)
    values = rng.random((9, 7, 6))
    values[rng.random(values.shape) < 0.45] = np.nan
    positions = np.cumsum(rng.uniform(5, 40, 9))
    out = fill_short_gaps(values, max_gap, positions=positions)
    np.testing.assert_array_equal(out, _reference_fill(values, max_gap, positions))
    moved = fill_short_gaps(np.moveaxis(values, 0, 2), max_gap, axis=2, positions=positions)
    np.testing.assert_array_equal(np.moveaxis(moved, 2, 0), out)


def test_lazy_composites_with_time_and_space_chunks_match_eager() -> None:
    cube = _random_cube(chunked=False)
    chunked = cube.copy()
    for name in ("red", "clear"):
        chunked[name] = chunked[name].copy(data=da.from_array(cube[name].values, chunks=(2, 4, 3)))
    eager = composites(cube, start="2026-02-01", end="2026-08-01", max_gap_periods=2)
    lazy = composites(chunked, start="2026-02-01", end="2026-08-01", max_gap_periods=2)
    assert lazy.red.data.numblocks == (1, 2, 2)  # one task per spatial chunk: every period, no rechunk
    lazy = lazy.compute()
    for name in ("red", "n_obs", "filled"):
        assert lazy[name].dtype == eager[name].dtype
        np.testing.assert_array_equal(lazy[name].values, eager[name].values)
    assert eager.n_obs.values[0].sum() == 0 and not eager.filled.values[0].any()  # February: leading, not filled
