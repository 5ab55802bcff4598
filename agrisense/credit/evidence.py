"""What the credit engine knows about one plot: plain numbers from geometry, imagery and the ML model."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from agrisense.credit.money import Money, to_money
from agrisense.errors import InvalidInput


def _fraction(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and 0.0 <= value <= 1.0):
        raise InvalidInput(f"{name}={value!r} must be a number between 0 and 1")


@dataclass(frozen=True)
class CreditEvidence:
    """Evidence about one plot for one financing season (validated on construction)."""

    plot_id: str
    farmer_id: str
    declared_crop: str
    crop: str | None  # crop verified by the model; None when the model could not decide
    crop_probability: float  # calibrated probability of ``crop`` (0-1)
    area_ha: float  # measured geodesic area
    declared_area_ha: float | None
    cropland_fraction: float  # share of the plot the model sees as cropland
    clear_fraction: float  # share of the season's periods with a clear observation
    n_clear_periods: int
    imagery_ok: bool
    ndvi_condition_z: float | None  # NDVI-integral z-score against the crop's expected curve
    overlap_fraction: float  # share of the plot overlapping other farmers' plots
    existing_exposure: Money  # outstanding loans of the farmer, in the policy currency (numbers are converted)
    evidence_season: int
    finance_season: int
    model_versions: dict[str, str] = field(default_factory=dict)
    # the model's probability of the *declared* crop given cropland (uncalibrated); None: not known (manual quotes)
    declared_crop_probability: float | None = None

    def __post_init__(self) -> None:
        for name in ("plot_id", "farmer_id", "declared_crop"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise InvalidInput(f"{name} must be a non-empty string")
        if not (isinstance(self.area_ha, int | float) and math.isfinite(self.area_ha) and self.area_ha > 0):
            raise InvalidInput(f"area_ha={self.area_ha!r} must be a positive number of hectares")
        if self.declared_area_ha is not None and not (
            math.isfinite(self.declared_area_ha) and self.declared_area_ha > 0
        ):
            raise InvalidInput(f"declared_area_ha={self.declared_area_ha!r} must be positive, or None if not declared")
        for name in ("crop_probability", "cropland_fraction", "clear_fraction", "overlap_fraction"):
            _fraction(name, getattr(self, name))
        if self.declared_crop_probability is not None:
            _fraction("declared_crop_probability", self.declared_crop_probability)
        if self.n_clear_periods < 0:
            raise InvalidInput(f"n_clear_periods={self.n_clear_periods} must not be negative")
        if self.ndvi_condition_z is not None and not math.isfinite(self.ndvi_condition_z):
            raise InvalidInput(f"ndvi_condition_z={self.ndvi_condition_z} must be a finite number or None")
        exposure = self.existing_exposure
        if isinstance(exposure, bool) or not isinstance(exposure, Decimal | int | float) or not math.isfinite(exposure):
            raise InvalidInput(f"existing_exposure={exposure!r} must be an amount of money")
        object.__setattr__(self, "existing_exposure", to_money(exposure))
        if not self.existing_exposure >= 0:
            raise InvalidInput(f"existing_exposure={self.existing_exposure!r} must be >= 0")
        if not 1900 <= self.evidence_season <= self.finance_season <= 2200:
            raise InvalidInput(
                f"seasons must satisfy evidence_season <= finance_season, got {self.evidence_season}, "
                f"{self.finance_season}"
            )

    @property
    def area_mismatch(self) -> float | None:
        """|declared - measured| / measured, None without a declared area."""
        if self.declared_area_ha is None:
            return None
        return abs(self.declared_area_ha - self.area_ha) / self.area_ha

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
