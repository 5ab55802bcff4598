"""Growth stage from fitted phenology: synthetic seasons (normal, late, failed, early harvest) and real samples."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrisense.agronomy.calendar import crop_calendar, load_crop_table
from agrisense.errors import InvalidInput
from agrisense.ml.growth import (
    STAGES,
    growth_stage,
    load_expected_curves,
    ndvi_dates,
    seasonal_anomaly,
)
from agrisense.ml.phenology import clean_series, fit_phenology

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference"
SAMPLES = Path("/work/shared/data/real/crop_samples/dev_samples.parquet")


def season(sow: date, *, peak: float = 0.75, base: float = 0.2, harvest: date | None = None, year: int = 2026,
           step: int = 10, noise: float = 0.0, seed: int = 0) -> dict[date, float]:  # fmt: skip
    """Piecewise NDVI: flat base, 60-day green-up, 30-day plateau, 40-day senescence, then bare."""
    rng = np.random.default_rng(seed)
    out = {}
    day = date(year, 3, 1)
    while day <= date(year, 11, 30):
        t = (day - sow).days
        if t < 0:
            v = base
        elif t < 60:
            v = base + (peak - base) * t / 60
        elif t < 90:
            v = peak
        elif t < 130:
            v = peak - (peak - base) * 0.6 * (t - 90) / 40
        else:
            v = base + 0.05
        if harvest is not None and day >= harvest:
            v = base
        out[day] = float(np.clip(v + rng.normal(0, noise), -1, 1))
        day += timedelta(days=step)
    return out


@pytest.fixture(scope="module")
def curves():
    return load_expected_curves(REFERENCE / "ndvi_curves.csv")


@pytest.fixture(scope="module")
def maize_calendar():
    return crop_calendar(load_crop_table(REFERENCE / "crops.csv")["maize"], 2026)


def test_normal_season_walks_through_the_stages(curves, maize_calendar):
    ndvi = season(date(2026, 6, 1), noise=0.02)
    stages = [
        growth_stage(ndvi, as_of=d, crop="maize", curves=curves, calendar=maize_calendar).stage
        for d in (date(2026, 5, 10), date(2026, 6, 25), date(2026, 7, 15), date(2026, 8, 20), date(2026, 11, 30))
    ]
    assert stages == ["not_sown", "emergence", "vegetative", "reproductive", "harvested"]
    final = growth_stage(ndvi, as_of=date(2026, 11, 30), crop="maize", curves=curves, calendar=maize_calendar)
    assert final.flags == ()
    assert date(2026, 6, 5) <= final.start_of_season <= date(2026, 6, 30)
    assert date(2026, 7, 25) <= final.peak_of_season <= date(2026, 9, 5)
    assert date(2026, 9, 20) <= final.end_of_season <= date(2026, 10, 31)
    assert final.peak_ndvi == pytest.approx(0.75, abs=0.05)
    assert final.confidence > 0.8 and final.condition_z is not None
    assert final.to_dict()["start_of_season"] == final.start_of_season.isoformat()


def test_observations_after_as_of_are_not_used(curves):
    ndvi = season(date(2026, 6, 1))
    early = growth_stage(ndvi, as_of=date(2026, 7, 20))
    cut = growth_stage({d: v for d, v in ndvi.items() if d <= date(2026, 7, 20)}, as_of=date(2026, 7, 20))
    assert early == cut
    assert early.end_of_season is None


def test_late_sowing_is_flagged(curves, maize_calendar):
    g = growth_stage(season(date(2026, 8, 5)), as_of=date(2026, 10, 1), crop="maize", curves=curves,
                     calendar=maize_calendar)  # fmt: skip
    assert "late_sowing" in g.flags
    assert g.stage in {"vegetative", "reproductive"}
    assert g.start_of_season > date(2026, 8, 5)


def test_crop_failure_is_a_low_peak(curves, maize_calendar):
    g = growth_stage(season(date(2026, 6, 1), peak=0.36), as_of=date(2026, 11, 30), crop="maize", curves=curves,
                     calendar=maize_calendar)  # fmt: skip
    assert "low_peak" in g.flags and g.stage == "harvested"
    healthy = growth_stage(season(date(2026, 6, 1)), as_of=date(2026, 11, 30), crop="maize", curves=curves)
    assert "low_peak" not in healthy.flags
    assert g.condition_z < healthy.condition_z


def test_no_green_up_after_the_sowing_window(maize_calendar):
    bare = season(date(2027, 1, 1))
    assert growth_stage(bare, as_of=date(2026, 5, 20), calendar=maize_calendar).flags == ()
    g = growth_stage(bare, as_of=date(2026, 9, 1), calendar=maize_calendar)
    assert g.stage == "not_sown" and g.flags == ("no_green_up",)
    assert "failed" in g.reason


def test_early_harvest(maize_calendar):
    g = growth_stage(season(date(2026, 6, 1), harvest=date(2026, 8, 10)), as_of=date(2026, 9, 1),
                     calendar=maize_calendar)  # fmt: skip
    assert g.stage == "harvested" and "early_end" in g.flags
    assert g.end_of_season < date(2026, 8, 25)


def test_evergreen_and_sparse_series_are_unknown():
    green = {date(2026, m, 15): 0.8 for m in range(3, 12)}
    assert growth_stage(green, as_of=date(2026, 11, 30)).stage == "unknown"
    few = growth_stage({date(2026, 5, 1): 0.2, date(2026, 6, 1): float("nan")}, as_of=date(2026, 7, 1))
    assert few.stage == "unknown" and few.confidence == 0.0 and "1 clear observation" in few.reason


def test_stale_observations_lower_confidence():
    ndvi = {d: v for d, v in season(date(2026, 6, 1)).items() if d <= date(2026, 7, 20)}
    fresh = growth_stage(ndvi, as_of=date(2026, 7, 25))
    stale = growth_stage(ndvi, as_of=date(2026, 10, 25))
    assert stale.confidence < fresh.confidence and "moved on" in stale.reason


def test_bad_input_is_rejected():
    with pytest.raises(InvalidInput, match="dates"):
        growth_stage({5: 0.3}, as_of=date(2026, 7, 1))  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="outside -1..1"):
        growth_stage({date(2026, 5, 1): 3500.0}, as_of=date(2026, 7, 1))
    with pytest.raises(InvalidInput, match="1..12"):
        ndvi_dates({13: 0.3}, season=2026)
    with pytest.raises(InvalidInput, match="at least 2"):
        fit_phenology(*clean_series({date(2026, 5, 1): 0.3}))


def test_ndvi_dates_from_months():
    assert ndvi_dates({7: 0.5, 3: 0.2}, season=2026) == {date(2026, 7, 15): 0.5, date(2026, 3, 15): 0.2}


def test_seasonal_anomaly_against_earlier_years():
    history = {}
    for k, level in enumerate([0.60, 0.65, 0.70, 0.62, 0.68], start=1):
        history[date(2026 - k, 8, 10)] = level
    current = {date(2026, 8, 12): 0.40}
    a = seasonal_anomaly(current, as_of=date(2026, 8, 20), history=history)
    assert a.n_seasons == 5 and a.percentile == 0.0 and a.z < -2
    assert a.earlier_mean == pytest.approx(0.65)
    short = seasonal_anomaly(current, as_of=date(2026, 8, 20), history={date(2025, 8, 10): 0.6})
    assert short.z is None and "1 earlier season" in short.reason
    g = growth_stage(season(date(2026, 6, 1)), as_of=date(2026, 8, 20), history=history)
    assert g.anomaly is not None and g.anomaly.z > 0  # a healthy plateau (0.75) beats the earlier years


def _sample_series(row: pd.Series, start: date) -> dict[date, float]:
    out = {}
    for m in range(12):
        red, nir = row[f"B04_m{m:02d}"], row[f"B08_m{m:02d}"]
        if np.isfinite(red) and np.isfinite(nir) and red + nir > 0:
            month = (start.month - 1 + m) % 12 + 1
            out[date(start.year + (start.month - 1 + m) // 12, month, 15)] = float((nir - red) / (nir + red))
    return out


@pytest.mark.skipif(not SAMPLES.exists(), reason="real samples not present")
def test_real_sorghum_samples_follow_the_season():
    """Real WorldCereal S2 monthly composites of 183 sorghum fields (Uganda / South Sudan 2017)."""
    table = pd.read_parquet(SAMPLES)
    rows = table[(table["region"] == "east_africa_2017") & (table["label"] == "sorghum")]
    series = [_sample_series(r, date(2016, 12, 1)) for _, r in rows.iterrows()]

    def shares(as_of: date) -> Counter[str]:
        c = Counter(growth_stage(s, as_of=as_of).stage for s in series)
        return Counter({k: v / len(series) for k, v in c.items()})

    april, july, november = shares(date(2017, 4, 30)), shares(date(2017, 7, 20)), shares(date(2017, 11, 30))
    assert set(april) | set(july) | set(november) <= set(STAGES)
    assert april["not_sown"] > 0.6
    assert july["vegetative"] + july["reproductive"] > 0.8
    assert november["maturity"] + november["harvested"] > 0.75


@pytest.mark.skipif(not SAMPLES.exists(), reason="real samples not present")
def test_real_flanders_maize_is_harvested_by_november():
    table = pd.read_parquet(SAMPLES)
    rows = table[(table["region"] == "flanders_2021") & (table["label"] == "maize")]
    calendar = crop_calendar(load_crop_table(REFERENCE / "crops.csv")["maize"], 2021)
    stages = [
        growth_stage(_sample_series(r, date(2020, 12, 1)), as_of=date(2021, 11, 20), calendar=calendar)
        for _, r in rows.iterrows()
    ]
    assert sum(g.stage == "harvested" for g in stages) >= 0.75 * len(stages)
    # green-up in June-July, after the winter cover is gone (the calendar window leaves it out)
    starts = [g.start_of_season for g in stages if g.start_of_season is not None]
    assert all(date(2021, 5, 1) <= s <= date(2021, 8, 15) for s in starts)
