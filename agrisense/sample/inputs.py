"""Load the committed calibration tables (``data/sample_inputs/``, bundled in the package) into typed objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from agrisense.errors import NotFound
from agrisense.resources import resource_path
from agrisense.sample.bands import ASSET_KEYS

REAL_DATA_ENV = "AGRISENSE_REAL_DATA_DIR"
CROPS: tuple[str, ...] = ("maize", "sorghum", "groundnut", "beans")
SHAPE_SOURCE = "savanna_africa"  # row of field_shapes.csv the generator draws from
NONCROP_CLASSES: tuple[str, ...] = ("grassland", "trees", "built_up", "water")


@dataclass(frozen=True)
class Spectra:
    """Per-class monthly mean reflectance (12 months Dec..Nov x 10 bands) and within-class covariance."""

    mean: dict[str, np.ndarray]  # cls -> (12, 10); row 0 = December of the previous year
    cov: dict[str, np.ndarray]  # cls -> (10, 10)
    temporal_rho: float


@dataclass(frozen=True)
class FieldShapes:
    """Lognormal size and elongation of smallholder fields fitted on real parcels."""

    log_area_mu: float
    log_area_sigma: float
    log_elong_mu: float
    log_elong_sigma: float


@dataclass(frozen=True)
class WeatherParams:
    """Monthly Richardson-type generator parameters (rows = calendar months 1..12) and scalars."""

    monthly: pd.DataFrame
    wet_day_mm: float
    ar1_tmax: float
    ar1_tmin: float
    corr_tmax_tmin: float
    station_annual_cv: float


@dataclass(frozen=True)
class SampleInputs:
    """Everything the generator calibrates on."""

    spectra: Spectra
    shapes: FieldShapes
    weather: WeatherParams


def default_inputs_dir() -> Path:
    """The bundled calibration tables (``data/sample_inputs/`` of the checkout, or the installed copy)."""
    return resource_path("sample_inputs")


def real_data_dir(real: Path | None = None) -> Path:
    """The real data the calibration derives from: ``real`` if given, else ``AGRISENSE_REAL_DATA_DIR``; NotFound
    saying how to pass it when neither is set or the folder does not exist."""
    if real is None:
        from agrisense.config import Settings

        real = Settings().real_data_dir
    if real is None:
        raise NotFound(
            f"the real data (crop_samples/, parcels/, weather/) is needed here; pass --real DIR or set {REAL_DATA_ENV}"
        )
    if not real.is_dir():
        raise NotFound(f"real data folder {real} does not exist; pass --real DIR or set {REAL_DATA_ENV}")
    return real


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise NotFound(
            f"calibration table {path} is missing; run `agrisense sample calibrate --real DIR` "
            "or restore data/sample_inputs/ from the repository."
        )
    return pd.read_csv(path)


def load_inputs(inputs_dir: Path | None = None) -> SampleInputs:
    """Read the calibration tables (default: the bundled ones); crop calendars come from the markets."""
    inputs_dir = inputs_dir or default_inputs_dir()
    mean_df = _read_csv(inputs_dir / "spectra_monthly_mean.csv")
    cov_df = _read_csv(inputs_dir / "spectra_covariance.csv")
    meta = _read_csv(inputs_dir / "spectra_classes.csv")
    means, covs = {}, {}
    for cls, g in mean_df.groupby("cls"):
        piv = g.pivot(index="month_index", columns="band", values="mean")[list(ASSET_KEYS)]
        means[str(cls)] = piv.to_numpy(dtype=np.float64)
    for cls, g in cov_df.groupby("cls"):
        piv = g.pivot(index="band_i", columns="band_j", values="cov").loc[list(ASSET_KEYS), list(ASSET_KEYS)]
        covs[str(cls)] = piv.to_numpy(dtype=np.float64)
    shapes = _read_csv(inputs_dir / "field_shapes.csv").set_index("source").loc[SHAPE_SOURCE]
    wparams = _read_csv(inputs_dir / "weather_monthly_params.csv").set_index("month").sort_index()
    scal_path = inputs_dir / "weather_scalars.json"
    if not scal_path.exists():
        raise NotFound(f"{scal_path} is missing; run `agrisense sample calibrate --real DIR`.")
    scal = json.loads(scal_path.read_text())
    return SampleInputs(
        spectra=Spectra(means, covs, float(meta["temporal_rho"].iloc[0])),
        shapes=FieldShapes(
            float(shapes["log_area_mu"]),
            float(shapes["log_area_sigma"]),
            float(shapes["log_elong_mu"]),
            float(shapes["log_elong_sigma"]),
        ),
        weather=WeatherParams(
            wparams,
            float(scal["wet_day_mm"]),
            float(scal["ar1_tmax"]),
            float(scal["ar1_tmin"]),
            float(scal["corr_tmax_tmin"]),
            float(scal["station_annual_cv"]),
        ),
    )
