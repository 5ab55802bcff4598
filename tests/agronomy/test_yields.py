from __future__ import annotations

import numpy as np
import pytest

from agrisense.agronomy.parameters import DEFAULT_YIELD_PARAMETERS
from agrisense.agronomy.weather import WeatherRisk
from agrisense.agronomy.yields import condition_factor, farm_noise_cv, weather_factors, yield_distribution
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
    assert a.mean == pytest.approx(2.5, rel=0.03)  # re-centred: the reference yield is the average season's


def test_mean_is_the_reference_and_weather_is_not_counted_twice(crops):
    maize = crops["maize"]
    weather = risk("maize", [0.0] * 20 + [0.2] * 6 + [0.5] * 4)
    dist = yield_distribution(maize, condition_z=0.0, weather=weather, n_draws=20000, seed=1)
    assert dist.mean == pytest.approx(maize.ref_yield_t_ha, rel=0.02)
    draws = np.asarray(dist.grid)
    assert float(draws.std() / draws.mean()) == pytest.approx(maize.yield_cv, rel=0.1)  # total CV, not more
    relative = weather_factors(weather)
    assert relative.mean() == pytest.approx(1.0)
    assert farm_noise_cv(maize.yield_cv, float(relative.std())) < maize.yield_cv
    assert farm_noise_cv(0.1, 0.5) == DEFAULT_YIELD_PARAMETERS.min_noise_cv
    with pytest.raises(InvalidInput, match="no season with any yield"):
        weather_factors(risk("maize", [1.0] * 30))


def test_condition_and_weather_move_yield(crops):
    maize = crops["maize"]
    calm, rough = risk("maize", [0.0] * 30), risk("maize", [0.0] * 20 + [0.5] * 10)
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
