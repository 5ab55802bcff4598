"""Logistic PD scorecard: logit(PD) = intercept + sum(coefficient x feature), with points per factor."""

from __future__ import annotations

import math
from dataclasses import dataclass

from agrisense.credit.limit import RiskFeatures
from agrisense.credit.policy import SCORECARD_FEATURES, Policy, Scorecard


@dataclass(frozen=True)
class FactorScore:
    """One scorecard factor: its value, its log-odds contribution and its points (negative = riskier)."""

    name: str
    value: float
    logit: float
    points: float


@dataclass(frozen=True)
class ScoreResult:
    """PD and score with each factor's contribution."""

    pd: float
    score: float
    logit: float
    factors: tuple[FactorScore, ...]

    def factor(self, name: str) -> FactorScore:
        return next(f for f in self.factors if f.name == name)


def scorecard_features(features: RiskFeatures, leverage: float, policy: Policy) -> dict[str, float]:
    """Scorecard inputs from the risk features; missing weather history takes the scorecard's ``missing_*``
    values."""
    card = policy.scorecard
    weather_loss = features.weather_expected_loss
    if weather_loss is None:
        weather_loss = card.missing_weather_expected_loss
    drought = features.drought_probability
    if drought is None:
        drought = card.missing_drought_probability
    z = features.condition_z
    values = {
        "cloud_gap": 1.0 - features.clear_fraction,
        "yield_spread": features.yield_spread,
        "weather_expected_loss": weather_loss,
        "drought_probability": drought,
        "area_mismatch": min(1.0, features.area_mismatch or 0.0),
        "overlap_fraction": features.overlap_fraction,
        "non_cropland": 1.0 - features.cropland_fraction,
        "condition_deficit": 0.0 if z is None else max(0.0, -z),
        "no_condition_evidence": 1.0 if z is None else 0.0,
        "leverage": max(0.0, leverage),
    }
    return {name: values[name] for name in SCORECARD_FEATURES}


def score(values: dict[str, float], card: Scorecard) -> ScoreResult:
    """PD from the scorecard; points scaled as base_score at base_odds, ``pdo`` points per doubling."""
    factor = card.pdo / math.log(2.0)
    parts = []
    logit = card.intercept
    for name in SCORECARD_FEATURES:
        contribution = card.coefficients[name] * values[name]
        logit += contribution
        parts.append(FactorScore(name, values[name], contribution, -factor * contribution))
    pd = 1.0 / (1.0 + math.exp(-logit))
    points = card.base_score - factor * (logit + math.log(card.base_odds))  # odds good:bad = exp(-logit)
    return ScoreResult(pd=pd, score=points, logit=logit, factors=tuple(parts))
