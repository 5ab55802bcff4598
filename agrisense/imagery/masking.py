"""Clear-sky masks from the Sentinel-2 scene classification layer (SCL)."""

from __future__ import annotations

from typing import TypeVar, overload

import numpy as np
import numpy.typing as npt
import xarray as xr
from scipy import ndimage

from agrisense.errors import InvalidInput

SCL_NODATA = 0
SCL_SATURATED = 1
SCL_CLOUD_SHADOW = 3
SCL_CLOUD_MEDIUM = 8
SCL_CLOUD_HIGH = 9
SCL_CIRRUS = 10
SCL_SNOW = 11

CLOUD_CLASSES = (SCL_CLOUD_SHADOW, SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS)
"""Classes grown by ``dilation_px`` (Sen2Cor under-detects cloud and shadow borders)."""
INVALID_CLASSES = (SCL_NODATA, SCL_SATURATED, *CLOUD_CLASSES)

M = TypeVar("M", np.ndarray, xr.DataArray)


def _footprint(radius: int) -> npt.NDArray[np.bool_]:
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    footprint: npt.NDArray[np.bool_] = (xx**2 + yy**2) <= radius * (radius + 1)  # radius 1 -> 3x3, 2 -> rounded 5x5
    return footprint


def _in_classes(scl: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    """``np.isin(scl, classes)``; a lookup table for uint8 codes (several times faster)."""
    if scl.dtype == np.uint8:
        table = np.zeros(256, bool)
        table[list(classes)] = True
        return table.take(scl)
    return np.isin(scl, classes)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of every 2-D (last two axes) slice by :func:`_footprint` (outside the array: False)."""
    if radius == 1:  # 3x3 square: separable, two shifted ORs per axis (much faster than ndimage)
        rows = mask.copy()
        rows[..., 1:, :] |= mask[..., :-1, :]
        rows[..., :-1, :] |= mask[..., 1:, :]
        out = rows.copy()
        out[..., :, 1:] |= rows[..., :, :-1]
        out[..., :, :-1] |= rows[..., :, 1:]
        return out
    structure = _footprint(radius)
    # dilate every 2-D scene separately: leading axes (time, ...) get a size-1 structure axis
    structure = structure.reshape((1,) * (mask.ndim - 2) + structure.shape)
    return np.asarray(ndimage.binary_dilation(mask, structure=structure))


def _clear_numpy(scl: np.ndarray, dilation_px: int, mask_snow: bool) -> np.ndarray:
    scl = np.asarray(scl)
    grow = _in_classes(scl, CLOUD_CLASSES + ((SCL_SNOW,) if mask_snow else ()))
    if dilation_px > 0 and grow.any():
        grow = _dilate(grow, dilation_px)
    grow |= _in_classes(scl, (SCL_NODATA, SCL_SATURATED))
    return ~grow


def _check(scl: np.ndarray | xr.DataArray, dilation_px: int) -> None:
    if scl.ndim < 2:
        raise InvalidInput(f"SCL must have at least 2 dimensions (y, x), got shape {scl.shape}.")
    if not np.issubdtype(scl.dtype, np.integer):
        raise InvalidInput(f"SCL must hold integer class codes, got dtype {scl.dtype}.")
    if dilation_px < 0:
        raise InvalidInput(f"dilation_px must be >= 0, got {dilation_px}.")


@overload
def clear_mask(scl: np.ndarray, *, dilation_px: int = 1, mask_snow: bool = False) -> np.ndarray: ...
@overload
def clear_mask(scl: xr.DataArray, *, dilation_px: int = 1, mask_snow: bool = False) -> xr.DataArray: ...
def clear_mask(
    scl: np.ndarray | xr.DataArray, *, dilation_px: int = 1, mask_snow: bool = False
) -> np.ndarray | xr.DataArray:
    """True where a pixel is clear: not nodata (0), saturated (1), cloud shadow (3), cloud (8, 9), cirrus (10)
    nor, with ``mask_snow``, snow (11). Cloud, shadow (and masked snow) grow by ``dilation_px`` pixels within
    each scene. The last two dimensions are (y, x). A dask-backed DataArray stays lazy (chunks split in y or x
    overlap by the dilation radius)."""
    _check(scl, dilation_px)
    if not isinstance(scl, xr.DataArray):
        return _clear_numpy(scl, dilation_px, mask_snow)
    data = scl.data
    whole_scenes = hasattr(data, "numblocks") and data.numblocks[-2:] == (1, 1)  # no chunk borders in y, x
    if hasattr(data, "map_overlap") and dilation_px > 0 and not whole_scenes:
        depth = {scl.ndim - 2: dilation_px, scl.ndim - 1: dilation_px}
        depth.update({axis: 0 for axis in range(scl.ndim - 2)})
        out = data.map_overlap(
            _clear_numpy,
            depth=depth,
            boundary="none",
            dtype=bool,
            dilation_px=dilation_px,
            mask_snow=mask_snow,
        )
    elif hasattr(data, "map_blocks"):
        out = data.map_blocks(_clear_numpy, dtype=bool, dilation_px=dilation_px, mask_snow=mask_snow)
    else:
        out = _clear_numpy(data, dilation_px, mask_snow)
    return xr.DataArray(out, coords=scl.coords, dims=scl.dims, name="clear", attrs={})


def clear_fraction(
    scl: np.ndarray | xr.DataArray, *, dilation_px: int = 1, mask_snow: bool = False
) -> np.ndarray | xr.DataArray:
    """Share of clear pixels per scene (mean of :func:`clear_mask` over the last two dimensions)."""
    mask = clear_mask(scl, dilation_px=dilation_px, mask_snow=mask_snow)
    if isinstance(mask, xr.DataArray):
        return mask.mean(dim=mask.dims[-2:])
    fraction: npt.NDArray[np.float64] = mask.mean(axis=(-2, -1))
    return fraction
