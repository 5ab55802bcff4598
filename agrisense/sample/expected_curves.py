"""Expected NDVI curves of crops without labelled real samples (the Chinese crops), derived from the published
curve shapes of :mod:`agrisense.sample.crop_curves`: PUBLISHED-CURVE DERIVED, NOT REAL-DATA CALIBRATED.

The table has the form of ``data/reference/ndvi_curves.csv`` (``crop, month, ndvi_mean, ndvi_std, n``), so the
product reads it the same way (``agrisense.ml.growth.load_expected_curves``; a market names its file with
``ndvi_curves_csv``). Per crop and calendar month:

- ``ndvi_mean``: the NDVI of the crop's monthly cover-mix spectrum (the generator's stage curves and endmembers),
  averaged over sowing dates spread evenly across the crop's sowing window (a county's fields are not all sown on
  the window's middle day, so the expected curve of its fields is the window-average, flatter than one field's);
- ``ndvi_std``: ``sqrt(sowing² + field²)``: the spread of that NDVI over the sowing dates, and the field-to-field
  spread measured on real labelled Sentinel-2 samples (the median ``ndvi_std`` of the real-sample curves in their
  crops' growing months, ``field_spread``), the only real measure of between-field NDVI spread available here;
- ``n``: the number of sowing dates averaged (no real samples).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from agrisense.agronomy.calendar import CropReference
from agrisense.errors import InvalidInput
from agrisense.ml.growth import ExpectedCurve
from agrisense.sample.bands import ASSET_KEYS
from agrisense.sample.crop_curves import mix, monthly_cover, sowing_middle

SOWING_DATES = 9
"""Sowing dates spread evenly over a crop's sowing window, first to last day."""

_RED, _NIR = ASSET_KEYS.index("red"), ASSET_KEYS.index("nir")


def field_spread(curves: Mapping[str, ExpectedCurve]) -> float:
    """Median NDVI spread of real-sample curves over their crops' growing months (between-field spread)."""
    values = [curve.std[m] for curve in curves.values() for m in curve.growing_months()]
    if not values:
        raise InvalidInput("no real-sample curves to take the field-to-field NDVI spread from")
    return float(np.median(values))


def _day(month_day: str, season: int) -> date:
    month, day = (int(v) for v in month_day.split("-"))
    return date(season, month, day)


def _shifted(ref: CropReference, season: int, days: int) -> CropReference:
    """``ref`` sown ``days`` after the middle of its sowing window (a one-day window)."""
    day = sowing_middle(ref, season) + timedelta(days=days)
    md = f"{day.month:02d}-{day.day:02d}"
    return replace(ref, sow_start=md, sow_end=md)


def _monthly_ndvi(parts: tuple[CropReference, ...], season: int) -> np.ndarray:
    """(12,) NDVI of calendar months 1..12 (index m - 1) of the cover-mix spectra."""
    spectra = mix(monthly_cover(parts, season))  # row 0 = December
    ndvi = (spectra[:, _NIR] - spectra[:, _RED]) / (spectra[:, _NIR] + spectra[:, _RED])
    return np.array([ndvi[m % 12] for m in range(1, 13)])


def sowing_ndvi(ref: CropReference, season: int, dates: int = SOWING_DATES) -> np.ndarray:
    """(dates, 12) monthly NDVI of the crop sown at ``dates`` points across its window (every later season of a
    multi-season crop, such as the late rice of double rice, shifted by the same number of days)."""
    if dates < 1:
        raise InvalidInput(f"dates={dates} must be at least 1")
    parts = (ref, *ref.later_seasons)
    span = (_day(ref.sow_end, season) - _day(ref.sow_start, season)).days % 365
    offsets = np.linspace(-span / 2, span / 2, dates) if dates > 1 else np.zeros(1)
    rows = [_monthly_ndvi(tuple(_shifted(p, season, round(float(d))) for p in parts), season) for d in offsets]
    return np.stack(rows)


def published_curves(
    crops: Mapping[str, CropReference], season: int, spread: float, dates: int = SOWING_DATES
) -> pd.DataFrame:
    """The ``ndvi_curves.csv`` table of ``crops`` from their published stage curves; ``spread`` is the
    between-field NDVI spread (:func:`field_spread` of the real-sample curves)."""
    if not np.isfinite(spread) or spread <= 0:
        raise InvalidInput(f"spread={spread} must be a positive NDVI spread")
    rows = []
    for code, ref in sorted(crops.items()):
        ndvi = sowing_ndvi(ref, season, dates)
        mean, sowing = ndvi.mean(axis=0), ndvi.std(axis=0)
        for m in range(1, 13):
            std = float(np.hypot(sowing[m - 1], spread))
            rows.append(
                {
                    "crop": code,
                    "month": m,
                    "ndvi_mean": round(float(mean[m - 1]), 4),
                    "ndvi_std": round(std, 4),
                    "n": dates,
                }
            )
    return pd.DataFrame(rows)
