from __future__ import annotations

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from agrisense.errors import InvalidInput
from agrisense.imagery.composite import composites, fill_short_gaps, period_starts

NAN = np.nan


def _cube(times: list[str], red: list[list[float]], chunked: bool = False) -> xr.Dataset:
    arr = np.asarray(red, dtype=np.float32)[:, None, :]  # (time, y=1, x)
    nir = arr * 0 + np.float32(0.4)
    data = {"red": arr, "nir": nir}
    if chunked:
        data = {k: da.from_array(v, chunks=(1, 1, 2)) for k, v in data.items()}
    ds = xr.Dataset(
        {k: (("time", "y", "x"), v) for k, v in data.items()},
        coords={"time": pd.DatetimeIndex(times), "y": [0.5], "x": np.arange(arr.shape[2]) + 0.5},
    )
    return ds.assign(clear=ds.red.notnull())


def test_median_ignores_nans_and_counts_clear_observations() -> None:
    ds = _cube(
        ["2026-03-02", "2026-03-10", "2026-03-25", "2026-05-01"],
        [[0.1, NAN, NAN], [0.3, 0.2, NAN], [0.2, NAN, NAN], [0.5, 0.5, NAN]],
    )
    out = composites(ds, start="2026-03-01", end="2026-06-01", max_gap_periods=0)
    assert list(out.period.values) == list(pd.date_range("2026-03-01", periods=3, freq="MS").values)
    np.testing.assert_allclose(out.red.sel(period="2026-03-01").values[0], [0.2, 0.2, NAN])
    assert out.n_obs.dtype == np.int16
    assert out.n_obs.sel(period="2026-03-01").values[0].tolist() == [3, 1, 0]
    assert np.isnan(out.red.sel(period="2026-04-01").values).all()  # empty month present, not dropped
    assert out.n_obs.sel(period="2026-04-01").values.sum() == 0
    assert {"ndvi", "evi", "ndwi", "ndre"} & set(out.data_vars) == {"ndvi"}  # only indices with bands
    np.testing.assert_allclose(out.ndvi.sel(period="2026-03-01").values[0, 0], 0.2 / 0.6, rtol=1e-5)


def test_short_gaps_are_interpolated_and_flagged_long_ones_are_not() -> None:
    times = ["2026-01-15", "2026-03-15", "2026-06-15"]
    ds = _cube(times, [[0.1, 0.1], [0.3, NAN], [0.6, 0.6]], chunked=True)
    out = composites(ds, start="2026-01-01", end="2026-07-01", max_gap_periods=1)
    assert isinstance(out.red.data, da.Array)  # still lazy
    out = out.compute()
    red = out.red.values[:, 0, :]
    np.testing.assert_allclose(red[:, 0], [0.1, 0.2, 0.3, NAN, NAN, 0.6], rtol=1e-6)  # Apr-May gap of 2: kept NaN
    assert np.isnan(red[1:5, 1]).all()  # four empty months for pixel 1
    assert out.filled.values[:, 0, 0].tolist() == [False, True, False, False, False, False]
    assert out.n_obs.values[1, 0, 0] == 0
    assert np.isfinite(out.ndvi.values[1, 0, 0])  # indices from filled bands


def test_ten_day_periods_and_start_alignment() -> None:
    starts = period_starts("2026-03-15", "2026-04-15", "10D")
    assert [str(s.date()) for s in starts] == ["2026-03-15", "2026-03-25", "2026-04-04", "2026-04-14"]
    assert str(period_starts("2026-03-15", "2026-05-01", "1MS")[0].date()) == "2026-03-01"
    ds = _cube(["2026-03-16", "2026-03-20", "2026-03-26"], [[0.1], [0.3], [0.5]])
    out = composites(ds, period="10D", start="2026-03-15", end="2026-04-04")
    np.testing.assert_allclose(out.red.values[:, 0, 0], [0.2, 0.5])


def test_fill_short_gaps_never_extrapolates() -> None:
    out = fill_short_gaps(np.array([NAN, 1.0, NAN, 3.0, NAN]), max_gap=3)
    np.testing.assert_allclose(out, [NAN, 1.0, 2.0, 3.0, NAN])


def test_bad_period_is_rejected() -> None:
    ds = _cube(["2026-03-02"], [[0.1]])
    with pytest.raises(InvalidInput, match="frequency"):
        composites(ds, period="monthly")
    with pytest.raises(InvalidInput):
        composites(ds.drop_vars(["red", "nir"]))


def test_gaps_are_interpolated_by_days_not_by_index() -> None:
    out = fill_short_gaps(np.array([0.0, NAN, 4.0]), max_gap=1, positions=np.array([0.0, 10.0, 40.0]))
    np.testing.assert_allclose(out, [0.0, 1.0, 4.0])
    with pytest.raises(InvalidInput, match="increasing"):
        fill_short_gaps(np.array([0.0, NAN, 4.0]), max_gap=1, positions=np.array([0.0, 10.0, 5.0]))
    # semi-monthly periods are unequal (15 and 16-17 days): the filled value follows the day positions
    ds = _cube(["2026-02-02", "2026-03-02"], [[0.0], [0.3]])
    red = composites(ds, period="SMS", start="2026-02-01", end="2026-03-15").red.values[:, 0, 0]
    mids = np.array([7.0, 14 + 7.0, 28 + 7.0])  # Feb 1-14, Feb 15-28, Mar 1-14: mid-points in days
    np.testing.assert_allclose(red, [0.0, 0.3 * (mids[1] - mids[0]) / (mids[2] - mids[0]), 0.3], rtol=1e-5)


def test_two_time_steps_of_one_day_count_once() -> None:
    ds = _cube(["2026-03-05T08:00", "2026-03-05T08:00:05", "2026-03-20"], [[0.1, 0.1], [0.1, NAN], [0.2, 0.2]])
    ds = ds.assign_coords(solar_day=("time", np.array(["2026-03-05", "2026-03-05", "2026-03-20"], "datetime64[D]")))
    out = composites(ds, start="2026-03-01", end="2026-04-01")
    assert out.n_obs.values[0, 0].tolist() == [2, 2]  # not 3 for the pixel seen twice on 5 March
