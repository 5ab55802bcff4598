"""Yield distribution of one plot: reference yield x crop condition x weather loss x farm noise."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from agrisense.agronomy.calendar import CropReference
from agrisense.agronomy.parameters import DEFAULT_YIELD_PARAMETERS, YieldModelParameters
from agrisense.agronomy.weather import WeatherRisk
from agrisense.errors import InvalidInput


@dataclass(frozen=True)
class YieldDistribution:
    """Monte Carlo yield distribution, t/ha, kept as a fine quantile grid."""

    crop: str
    p10: float
    p50: float
    p90: float
    mean: float
    condition_factor: float | None  # None: no imagery evidence (condition drawn from its prior)
    n_draws: int
    seed: int
    grid: tuple[float, ...] = field(default=(), repr=False, compare=False)  # quantiles at levels linspace(0,1)

    @property
    def spread(self) -> float:
        """Relative spread (p90 - p10) / p50; 0 when p50 is 0."""
        return (self.p90 - self.p10) / self.p50 if self.p50 > 0 else 0.0

    def quantile(self, q: float) -> float:
        """Yield (t/ha) at quantile ``q`` in [0, 1], interpolated on the stored grid."""
        if not (0.0 <= q <= 1.0):
            raise InvalidInput(f"quantile level must be in [0, 1], got {q}")
        levels = np.linspace(0.0, 1.0, len(self.grid))
        return float(np.interp(q, levels, self.grid))

    def to_dict(self) -> dict[str, object]:
        """The Offer's ``yield`` block."""
        return {
            "p10": round(self.p10, 3),
            "p50": round(self.p50, 3),
            "p90": round(self.p90, 3),
            "mean": round(self.mean, 3),
            "unit": "t/ha",
        }


def condition_factor(z: float, params: YieldModelParameters = DEFAULT_YIELD_PARAMETERS) -> float:
    """Yield factor of an NDVI-integral z-score: clip(1 + slope * z, min, max)."""
    return float(np.clip(1.0 + params.condition_slope * z, params.condition_min, params.condition_max))


def weather_factors(weather: WeatherRisk | None) -> np.ndarray:
    """Each historical season's yield relative to the average season: (1 - loss) / (1 - mean loss), mean 1."""
    if weather is None:
        return np.ones(1)
    kept = 1.0 - np.asarray(weather.loss_by_year, dtype=float)
    if kept.size == 0 or kept.mean() <= 0:
        raise InvalidInput(f"weather risk of {weather.crop!r} has no season with any yield left; check the losses")
    return np.asarray(kept / kept.mean(), dtype=float)


def farm_noise_cv(yield_cv: float, weather_cv: float, params: YieldModelParameters = DEFAULT_YIELD_PARAMETERS) -> float:
    """The CV left for farm noise once the weather term carries ``weather_cv`` of the total ``yield_cv``."""
    return max(params.min_noise_cv, math.sqrt(max(0.0, yield_cv**2 - weather_cv**2)))


def yield_distribution(
    ref: CropReference,
    *,
    condition_z: float | None,
    weather: WeatherRisk | None,
    n_draws: int = 4000,
    seed: int = 0,
    params: YieldModelParameters = DEFAULT_YIELD_PARAMETERS,
) -> YieldDistribution:
    """Draw yields = ref_yield x condition x weather of a resampled year x lognormal farm noise.

    The reference yield is the region's average over its weather, so the weather term is re-centred:
    ``(1 - loss of the year) / (1 - mean loss)`` has mean 1 and only spreads the yield around the reference. The
    crop's ``yield_cv`` is the total year-to-year variability; the farm noise takes what the weather term leaves
    (``sqrt(yield_cv^2 - weather_cv^2)``, at least ``params.min_noise_cv``), so weather is not counted twice.
    With condition factor 1 the mean is the reference yield.

    ``condition_z`` None means no imagery evidence: z is drawn from N(0, 1) per draw, widening the spread.
    ``weather`` None applies no weather loss (the caller should then haircut or refer).
    Deterministic for a given seed: the random streams do not depend on the values drawn from.
    """
    if n_draws < 100:
        raise InvalidInput(f"n_draws={n_draws} is too few for stable quantiles; use at least 100")
    if condition_z is not None and not math.isfinite(condition_z):
        raise InvalidInput(f"condition_z={condition_z} must be a finite number or None")
    if weather is not None and weather.crop != ref.crop:
        raise InvalidInput(f"weather risk was computed for {weather.crop!r}, not {ref.crop!r}; compute it per crop")
    rng = np.random.default_rng(seed)
    z_draws = rng.standard_normal(n_draws)
    year_index = rng.integers(0, len(weather.loss_by_year) if weather else 1, size=n_draws)
    noise_z = rng.standard_normal(n_draws)

    if condition_z is None:
        factors = np.clip(1.0 + params.condition_slope * z_draws, params.condition_min, params.condition_max)
        factor: float | None = None
    else:
        factor = condition_factor(condition_z, params)
        factors = np.full(n_draws, factor)
    relative = weather_factors(weather)
    weather_draws = relative[year_index]
    noise_cv = farm_noise_cv(ref.yield_cv, float(relative.std()), params)
    sigma = math.sqrt(math.log1p(noise_cv**2))
    noise = np.exp(sigma * noise_z - sigma**2 / 2.0)  # mean 1, CV = noise_cv
    draws = ref.ref_yield_t_ha * factors * weather_draws * noise

    levels = np.linspace(0.0, 1.0, int(round(1.0 / params.quantile_step)) + 1)
    grid = np.quantile(draws, levels)
    return YieldDistribution(
        crop=ref.crop,
        p10=float(np.quantile(draws, 0.1)),
        p50=float(np.quantile(draws, 0.5)),
        p90=float(np.quantile(draws, 0.9)),
        mean=float(draws.mean()),
        condition_factor=factor,
        n_draws=n_draws,
        seed=seed,
        grid=tuple(float(v) for v in grid),
    )
