"""The Presto encoder loads the published weights strictly; token dropping is per sample; inputs are converted
in the README's units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from agrisense.errors import InvalidInput, ModelUnavailable
from agrisense.ml.presto import MonthlySeries, encoder_weights_path, load_encoder, presto_inputs, series_from_table
from agrisense.ml.presto.encoder import CHANNELS, DW_UNKNOWN, PrestoEncoder
from agrisense.resources import resource_path
from tests.ml.croptype.helpers import synthetic_table

WEIGHTS = encoder_weights_path(resource_path("models"))
needs_weights = pytest.mark.skipif(
    not WEIGHTS.is_file(), reason=f"Presto weights not at {WEIGHTS} (models/presto_encoder/default_model.pt)"
)


def _series(n: int = 3, t: int = 12) -> MonthlySeries:
    rng = np.random.default_rng(0)
    return MonthlySeries(
        s2=rng.uniform(200, 4000, (n, t, 10)),
        precip_mm=np.full((n, t), 30.0),
        tmean_c=np.full((n, t), -1.0),
        lat=np.full(n, 3.0),
        lon=np.full(n, 33.5),
        first_month=np.full(n, 11),
    )


@needs_weights
def test_published_weights_load_strictly_and_give_128_numbers() -> None:
    encoder = load_encoder(WEIGHTS)
    state = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    assert set(encoder.state_dict()) == {k.removeprefix("encoder.") for k in state if k.startswith("encoder.")}
    with torch.inference_mode():
        z = encoder(presto_inputs(_series()).to_batch())
    assert z.shape == (3, 128) and torch.isfinite(z).all()


def test_weights_that_do_not_fit_are_refused_with_a_hint(tmp_path: Path) -> None:
    state = {f"encoder.{k}": v for k, v in PrestoEncoder().state_dict().items() if not k.startswith("norm.")}
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(ModelUnavailable, match="do not fit"):
        load_encoder(tmp_path / "bad.pt")
    with pytest.raises(ModelUnavailable, match="presto_encoder"):
        load_encoder(tmp_path / "missing.pt")


def test_dropped_tokens_do_not_influence_the_output_and_batches_equal_single_pixels() -> None:
    torch.manual_seed(0)
    encoder = PrestoEncoder().eval()
    series = _series()
    s2 = series.s2.copy()
    s2[0, 4] = np.nan  # a cloudy month in pixel 0
    batch = presto_inputs(
        MonthlySeries(s2, series.precip_mm, series.tmean_c, series.lat, series.lon, series.first_month)
    )
    with torch.inference_mode():
        together = encoder(batch.to_batch())
        alone = torch.cat([encoder(batch.to_batch()[i : i + 1]) for i in range(3)])
        garbage = batch.to_batch()
        garbage.x[garbage.mask.bool()] = 123.0  # masked channels carry no information
        assert torch.allclose(encoder(garbage), together, atol=1e-5)
    assert torch.allclose(together, alone, atol=1e-5)


def test_inputs_follow_the_readme_units_and_masks() -> None:
    inputs = presto_inputs(_series())
    col = {name: i for i, name in enumerate(CHANNELS)}
    assert inputs.x.shape == inputs.mask.shape == (3, 12, 17)
    # a month's total -> its mean daily total in m, / 0.03: 30 mm in December (31 days) -> 1/31, in June 1/30
    precip = inputs.x[..., col["total_precipitation"]]
    assert np.allclose(precip[:, 0], 1 / 31) and np.allclose(precip[:, 6], 1 / 30)  # steps from December
    assert np.allclose(precip[:, 2], 1 / 28.25)  # February: the series carry no year
    assert np.allclose(inputs.x[..., col["temperature_2m"]], 0.0)  # -1 C = 272.15 K -> 0
    assert inputs.mask[..., [col["VV"], col["VH"], col["elevation"], col["slope"]]].all()
    assert not inputs.mask[..., col["B2"]].any()
    red, nir = inputs.x[..., col["B4"]], inputs.x[..., col["B8"]]
    assert np.allclose(inputs.x[..., col["NDVI"]], (nir - red) / (nir + red), atol=1e-6)
    assert (inputs.dynamic_world == DW_UNKNOWN).all() and (inputs.month == 11).all()


def test_sample_table_converts_with_missing_bands_masked() -> None:
    table = synthetic_table(n_per_class=4)
    table.loc[0, "B04_m03"] = 65535.0  # a fill value is not reflectance
    inputs = presto_inputs(series_from_table(table))
    col = {name: i for i, name in enumerate(CHANNELS)}
    assert inputs.mask[0, 3, col["B4"]] == 1 and inputs.mask[0, 3, col["NDVI"]] == 1
    assert inputs.mask[..., col["temperature_2m"]].all()  # no weather columns -> masked
    assert (inputs.month == 11).all()  # season_start 2016-12-01
    np.testing.assert_allclose(inputs.latlon[:, 0], table["lat"], rtol=1e-6)


def test_bad_input_is_refused_with_what_to_pass() -> None:
    series = _series()
    with pytest.raises(InvalidInput, match="pixels, months, 10"):
        presto_inputs(MonthlySeries(series.s2[..., :4], None, None, series.lat, series.lon, series.first_month))
    with pytest.raises(InvalidInput, match="lat and lon"):
        presto_inputs(MonthlySeries(series.s2, None, None, series.lat * np.nan, series.lon, series.first_month))
    table = synthetic_table(n_per_class=2).drop(columns=["lon"])
    with pytest.raises(InvalidInput, match="'lon'"):
        series_from_table(table)
