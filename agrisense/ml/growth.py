"""Crop growth stage and condition from a plot's NDVI time series.

- ``growth_stage``: the stage on a date (not sown … harvested) read off the fitted phenology of the series
  (``agrisense.ml.phenology``: smoothed curve, start/peak/end of season at thresholds of the seasonal amplitude);
- ``condition_z``: the plot's NDVI against the expected curve of its crop;
- ``seasonal_anomaly``: the plot's NDVI against the same weeks of its own earlier seasons.

The expected curves (``data/reference/ndvi_curves.csv``) are per-crop, per-calendar-month NDVI mean and spread,
computed from the real labelled Sentinel-2 samples (WorldCereal, East Africa 2017) by ``expected_curves``. A market
without real samples names its own table (``ndvi_curves_csv``: the China market's ``ndvi_curves_china.csv``,
derived from published curves by ``agrisense.sample.expected_curves``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from agrisense.errors import InvalidInput, NotFound
from agrisense.ml.phenology import Phenology, clean_series, fit_phenology

if TYPE_CHECKING:
    from agrisense.agronomy.calendar import CropCalendar

SAMPLE_LABELS = {
    "maize": "maize",
    "sorghum": "sorghum",
    "groundnut": "other_oilseeds",
    "beans": "dry_pulses_legumes",
}
"""Product crop name → label of the real sample table whose spectra define the crop."""

MIN_STD = 0.05
"""Floor on the expected spread so a tight sample class does not make every plot an outlier."""


@dataclass(frozen=True)
class ExpectedCurve:
    """Expected NDVI per calendar month (1..12) for one crop.

    ``growing`` fixes the crop's growing months (a region curve keeps those of the reference curve it was fitted
    against: the crop's phenology, not the region's level); empty: read them off this curve."""

    crop: str
    mean: Mapping[int, float]
    std: Mapping[int, float]
    growing: tuple[int, ...] = ()

    def growing_months(self, share: float = 0.5) -> list[int]:
        """The fixed ``growing`` months, else the months whose expected NDVI is in the upper ``share`` of the
        crop's seasonal amplitude."""
        if self.growing:
            return list(self.growing)
        values = np.array([self.mean[m] for m in range(1, 13)])
        threshold = values.min() + share * (values.max() - values.min())
        return [m for m in range(1, 13) if self.mean[m] >= threshold]


@dataclass(frozen=True)
class Condition:
    """A plot's condition: mean z-score of NDVI in the crop's growing months, and the months it rests on."""

    z: float | None
    months_used: tuple[int, ...]
    reason: str | None = None


def expected_curves(samples: pd.DataFrame, *, region: str = "east_africa_2017") -> pd.DataFrame:
    """Per-crop monthly NDVI mean/std/n from a wide sample table (``B04_mXX``, ``B08_mXX``, ``season_start``)."""
    rows = []
    subset = samples[samples["region"] == region]
    if subset.empty:
        raise InvalidInput(f"No samples of region {region!r} in the sample table.")
    start_month = pd.Timestamp(subset["season_start"].iloc[0]).month
    for crop, label in SAMPLE_LABELS.items():
        group = subset[subset["label"] == label]
        for m in range(12):
            red, nir = group[f"B04_m{m:02d}"], group[f"B08_m{m:02d}"]
            ndvi = ((nir - red) / (nir + red)).dropna()
            month = (start_month - 1 + m) % 12 + 1
            rows.append(
                {
                    "crop": crop,
                    "month": month,
                    "ndvi_mean": round(float(ndvi.mean()), 4),
                    "ndvi_std": round(float(ndvi.std(ddof=1)), 4),
                    "n": int(ndvi.size),
                }
            )
    return pd.DataFrame(rows).sort_values(["crop", "month"]).reset_index(drop=True)


def load_expected_curves(path: Path) -> dict[str, ExpectedCurve]:
    """Read ``ndvi_curves.csv`` into one ``ExpectedCurve`` per crop."""
    if not path.exists():
        raise NotFound(f"{path} is missing; rebuild it with `agrisense train curves --samples SAMPLES --out {path}`.")
    table = pd.read_csv(path)
    curves = {}
    for crop, group in table.groupby("crop"):
        mean = {int(r.month): float(r.ndvi_mean) for r in group.itertuples()}
        std = {int(r.month): max(MIN_STD, float(r.ndvi_std)) for r in group.itertuples()}
        if sorted(mean) != list(range(1, 13)):
            raise InvalidInput(f"{path}: crop {crop!r} needs NDVI for all 12 months.")
        curves[str(crop)] = ExpectedCurve(str(crop), mean, std)
    return curves


def condition_z(ndvi_by_month: Mapping[int, float], curve: ExpectedCurve, *, min_months: int = 2) -> Condition:
    """Mean z-score of the plot's NDVI against ``curve`` over the crop's growing months that have a value."""
    months = [m for m in curve.growing_months() if m in ndvi_by_month and np.isfinite(ndvi_by_month[m])]
    if len(months) < min_months:
        return Condition(None, tuple(months), f"only {len(months)} clear month(s) in the growing season")
    z = [(ndvi_by_month[m] - curve.mean[m]) / curve.std[m] for m in months]
    return Condition(float(np.clip(np.mean(z), -5.0, 5.0)), tuple(months))


STAGES = ("not_sown", "emergence", "vegetative", "reproductive", "maturity", "harvested", "unknown")
"""Growth stages ``growth_stage`` returns, in season order (``unknown`` last)."""

DEFAULT_AMPLITUDE = 0.4
"""Seasonal NDVI amplitude expected of a crop when no expected curve is given (the real East African sample curves
range 0.33 (beans, groundnut) to 0.49 (maize))."""

MIN_AMPLITUDE = 0.1
"""A smoothed rise smaller than this is no season (soil, noise, a failed emergence)."""

EMERGENCE_SHARE = 0.45
"""A rising curve is in emergence (establishment) until it covers this share of the expected seasonal rise."""

EVERGREEN_NDVI = 0.55
"""Without a seasonal rise, a series whose peak is at least this green is trees, perennials or pasture."""


@dataclass(frozen=True)
class SeasonalAnomaly:
    """The plot's mean NDVI over the ``window_days`` up to a date against the same weeks of earlier years."""

    z: float | None
    percentile: float | None  # share of earlier seasons below the current value, 0..100
    current: float | None
    earlier_mean: float | None
    n_seasons: int
    reason: str | None = None


@dataclass(frozen=True)
class GrowthStage:
    """A plot's growth stage on ``as_of`` and the fitted phenology it is read from."""

    stage: str  # one of STAGES
    as_of: date
    start_of_season: date | None
    peak_of_season: date | None
    end_of_season: date | None
    peak_ndvi: float | None
    base_ndvi: float | None
    current_ndvi: float | None  # smoothed NDVI on the last clear observation
    last_observation: date | None
    n_observations: int
    confidence: float  # 0..1: number of observations, amplitude against noise, age of the last observation
    flags: tuple[str, ...] = ()  # late_sowing, no_green_up, low_peak, early_end, season_before_series
    reason: str | None = None
    condition_z: float | None = None  # condition_z against the crop's expected curve, when given
    anomaly: SeasonalAnomaly | None = None  # against earlier seasons, when given

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: dates as ISO strings."""
        out: dict[str, object] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, SeasonalAnomaly):
                value = dict(value.__dict__)
            elif isinstance(value, tuple):
                value = list(value)
            out[key] = value
        return out


def ndvi_dates(ndvi_by_month: Mapping[int, float], *, season: int, day: int = 15) -> dict[date, float]:
    """Monthly NDVI keyed by month of year (as in ``PlotEvidence.ndvi_by_month``) → keyed by mid-month dates."""
    out = {}
    for month, value in ndvi_by_month.items():
        if not 1 <= int(month) <= 12:
            raise InvalidInput(f"Month {month!r} is not 1..12.")
        out[date(season, int(month), day)] = float(value)
    return out


def _shift_year(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def seasonal_anomaly(
    ndvi_by_date: Mapping[date, float],
    *,
    as_of: date,
    history: Mapping[date, float] | None = None,
    window_days: int = 30,
    min_seasons: int = 3,
    max_years: int = 15,
) -> SeasonalAnomaly:
    """Mean NDVI in ``(as_of - window_days, as_of]`` against the same window of each earlier year.

    Earlier years come from ``history`` and from ``ndvi_by_date`` itself (it may span several years). ``z`` uses the
    spread of the earlier seasons (at least ``MIN_STD``); ``percentile`` needs no distribution assumption.
    """
    dates, values = clean_series({**(history or {}), **ndvi_by_date}, until=as_of)
    series = dict(zip(dates, values, strict=True))

    def window_mean(end: date) -> float | None:
        start = end - timedelta(days=window_days)
        inside = [v for d, v in series.items() if start < d <= end]
        return float(np.mean(inside)) if inside else None

    current = window_mean(as_of)
    earlier = [m for k in range(1, max_years + 1) if (m := window_mean(_shift_year(as_of, k))) is not None]
    if current is None:
        return SeasonalAnomaly(
            None, None, None, None, len(earlier), f"no clear observation in the {window_days} days to {as_of}"
        )
    if len(earlier) < min_seasons:
        return SeasonalAnomaly(
            None,
            None,
            round(current, 4),
            None,
            len(earlier),
            f"only {len(earlier)} earlier season(s) with a clear observation in the same weeks",
        )
    past = np.array(earlier)
    z = (current - past.mean()) / max(MIN_STD, float(past.std(ddof=1)))
    pct = 100.0 * (np.sum(past < current) + 0.5 * np.sum(past == current)) / past.size
    return SeasonalAnomaly(
        round(float(np.clip(z, -5.0, 5.0)), 3),
        round(float(pct), 1),
        round(current, 4),
        round(float(past.mean()), 4),
        len(earlier),
    )


def _confidence(ph: Phenology | None, n: int, gap_days: int) -> float:
    if ph is None:
        return 0.0
    c = min(1.0, n / 6.0)
    if ph.amplitude >= MIN_AMPLITUDE:
        c *= float(np.clip(ph.amplitude / (4.0 * max(ph.noise, 0.01)), 0.0, 1.0))
    if gap_days > 30:
        c *= max(0.2, 1.0 - (gap_days - 30) / 90.0)
    return round(c, 2)


def _stage(ph: Phenology, expected_amplitude: float) -> tuple[str, str | None, list[str]]:
    """Stage, reason and flags read off the fitted phenology alone."""
    if ph.amplitude < MIN_AMPLITUDE:
        if ph.peak_ndvi - ph.last_ndvi >= MIN_AMPLITUDE:
            stage = "harvested" if ph.slope_per_10d > -0.02 else "maturity"
            return stage, "NDVI only falls: the season began before the first observation", ["season_before_series"]
        if ph.peak_ndvi >= EVERGREEN_NDVI:
            return "unknown", "green all through without a seasonal rise: trees, perennial crop or pasture", []
        return "not_sown", "bare or sparse: no green-up yet", []
    if ph.end is not None:
        return "harvested", f"NDVI fell below half the seasonal amplitude on {ph.end}", []
    if ph.peak_confirmed:
        return "maturity", f"NDVI past its peak of {ph.peak_ndvi:.2f} on {ph.peak} and falling", []
    reference = max(ph.amplitude, expected_amplitude)
    share = (ph.last_ndvi - ph.base_ndvi) / reference
    if share < EMERGENCE_SHARE:
        return "emergence", f"NDVI rising from {ph.base_ndvi:.2f}, {share:.0%} of a typical seasonal rise", []
    if ph.slope_per_10d >= 0.05 * reference and share < 0.9:
        return "vegetative", f"NDVI rising fast ({ph.slope_per_10d:+.2f} per 10 days) at {ph.last_ndvi:.2f}", []
    return "reproductive", f"NDVI at its plateau ({ph.last_ndvi:.2f})", []


def growth_stage(
    ndvi_by_date: Mapping[date, float],
    *,
    as_of: date,
    crop: str | None = None,
    curves: Mapping[str, ExpectedCurve] | None = None,
    calendar: CropCalendar | None = None,
    history: Mapping[date, float] | None = None,
    min_observations: int = 3,
    late_days: int = 45,
    early_days: int = 30,
) -> GrowthStage:
    """Growth stage on ``as_of`` from the fitted phenology of the NDVI series (observations after ``as_of`` unused).

    The season is the 365 days up to ``as_of`` (from 60 days before the typical sowing date if ``calendar`` is
    given, so a winter cover crop is not taken for the crop). ``curves[crop]`` gives the expected seasonal amplitude
    (how far a rising curve still has to go), the low-peak test and ``condition_z``; ``calendar`` the late-sowing,
    no-green-up and early-end flags; ``history`` (earlier years of the plot) the seasonal anomaly.
    """
    curve = curves.get(crop) if curves is not None and crop is not None else None
    season_start = as_of - timedelta(days=365)
    if calendar is not None:
        season_start = max(season_start, calendar.sow_date - timedelta(days=60))
    dates, values = clean_series(ndvi_by_date, until=as_of)
    keep = [i for i, d in enumerate(dates) if d > season_start]
    dates, values = [dates[i] for i in keep], values[keep]
    anomaly = seasonal_anomaly(ndvi_by_date, as_of=as_of, history=history) if history is not None else None
    cond = None
    if curve is not None and dates:
        by_month: dict[int, list[float]] = {}
        for d, v in zip(dates, values, strict=True):
            by_month.setdefault(d.month, []).append(float(v))
        cond = condition_z({m: float(np.mean(v)) for m, v in by_month.items()}, curve).z
    if len(dates) < min_observations:
        why = f"only {len(dates)} clear observation(s) in the season up to {as_of}"
        last = dates[-1] if dates else None
        return GrowthStage(
            "unknown", as_of, None, None, None, None, None, None, last, len(dates), 0.0, (), why, cond, anomaly
        )
    ph = fit_phenology(dates, values)
    expected_amp = DEFAULT_AMPLITUDE
    if curve is not None:
        expected_amp = max(curve.mean.values()) - min(curve.mean.values())
    stage, reason, flags = _stage(ph, expected_amp)
    season = ph.amplitude >= MIN_AMPLITUDE
    if calendar is not None:
        late = calendar.emergence_date + timedelta(days=late_days)
        if season and ph.start is not None and ph.start > late:
            flags.append("late_sowing")
            reason = f"{reason}; green-up on {ph.start}, after the usual {calendar.emergence_date} (+{late_days} days)"
        if stage == "not_sown" and ph.last > late:
            flags.append("no_green_up")
            reason = (
                f"no green-up by {ph.last} although {calendar.crop} usually emerges by "
                f"{calendar.emergence_date}: not sown, sown very late or failed"
            )
        if season and ph.end is not None and ph.end < calendar.maturity_date - timedelta(days=early_days):
            flags.append("early_end")
            reason = f"{reason}; before the usual maturity on {calendar.maturity_date}: early harvest or crop loss"
    if season and (ph.peak_confirmed or ph.end is not None):
        low = ph.amplitude < 0.5 * expected_amp
        if curve is not None:
            top = max(range(1, 13), key=lambda m: curve.mean[m])
            low = low or ph.peak_ndvi < curve.mean[top] - 2 * curve.std[top]
        if low:
            flags.append("low_peak")
            reason = f"{reason}; low peak NDVI {ph.peak_ndvi:.2f}: poor stand or crop failure"
    gap = (as_of - ph.last).days
    if gap > 30:
        reason = f"{reason}; last clear observation {gap} days before {as_of}, the stage may have moved on"
    return GrowthStage(
        stage=stage,
        as_of=as_of,
        start_of_season=ph.start if season else None,
        peak_of_season=ph.peak if season else None,
        end_of_season=ph.end if season else None,
        peak_ndvi=ph.peak_ndvi,
        base_ndvi=ph.base_ndvi,
        current_ndvi=ph.last_ndvi,
        last_observation=ph.last,
        n_observations=ph.n_observations,
        confidence=_confidence(ph, ph.n_observations, gap),
        flags=tuple(flags),
        reason=reason,
        condition_z=cond,
        anomaly=anomaly,
    )
