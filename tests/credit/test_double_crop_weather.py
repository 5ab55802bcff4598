"""Weather risk of a double crop (双季稻 = 早稻 + 晚稻): each season on its own calendar and thresholds, combined
year by year by revenue share; the offer shows each season and the farmer reads which season the risk is in."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrisense.agronomy.weather import LocalCsvWeather, weather_risk
from agrisense.config import Settings
from agrisense.credit.engine import quote
from agrisense.credit.offer import Offer
from agrisense.credit.season_weather import season_weather_reason
from agrisense.errors import InvalidInput
from agrisense.quotes import QuoteInputs, Where, market_policy, quote_at, resolve

AREA_HA = 2000 / 15  # the reference farm: 2,000 亩
DRY_YEARS = (1995, 2003, 2011, 2019)  # no rain 20 Jul - 18 Oct: the late rice's summer-autumn drought (伏秋旱)


LATE_WINDOW = ("07-20", "10-18")  # the late rice's long drought window (flowering 18 Sep - 60 d .. + 30 d)
EARLY_WINDOW = ("04-19", "07-18")  # the early rice's (flowering 18 Jun)


def constructed_daily(
    dry_years: tuple[int, ...] = (),
    drop: dict[int, tuple[str, str]] | None = None,
    random_window: tuple[str, str] = LATE_WINDOW,
) -> pd.DataFrame:
    """A seeded daily series 1990-2025 with Jiangxi's seasonal cycle but never a heat (>= 35 C) or frost day.

    Rain falls on the same calendar days every year (9 mm on days 3, 6, 9, ... of each month), so every window of the
    other season gets the same total each year and never a drought; in ``random_window`` (default the late rice's
    long drought window) it is random instead (gamma amounts, a year scale), and a fifth of it in ``dry_years``.
    ``drop`` removes MM-DD..MM-DD of a year."""
    rng = np.random.default_rng(14)
    dates = pd.date_range("1990-01-01", "2025-12-31", freq="D")
    season = np.sin(2 * np.pi * (dates.day_of_year.to_numpy() - 105) / 365.25)
    tmax = 21.0 + 9.0 * season + rng.normal(0, 1.0, len(dates))
    rain = np.where(dates.day.to_numpy() % 3 == 0, 9.0, 0.0)
    month_day = dates.strftime("%m-%d")
    late = (month_day >= random_window[0]) & (month_day <= random_window[1])
    year_scale = rng.uniform(0.7, 1.3, 36)[dates.year.to_numpy() - 1990]
    random_rain = rng.gamma(0.8, 6.0, len(dates)) * (rng.random(len(dates)) < 0.45) * year_scale
    rain = np.where(late, random_rain * np.where(np.isin(dates.year, dry_years), 0.2, 1.0), rain)
    frame = pd.DataFrame({"date": dates, "tmin_c": tmax - 8.0, "tmax_c": tmax, "precip_mm": rain.round(1)})
    for year, (start, end) in (drop or {}).items():
        gone = (frame["date"].dt.year == year) & (frame["date"].dt.strftime("%m-%d").between(start, end))
        frame = frame[~gone]
    return frame


def station(folder: Path, frame: pd.DataFrame) -> Path:
    """A region folder whose weather is a station file (``weather/daily.csv``), as a region ships it."""
    (folder / "weather").mkdir(parents=True)
    frame.to_csv(folder / "weather" / "daily.csv", index=False, date_format="%Y-%m-%d")
    return folder


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return Settings(region_dir=tmp_path_factory.mktemp("no-region"))


@pytest.fixture(scope="module")
def jiangxi(settings, tmp_path_factory):
    """quote(crop, dry_years) at a Jiangxi location whose weather is a station file of the constructed series."""
    location = resolve(settings, region="jiangxi").location

    def quote(crop: str, dry_years: tuple[int, ...] = ()) -> Offer:
        folder = station(tmp_path_factory.mktemp(crop), constructed_daily(dry_years))
        return quote_at(settings, Where(location, folder), QuoteInputs(crop=crop, area_ha=AREA_HA, season=2027))

    return quote


@pytest.fixture(scope="module")
def double_rice(settings):
    return resolve(settings, region="jiangxi").location.market.crop_table("jiangxi")["rice_double"]


def test_a_late_season_drought_shows_in_the_double_rice_quote(settings, jiangxi):
    offer = jiangxi("rice_double", DRY_YEARS)
    assert offer.location is not None and offer.location.weather_source.startswith("station file")
    risk = offer.weather_risk
    assert risk is not None and risk.drought_any_season is not None
    early, late = risk.seasons
    assert (early.crop, early.name_zh, late.crop, late.name_zh) == ("rice_early", "早稻", "rice_late", "晚稻")
    assert early.revenue_share + late.revenue_share == pytest.approx(1.0, abs=1e-3)
    assert early.drought == 0.0 and late.drought >= len(DRY_YEARS) / risk.n_years
    assert late.loss_share > early.loss_share and late.expected_loss > early.expected_loss
    # the PD and the drought referral read the revenue-weighted figure; the analyst also sees "any season"
    weighted = early.revenue_share * early.drought + late.revenue_share * late.drought
    assert risk.drought == pytest.approx(weighted, abs=1e-3)
    assert risk.drought_any_season >= late.drought > risk.drought
    (reason,) = [r for r in offer.reasons if r.code == "SEASON_WEATHER_RISK"]
    assert reason.kind == "info" and "晚稻" in reason.message_zh and "干旱" in reason.message_zh
    assert "late rice" in reason.message_en and "drought" in reason.message_en and "%" not in reason.message_en
    assert "早稻" in (reason.detail_zh or "") and "晚稻" in (reason.detail_zh or "")

    # Before, the double crop took the first season's risk only: the early calendar under the double crop's name.
    where = resolve(settings, region="jiangxi")
    crops = where.location.market.crop_table("jiangxi")
    history = LocalCsvWeather(Path(offer.location.weather_source.removeprefix("station file "))).history()
    first_only = weather_risk(history, crops["rice_early"], "rice_double")
    before = quote(
        "rice_double",
        AREA_HA,
        season=2027,
        crops=crops,
        policy=market_policy(settings, where.location.market),
        weather=first_only,
    )
    assert first_only.drought == 0.0 and first_only.expected_yield_loss < risk.expected_loss
    assert before.pd is not None and offer.pd is not None and before.pd < offer.pd
    assert before.credit_limit >= offer.credit_limit


def test_each_year_loses_the_revenue_share_of_each_season(tmp_path, double_rice):
    path = station(tmp_path, constructed_daily(DRY_YEARS)) / "weather" / "daily.csv"
    risk = weather_risk(LocalCsvWeather(path).history(), double_rice)
    early, late = risk.parts
    assert risk.crop == "rice_double" and early.risk.years == late.risk.years == risk.years
    for i, year in enumerate(risk.years):
        expected = early.revenue_share * early.risk.loss_by_year[i] + late.revenue_share * late.risk.loss_by_year[i]
        assert risk.loss_by_year[i] == pytest.approx(expected)
        if year in DRY_YEARS:  # the late season's drought, in the year it happened, with its own SPI
            assert late.risk.seasons[i].drought != "none" and late.risk.seasons[i].spi_long < -1.0
            assert risk.loss_by_year[i] >= late.revenue_share * 0.2 - 1e-9
    assert risk.expected_yield_loss == pytest.approx(float(np.mean(risk.loss_by_year)))
    assert risk.heat == risk.frost == 0.0  # the constructed series has neither


def test_an_early_season_drought_is_named_as_the_early_season(tmp_path, double_rice):
    frame = constructed_daily(DRY_YEARS, random_window=EARLY_WINDOW)
    risk = weather_risk(LocalCsvWeather(station(tmp_path, frame) / "weather" / "daily.csv").history(), double_rice)
    early, late = risk.parts
    assert late.risk.drought == 0.0 and early.risk.drought >= len(DRY_YEARS) / len(risk.years)
    reason = season_weather_reason(risk, 2027)
    assert reason is not None and reason.message_zh == "这笔贷款的天气风险主要在早稻季：4-7月的干旱。"
    assert reason.message_en == "Most of the weather risk of this loan is in the early rice season: drought in Apr-Jul."


def test_years_without_both_seasons_complete_are_refused(tmp_path, double_rice):
    late_gone = {y: ("08-01", "11-30") for y in range(1990, 1994)}  # late rice incomplete 1990-93
    early_gone = {y: ("04-01", "06-20") for y in range(2022, 2026)}  # early rice incomplete 2022-25
    frame = constructed_daily(drop={**late_gone, **early_gone})
    with pytest.raises(InvalidInput, match="28 year.*every season of rice_double is complete.*at least 30"):
        weather_risk(frame, double_rice)
    assert len(frame) == len(constructed_daily(drop={**late_gone, **early_gone}))  # the input is not altered


# Quotes at 2,000 亩 on 2027 under each province's climatology, computed before double crops had seasons
# (commit a9d9327): (area, crop, decision, limit, PD, rate, APR, drought, expected loss).
SINGLE_CROPS = [
    ("jiangxi", "rice", "approve", 404800, 0.0551, 0.1056, 0.1199, 0.2571, 0.1927),
    ("jiangxi", "rice_early", "approve", 483400, 0.0372, 0.0934, 0.1097, 0.1714, 0.0749),
    ("jiangxi", "rice_late", "approve", 473000, 0.0407, 0.0935, 0.1080, 0.2286, 0.0904),
    ("henan", "wheat", "approve", 474900, 0.0400, 0.0740, 0.0816, 0.2353, 0.0876),
    ("henan", "maize", "refer", 450300, 0.0517, 0.1028, 0.1199, 0.3714, 0.1245),
    ("heilongjiang", "soybean", "approve", 422300, 0.0419, 0.0927, 0.1064, 0.2286, 0.0669),
]


@pytest.mark.parametrize(("area", "crop", "decision", "limit", "pd", "rate", "apr", "drought", "loss"), SINGLE_CROPS)
def test_single_crops_quote_as_before(settings, area, crop, decision, limit, pd, rate, apr, drought, loss):
    offer = quote_at(settings, resolve(settings, region=area), QuoteInputs(crop=crop, area_ha=AREA_HA, season=2027))
    assert (offer.decision, float(offer.credit_limit), offer.pd) == (decision, limit, pd)
    assert (float(offer.annual_rate or 0), offer.apr) == (rate, apr)
    risk = offer.weather_risk
    assert risk is not None and (risk.drought, risk.expected_loss) == (drought, loss)
    assert risk.seasons == () and risk.drought_any_season is None
    assert all(r.code != "SEASON_WEATHER_RISK" for r in offer.reasons)


def test_double_rice_under_the_climatology_counts_the_late_season(settings):
    """Before: the early season's risk alone (483,400, PD 3.38 %, drought 17 %); now both seasons."""
    offer = quote_at(
        settings, resolve(settings, region="jiangxi"), QuoteInputs(crop="rice_double", area_ha=AREA_HA, season=2027)
    )
    risk = offer.weather_risk
    assert risk is not None
    early, late = risk.seasons
    assert (early.drought, early.expected_loss, late.drought, late.expected_loss) == (0.1714, 0.0749, 0.2286, 0.0904)
    assert risk.drought == pytest.approx(early.revenue_share * 0.1714 + late.revenue_share * 0.2286, abs=1e-4)
    assert 0.0749 < risk.expected_loss < 0.0904 and offer.pd is not None and offer.pd > 0.0338
    assert offer.credit_limit < 483400 and len(offer.schedule) == 2


def test_an_offer_before_seasons_still_reads(jiangxi):
    data = jiangxi("rice_late").to_dict()
    assert "seasons" in data["weather_risk"]  # an optional field, empty for one crop
    old = {**data, "schema_version": "1.2"}
    old["weather_risk"] = {k: v for k, v in data["weather_risk"].items() if k not in ("seasons", "drought_any_season")}
    assert Offer.model_validate(old).weather_risk == Offer.model_validate(data).weather_risk


def test_a_combined_risk_with_impossible_figures_is_refused(tmp_path, double_rice):
    risk = weather_risk(constructed_daily(DRY_YEARS), double_rice)
    with pytest.raises(InvalidInput, match="drought_any_season=1.5 must be a fraction"):
        replace(risk, drought_any_season=1.5)
    with pytest.raises(InvalidInput, match="revenue shares must add up to 1"):
        replace(risk, parts=risk.parts[:1])


def test_a_season_with_frequent_drought_refers_even_when_the_weighted_figure_is_low(settings, tmp_path, double_rice):
    """The drought referral reads the highest season's own probability (decision.drought_gate): a late season dry
    in a third of the years refers, although the revenue-weighted figure the PD reads stays under the limit. (SPI
    droughts are relative to the place's own rain, so a season is rarely drier than the bundled limit of 35 %: the
    limit is set to 30 % here.)"""
    dry = tuple(range(1991, 2026, 3))  # 12 of the 36 years: little rain in the late rice's window
    history = LocalCsvWeather(station(tmp_path, constructed_daily(dry)) / "weather" / "daily.csv").history()
    risk = weather_risk(history, double_rice)
    early, late = risk.parts
    assert late.risk.drought > 0.30 > risk.drought and early.risk.drought < 0.30
    where = resolve(settings, region="jiangxi")
    policy = market_policy(settings, where.location.market)
    strict = policy.model_copy(
        update={"thresholds": policy.thresholds.model_copy(update={"max_drought_probability": 0.30})}
    )
    crops = where.location.market.crop_table("jiangxi")
    offer = quote("rice_double", AREA_HA, season=2027, crops=crops, policy=strict, weather=risk)
    (reason,) = [r for r in offer.reasons if r.code == "HIGH_DROUGHT_RISK"]
    assert reason.kind == "refer" and offer.decision == "refer"
    assert f"{late.risk.drought:.0%}" in reason.detail_en
    wet_late = weather_risk(
        LocalCsvWeather(station(tmp_path / "wet", constructed_daily()) / "weather" / "daily.csv").history(), double_rice
    )
    calm = quote("rice_double", AREA_HA, season=2027, crops=crops, policy=strict, weather=wet_late)
    assert max(p.risk.drought for p in wet_late.parts) <= 0.30
    assert "HIGH_DROUGHT_RISK" not in {r.code for r in calm.reasons}
