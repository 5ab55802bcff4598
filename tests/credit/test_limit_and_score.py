from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agrisense.credit.limit import RiskFeatures, credit_limit
from agrisense.credit.scorecard import score, scorecard_features

CLEAN = RiskFeatures(
    clear_fraction=0.9,
    yield_spread=0.5,
    weather_expected_loss=0.03,
    drought_probability=0.1,
    area_mismatch=0.0,
    overlap_fraction=0.0,
    cropland_fraction=1.0,
    condition_z=0.0,
)


def limit_of(policy, area=1.0, yq=2.0, exposure=0.0, **changes):
    return credit_limit(
        area_ha=area,
        yield_at_quantile_t_ha=yq,
        price_per_t=1800,
        input_cost_per_ha=2600,
        existing_exposure=exposure,
        features=replace(CLEAN, **changes),
        policy=policy,
    )


def test_caps_and_rounding(policy):
    result = limit_of(policy)
    assert result.revenue_cap == Decimal("1800.00")  # 1 ha x 2 t x 1800 x 0.5
    assert result.input_cost_cap == Decimal("2600.00") and result.policy_cap == Decimal("6000.00")
    assert result.binding_cap == "revenue" and result.limit == Decimal(1800)
    assert limit_of(policy, area=10, yq=3).binding_cap == "policy"  # 20000 per farmer
    assert limit_of(policy, exposure=500).limit == Decimal(1300)
    assert limit_of(policy, exposure=5000).limit == 0


@pytest.mark.parametrize(
    ("changes", "haircut"),
    [
        ({"clear_fraction": 0.4}, "clear_fraction"),
        ({"yield_spread": 1.2}, "yield_spread"),
        ({"weather_expected_loss": 0.2}, "weather_expected_loss"),
        ({"weather_expected_loss": None}, "weather_expected_loss"),
        ({"area_mismatch": 0.3}, "area_mismatch"),
        ({"overlap_fraction": 0.1}, "overlap_fraction"),
        ({"cropland_fraction": 0.6}, "cropland_fraction"),
    ],
)
def test_each_haircut_reduces_the_limit_and_is_attributed(policy, changes, haircut):
    clean, worse = limit_of(policy), limit_of(policy, **changes)
    assert worse.limit < clean.limit
    cut = worse.haircut(haircut)
    assert cut is not None and cut.factor < 1 and cut.amount > 0
    assert float(sum(h.amount for h in worse.haircuts)) == pytest.approx(
        float(worse.base) * (1 - _product(worse)), abs=0.1
    )


def _product(result):
    out = 1.0
    for h in result.haircuts:
        out *= h.factor
    return out


@settings(max_examples=80, deadline=None)
@given(
    area=st.floats(0.05, 20),
    extra=st.floats(0, 5),
    clear=st.floats(0.3, 1),
    loss=st.floats(0, 0.6),
    exposure=st.floats(0, 3000),
)
def test_more_area_never_lowers_limit(policy, area, extra, clear, loss, exposure):
    kw = {"clear_fraction": clear, "weather_expected_loss": loss, "area_mismatch": None, "exposure": exposure}
    assert limit_of(policy, area=area + extra, **kw).limit >= limit_of(policy, area=area, **kw).limit


@settings(max_examples=80, deadline=None)
@given(loss=st.floats(0, 0.6), more=st.floats(0, 0.4), area=st.floats(0.1, 10))
def test_more_weather_loss_never_raises_limit(policy, loss, more, area):
    assert (
        limit_of(policy, area=area, weather_expected_loss=loss + more).limit
        <= limit_of(policy, area=area, weather_expected_loss=loss).limit
    )


def test_scorecard_points_and_pd(policy):
    base = score(scorecard_features(CLEAN, 0.2, policy), policy.scorecard)
    assert 0 < base.pd < min(policy.thresholds.pd_approve_for(c) for c in policy.financed_crops)
    assert base.score == pytest.approx(
        policy.scorecard.base_score + sum(f.points for f in base.factors) - _intercept_points(policy),
        abs=1e-6,
    )
    for changes in ({"clear_fraction": 0.4}, {"overlap_fraction": 0.5}, {"condition_z": -2.0}):
        worse = score(scorecard_features(replace(CLEAN, **changes), 0.2, policy), policy.scorecard)
        assert worse.pd > base.pd and worse.score < base.score
    missing = score(scorecard_features(replace(CLEAN, weather_expected_loss=None), 0.2, policy), policy.scorecard)
    assert missing.factor("weather_expected_loss").value == policy.scorecard.missing_weather_expected_loss


def _intercept_points(policy):
    import math

    card = policy.scorecard
    return card.pdo / math.log(2) * (card.intercept + math.log(card.base_odds))
