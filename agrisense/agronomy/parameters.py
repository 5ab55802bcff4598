"""Every tunable number of the agronomy models, in one place (see docs/credit-model.md).

These are documented planning assumptions, to be calibrated later on real yield series. Pass a modified copy
(``dataclasses.replace``) to the model functions instead of editing the defaults in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WeatherRiskParameters:
    """Event definitions and damage functions of :func:`agrisense.agronomy.weather.weather_risk`."""

    min_years: int = 30
    # Drought: SPI of precipitation totals (gamma fit over the years) in two windows around flowering.
    spi_short_days: tuple[int, int] = (-15, 15)  # ~1-month total centred on flowering
    spi_long_days: tuple[int, int] = (-60, 30)  # ~3-month total: late vegetative + reproductive
    spi_moderate: float = -1.0
    spi_severe: float = -1.5
    loss_drought_moderate: float = 0.20
    loss_drought_severe: float = 0.40
    # Heat: days with Tmax >= the crop's threshold within flowering +/- heat_window_days.
    heat_window_days: int = 10
    heat_threshold_c: dict[str, float] = field(
        default_factory=lambda: {"maize": 35.0, "sorghum": 38.0, "groundnut": 36.0, "beans": 32.0}
    )
    default_heat_threshold_c: float = 35.0
    loss_per_heat_day: float = 0.02
    max_heat_loss: float = 0.30
    # Frost: days with Tmin <= frost_c between emergence and maturity; for winter crops (which overwinter hardened,
    # so winter frost is normal) only from heat_window_days before flowering to maturity (late spring frost).
    frost_c: float = 0.0
    winter_crops: frozenset[str] = frozenset({"wheat", "rapeseed"})
    loss_per_frost_day: float = 0.05
    max_frost_loss: float = 0.40
    # Excess rain: harvest-window rain above the years' quantile (and above a floor that matters at all).
    excess_rain_quantile: float = 0.90
    excess_rain_floor_mm: float = 50.0
    loss_excess_rain: float = 0.10

    def heat_threshold(self, crop: str) -> float:
        """Tmax (deg C) at or above which a day around flowering counts as a heat day for ``crop``."""
        return self.heat_threshold_c.get(crop, self.default_heat_threshold_c)


@dataclass(frozen=True)
class YieldModelParameters:
    """Parameters of :func:`agrisense.agronomy.yields.yield_distribution`."""

    condition_slope: float = 0.08  # yield factor per unit of NDVI-integral z-score
    condition_min: float = 0.5
    condition_max: float = 1.3
    min_noise_cv: float = 0.05  # farm noise kept even where the weather term alone reaches the crop's yield_cv
    quantile_step: float = 0.005  # resolution of the stored quantile grid


DEFAULT_WEATHER_PARAMETERS = WeatherRiskParameters()
DEFAULT_YIELD_PARAMETERS = YieldModelParameters()
