from __future__ import annotations

import pytest

from agrisense.agronomy.weather import WeatherRisk
from agrisense.agronomy.yields import condition_factor, yield_distribution
from agrisense.errors import InvalidInput


def risk(crop: str, losses: list[float]) -> WeatherRisk:
    return WeatherRisk(
        crop=crop,
        years=tuple(range(1990, 1990 + len(losses))),
        drought=0.1,
        severe_drought=0.0,
        heat=0.0,
        frost=0.0,
        excess_rain=0.0,
        expected_yield_loss=sum(losses) / len(losses),
        loss_by_year=tuple(losses),
    )


@pytest.mark.parametrize(("z", "factor"), [(0.0, 1.0), (1.0, 1.08), (-10.0, 0.5), (10.0, 1.3)])
def test_condition_factor(z, factor):
    assert condition_factor(z) == pytest.approx(factor)


def test_distribution_shape_and_determinism(crops):
    maize = crops["maize"]
    weather = risk("maize", [0.0] * 25 + [0.4] * 5)
    a = yield_distribution(maize, condition_z=0.0, weather=weather, seed=3)
    b = yield_distribution(maize, condition_z=0.0, weather=weather, seed=3)
    assert a == b and a.grid == b.grid
    assert a.p10 < a.p50 < a.p90
    assert a.quantile(0.5) == pytest.approx(a.p50, rel=0.01)
    assert a.mean == pytest.approx(2.5 * (1 - weather.expected_yield_loss), rel=0.05)


def test_condition_and_weather_move_yield(crops):
    maize = crops["maize"]
    calm, rough = risk("maize", [0.0] * 30), risk("maize", [0.3] * 30)
    base = yield_distribution(maize, condition_z=0.0, weather=calm)
    assert yield_distribution(maize, condition_z=2.0, weather=calm).p50 > base.p50
    assert yield_distribution(maize, condition_z=0.0, weather=rough).p10 < base.p10
    unknown = yield_distribution(maize, condition_z=None, weather=calm)
    assert unknown.spread > base.spread and unknown.condition_factor is None


def test_bad_inputs(crops):
    with pytest.raises(InvalidInput, match="computed for"):
        yield_distribution(crops["maize"], condition_z=0.0, weather=risk("beans", [0.1] * 30))
    with pytest.raises(InvalidInput, match="quantile"):
        yield_distribution(crops["maize"], condition_z=0.0, weather=None).quantile(1.5)
    with pytest.raises(InvalidInput, match="fraction"):
        risk("maize", [1.5] * 30)
