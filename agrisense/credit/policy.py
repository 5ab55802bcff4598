"""The versioned credit policy (YAML) as a validated, frozen object."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agrisense.agronomy.calendar import CropReference, load_crop_table
from agrisense.credit.pricing import cap_coverage
from agrisense.errors import PolicyError
from agrisense.resources import resource_path
from agrisense.yamlfile import describe, read_yaml

Fraction = Field(ge=0.0, le=1.0)
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Ramp(_Frozen):
    """A haircut ramp: 1.0 at ``good`` or better, ``floor`` at ``bad`` or worse, linear between."""

    good: float
    bad: float
    floor: float = Fraction

    @model_validator(mode="after")
    def _distinct(self) -> Ramp:
        if self.good == self.bad:
            raise ValueError("good and bad must differ")
        return self

    def factor(self, value: float) -> float:
        """Multiplier in [floor, 1] for ``value``."""
        position = (value - self.bad) / (self.good - self.bad)  # 1 at good, 0 at bad, either direction
        position = min(1.0, max(0.0, position))
        return self.floor + (1.0 - self.floor) * position


class Limits(_Frozen):
    max_per_farmer: float = Field(gt=0)
    max_per_ha: float = Field(gt=0)
    min_limit: float = Field(ge=0)
    rounding_step: float = Field(gt=0)
    yield_quantile: float = Field(gt=0.0, lt=1.0)
    advance_rate: float = Field(gt=0.0, le=1.0)
    input_cost_cap_multiplier: float = Field(gt=0)
    no_weather_haircut: float = Fraction


class Haircuts(_Frozen):
    # Crop confidence is no haircut (policy 2026.3): it enters the decision once, as the LOW_CROP_CONFIDENCE
    # referral (thresholds.min_crop_probability); see docs/credit-model.md.
    clear_fraction: Ramp
    yield_spread: Ramp
    weather_expected_loss: Ramp
    area_mismatch: Ramp
    overlap_fraction: Ramp
    cropland_fraction: Ramp


SCORECARD_FEATURES = (  # no crop-confidence term: see Haircuts
    "cloud_gap",
    "yield_spread",
    "weather_expected_loss",
    "drought_probability",
    "area_mismatch",
    "overlap_fraction",
    "non_cropland",
    "condition_deficit",
    "no_condition_evidence",
    "leverage",
)


class Scorecard(_Frozen):
    intercept: float
    base_score: float
    base_odds: float = Field(gt=0)
    pdo: float = Field(gt=0)
    missing_weather_expected_loss: float = Fraction
    missing_drought_probability: float = Fraction
    coefficients: dict[str, float]

    @model_validator(mode="after")
    def _known_features(self) -> Scorecard:
        unknown = sorted(set(self.coefficients) - set(SCORECARD_FEATURES))
        missing = sorted(set(SCORECARD_FEATURES) - set(self.coefficients))
        if unknown or missing:
            raise ValueError(f"coefficients: unknown {unknown}, missing {missing}; allowed {SCORECARD_FEATURES}")
        return self


class Pricing(_Frozen):
    lgd: float = Fraction
    funding_cost: float = Field(ge=0)
    operating_cost: float = Field(ge=0)
    margin: float = Field(ge=0)
    apr_cap: float = Field(gt=0, le=1.0)
    arrangement_fee: float = Field(ge=0, lt=0.2)
    uncovered_price_action: Literal["decline", "refer"]


class Thresholds(_Frozen):
    min_crop_probability: float = Fraction  # below: LOW_CROP_CONFIDENCE, refer
    min_clear_fraction: float = Fraction
    min_clear_periods: int = Field(ge=0)
    min_cropland_fraction: float = Fraction
    not_cropland_action: Literal["decline", "refer"]
    max_area_mismatch: float = Field(ge=0)
    max_overlap: float = Fraction
    max_drought_probability: float = Fraction
    pd_approve: Probability | dict[str, Probability]  # one PD for every crop, or one per financed crop
    pd_refer: Probability | dict[str, Probability]  # above: decline (refer with an imagery gap); the same forms
    # A satellite crop other than the declared one, at or above this calibrated probability: the declaration is
    # contradicted, DECLARED_CROP_CONTRADICTED declines (below it DECLARED_CROP_MISMATCH refers). None: always refer.
    mismatch_decline_probability: Probability | None = None
    # The declared crop's own probability (given cropland, from the crop model) below this: the satellite rules the
    # declared crop out, DECLARED_CROP_RULED_OUT declines. None: no such rule.
    mismatch_decline_declared_below: Probability | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        decline = self.mismatch_decline_probability
        if decline is not None and decline < self.min_crop_probability:
            raise ValueError(
                f"mismatch_decline_probability {decline} must be >= min_crop_probability {self.min_crop_probability}: "
                "a crop the model is not sure of cannot contradict the declaration"
            )
        ruled_out = self.mismatch_decline_declared_below
        if ruled_out is not None and ruled_out >= self.min_crop_probability:
            raise ValueError(
                f"mismatch_decline_declared_below {ruled_out} must be < min_crop_probability "
                f"{self.min_crop_probability}: a declared crop that likely cannot be ruled out"
            )
        crops = {*_per_crop(self.pd_approve), *_per_crop(self.pd_refer)} or {""}
        both = [c for c in crops if _has(self.pd_approve, c) and _has(self.pd_refer, c)]  # others: Policy's check
        low = sorted(c for c in both if _for(self.pd_refer, c) < _for(self.pd_approve, c))
        if low:
            raise ValueError("pd_refer must be >= pd_approve" + (f" (not for {', '.join(low)})" if low[0] else ""))
        return self

    def pd_approve_for(self, crop: str) -> float:
        """The PD at or below which a plot of ``crop`` may auto-approve."""
        return _for(self.pd_approve, crop)

    def pd_refer_for(self, crop: str) -> float:
        """The PD above which a plot of ``crop`` declines (between the two: refer)."""
        return _for(self.pd_refer, crop)


def _per_crop(value: float | dict[str, float]) -> list[str]:
    return list(value) if isinstance(value, dict) else []


def _has(value: float | dict[str, float], crop: str) -> bool:
    return not isinstance(value, dict) or crop in value


def _for(value: float | dict[str, float], crop: str) -> float:
    """A threshold given as one number or one per crop, for ``crop``."""
    return value[crop] if isinstance(value, dict) else value


class Tranche(_Frozen):
    share: float = Field(gt=0.0, le=1.0)
    event: Literal["sowing", "emergence", "flowering"]
    offset_days: int = Field(ge=-60, le=60)
    condition: str | None = None
    to_input_supplier: bool = False


class ScheduleRules(_Frozen):
    repayment_window_days: int = Field(ge=0, le=365)
    tranches: tuple[Tranche, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _shares(self) -> ScheduleRules:
        if abs(sum(t.share for t in self.tranches) - 1.0) > 1e-9:
            raise ValueError("tranche shares must sum to 1")
        return self


class Monitoring(_Frozen):
    """In-season early-warning thresholds (``agrisense.credit.monitoring``). Defaults apply to policies
    written before the section existed (version 2026.1)."""

    min_clear_observations: int = Field(default=2, ge=0)  # fewer clear looks since sowing: no imagery verdict
    crop_failure_z: float = -2.0  # condition z at or below: CROP_FAILURE (freeze + review)
    poor_condition_z: float = -1.0  # condition z at or below: CONDITION_POOR (review)
    good_condition_z: float = 1.0  # condition z at or above, no warning: limit increase may be offered
    limit_increase: float = Field(default=0.0, ge=0.0, le=1.0)  # share of the limit; 0 = never increase
    drought_spi: float = -1.0  # season-to-date SPI at or below: DROUGHT_SO_FAR (review)
    severe_drought_spi: float = -1.5  # at or below: severe, also freeze the undisbursed tranches
    emergence_grace_days: int = Field(default=15, ge=0)  # after the expected emergence date: NO_EMERGENCE
    early_harvest_days: int = Field(default=20, ge=0)  # harvest seen this many days before maturity: EARLY_HARVEST

    @model_validator(mode="after")
    def _ordered(self) -> Monitoring:
        if not self.crop_failure_z <= self.poor_condition_z < self.good_condition_z:
            raise ValueError("need crop_failure_z <= poor_condition_z < good_condition_z")
        if self.severe_drought_spi > self.drought_spi:
            raise ValueError("severe_drought_spi must be <= drought_spi")
        return self


class LoanRules(_Frozen):
    """Rules for overrides and booked loans (``lending.overrides``, ``loans.servicing``). Defaults apply to
    policies written before the section existed."""

    second_approval_above: float = Field(default=10000, gt=0)  # change_limit above this: a second analyst approves
    default_after_days: int = Field(default=90, ge=1, le=3650)  # days an instalment is past due before default


class Policy(_Frozen):
    """A credit policy: every number the credit engine uses, with its version."""

    version: str = Field(min_length=1)
    currency: str = Field(min_length=3, max_length=3)
    financed_crops: tuple[str, ...] = Field(min_length=1)
    limits: Limits
    haircuts: Haircuts
    scorecard: Scorecard
    pricing: Pricing
    thresholds: Thresholds
    schedule: ScheduleRules
    monitoring: Monitoring = Monitoring()
    loans: LoanRules = LoanRules()

    @model_validator(mode="after")
    def _pd_thresholds_per_financed_crop(self) -> Policy:
        for key in ("pd_approve", "pd_refer"):
            per_crop = getattr(self.thresholds, key)
            if isinstance(per_crop, dict):
                missing = sorted(set(self.financed_crops) - set(per_crop))
                unknown = sorted(set(per_crop) - set(self.financed_crops))
                if missing or unknown:
                    raise ValueError(
                        f"thresholds.{key} per crop: missing {missing}, not financed {unknown}; "
                        f"give one value for each of financed_crops {list(self.financed_crops)}"
                    )
        return self


def check_price_cap(policy: Policy, crops: Mapping[str, CropReference], source: str = "policy") -> None:
    """Refuse a policy whose approval PD is above what its price cap can cover for some crop.

    For each financed crop of the table: its seasonal loan (tranches and repayment window of the policy on the
    crop calendar) priced at the highest rate the APR cap allows must cover funding and expected loss, fee counted,
    at ``pd_approve`` (``agrisense.credit.pricing.max_coverable_pd``). Otherwise PRICE_CANNOT_COVER_RISK, not
    the PD rule, would be the real approval threshold. Financed crops missing from the table are declined by the
    engine (CROP_NOT_FINANCED) and not checked here."""
    p = policy.pricing
    problems = []
    for crop in policy.financed_crops:
        if crop not in crops:
            continue
        cover = cap_coverage(crop, crops[crop], policy)
        approve = policy.thresholds.pd_approve_for(crop)
        if approve > cover.max_pd:
            problems.append(
                f"{crop}: pd_approve {approve:.2%} > {cover.max_pd:.2%}, the largest PD the {p.apr_cap:.0%} APR cap "
                f"covers (highest rate {float(cover.terms.ceiling):.2%} a year over the crop's loan life "
                f"{cover.terms.average_life_years:.3f} y, funding {p.funding_cost:.1%}, LGD {p.lgd:.0%}, "
                f"fee {cover.terms.fee_share:.2%})"
            )
    if problems:
        raise PolicyError(
            f"{source}: inconsistent policy {policy.version}: the price cap cannot cover the approval PD: "
            + "; ".join(problems)
            + "; lower thresholds.pd_approve (one value, or one per crop) to at most these PDs, or change the cap, "
            "funding cost, LGD or fee"
        )


def _bundled_crops() -> Mapping[str, CropReference]:
    return load_crop_table(resource_path("reference") / "crops.csv")


def parse_policy(data: object, source: str = "policy", crops: Mapping[str, CropReference] | None = None) -> Policy:
    """Validate a policy mapping; a PolicyError names each bad key. With ``crops`` (the crop table) it also
    refuses an approval PD the price cap cannot cover (:func:`check_price_cap`)."""
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: the policy must be a YAML mapping of keys, got {type(data).__name__}")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"{source}: invalid policy: {describe(exc)}") from exc
    if crops is not None:
        check_price_cap(policy, crops, source)
    return policy


def load_policy(path: Path | str, crops: Mapping[str, CropReference] | None = None) -> Policy:
    """Read and validate a policy YAML file, checked against the crop table ``crops`` (default: the bundled
    ``reference/crops.csv``): a policy whose approval PD its price cap cannot cover is refused."""
    path = Path(path)
    hint = "see agrisense/credit/policies/default.yaml"
    data = read_yaml(path, what="policy file", hint=hint, error=PolicyError)
    return parse_policy(data, source=str(path), crops=_bundled_crops() if crops is None else crops)
