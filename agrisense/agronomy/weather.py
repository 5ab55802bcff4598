"""Daily weather access and the historical weather risk of a crop (drought, heat, frost, excess rain)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from scipy import stats

from agrisense.agronomy.calendar import CropCalendar, CropReference, crop_calendar
from agrisense.agronomy.parameters import DEFAULT_WEATHER_PARAMETERS, WeatherRiskParameters
from agrisense.errors import InvalidInput, NotFound

WEATHER_COLUMNS = ("date", "tmin_c", "tmax_c", "precip_mm")
DroughtClass = Literal["none", "moderate", "severe"]


class WeatherProvider(Protocol):
    """Anything that serves daily weather for a place."""

    def daily(self, start: date, end: date) -> pd.DataFrame:
        """Daily rows from ``start`` to ``end`` inclusive: columns date, tmin_c, tmax_c, precip_mm."""
        ...


def validate_daily(frame: pd.DataFrame, source: str = "weather table") -> pd.DataFrame:
    """Check and normalise a daily weather table (sorted, unique dates, no NaN, rain >= 0, tmin <= tmax)."""
    missing = [c for c in WEATHER_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{source}: missing column(s) {', '.join(missing)}; need {', '.join(WEATHER_COLUMNS)}")
    out = frame.loc[:, list(WEATHER_COLUMNS)].copy()
    try:
        out["date"] = pd.to_datetime(out["date"]).dt.normalize()
        for col in WEATHER_COLUMNS[1:]:
            out[col] = pd.to_numeric(out[col]).astype("float64")
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{source}: unreadable value ({exc}); dates must be YYYY-MM-DD, the rest numbers") from exc
    nan_rows = out[out.isna().any(axis=1)]
    if len(nan_rows):
        raise InvalidInput(f"{source}: {len(nan_rows)} row(s) with empty values, first on {nan_rows.iloc[0]['date']}")
    out = out.sort_values("date").reset_index(drop=True)
    dupes = out["date"][out["date"].duplicated()]
    if len(dupes):
        raise InvalidInput(f"{source}: date {dupes.iloc[0].date()} appears more than once; keep one row per day")
    wet = out[out["precip_mm"] < 0]
    if len(wet):
        raise InvalidInput(f"{source}: negative precip_mm on {wet.iloc[0]['date'].date()}; rain cannot be < 0")
    hot = out[out["tmin_c"] > out["tmax_c"]]
    if len(hot):
        raise InvalidInput(f"{source}: tmin_c > tmax_c on {hot.iloc[0]['date'].date()}; swap or fix the values")
    return out


def _first_gap(dates: pd.Series) -> pd.Timestamp | None:
    steps = dates.diff().dt.days
    gaps = dates[steps > 1]
    return None if gaps.empty else dates[gaps.index[0] - 1]


class LocalCsvWeather:
    """Daily weather from a CSV file with columns date, tmin_c, tmax_c, precip_mm (extra columns ignored)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._frame: pd.DataFrame | None = None

    def _load(self) -> pd.DataFrame:
        if self._frame is None:
            if not self.path.is_file():
                raise NotFound(f"weather file {self.path} does not exist; check the region's weather/daily.csv")
            self._frame = validate_daily(pd.read_csv(self.path), source=str(self.path))
        return self._frame

    def history(self) -> pd.DataFrame:
        """Every validated row of the file (the whole history, for risk statistics)."""
        return self._load().copy()

    def daily(self, start: date, end: date) -> pd.DataFrame:
        """Rows from ``start`` to ``end`` inclusive; an error if the file does not cover every day."""
        if end < start:
            raise InvalidInput(f"weather range end {end} is before start {start}")
        frame = self._load()
        first, last = frame["date"].iloc[0].date(), frame["date"].iloc[-1].date()
        if start < first or end > last:
            raise InvalidInput(f"{self.path} covers {first}..{last}, not the requested {start}..{end}")
        part = frame[(frame["date"] >= pd.Timestamp(start)) & (frame["date"] <= pd.Timestamp(end))]
        gap = _first_gap(part["date"].reset_index(drop=True))
        if gap is not None:
            raise InvalidInput(f"{self.path}: days missing after {gap.date()}; fill the gap or choose another range")
        return part.reset_index(drop=True)


@dataclass(frozen=True)
class SeasonWeather:
    """Weather events of one historical season and the yield loss they imply."""

    year: int
    spi_short: float
    spi_long: float
    drought: DroughtClass
    heat_days: int
    frost_days: int
    harvest_rain_mm: float
    excess_rain: bool
    loss: float


@dataclass(frozen=True)
class WeatherRisk:
    """Historical weather risk of a crop at a place: annual event probabilities and yield losses."""

    crop: str
    years: tuple[int, ...]
    drought: float  # share of years with moderate or severe drought (SPI <= -1.0)
    severe_drought: float  # share of years with SPI <= -1.5
    heat: float
    frost: float
    excess_rain: float
    expected_yield_loss: float  # mean of loss_by_year
    loss_by_year: tuple[float, ...]
    seasons: tuple[SeasonWeather, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if len(self.loss_by_year) != len(self.years) or not self.years:
            raise InvalidInput("WeatherRisk needs one loss per year and at least one year")
        for name in ("drought", "severe_drought", "heat", "frost", "excess_rain", "expected_yield_loss"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise InvalidInput(f"WeatherRisk.{name}={value} must be a fraction between 0 and 1")
        if any(not (0.0 <= loss <= 1.0) for loss in self.loss_by_year):
            raise InvalidInput("WeatherRisk.loss_by_year values must be fractions between 0 and 1")

    def to_dict(self) -> dict[str, Any]:
        """The Offer's ``weather_risk`` block."""
        return {
            "drought": round(self.drought, 4),
            "severe_drought": round(self.severe_drought, 4),
            "heat": round(self.heat, 4),
            "frost": round(self.frost, 4),
            "excess_rain": round(self.excess_rain, 4),
            "expected_loss": round(self.expected_yield_loss, 4),
            "n_years": len(self.years),
            "first_year": self.years[0],
            "last_year": self.years[-1],
        }


def spi(totals: np.ndarray) -> np.ndarray:
    """Standardised Precipitation Index of precipitation totals (one per year).

    Gamma distribution fitted (scipy.stats, location 0) to the non-zero totals, mixed with the share of zero
    totals, then mapped to a standard normal. With fewer than 5 distinct non-zero totals the empirical
    (Weibull plotting position) probability is used instead.
    """
    x = np.asarray(totals, dtype="float64")
    n = x.size
    positive = x[x > 0]
    if np.unique(positive).size >= 5:
        shape, _, scale = stats.gamma.fit(positive, floc=0)
        zero_share = 1.0 - positive.size / n
        prob = zero_share + (1.0 - zero_share) * stats.gamma.cdf(x, shape, loc=0, scale=scale)
    else:
        prob = stats.rankdata(x, method="average") / (n + 1)
    return np.asarray(stats.norm.ppf(np.clip(prob, 1e-6, 1 - 1e-6)), dtype="float64")


def _drought_class(spi_value: float, p: WeatherRiskParameters) -> DroughtClass:
    if spi_value <= p.spi_severe:
        return "severe"
    if spi_value <= p.spi_moderate:
        return "moderate"
    return "none"


def combine_losses(losses: list[float]) -> float:
    """Combined yield loss of independent damages: 1 - prod(1 - loss_i)."""
    return float(1.0 - np.prod([1.0 - loss for loss in losses]))


def season_loss(
    drought: DroughtClass, heat_days: int, frost_days: int, excess_rain: bool, p: WeatherRiskParameters
) -> float:
    """Yield loss fraction of one season from its events (monotone damage functions, combined)."""
    drought_loss = {"none": 0.0, "moderate": p.loss_drought_moderate, "severe": p.loss_drought_severe}[drought]
    heat_loss = min(p.max_heat_loss, p.loss_per_heat_day * heat_days)
    frost_loss = min(p.max_frost_loss, p.loss_per_frost_day * frost_days)
    rain_loss = p.loss_excess_rain if excess_rain else 0.0
    return combine_losses([drought_loss, heat_loss, frost_loss, rain_loss])


def weather_risk(
    daily: pd.DataFrame,
    calendar: Callable[[int], CropCalendar] | CropReference,
    crop: str | None = None,
    params: WeatherRiskParameters = DEFAULT_WEATHER_PARAMETERS,
) -> WeatherRisk:
    """Event probabilities and per-year yield losses of a crop over every complete historical season.

    ``calendar`` is the crop's reference (typical calendar each year) or a function year -> CropCalendar.
    A season counts when the table holds every day from the start of the long SPI window to harvest end.
    """
    frame = validate_daily(daily)
    calendar_of_year = partial(crop_calendar, calendar) if isinstance(calendar, CropReference) else calendar
    series = frame.set_index("date")
    first, last = frame["date"].iloc[0].date(), frame["date"].iloc[-1].date()

    def window(cal: CropCalendar, days: tuple[int, int]) -> tuple[date, date]:
        return cal.flowering_date + timedelta(days=days[0]), cal.flowering_date + timedelta(days=days[1])

    def rows(start: date, end: date) -> pd.DataFrame:
        return series.loc[pd.Timestamp(start) : pd.Timestamp(end)]

    def frost_start(cal: CropCalendar) -> date:
        if (crop or cal.crop) in params.winter_crops:
            return cal.flowering_date - timedelta(days=params.heat_window_days)
        return cal.emergence_date

    calendars: list[CropCalendar] = []
    for year in range(first.year - 1, last.year + 1):
        cal = calendar_of_year(year)
        start = min(window(cal, params.spi_long_days)[0], window(cal, params.spi_short_days)[0], cal.sow_date)
        end = max(cal.harvest_end, window(cal, params.spi_long_days)[1])
        if start >= first and end <= last and len(rows(start, end)) == (end - start).days + 1:
            calendars.append(cal)
    if len(calendars) < params.min_years:
        raise InvalidInput(
            f"weather history has {len(calendars)} complete season(s) ({first}..{last}); weather risk needs "
            f"at least {params.min_years}: supply a longer daily series without gaps"
        )
    crop_name = crop or calendars[0].crop
    threshold = params.heat_threshold(crop_name)
    short = np.array([rows(*window(c, params.spi_short_days))["precip_mm"].sum() for c in calendars])
    long = np.array([rows(*window(c, params.spi_long_days))["precip_mm"].sum() for c in calendars])
    heat_window = (-params.heat_window_days, params.heat_window_days)
    heat = [int((rows(*window(c, heat_window))["tmax_c"] >= threshold).sum()) for c in calendars]
    frost = [int((rows(frost_start(c), c.maturity_date)["tmin_c"] <= params.frost_c).sum()) for c in calendars]
    harvest = np.array([rows(c.maturity_date, c.harvest_end)["precip_mm"].sum() for c in calendars])
    rain_limit = max(float(np.quantile(harvest, params.excess_rain_quantile)), params.excess_rain_floor_mm)
    spi_short, spi_long = spi(short), spi(long)

    seasons = []
    for i, cal in enumerate(calendars):
        drought = _drought_class(min(spi_short[i], spi_long[i]), params)
        excess = bool(harvest[i] > rain_limit)
        loss = season_loss(drought, heat[i], frost[i], excess, params)
        seasons.append(
            SeasonWeather(
                year=cal.season,
                spi_short=round(float(spi_short[i]), 4),
                spi_long=round(float(spi_long[i]), 4),
                drought=drought,
                heat_days=heat[i],
                frost_days=frost[i],
                harvest_rain_mm=round(float(harvest[i]), 2),
                excess_rain=excess,
                loss=loss,
            )
        )
    n = len(seasons)
    losses = tuple(s.loss for s in seasons)
    return WeatherRisk(
        crop=crop_name,
        years=tuple(s.year for s in seasons),
        drought=sum(s.drought != "none" for s in seasons) / n,
        severe_drought=sum(s.drought == "severe" for s in seasons) / n,
        heat=sum(s.heat_days > 0 for s in seasons) / n,
        frost=sum(s.frost_days > 0 for s in seasons) / n,
        excess_rain=sum(s.excess_rain for s in seasons) / n,
        expected_yield_loss=float(np.mean(losses)),
        loss_by_year=losses,
        seasons=tuple(seasons),
    )
