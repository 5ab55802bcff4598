from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from agrisense.errors import InvalidInput
from agrisense.imagery.indices import INDEX_BANDS, INDEX_RANGE, add_indices


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


def test_nan_and_zero_inputs_give_nan() -> None:
    ds = _ds(blue=[0.0, np.nan], green=[0.0, 0.1], red=[0.0, 0.1], nir=[0.0, 0.3], rededge1=[0.0, 0.1])
    out = add_indices(ds)
    for name in ("ndvi", "ndwi", "ndre"):
        assert np.isnan(out[name].values[0]) and np.isfinite(out[name].values[1])
    assert np.isnan(out.evi.values).all()  # zero reflectance and a NaN blue band


def test_negative_reflectance_is_masked_not_extrapolated() -> None:
    # L2A DN 500 in red after the -0.1 offset: red -0.05; the old formula gave NDVI (0.3 + 0.05) / 0.25 = 1.4
    dn_red = np.array([500.0, 0.0, 1000.0, 1500.0])
    red = dn_red * 0.0001 - 0.1  # -0.05, -0.1 (DN 0 = no data), 0.0, 0.05
    ds = _ds(blue=[0.03] * 4, green=[0.06] * 4, red=list(red), nir=[0.3] * 4, rededge1=[0.12] * 4)
    out = add_indices(ds)
    assert np.isnan(out.ndvi.values[:3]).all() and float(out.ndvi[3]) == pytest.approx(0.25 / 0.35, rel=1e-5)
    assert np.isnan(out.evi.values[:3]).all() and np.isfinite(out.evi.values[3])
    assert np.isfinite(out.ndwi.values).all() and np.isfinite(out.ndre.values).all()  # red is not an input of these


@pytest.mark.parametrize("band", ["blue", "green", "red", "nir", "rededge1"])
def test_indices_stay_in_range_for_any_reflectance(band: str) -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    bands = {b: rng.uniform(-0.2, 1.2, n).tolist() for b in ("blue", "green", "red", "nir", "rededge1")}
    bands[band][:100] = [np.nan] * 100
    out = add_indices(_ds(**bands))
    for name, (lo, hi) in INDEX_RANGE.items():
        values = out[name].values
        finite = values[np.isfinite(values)]
        assert finite.size > 0 and finite.min() >= lo and finite.max() <= hi, name
        inputs = np.stack([np.asarray(bands[b]) for b in INDEX_BANDS[name]])
        assert np.isnan(values[(~(inputs > 0)).any(axis=0)]).all(), name  # any input <= 0 or NaN -> NaN


def test_evi_clipped_where_bright_blue_makes_the_denominator_small() -> None:
    out = add_indices(_ds(blue=[0.3], red=[0.1], nir=[0.5]), ["evi"])  # denominator 0.5 + 0.6 - 2.25 + 1 = -0.15
    assert np.isnan(out.evi.values[0])
    out = add_indices(_ds(blue=[0.2], red=[0.05], nir=[0.4]), ["evi"])  # 0.875 / (0.4 + 0.3 - 1.5 + 1) = 4.4
    assert float(out.evi[0]) == 1.0


def test_lazy_input_stays_lazy_and_in_range() -> None:
    ds = _ds(red=[-0.05, 0.05], nir=[0.3, 0.3]).chunk({"x": 1})
    out = add_indices(ds, ["ndvi"])
    assert out.ndvi.chunks is not None
    values = out.ndvi.values
    assert np.isnan(values[0]) and -1 <= values[1] <= 1


def test_missing_bands_skip_or_fail() -> None:
    ds = _ds(red=[0.1], nir=[0.3])
    assert set(add_indices(ds).data_vars) == {"red", "nir", "ndvi"}
    with pytest.raises(InvalidInput, match="rededge1"):
        add_indices(ds, ["ndre"])
