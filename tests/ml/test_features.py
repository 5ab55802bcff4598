import numpy as np
import pandas as pd
import pytest
import xarray as xr

from agrisense.errors import InvalidInput
from agrisense.ml.features import (
    channel_names,
    channel_statistics,
    interpolate_time,
    stack_features,
    standardise,
    valid_fraction,
)


def _cube(values: dict[str, np.ndarray], months: list[int]) -> xr.Dataset:
    return xr.Dataset(
        {k: (("period", "y", "x"), v.astype(np.float32)) for k, v in values.items()},
        coords={"period": pd.to_datetime([f"2026-{m:02d}-01" for m in months])},
    )


def test_stack_is_period_major_with_bands_then_indices():
    rng = np.random.default_rng(0)
    ds = _cube({k: rng.random((3, 4, 5)) for k in ("red", "nir", "ndvi")}, [5, 6, 7])
    out = stack_features(ds, bands=["red", "nir"], indices=["ndvi"], months=[6, 7])
    assert out.shape == (6, 4, 5) and out.dtype == np.float32
    assert channel_names(["red", "nir"], ["ndvi"], [6, 7])[3] == "m07_red"
    np.testing.assert_array_equal(out[0], ds["red"].values[1])  # m06 red
    np.testing.assert_array_equal(out[2], ds["ndvi"].values[1])  # m06 ndvi
    np.testing.assert_array_equal(out[4], ds["nir"].values[2])  # m07 nir


def test_gaps_are_interpolated_in_time_and_ends_held():
    series = np.array([[np.nan, 1.0, np.nan, np.nan, 4.0, np.nan], [np.nan] * 6]).T  # (T=6, N=2)
    out = interpolate_time(series)
    np.testing.assert_allclose(out[:, 0], [1, 1, 2, 3, 4, 4])
    assert np.isnan(out[:, 1]).all()


def test_missing_month_is_filled_from_neighbours_and_all_nan_pixel_becomes_channel_mean():
    red = np.stack([np.full((2, 2), 0.1), np.full((2, 2), 0.3)])
    red[:, 0, 0] = np.nan  # never observed
    ds = _cube({"red": red}, [3, 5])
    out = stack_features(ds, bands=["red"], indices=[], months=[3, 4, 5])
    np.testing.assert_allclose(out[:, 1, 1], [0.1, 0.2, 0.3], rtol=1e-6)
    assert np.isnan(out[:, 0, 0]).all()
    mean, std = channel_statistics(out)
    z = standardise(out, mean, std)
    assert np.all(z[:, 0, 0] == 0) and np.isfinite(z).all()
    np.testing.assert_allclose(valid_fraction(ds, [3, 4, 5]), [[0, 2 / 3], [2 / 3, 2 / 3]], rtol=1e-6)


def test_bad_inputs_are_named():
    ds = _cube({"red": np.zeros((2, 2, 2))}, [3, 4])
    with pytest.raises(InvalidInput, match="lack variables"):
        stack_features(ds, bands=["red", "swir16"], indices=[], months=[3])
    with pytest.raises(InvalidInput, match="month numbers"):
        stack_features(ds, bands=["red"], indices=[], months=[3, 13])
    twice = _cube({"red": np.zeros((2, 2, 2))}, [3, 3])
    with pytest.raises(InvalidInput, match="same month"):
        stack_features(twice, bands=["red"], indices=[], months=[3])
    with pytest.raises(InvalidInput, match="normalisation"):
        standardise(np.zeros((3, 2, 2), np.float32), [0.0, 0.0], [1.0, 1.0])
