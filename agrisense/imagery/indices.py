"""Spectral indices from surface reflectance bands (NaN-safe: a zero denominator gives NaN)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from agrisense.errors import InvalidInput

_EPS = 1e-6


def _ratio(num: xr.DataArray, den: xr.DataArray) -> xr.DataArray:
    return (num / den.where(np.abs(den) > _EPS)).astype(np.float32)


def _nd(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    return _ratio(a - b, a + b)


INDEX_BANDS: dict[str, tuple[str, ...]] = {
    "ndvi": ("nir", "red"),
    "evi": ("nir", "red", "blue"),
    "ndwi": ("green", "nir"),
    "ndre": ("nir", "rededge1"),
}
"""Each index and the bands it needs (Earth Search asset names)."""

_FORMULAS: dict[str, Callable[[xr.Dataset], xr.DataArray]] = {
    "ndvi": lambda d: _nd(d["nir"], d["red"]),
    "evi": lambda d: _ratio(2.5 * (d["nir"] - d["red"]), d["nir"] + 6.0 * d["red"] - 7.5 * d["blue"] + 1.0),
    "ndwi": lambda d: _nd(d["green"], d["nir"]),  # McFeeters 1996: open water > 0
    "ndre": lambda d: _nd(d["nir"], d["rededge1"]),
}
INDEX_NAMES: tuple[str, ...] = tuple(INDEX_BANDS)


def add_indices(ds: xr.Dataset, names: Sequence[str] | None = None) -> xr.Dataset:
    """Copy of ``ds`` with ``ndvi evi ndwi ndre`` (float32) computed from its reflectance bands.

    ``names=None`` adds every index whose bands are present; naming one whose bands are missing is an error.
    """
    wanted = list(INDEX_NAMES if names is None else names)
    unknown = [n for n in wanted if n not in INDEX_BANDS]
    if unknown:
        raise InvalidInput(f"unknown index {unknown}; choose from {list(INDEX_NAMES)}.")
    out = ds.copy()
    for name in wanted:
        missing = [b for b in INDEX_BANDS[name] if b not in ds]
        if missing:
            if names is None:
                continue
            raise InvalidInput(f"index {name!r} needs bands {missing}, which the dataset lacks; load them too.")
        index = _FORMULAS[name](ds)
        out[name] = index.assign_attrs(long_name=name.upper(), units="1")
    return out
