"""The generated daily weather is physically sane and varies from year to year."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrisense.errors import InvalidInput
from agrisense.sample.inputs import load_inputs
from agrisense.sample.weather_gen import generate_weather


def test_daily_csv(region_dir: Path) -> None:
    wx = pd.read_csv(region_dir / "weather" / "daily.csv", parse_dates=["date"])
    assert list(wx.columns) == ["date", "tmin_c", "tmax_c", "precip_mm"]
    assert wx["date"].iloc[0] == pd.Timestamp("1991-01-01") and wx["date"].iloc[-1] == pd.Timestamp("2026-11-30")
    assert wx["date"].diff().dropna().eq(pd.Timedelta(days=1)).all()
    assert (wx["tmin_c"] <= wx["tmax_c"]).all() and (wx["precip_mm"] >= 0).all()
    assert wx["date"].dt.year.nunique() >= 30
    assert wx.notna().all().all()


def test_climate_and_variability() -> None:
    inputs = load_inputs()
    wx = generate_weather(np.random.default_rng(3), inputs.weather, date(2026, 11, 30))
    wx["date"] = pd.to_datetime(wx["date"])
    full = wx[wx["date"].dt.year < 2026]
    annual = full.groupby(full["date"].dt.year)["precip_mm"].sum()
    target = inputs.weather.monthly["target_precip_mm"].sum()
    assert abs(annual.mean() / target - 1) < 0.25
    cv = annual.std() / annual.mean()
    assert 0.15 < cv < 0.45
    spi = (annual - annual.mean()) / annual.std()
    assert (spi < -1).sum() >= 2 and (spi > 1).sum() >= 2  # drought and wet years exist
    monthly = full.groupby(full["date"].dt.month)["precip_mm"].sum() / full["date"].dt.year.nunique()
    assert monthly.loc[[12, 1, 2]].sum() < monthly.loc[[7, 8, 9]].sum() / 4  # one dry season, rains Apr-Nov
    assert 15 < full["tmax_c"].mean() - 0 < 35 and full["tmin_c"].mean() > 10


def test_bad_period() -> None:
    with pytest.raises(InvalidInput):
        generate_weather(np.random.default_rng(0), load_inputs().weather, date(1990, 1, 1))
