"""The committed calibration tables are exactly what the calibration code derives from the real data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from agrisense.errors import NotFound
from agrisense.sample.calibrate import write_calibration_tables
from agrisense.sample.inputs import default_inputs_dir, load_inputs, real_data_dir

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"  # the workspace's real data

TABLES = [
    "spectra_monthly_mean.csv",
    "spectra_covariance.csv",
    "spectra_classes.csv",
    "field_shapes.csv",
    "weather_monthly_params.csv",
    "weather_scalars.json",
]


@pytest.mark.skipif(not (REAL / "crop_samples").exists(), reason="real data not available here")
def test_committed_tables_are_reproducible(tmp_path: Path) -> None:
    write_calibration_tables(REAL, tmp_path)
    for name in TABLES:
        assert (tmp_path / name).read_text() == (default_inputs_dir() / name).read_text(), name


def test_real_data_must_be_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AGRISENSE_REAL_DATA_DIR", raising=False)
    with pytest.raises(NotFound, match="AGRISENSE_REAL_DATA_DIR"):
        real_data_dir()
    with pytest.raises(NotFound, match="does not exist"):
        real_data_dir(tmp_path / "nowhere")
    monkeypatch.setenv("AGRISENSE_REAL_DATA_DIR", str(tmp_path))
    assert real_data_dir() == tmp_path


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
    assert pd.read_csv(default_inputs_dir() / "field_shapes.csv")["source"].str.contains("savanna").any()
