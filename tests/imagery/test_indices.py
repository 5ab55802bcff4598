from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from agrisense.errors import InvalidInput
from agrisense.imagery.indices import add_indices


def _ds(**bands: list[float]) -> xr.Dataset:
    return xr.Dataset({k: ("x", np.asarray(v, dtype=np.float32)) for k, v in bands.items()})


def test_index_values() -> None:
    ds = _ds(blue=[0.04], green=[0.08], red=[0.05], nir=[0.45], rededge1=[0.15])
    out = add_indices(ds)
    assert float(out.ndvi[0]) == pytest.approx(0.4 / 0.5)
    assert float(out.evi[0]) == pytest.approx(2.5 * 0.4 / (0.45 + 0.3 - 0.3 + 1.0), rel=1e-5)
    assert float(out.ndwi[0]) == pytest.approx(-0.37 / 0.53, rel=1e-5)
    assert float(out.ndre[0]) == pytest.approx(0.3 / 0.6, rel=1e-5)
    assert out.ndvi.dtype == np.float32


def test_nan_and_zero_denominators_give_nan() -> None:
    ds = _ds(blue=[0.0, np.nan], green=[0.0, 0.1], red=[0.0, 0.1], nir=[0.0, 0.3], rededge1=[0.0, 0.1])
    out = add_indices(ds)
    for name in ("ndvi", "ndwi", "ndre"):
        assert np.isnan(out[name].values[0]) and np.isfinite(out[name].values[1])
    assert np.isfinite(out.evi.values[0]) and np.isnan(out.evi.values[1])  # denominator 1 when all zero


def test_missing_bands_skip_or_fail() -> None:
    ds = _ds(red=[0.1], nir=[0.3])
    assert set(add_indices(ds).data_vars) == {"red", "nir", "ndvi"}
    with pytest.raises(InvalidInput, match="rededge1"):
        add_indices(ds, ["ndre"])
