"""Credit limit: the lowest of three caps, less existing exposure, times haircuts, rounded down."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from agrisense.credit.policy import Policy

CENT = Decimal("0.01")


@dataclass(frozen=True)
class RiskFeatures:
    """Evidence features the haircuts and the scorecard use (all fractions unless said otherwise). Crop confidence
    is not one of them: it only decides whether a person must check the crop (LOW_CROP_CONFIDENCE)."""

    clear_fraction: float
    yield_spread: float  # (p90 - p10) / p50
    weather_expected_loss: float | None  # None: no weather history
    drought_probability: float | None
    area_mismatch: float | None  # |declared - measured| / measured; None: no declared area
    overlap_fraction: float
    cropland_fraction: float
    condition_z: float | None  # NDVI-integral z-score; None: no imagery condition evidence


@dataclass(frozen=True)
class Haircut:
    """One multiplicative haircut and the amount it took off the limit (applied in order)."""

    name: str
    value: float | None
    factor: float
    amount: Decimal


@dataclass(frozen=True)
class LimitResult:
    """How the limit was built, every step in currency units."""

    revenue_cap: Decimal  # area x yield quantile x price x advance rate
    input_cost_cap: Decimal  # input cost per ha x area x multiplier
    policy_cap: Decimal  # min(max per farmer, max per ha x area)
    existing_exposure: Decimal
    base: Decimal  # min of the caps less exposure, >= 0
    haircuts: tuple[Haircut, ...]
    limit: Decimal  # after haircuts, rounded down to the policy step, >= 0

    @property
    def binding_cap(self) -> str:
        caps = {"revenue": self.revenue_cap, "input_cost": self.input_cost_cap, "policy": self.policy_cap}
        return min(caps, key=lambda k: caps[k])

    def haircut(self, name: str) -> Haircut | None:
        return next((h for h in self.haircuts if h.name == name), None)


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_DOWN)


def haircut_factors(features: RiskFeatures, policy: Policy) -> list[tuple[str, float | None, float]]:
    """(name, feature value, factor) of every haircut, in the order they are applied."""
    h = policy.haircuts
    weather_factor = (
        policy.limits.no_weather_haircut
        if features.weather_expected_loss is None
        else h.weather_expected_loss.factor(features.weather_expected_loss)
    )
    mismatch_factor = 1.0 if features.area_mismatch is None else h.area_mismatch.factor(features.area_mismatch)
    return [
        ("clear_fraction", features.clear_fraction, h.clear_fraction.factor(features.clear_fraction)),
        ("yield_spread", features.yield_spread, h.yield_spread.factor(features.yield_spread)),
        ("weather_expected_loss", features.weather_expected_loss, weather_factor),
        ("area_mismatch", features.area_mismatch, mismatch_factor),
        ("overlap_fraction", features.overlap_fraction, h.overlap_fraction.factor(features.overlap_fraction)),
        (
            "cropland_fraction",
            features.cropland_fraction,
            h.cropland_fraction.factor(features.cropland_fraction),
        ),
    ]


def credit_limit(
    *,
    area_ha: float,
    yield_at_quantile_t_ha: float,
    price_per_t: float,
    input_cost_per_ha: float,
    existing_exposure: Decimal | float,
    features: RiskFeatures,
    policy: Policy,
) -> LimitResult:
    """The limit and its breakdown. More area or yield never lowers it; worse features never raise it."""
    lim = policy.limits
    revenue_cap = _money(area_ha * yield_at_quantile_t_ha * price_per_t * lim.advance_rate)
    input_cap = _money(input_cost_per_ha * area_ha * lim.input_cost_cap_multiplier)
    policy_cap = _money(min(lim.max_per_farmer, lim.max_per_ha * area_ha))
    exposure = _money(existing_exposure)
    base = max(Decimal(0), min(revenue_cap, input_cap, policy_cap) - exposure)
    running = base
    haircuts = []
    for name, value, factor in haircut_factors(features, policy):
        after = running * Decimal(str(factor))
        haircuts.append(Haircut(name, value, factor, _money(running - after)))
        running = after
    step = Decimal(str(lim.rounding_step))
    limit = (running / step).to_integral_value(rounding=ROUND_DOWN) * step
    return LimitResult(revenue_cap, input_cap, policy_cap, exposure, base, tuple(haircuts), max(limit, Decimal(0)))
