"""Do the yield intervals hold? Leave-years-out p10-p90 coverage on observed region-year yield series.

For every held-out year of a window, a linear trend is fitted on the window's other years, and the interval is
the trend prediction times the quantiles of a lognormal of mean 1 (the farm-noise form of
:func:`agrisense.agronomy.yields.yield_distribution`). Its CV is either given (for example a crop's ``yield_cv``
of crops.csv: "would the product's spread have held here?") or estimated from the training years' trend residuals,
widened for a new year (sqrt(1 + 1/n) and Student t quantiles: the calibrated CV). Coverage is the share of
held-out years whose observed yield fell inside [p10, p90]; the target is 80 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm
from scipy.stats import t as student_t

from agrisense.agronomy.calibration import validate_yield_table
from agrisense.errors import InvalidInput

DEFAULT_WINDOW_YEARS = 30
"""Years a trend is fitted on unless told otherwise: one straight line does not describe 1866-2011 (the hybrid
and fertiliser era bends every US series), and 30 years of a modern series are close to linear."""
MIN_YEARS = 8


def recent_window(table: pd.DataFrame, n_years: int = DEFAULT_WINDOW_YEARS) -> pd.DataFrame:
    """Each region-crop's last ``n_years`` years (calendar years back from its latest year)."""
    if n_years < MIN_YEARS:
        raise InvalidInput(f"a window of {n_years} years is too short for a trend; use at least {MIN_YEARS}")
    last = table.groupby(["region", "crop"])["year"].transform("max")
    return table[table["year"] > last - n_years].reset_index(drop=True)


def lognormal_interval(
    prediction: np.ndarray, cv: np.ndarray | float, lower: float, upper: float
) -> tuple[np.ndarray, np.ndarray]:
    """[lower, upper] quantiles of prediction x lognormal(mean 1, CV ``cv``)."""
    sigma = np.sqrt(np.log1p(np.asarray(cv, dtype=float) ** 2))
    lo = prediction * np.exp(sigma * norm.ppf(lower) - sigma**2 / 2.0)
    hi = prediction * np.exp(sigma * norm.ppf(upper) - sigma**2 / 2.0)
    return lo, hi


def held_out_intervals(
    group: pd.DataFrame, *, cv: float | None = None, lower: float = 0.1, upper: float = 0.9
) -> pd.DataFrame:
    """Leave-one-year-out intervals of one region-crop: year, observed, predicted, cv, lo, hi, covered."""
    if not 0.0 < lower < upper < 1.0:
        raise InvalidInput(f"quantiles must satisfy 0 < lower < upper < 1, got {lower} and {upper}")
    if cv is not None and not (math.isfinite(cv) and cv > 0):
        raise InvalidInput(f"cv must be a positive number, got {cv}")
    table = validate_yield_table(group)
    if table[["region", "crop"]].drop_duplicates().shape[0] != 1:
        raise InvalidInput("held_out_intervals takes the years of one region and crop; split the table first")
    if len(table) < MIN_YEARS:
        raise InvalidInput(f"{len(table)} years are too few for leave-years-out intervals; need {MIN_YEARS}")
    years = table["year"].to_numpy(dtype=float)
    observed = table["yield_t_ha"].to_numpy(dtype=float)
    predicted, spread = np.empty_like(observed), np.empty_like(observed)
    for i in range(len(years)):
        train = np.arange(len(years)) != i
        slope, intercept = np.polyfit(years[train], observed[train], 1)
        fitted = intercept + slope * years[train]
        predicted[i] = intercept + slope * years[i]
        n = int(train.sum())
        residual_cv = float(np.sqrt(((observed[train] - fitted) ** 2).sum() / (n - 2)) / observed[train].mean())
        # a new year's prediction interval: sqrt(1 + 1/n) for the fitted trend, Student t (n - 2) for the estimated
        # spread, as a CV whose normal quantile reaches the t quantile
        widen = math.sqrt(1.0 + 1.0 / n) * float(student_t.ppf(upper, n - 2) / norm.ppf(upper))
        spread[i] = cv if cv is not None else residual_cv * widen
    lo, hi = lognormal_interval(np.maximum(predicted, 0.0), spread, lower, upper)
    return pd.DataFrame(
        {
            "year": years.astype(int),
            "observed": observed,
            "predicted": predicted,
            "cv": spread,
            "lo": lo,
            "hi": hi,
            "covered": (observed >= lo) & (observed <= hi),
        }
    )


@dataclass(frozen=True)
class Coverage:
    """Pooled coverage of one crop over its regions."""

    crop: str
    method: str
    regions: int
    region_years: int
    coverage: float
    mean_cv: float

    def to_dict(self) -> dict[str, object]:
        return {
            "crop": self.crop,
            "method": self.method,
            "regions": self.regions,
            "region_years": self.region_years,
            "coverage": round(self.coverage, 4),
            "mean_cv": round(self.mean_cv, 4),
        }


def crop_coverage(
    table: pd.DataFrame, crop: str, *, cv: float | None = None, min_years: int = DEFAULT_WINDOW_YEARS
) -> Coverage:
    """Leave-years-out p10-p90 coverage of ``crop`` pooled over every region with at least ``min_years`` years."""
    parts = []
    for _, group in table[table["crop"] == crop].groupby("region"):
        if len(group) >= min_years:
            parts.append(held_out_intervals(group, cv=cv))
    if not parts:
        raise InvalidInput(f"no region has {min_years} years of {crop}; lower min_years or widen the window")
    pooled = pd.concat(parts, ignore_index=True)
    return Coverage(
        crop=crop,
        method="calibrated" if cv is None else f"cv {cv:.2f}",
        regions=len(parts),
        region_years=len(pooled),
        coverage=float(pooled["covered"].mean()),
        mean_cv=float(pooled["cv"].mean()),
    )
