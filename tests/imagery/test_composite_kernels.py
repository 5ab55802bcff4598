from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from agrisense.imagery.composite import _nanmedian_time, composites


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
