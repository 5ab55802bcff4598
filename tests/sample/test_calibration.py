"""The committed calibration tables are exactly what the calibration code derives from the real data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from agrisense.sample.calibrate import main
from agrisense.sample.inputs import DEFAULT_INPUTS_DIR, DEFAULT_REAL_DIR, load_inputs

TABLES = [
    "spectra_monthly_mean.csv",
    "spectra_covariance.csv",
    "spectra_classes.csv",
    "field_shapes.csv",
    "weather_monthly_params.csv",
    "weather_scalars.json",
]


@pytest.mark.skipif(not (DEFAULT_REAL_DIR / "crop_samples").exists(), reason="real data not available here")
def test_committed_tables_are_reproducible(tmp_path: Path) -> None:
    main(["--out", str(tmp_path)])
    for name in TABLES:
        assert (tmp_path / name).read_text() == (DEFAULT_INPUTS_DIR / name).read_text(), name


def test_tables_load_and_are_plausible() -> None:
    inputs = load_inputs()
    assert set(inputs.spectra.mean) == {
        "maize",
        "sorghum",
        "groundnut",
        "beans",
        "trees",
        "grassland",
        "built_up",
        "water",
    }
    assert 0 < inputs.spectra.temporal_rho < 1
    assert -2.5 < inputs.shapes.log_area_mu < 0.5 and inputs.shapes.log_area_sigma > 0.3
    w = inputs.weather.monthly
    assert len(w) == 12 and ((w["p01"] >= 0) & (w["p11"] <= 1)).all()
    assert 900 < w["target_precip_mm"].sum() < 1500


def test_missing_tables_say_what_to_do(tmp_path: Path) -> None:
    from agrisense.errors import NotFound

    with pytest.raises(NotFound, match="calibrate"):
        load_inputs(tmp_path)
    assert pd.read_csv(DEFAULT_INPUTS_DIR / "field_shapes.csv")["source"].str.contains("savanna").any()
