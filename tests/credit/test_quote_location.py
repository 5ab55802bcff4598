"""Quotes by location: the place picks the market, its policy and the weather (CLI and service)."""

from __future__ import annotations

import json
from datetime import date

import pytest
import typer
from typer.testing import CliRunner

from agrisense.agronomy.calendar import crop_calendars
from agrisense.app.cli.credit import offer_schema_command, quote_command
from agrisense.config import Settings
from agrisense.quotes import QuoteInputs, quote_at, resolve

runner = CliRunner()
app = typer.Typer()
app.command("quote")(quote_command)
app.command("offer-schema")(offer_schema_command)


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return Settings(region_dir=tmp_path_factory.mktemp("no-region"))  # no region folder: locations only


def _quote(*args: str) -> dict:
    result = runner.invoke(app, ["quote", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_2000_mu_jiangxi_rice_farm_gets_hundreds_of_thousands_repaid_after_the_rice_harvest():
    offer = _quote("--crop", "rice", "--area-mu", "2000", "--lon", "115.9", "--lat", "28.7")
    assert offer["location"]["market"] == "china" and offer["location"]["area"] == "jiangxi"
    assert "Nanchang" in offer["location"]["weather_source"] and offer["weather_risk"]["n_years"] >= 30
    assert offer["decision"] in ("approve", "refer") and offer["currency"] == "CNY"
    assert 100_000 <= offer["credit_limit"] < 1_000_000  # the reference case lends 350,000 (175 per 亩)
    assert offer["area_mu"] == pytest.approx(2000) and offer["policy_version"] == "china-2026.4"
    assert offer["apr"] <= 0.12 and offer["finance_season"] >= date.today().year
    (repayment,) = offer["schedule"]  # one rice season: one repayment, after its harvest
    sowing = date.fromisoformat(offer["disbursements"][0]["date"])
    due = date.fromisoformat(repayment["date"])
    assert sowing.month in (4, 5) and due.month in (9, 10, 11) and due.year == sowing.year
    assert sum(d["amount"] for d in offer["disbursements"]) == pytest.approx(offer["credit_limit"])


def test_double_rice_repays_after_the_early_and_the_late_harvest(settings):
    where = resolve(settings, region="江西")
    offer = quote_at(settings, where, QuoteInputs(crop="rice_double", area_ha=2000 / 15, season=2027))
    early, late = crop_calendars(where.location.market.crop_table("jiangxi")["rice_double"], 2027)
    after_early, after_late = (i.date for i in offer.schedule)  # one repayment after each harvest
    assert early.harvest_end < after_early < late.harvest_end < after_late
    assert after_early.month in (7, 8, 9) and after_late.month in (11, 12)
    assert offer.schedule[0].principal + offer.schedule[1].principal == offer.credit_limit
    assert offer.decision in ("approve", "refer") and offer.credit_limit > 100_000


def test_a_5_mu_smallholder_gets_a_small_loan():
    offer = _quote("--crop", "rice", "--area-mu", "5", "--region", "jiangxi", "--season", "2027")
    assert offer["decision"] == "approve" and 500 <= offer["credit_limit"] <= 2_000


@pytest.mark.parametrize(
    ("area", "crops"),
    [
        ("jiangxi", ["rice", "rice_early", "rice_late", "rice_double", "rapeseed", "cotton"]),
        ("henan", ["wheat", "maize", "rice", "cotton"]),
        ("heilongjiang", ["soybean", "maize", "rice"]),
        ("xinjiang", ["cotton", "wheat"]),
        ("hunan", ["rice_double", "rapeseed"]),
    ],
)
def test_every_supported_crop_quotes(settings, area, crops):
    where = resolve(settings, region=area)
    for crop in crops:
        offer = quote_at(settings, where, QuoteInputs(crop=crop, area_ha=10.0, season=2027))
        assert offer.decision in ("approve", "refer"), (area, crop, [r.code for r in offer.reasons])
        assert offer.credit_limit > 0 and offer.schedule and offer.weather_risk is not None, (area, crop)
    assert set(where.location.market.crop_table(area)) >= set(crops)


def test_the_sample_county_still_quotes_without_a_location(settings):
    offer = quote_at(settings, resolve(settings), QuoteInputs(crop="maize", area_ha=1.2, season=2027))
    assert offer.location is not None and offer.location.market == "sample_county"
    assert offer.policy_version == "2026.6" and offer.weather_risk is None  # no region folder: no weather
    assert offer.decision in ("approve", "refer")


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--lon", "115.9"], 2, "give both --lon and --lat"),
        (["--lon", "-30", "--lat", "10"], 3, "no market covers lon -30.0, lat 10.0"),
        (["--lon", "115.9", "--lat", "28.7", "--region", "henan"], 2, "--region or --lon/--lat, not both"),
        (["--region", "atlantis"], 3, "neither a region folder"),
    ],
)
def test_bad_locations_are_clear_errors(args, code, words):
    result = runner.invoke(app, ["quote", "--crop", "rice", "--area-mu", "10", *args])
    assert result.exit_code == code and words in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output


def test_an_impossible_area_is_refused():
    for mu in ("0.000001", "1e9"):
        result = runner.invoke(app, ["quote", "--crop", "rice", "--area-mu", mu, "--region", "henan"])
        assert result.exit_code == 2 and "is outside 0.001..1e+06 ha" in " ".join(result.output.split()), result.output


def test_area_is_given_once():
    both = runner.invoke(app, ["quote", "--crop", "rice", "--area-mu", "10", "--area-ha", "1", "--region", "henan"])
    neither = runner.invoke(app, ["quote", "--crop", "rice", "--region", "henan"])
    for result in (both, neither):
        assert result.exit_code == 2 and "--area-ha (hectares) or --area-mu" in result.output
