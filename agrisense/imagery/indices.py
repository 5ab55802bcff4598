"""Spectral indices from surface reflectance bands, always within each index's valid range.

A pixel gets NaN where an index is undefined: an input reflectance that is NaN or not positive (L2A reflectance
below 0 after the -0.1 offset, a DN of 0 = no data, is not a measurement; it would push NDVI past 1), or a
denominator that is not positive (EVI). Values are then clipped to :data:`INDEX_RANGE`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from agrisense.errors import InvalidInput

_EPS = 1e-6

INDEX_BANDS: dict[str, tuple[str, ...]] = {
    "ndvi": ("nir", "red"),
    "evi": ("nir", "red", "blue"),
    "ndwi": ("green", "nir"),
    "ndre": ("nir", "rededge1"),
}
"""Each index and the bands it needs (Earth Search asset names)."""

INDEX_RANGE: dict[str, tuple[float, float]] = {
    "ndvi": (-1.0, 1.0),
    "evi": (-1.0, 1.0),
    "ndwi": (-1.0, 1.0),
    "ndre": (-1.0, 1.0),
}
"""Valid range of each index. Normalised differences of positive reflectances lie in (-1, 1) by construction;
EVI (Huete et al. 2002) is meant for [-1, 1] (vegetation 0.2-0.8) but leaves it where blue is bright (cloud or
snow residue) and the denominator ``nir + 6 red - 7.5 blue + 1`` becomes small; it is clipped there."""


def _valid(*bands: xr.DataArray) -> xr.DataArray:
    """True where every input reflectance is finite and positive (NaN compares False)."""
    ok = bands[0] > 0
    for band in bands[1:]:
        ok = ok & (band > 0)
    return ok


def _ratio(num: xr.DataArray, den: xr.DataArray) -> xr.DataArray:
    return num / den.where(den > _EPS)


def _nd(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    return _ratio(a - b, a + b).where(_valid(a, b))


def _evi(d: xr.Dataset) -> xr.DataArray:
    nir, red, blue = d["nir"], d["red"], d["blue"]
    return _ratio(2.5 * (nir - red), nir + 6.0 * red - 7.5 * blue + 1.0).where(_valid(nir, red, blue))


_FORMULAS: dict[str, Callable[[xr.Dataset], xr.DataArray]] = {
    "ndvi": lambda d: _nd(d["nir"], d["red"]),
    "evi": _evi,
    "ndwi": lambda d: _nd(d["green"], d["nir"]),  # McFeeters 1996: open water > 0
    "ndre": lambda d: _nd(d["nir"], d["rededge1"]),
}
INDEX_NAMES: tuple[str, ...] = tuple(INDEX_BANDS)


def add_indices(ds: xr.Dataset, names: Sequence[str] | None = None) -> xr.Dataset:
    """Copy of ``ds`` with ``ndvi evi ndwi ndre`` (float32, NaN where undefined, within :data:`INDEX_RANGE`)
    computed from its reflectance bands.

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
        lo, hi = INDEX_RANGE[name]
        index = _FORMULAS[name](ds).clip(lo, hi).astype(np.float32)
        out[name] = index.assign_attrs(long_name=name.upper(), units="1", valid_range=[lo, hi])
    return out
