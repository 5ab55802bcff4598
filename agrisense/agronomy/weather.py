"""Daily weather access and the historical weather risk of a crop (drought, heat, frost, excess rain)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
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
    # A crop grown in several seasons a year (double rice): each season's own risk, and the share of years with a
    # drought in at least one season. The fields above then combine the seasons (see combine_seasons).
    parts: tuple[SeasonRisk, ...] = field(default=(), repr=False)
    drought_any_season: float | None = None

    def __post_init__(self) -> None:
        if len(self.loss_by_year) != len(self.years) or not self.years:
            raise InvalidInput("WeatherRisk needs one loss per year and at least one year")
        for name in ("drought", "severe_drought", "heat", "frost", "excess_rain", "expected_yield_loss"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise InvalidInput(f"WeatherRisk.{name}={value} must be a fraction between 0 and 1")
        if any(not (0.0 <= loss <= 1.0) for loss in self.loss_by_year):
            raise InvalidInput("WeatherRisk.loss_by_year values must be fractions between 0 and 1")
        any_season = self.drought_any_season
        if any_season is not None and not (math.isfinite(any_season) and 0.0 <= any_season <= 1.0):
            raise InvalidInput(f"WeatherRisk.drought_any_season={any_season} must be a fraction between 0 and 1")
        if self.parts and not math.isclose(sum(p.revenue_share for p in self.parts), 1.0, abs_tol=1e-9):
            raise InvalidInput("WeatherRisk.parts: the seasons' revenue shares must add up to 1")

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
            **(
                {"drought_any_season": round(self.drought_any_season, 4)} if self.drought_any_season is not None else {}
            ),
            **({"seasons": [part.to_dict(self) for part in self.parts]} if self.parts else {}),
        }


@dataclass(frozen=True)
class SeasonRisk:
    """One season of a crop grown in several seasons a year (double rice: early rice, then late rice): the season's
    crop, its share of the year's reference revenue, and its own weather risk (its calendar, its thresholds)."""

    ref: CropReference
    revenue_share: float
    risk: WeatherRisk

    def loss_share(self, whole: WeatherRisk) -> float:
        """This season's share of the year's expected revenue loss (0 when the year loses nothing)."""
        total = whole.expected_yield_loss
        return self.revenue_share * self.risk.expected_yield_loss / total if total > 0 else 0.0

    def to_dict(self, whole: WeatherRisk) -> dict[str, Any]:
        """One entry of the Offer's ``weather_risk.seasons``."""
        own = self.risk.to_dict()
        return {
            "crop": self.ref.crop,
            "name_zh": self.ref.name_zh,
            "name_en": self.ref.display_en,
            "revenue_share": round(self.revenue_share, 4),
            "loss_share": round(self.loss_share(whole), 4),
            **{k: own[k] for k in ("drought", "severe_drought", "heat", "frost", "excess_rain", "expected_loss")},
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


def event_loss(
    drought: DroughtClass, heat_days: int, frost_days: int, excess_rain: bool, p: WeatherRiskParameters
) -> dict[str, float]:
    """Yield loss fraction of each event of one season alone (monotone damage functions)."""
    return {
        "drought": {"none": 0.0, "moderate": p.loss_drought_moderate, "severe": p.loss_drought_severe}[drought],
        "heat": min(p.max_heat_loss, p.loss_per_heat_day * heat_days),
        "frost": min(p.max_frost_loss, p.loss_per_frost_day * frost_days),
        "excess_rain": p.loss_excess_rain if excess_rain else 0.0,
    }


def season_loss(
    drought: DroughtClass, heat_days: int, frost_days: int, excess_rain: bool, p: WeatherRiskParameters
) -> float:
    """Yield loss fraction of one season from its events (monotone damage functions, combined)."""
    return combine_losses(list(event_loss(drought, heat_days, frost_days, excess_rain, p).values()))


def weather_risk(
    daily: pd.DataFrame,
    calendar: Callable[[int], CropCalendar] | CropReference,
    crop: str | None = None,
    params: WeatherRiskParameters = DEFAULT_WEATHER_PARAMETERS,
) -> WeatherRisk:
    """Event probabilities and per-year yield losses of a crop over every complete historical season.

    ``calendar`` is the crop's reference (typical calendar each year) or a function year -> CropCalendar.
    A season counts when the table holds every day from the start of the long SPI window to harvest end.
    A reference ``made_of`` several crops (double rice) gets each season's risk on that crop's own calendar and
    thresholds, combined year by year (:func:`combine_seasons`).
    """
    frame = validate_daily(daily)
    if isinstance(calendar, CropReference) and calendar.made_of:
        parts = [
            (part, season_table(frame, partial(crop_calendar, part), part.crop, params)[1]) for part in calendar.made_of
        ]
        return combine_seasons(crop or calendar.crop, parts, params)
    calendar_of_year = partial(crop_calendar, calendar) if isinstance(calendar, CropReference) else calendar
    return summarise(*season_table(frame, calendar_of_year, crop, params))


def crop_weather_risks(daily: pd.DataFrame, crops: Mapping[str, CropReference]) -> dict[str, WeatherRisk]:
    """:func:`weather_risk` of each crop code of ``crops`` from one station history: what offers carry and what
    the stress test (CLI and dashboard) replays."""
    return {code: weather_risk(daily, ref, code) for code, ref in crops.items()}


def season_table(
    frame: pd.DataFrame,
    calendar_of_year: Callable[[int], CropCalendar],
    crop: str | None,
    params: WeatherRiskParameters,
) -> tuple[str, list[SeasonWeather]]:
    """The crop's name, and the weather events and loss of each of its complete historical seasons (``frame``
    validated)."""
    series = frame.set_index("date")
    first, last = frame["date"].iloc[0].date(), frame["date"].iloc[-1].date()

    def rows(start: date, end: date) -> pd.DataFrame:
        return series.loc[pd.Timestamp(start) : pd.Timestamp(end)]

    calendars: list[CropCalendar] = []
    for year in range(first.year - 1, last.year + 1):
        cal = calendar_of_year(year)
        long_window, short_window = (
            flowering_window(cal, params.spi_long_days),
            flowering_window(cal, params.spi_short_days),
        )
        start, end = min(long_window[0], short_window[0], cal.sow_date), max(cal.harvest_end, long_window[1])
        if start >= first and end <= last and len(rows(start, end)) == (end - start).days + 1:
            calendars.append(cal)
    if len(calendars) < params.min_years:
        raise InvalidInput(
            f"weather history has {len(calendars)} complete season(s) ({first}..{last}); weather risk needs "
            f"at least {params.min_years}: supply a longer daily series without gaps"
        )
    crop_name = crop or calendars[0].crop
    threshold = params.heat_threshold(crop_name)
    short = np.array([rows(*flowering_window(c, params.spi_short_days))["precip_mm"].sum() for c in calendars])
    long = np.array([rows(*flowering_window(c, params.spi_long_days))["precip_mm"].sum() for c in calendars])
    heat = [int((rows(*event_window(c, "heat", params))["tmax_c"] >= threshold).sum()) for c in calendars]
    frost = [int((rows(*event_window(c, "frost", params, crop))["tmin_c"] <= params.frost_c).sum()) for c in calendars]
    harvest = np.array([rows(*event_window(c, "excess_rain", params))["precip_mm"].sum() for c in calendars])
    rain_limit = max(float(np.quantile(harvest, params.excess_rain_quantile)), params.excess_rain_floor_mm)
    spi_short, spi_long = spi(short), spi(long)

    seasons = []
    for i, cal in enumerate(calendars):
        drought = _drought_class(min(spi_short[i], spi_long[i]), params)
        excess = bool(harvest[i] > rain_limit)
        season = SeasonWeather(
            year=cal.season,
            spi_short=round(float(spi_short[i]), 4),
            spi_long=round(float(spi_long[i]), 4),
            drought=drought,
            heat_days=heat[i],
            frost_days=frost[i],
            harvest_rain_mm=round(float(harvest[i]), 2),
            excess_rain=excess,
            loss=season_loss(drought, heat[i], frost[i], excess, params),
        )
        seasons.append(season)
    return crop_name, seasons


def summarise(crop: str, seasons: list[SeasonWeather]) -> WeatherRisk:
    """A crop's WeatherRisk from its seasons: shares of seasons with each event, the mean loss."""
    n = len(seasons)
    losses = tuple(s.loss for s in seasons)
    return WeatherRisk(
        crop=crop,
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


_EVENTS = ("drought", "severe_drought", "heat", "frost", "excess_rain")


def combine_seasons(
    crop: str,
    parts: list[tuple[CropReference, list[SeasonWeather]]],
    params: WeatherRiskParameters = DEFAULT_WEATHER_PARAMETERS,
) -> WeatherRisk:
    """The weather risk of one year of several crops on the same land, from each season's own risk.

    Only years in which every season is complete count, so the seasons of one year stay together. Each season
    weighs by its share w_i of the year's reference revenue (yield x price): the year's loss is
    sum_i w_i loss_i(year), the loss of the year's revenue, which is what the yield distribution, the limit and
    the stress test need; each event probability is sum_i w_i P_i(event), the share of the year's revenue grown
    in a season with the event (for one crop: its probability), so the PD's drought term and the drought referral
    stay on the scale they were set on for one crop. ``drought_any_season`` is P(drought in at least one season).
    """
    tables = [{s.year: s for s in seasons} for _, seasons in parts]
    years = sorted(set.intersection(*(set(t) for t in tables)))
    if len(years) < params.min_years:
        raise InvalidInput(
            f"weather history has {len(years)} year(s) in which every season of {crop} is complete; weather risk "
            f"needs at least {params.min_years}: supply a longer daily series without gaps"
        )
    revenue = [ref.ref_yield_t_ha * ref.price_per_t for ref, _ in parts]
    shares = [r / sum(revenue) for r in revenue]
    risks = [summarise(ref.crop, [t[y] for y in years]) for (ref, _), t in zip(parts, tables, strict=True)]
    weighted = {e: sum(w * getattr(r, e) for w, r in zip(shares, risks, strict=True)) for e in _EVENTS}
    losses = tuple(sum(w * t[y].loss for w, t in zip(shares, tables, strict=True)) for y in years)
    return WeatherRisk(
        crop=crop,
        years=tuple(years),
        **weighted,
        expected_yield_loss=float(np.mean(losses)),
        loss_by_year=losses,
        parts=tuple(SeasonRisk(ref, w, r) for (ref, _), w, r in zip(parts, shares, risks, strict=True)),
        drought_any_season=float(np.mean([any(t[y].drought != "none" for t in tables) for y in years])),
    )


def event_loss_means(risk: WeatherRisk, params: WeatherRiskParameters = DEFAULT_WEATHER_PARAMETERS) -> dict[str, float]:
    """The mean yield loss of each event alone over a crop's seasons (drought, heat, frost, excess_rain); empty
    for a risk without its seasons (a combined one: ask its parts)."""
    each = [event_loss(s.drought, s.heat_days, s.frost_days, s.excess_rain, params) for s in risk.seasons]
    return {event: float(np.mean([e[event] for e in each])) for event in each[0]} if each else {}


def event_window(
    cal: CropCalendar,
    event: str,
    params: WeatherRiskParameters = DEFAULT_WEATHER_PARAMETERS,
    crop: str | None = None,
) -> tuple[date, date]:
    """The dates of a season in which ``event`` (drought: the long SPI window, heat, frost, excess_rain) is counted;
    ``crop`` (default: the calendar's) decides whether frost is a winter crop's."""
    if event == "drought":
        days = params.spi_long_days
    elif event == "heat":
        days = (-params.heat_window_days, params.heat_window_days)
    elif event == "frost":
        start = cal.emergence_date
        if (crop or cal.crop) in params.winter_crops:
            start = cal.flowering_date - timedelta(days=params.heat_window_days)
        return start, cal.maturity_date
    elif event == "excess_rain":
        return cal.maturity_date, cal.harvest_end
    else:
        raise InvalidInput(f"unknown weather event {event!r}; use drought, heat, frost or excess_rain")
    return flowering_window(cal, days)


def flowering_window(cal: CropCalendar, days: tuple[int, int]) -> tuple[date, date]:
    """The dates ``days`` (from, to) around the season's flowering date."""
    return cal.flowering_date + timedelta(days=days[0]), cal.flowering_date + timedelta(days=days[1])
