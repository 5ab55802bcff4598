from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrisense.agronomy.calendar import crop_calendar
from agrisense.agronomy.parameters import DEFAULT_WEATHER_PARAMETERS as P
from agrisense.agronomy.weather import LocalCsvWeather, combine_losses, event_window, season_loss, spi, weather_risk
from agrisense.errors import InvalidInput


def test_planted_drought_year_is_detected(crops, synthetic_weather):
    daily = synthetic_weather(1990, 2021, dry_year=2005)
    risk = weather_risk(daily, crops["maize"])
    assert len(risk.years) >= 30
    by_year = {s.year: s for s in risk.seasons}
    assert by_year[2005].drought == "severe"
    assert by_year[2005].loss >= P.loss_drought_severe
    assert min(risk.seasons, key=lambda s: s.spi_long).year == 2005
    assert risk.drought < 0.35  # the rest of the synthetic climate is ordinary
    assert risk.expected_yield_loss == pytest.approx(np.mean(risk.loss_by_year))


def test_heat_and_frost_counted(crops, synthetic_weather):
    daily = synthetic_weather(1990, 2021)
    flower = crop_calendar(crops["maize"], 2000).flowering_date
    hot = (daily["date"] >= pd.Timestamp(flower)) & (daily["date"] < pd.Timestamp(flower) + pd.Timedelta(days=3))
    daily.loc[hot, "tmax_c"] = 40.0
    frosty = daily["date"] == pd.Timestamp(crop_calendar(crops["maize"], 2001).emergence_date)
    daily.loc[frosty, "tmin_c"] = -2.0
    risk = weather_risk(daily, crops["maize"])
    by_year = {s.year: s for s in risk.seasons}
    assert by_year[2000].heat_days == 3
    assert by_year[2001].frost_days == 1
    # sorghum tolerates more heat: the same 40 C days count, the 35 C threshold of maize does not apply
    assert weather_risk(daily, crops["sorghum"]).crop == "sorghum"


def test_needs_thirty_years(crops, synthetic_weather):
    with pytest.raises(InvalidInput, match="at least 30"):
        weather_risk(synthetic_weather(2000, 2020), crops["maize"])


@pytest.mark.parametrize(
    ("drought", "heat", "frost", "rain", "expected"),
    [
        ("none", 0, 0, False, 0.0),
        ("moderate", 0, 0, False, 0.20),
        ("severe", 0, 0, False, 0.40),
        ("none", 5, 0, False, 0.10),
        ("none", 100, 0, False, 0.30),  # capped
        ("severe", 5, 0, True, 1 - 0.6 * 0.9 * 0.9),
    ],
)
def test_damage_functions(drought, heat, frost, rain, expected):
    assert season_loss(drought, heat, frost, rain, P) == pytest.approx(expected)


def test_combine_and_spi():
    assert combine_losses([0.5, 0.5]) == pytest.approx(0.75)
    totals = np.random.default_rng(0).gamma(4.0, 50.0, 40)
    z = spi(totals)
    assert abs(z.mean()) < 0.3 and 0.6 < z.std() < 1.4
    assert np.argmin(z) == np.argmin(totals)


def _write(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "daily.csv"
    frame.to_csv(path, index=False)
    return path


def test_local_csv_weather(tmp_path: Path, synthetic_weather):
    frame = synthetic_weather(2000, 2001)
    source = LocalCsvWeather(_write(tmp_path, frame))
    part = source.daily(date(2000, 3, 1), date(2000, 3, 31))
    assert list(part.columns) == ["date", "tmin_c", "tmax_c", "precip_mm"] and len(part) == 31
    with pytest.raises(InvalidInput, match="covers"):
        source.daily(date(1999, 1, 1), date(2000, 1, 5))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.assign(precip_mm=f.precip_mm.where(f.index != 5, -1.0)), "negative precip"),
        (lambda f: f.assign(tmin_c=f.tmin_c.where(f.index != 5, 99.0)), "tmin_c > tmax_c"),
        (lambda f: f.drop(columns="tmax_c"), "missing column"),
        (lambda f: f.drop(index=[10, 11]), "days missing"),
    ],
)
def test_local_csv_weather_rejects_bad_files(tmp_path: Path, synthetic_weather, mutate, message):
    source = LocalCsvWeather(_write(tmp_path, mutate(synthetic_weather(2000, 2000))))
    with pytest.raises(InvalidInput, match=message):
        source.daily(date(2000, 1, 1), date(2000, 2, 1))


def test_real_champion_series(crops, real_weather_path):
    if not real_weather_path.is_file():
        pytest.skip("shared real weather data not present")
    daily = LocalCsvWeather(real_weather_path).daily(date(1982, 1, 1), date(2018, 12, 31))
    risk = weather_risk(daily, crops["maize"])
    assert risk.years[0] == 1982 and risk.years[-1] == 2018
    assert {s.year: s.drought for s in risk.seasons}[2012] == "severe"  # the 2012 US Midwest drought
    assert 0.0 < risk.expected_yield_loss < 0.5


def test_event_windows_are_the_ones_the_risk_counts(crops):
    cal = crop_calendar(crops["maize"], 2000)
    flowering = cal.flowering_date
    assert event_window(cal, "drought") == (flowering + pd.Timedelta(days=-60), flowering + pd.Timedelta(days=30))
    assert event_window(cal, "heat") == (flowering + pd.Timedelta(days=-10), flowering + pd.Timedelta(days=10))
    assert event_window(cal, "frost") == (cal.emergence_date, cal.maturity_date)
    assert event_window(cal, "frost", crop="wheat")[0] == flowering + pd.Timedelta(days=-10)  # a winter crop
    assert event_window(cal, "excess_rain") == (cal.maturity_date, cal.harvest_end)
    with pytest.raises(InvalidInput, match="unknown weather event 'hail'"):
        event_window(cal, "hail")
