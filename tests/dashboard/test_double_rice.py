"""Double rice (双季稻 = 早稻 + 晚稻) in the analyst dashboard: the weather chart shows each season's probabilities
beside the revenue-weighted ones the decision used, and the portfolio stress test replays the same combined weather
the offers carry (not the first season's alone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agrisense import services
from agrisense.app.dashboard import charts, data, views
from agrisense.config import Settings
from agrisense.credit.offer import Offer, WeatherSummary
from agrisense.quotes import QuoteInputs, quote_at, resolve, weather_history
from agrisense.region import load_region
from tests.test_region_market import _region  # a Jiangxi box (Nanchang)

AREA_HA = 2000 / 15  # 2,000 亩
EVENTS = ("drought", "severe_drought", "heat", "frost", "excess_rain")


@pytest.fixture(scope="module")
def jiangxi_region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Jiangxi region folder (China market, Nanchang) whose station file is the area's climatology series: built
    here, as CI has no built data/sample_county_cn."""
    history, _ = weather_history(resolve(Settings(region_dir=tmp_path_factory.mktemp("none")), region="jiangxi"))
    assert history is not None  # the China market ships Jiangxi's climatology
    folder = tmp_path_factory.mktemp("jiangxi")
    (folder / "weather").mkdir()
    history.to_csv(folder / "weather" / "daily.csv", index=False, date_format="%Y-%m-%d")
    return _region(folder, market="china", market_area="jiangxi", model="landcover_unet_cn")


def _quote(region: Path, crop: str) -> Offer:
    """The region's own offer for ``crop`` (the quote service: its market, its station file)."""
    settings = Settings(region_dir=region)
    return quote_at(settings, resolve(settings), QuoteInputs(crop=crop, area_ha=AREA_HA, season=2027))


@pytest.fixture(scope="module")
def double_rice(jiangxi_region: Path) -> Offer:
    offer = _quote(jiangxi_region, "rice_double")
    assert offer.location is not None and offer.location.weather_source.startswith("station file")
    assert offer.weather_risk is not None and len(offer.weather_risk.seasons) == 2
    return offer


def test_the_weather_chart_shows_each_season_beside_the_combined_figure(double_rice: Offer) -> None:
    risk = double_rice.weather_risk
    assert risk is not None and risk.drought_any_season is not None
    fig = charts.weather_chart(**views.chart_inputs(double_rice)["weather"])
    (ax,) = fig.axes
    bars = {c.get_label(): [b.get_width() for b in c] for c in ax.containers}
    early, late = risk.seasons
    labels = [
        f"early rice (mean loss {100 * early.expected_loss:.1f}%)",
        f"late rice (mean loss {100 * late.expected_loss:.1f}%)",
        charts.COMBINED_LABEL,
    ]
    assert list(bars) == labels and [t.get_text() for t in fig.legends[0].get_texts()] == labels
    for label, figures in zip(labels, (early, late, risk), strict=True):
        assert bars[label] == pytest.approx([100 * getattr(figures, e) for e in EVENTS])
    assert bars[labels[1]][0] > bars[labels[2]][0] > bars[labels[0]][0]  # the weighted drought between the seasons'
    assert f"drought in any season {100 * risk.drought_any_season:.0f}%" in ax.get_xlabel()
    assert f"mean yield loss {100 * risk.expected_loss:.1f}%" in ax.get_title()


def test_a_single_crop_keeps_one_bar_set(jiangxi_region: Path) -> None:
    offer = _quote(jiangxi_region, "rice_late")
    assert offer.weather_risk is not None and offer.weather_risk.seasons == ()
    fig = charts.weather_chart(**views.chart_inputs(offer)["weather"])
    (bars,) = fig.axes[0].containers
    assert [b.get_width() for b in bars] == pytest.approx([100 * getattr(offer.weather_risk, e) for e in EVENTS])
    assert not fig.legends and "any season" not in fig.axes[0].get_xlabel()


def test_the_stress_test_replays_the_offers_combined_weather(jiangxi_region: Path, double_rice: Offer) -> None:
    settings = Settings(region_dir=jiangxi_region)
    region = load_region(jiangxi_region)
    crops = services.region_crops(settings, region)
    weather = data.stress_weather(region.weather, {"rice_double": crops["rice_double"]})["rice_double"]
    assert WeatherSummary.model_validate(weather.to_dict()) == double_rice.weather_risk
    assert [part.ref.crop for part in weather.parts] == ["rice_early", "rice_late"]
    result = data.stress([double_rice.to_dict()], [-0.3], settings)
    assert result["n_loans"] == 1 and result["exposure"] == pytest.approx(float(double_rice.credit_limit))
    assert sorted(set(result["scenarios"]["year"])) == list(weather.years)  # one scenario per combined year
