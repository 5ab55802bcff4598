from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrisense.agronomy.calendar import CropReference, load_crop_table

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def crops() -> dict[str, CropReference]:
    return load_crop_table(REPO / "data" / "reference" / "crops.csv")


@pytest.fixture(scope="session")
def real_weather_path() -> Path:
    return REPO.parent / "shared" / "data" / "real" / "weather" / "champion_ne_us_1982_2018.csv"


@pytest.fixture
def synthetic_weather():
    return make_synthetic_weather


def make_synthetic_weather(first: int, last: int, seed: int = 1, dry_year: int | None = None) -> pd.DataFrame:
    """Daily weather with mild summers and regular rain; ``dry_year`` gets no rain from June to September."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(date(first, 1, 1), date(last, 12, 31), freq="D")
    doy = dates.day_of_year.to_numpy()
    tmax = 24 + 6 * np.sin((doy - 100) / 365 * 2 * np.pi) + rng.normal(0, 1.5, len(dates))
    tmin = tmax - 10
    rain = np.where(rng.random(len(dates)) < 0.3, rng.gamma(2.0, 4.0, len(dates)), 0.0)
    if dry_year is not None:
        dry = (dates.year == dry_year) & (dates.month >= 6) & (dates.month <= 9)
        rain[dry] = 0.0
    return pd.DataFrame({"date": dates, "tmin_c": tmin, "tmax_c": tmax, "precip_mm": rain})
