"""Daily weather from monthly climate normals, for places without a station series.

:class:`ClimatologyWeather` is a :class:`~agrisense.agronomy.weather.WeatherProvider` that draws a seeded daily series
from twelve monthly normals (mean daily minimum and maximum temperature, monthly precipitation, rain days): rain
occurrence is a two-state Markov chain whose wet-day share is the month's rain days, wet-day amounts are gamma
distributed with the month's mean, temperatures are the month's means plus a persistent (AR(1)) daily anomaly and a
year anomaly. The series carries the place's normal seasonal cycle; its year-to-year variability is the generator's
assumption (constants below), not an observation. Weather risk from it is therefore a planning figure, and the
offer says which source it came from. A real station file replaces it when one exists.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from agrisense.agronomy.weather import validate_daily
from agrisense.errors import InvalidInput

WET_PERSISTENCE = 0.25  # P(wet | wet yesterday) - P(wet) on the month's scale: rain comes in spells
RAIN_SHAPE = 0.75  # gamma shape of wet-day amounts (skewed: many light days, few heavy ones)
DAY_SD_C = 2.0  # sd of the daily temperature anomaly
DAY_AR = 0.6  # day-to-day persistence of the anomaly
YEAR_SD_C = 0.7  # sd of a whole year's temperature anomaly
YEAR_RAIN_CV = 0.15  # cv of a whole year's rain scale (wet and dry years)


@dataclass(frozen=True)
class MonthlyNormals:
    """Twelve monthly normals (January first) of one station."""

    station: str
    tmin_c: tuple[float, ...]
    tmax_c: tuple[float, ...]
    precip_mm: tuple[float, ...]  # monthly total
    rain_days: tuple[float, ...]  # days with rain per month

    def __post_init__(self) -> None:
        for name in ("tmin_c", "tmax_c", "precip_mm", "rain_days"):
            if len(getattr(self, name)) != 12:
                raise InvalidInput(f"normals of {self.station}: {name} needs 12 monthly values")
        for m in range(12):
            if self.tmin_c[m] > self.tmax_c[m]:
                raise InvalidInput(f"normals of {self.station}: month {m + 1} tmin_c above tmax_c")
            if self.precip_mm[m] < 0 or not 0 <= self.rain_days[m] <= 28:
                raise InvalidInput(f"normals of {self.station}: month {m + 1} needs precip >= 0, 0-28 rain days")
            if self.precip_mm[m] > 0 and self.rain_days[m] == 0:
                raise InvalidInput(f"normals of {self.station}: month {m + 1} has rain but no rain days")


class ClimatologyWeather:
    """A seeded daily series drawn from monthly normals (the module doc says how and what it is not)."""

    def __init__(self, normals: MonthlyNormals, *, first_year: int = 1991, last_year: int = 2025) -> None:
        if last_year < first_year:
            raise InvalidInput(f"last_year {last_year} is before first_year {first_year}")
        self.normals, self.first_year, self.last_year = normals, first_year, last_year
        self._frame: pd.DataFrame | None = None

    @property
    def source(self) -> str:
        return f"climatology of {self.normals.station} (synthetic daily series from monthly normals)"

    def history(self) -> pd.DataFrame:
        """The whole series, first_year-01-01 .. last_year-12-31."""
        if self._frame is None:
            self._frame = _generate(self.normals, self.first_year, self.last_year)
        return self._frame

    def daily(self, start: date, end: date) -> pd.DataFrame:
        if end < start:
            raise InvalidInput(f"weather range end {end} is before start {start}")
        if start.year < self.first_year or end.year > self.last_year:
            raise InvalidInput(f"the climatology series covers {self.first_year}..{self.last_year}; ask within it")
        frame = self.history()
        keep = (frame["date"] >= pd.Timestamp(start)) & (frame["date"] <= pd.Timestamp(end))
        return frame.loc[keep].reset_index(drop=True)


def _generate(n: MonthlyNormals, first_year: int, last_year: int) -> pd.DataFrame:
    rng = np.random.default_rng(zlib.crc32(n.station.encode("utf-8")))
    dates = pd.date_range(f"{first_year}-01-01", f"{last_year}-12-31", freq="D")
    month = dates.month.to_numpy() - 1
    days_in_month = dates.days_in_month.to_numpy()
    years = dates.year.to_numpy() - first_year
    n_years = last_year - first_year + 1
    rain_scale = np.clip(rng.normal(1.0, YEAR_RAIN_CV, n_years), 0.5, 1.5)[years]
    p_wet = np.clip(np.asarray(n.rain_days)[month] / days_in_month, 0.0, 0.95)
    p11 = np.minimum(0.95, p_wet + WET_PERSISTENCE * (1 - p_wet))
    p01 = np.where(p_wet < 1, p_wet * (1 - p11) / np.maximum(1 - p_wet, 1e-9), 1.0)
    draws = rng.random(len(dates))
    wet = np.zeros(len(dates), dtype=bool)
    for i in range(len(dates)):
        wet[i] = draws[i] < (p11[i] if i and wet[i - 1] else p01[i])
    mean_wet = np.where(
        np.asarray(n.rain_days)[month] > 0, np.asarray(n.precip_mm)[month] / np.asarray(n.rain_days)[month], 0.0
    )
    amounts = rng.gamma(RAIN_SHAPE, 1.0, len(dates)) * mean_wet / RAIN_SHAPE * rain_scale
    precip = np.where(wet, amounts, 0.0)
    anomaly = np.zeros(len(dates))
    shocks = rng.normal(0.0, DAY_SD_C * np.sqrt(1 - DAY_AR**2), len(dates))
    for i in range(1, len(dates)):
        anomaly[i] = DAY_AR * anomaly[i - 1] + shocks[i]
    anomaly += rng.normal(0.0, YEAR_SD_C, n_years)[years]
    tmax = np.asarray(n.tmax_c)[month] + anomaly - 1.0 * wet  # rainy days are a little cooler
    tmin = np.minimum(np.asarray(n.tmin_c)[month] + 0.8 * anomaly, tmax - 0.5)
    frame = pd.DataFrame(
        {"date": dates, "tmin_c": tmin.round(1), "tmax_c": tmax.round(1), "precip_mm": precip.round(1)}
    )
    return validate_daily(frame, source=f"climatology of {n.station}")
