from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from agrisense.errors import InvalidInput
from agrisense.imagery.masking import clear_fraction, clear_mask


def test_invalid_classes_are_masked_without_dilation() -> None:
    scl = np.array([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]], dtype=np.uint8)
    clear = clear_mask(scl, dilation_px=0)
    assert clear.tolist() == [[False, False, True, False, True, True, True, True, False, False, False, True]]
    assert not clear_mask(scl, dilation_px=0, mask_snow=True)[0, 11]


def test_clouds_grow_by_the_dilation_radius_but_nodata_does_not() -> None:
    scl = np.full((9, 9), 4, dtype=np.uint8)
    scl[4, 4] = 9
    scl[0, 8] = 0
    clear = clear_mask(scl, dilation_px=1)
    assert (~clear[3:6, 3:6]).all() and (~clear).sum() == 9 + 1
    assert clear[0, 7] and clear[1, 8]
    assert (~clear_mask(scl, dilation_px=2)).sum() == 21 + 1  # rounded 5x5 footprint


def test_dilation_stays_within_each_scene_and_fraction_is_per_scene() -> None:
    scl = np.full((2, 5, 5), 4, dtype=np.uint8)
    scl[0, 2, 2] = 8
    clear = clear_mask(scl)
    assert clear[1].all()
    np.testing.assert_allclose(clear_fraction(scl), [16 / 25, 1.0])


def test_dask_dataarray_matches_numpy_across_chunk_borders() -> None:
    rng = np.random.default_rng(0)
    scl = rng.choice(np.array([4, 4, 4, 5, 9, 3, 0], dtype=np.uint8), size=(3, 40, 40))
    lazy = xr.DataArray(da.from_array(scl, chunks=(1, 16, 16)), dims=("time", "y", "x"))
    out = clear_mask(lazy, dilation_px=2)
    assert isinstance(out, xr.DataArray) and out.chunks is not None
    np.testing.assert_array_equal(out.values, clear_mask(scl, dilation_px=2))


@pytest.mark.parametrize("bad", [np.zeros(4, dtype=np.uint8), np.zeros((3, 3), dtype=np.float32)])
def test_bad_input_is_rejected(bad: np.ndarray) -> None:
    with pytest.raises(InvalidInput):
        clear_mask(bad)


@pytest.mark.parametrize("radius", [1, 2])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16])
def test_fast_class_lookup_and_dilation_match_isin_and_scipy(radius: int, dtype: type) -> None:
    from scipy import ndimage

    rng = np.random.default_rng(radius)
    scl = rng.choice(np.array([0, 1, 3, 4, 5, 8, 9, 10, 11], dtype=dtype), size=(4, 23, 17))
    clouds = np.isin(scl, (3, 8, 9, 10))
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disc = ((xx**2 + yy**2) <= radius * (radius + 1))[None]
    expected = ~(ndimage.binary_dilation(clouds, structure=disc) | np.isin(scl, (0, 1)))
    np.testing.assert_array_equal(clear_mask(scl, dilation_px=radius), expected)
    np.testing.assert_array_equal(clear_mask(scl[0], dilation_px=radius), expected[0])  # one 2-D scene


def test_whole_scene_chunks_need_no_overlap_and_match_numpy() -> None:
    rng = np.random.default_rng(1)
    scl = rng.choice(np.array([4, 4, 5, 8, 3, 0], dtype=np.uint8), size=(5, 30, 20))
    lazy = xr.DataArray(da.from_array(scl, chunks=(2, 30, 20)), dims=("time", "y", "x"))
    out = clear_mask(lazy, dilation_px=1)
    assert out.data.numblocks == (3, 1, 1)
    np.testing.assert_array_equal(out.values, clear_mask(scl, dilation_px=1))
