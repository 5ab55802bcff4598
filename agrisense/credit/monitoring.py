"""In-season monitoring of an active loan: early warnings and policy actions from new evidence.

Pure rules over a :class:`Loan` (built from an Offer JSON) and :class:`SeasonEvidence`; every threshold is in
the policy's ``monitoring`` section (docs/credit-model.md, "Monitoring").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from agrisense.agronomy.calendar import CropReference, crop_calendar
from agrisense.credit.policy import Policy
from agrisense.errors import InvalidInput

Severity = Literal["watch", "alert"]
Status = Literal["ok", "watch", "alert"]
ActionCode = Literal["freeze_undisbursed", "analyst_review", "increase_limit"]

# code -> (severity, message_en, message_zh)
WARNINGS: dict[str, tuple[Severity, str, str]] = {
    "INSUFFICIENT_IMAGERY": (
        "watch",
        "Only {n} clear observation(s) since sowing; the crop cannot be checked yet.",
        "播种以来仅有 {n} 次晴空观测，暂无法核查作物。",
    ),
    "CROP_FAILURE": (
        "alert",
        "Crop condition z-score {z:.1f} indicates crop failure.",
        "作物长势 z 值 {z:.1f}，显示作物可能绝收。",
    ),
    "CONDITION_POOR": (
        "watch",
        "Crop condition z-score {z:.1f} is well below normal.",
        "作物长势 z 值 {z:.1f}，明显低于正常水平。",
    ),
    "DROUGHT_SO_FAR": (
        "watch",
        "Season-to-date rainfall is dry (SPI {spi:.1f}).",
        "本季迄今降水偏少（SPI {spi:.1f}）。",
    ),
    "SEVERE_DROUGHT_SO_FAR": (
        "alert",
        "Season-to-date rainfall is severely dry (SPI {spi:.1f}).",
        "本季迄今严重干旱（SPI {spi:.1f}）。",
    ),
    "NO_EMERGENCE": (
        "alert",
        "No emergence detected {days} days after the expected date {expected}.",
        "预计出苗日 {expected} 后 {days} 天仍未监测到出苗。",
    ),
    "EARLY_HARVEST": (
        "alert",
        "Harvest detected on {seen}, {days} days before expected maturity.",
        "{seen} 监测到收获，比预计成熟期早 {days} 天。",
    ),
}


@dataclass(frozen=True)
class Tranche:
    date: date
    amount: float
    condition: str | None


@dataclass(frozen=True)
class Loan:
    """An active seasonal loan as monitoring sees it."""

    plot_id: str
    crop: str
    area_ha: float
    limit: float
    disbursements: tuple[Tranche, ...]
    sow_date: date
    expected_emergence: date
    expected_maturity: date

    @classmethod
    def from_offer(cls, offer: Mapping[str, Any], crops: Mapping[str, CropReference]) -> Loan:
        """From an ``Offer.to_dict()`` mapping with a loan (limit > 0); dates from the crop's calendar."""
        try:
            crop = str(offer["assessed_crop"])
            limit = float(offer["credit_limit"])
            tranches = tuple(
                Tranche(date.fromisoformat(d["date"]), float(d["amount"]), d.get("condition"))
                for d in offer["disbursements"]
            )
            season, plot_id, area = int(offer["finance_season"]), str(offer["plot_id"]), float(offer["area_ha"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"not an Offer JSON object with a loan (missing or bad {exc})") from exc
        if limit <= 0 or not tranches:
            raise InvalidInput(f"offer {plot_id} carries no loan (limit {limit}); nothing to monitor")
        if crop not in crops:
            raise InvalidInput(f"offer {plot_id}: crop {crop!r} is not in the crop table")
        cal = crop_calendar(crops[crop], season)
        return cls(plot_id, crop, area, limit, tranches, cal.sow_date, cal.emergence_date, cal.maturity_date)


@dataclass(frozen=True)
class SeasonEvidence:
    """What imagery and weather say about the season so far."""

    as_of: date
    condition_z: float | None  # NDVI-integral z-score to date; None: not computed
    clear_observations: int  # clear observations of the plot since sowing
    emergence_detected: date | None  # date emergence was seen; None: not seen (yet)
    spi_to_date: float | None  # SPI of the rain since sowing (agronomy.weather.spi); None: unknown
    harvest_detected: date | None = None

    def __post_init__(self) -> None:
        if self.clear_observations < 0:
            raise InvalidInput(f"clear_observations={self.clear_observations} must not be negative")
        for name in ("condition_z", "spi_to_date"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise InvalidInput(f"{name}={value} must be a finite number or None")
        for name in ("emergence_detected", "harvest_detected"):
            seen = getattr(self, name)
            if seen is not None and seen > self.as_of:
                raise InvalidInput(f"{name} {seen} is after as_of {self.as_of}; evidence cannot come from the future")


@dataclass(frozen=True)
class EarlyWarning:
    code: str
    severity: Severity
    message_en: str
    message_zh: str


@dataclass(frozen=True)
class Action:
    code: ActionCode
    amount: float | None = None  # frozen amount, or the proposed increase
    tranche_dates: tuple[date, ...] = ()  # tranches frozen


@dataclass(frozen=True)
class MonitoringResult:
    plot_id: str
    as_of: date
    status: Status
    warnings: tuple[EarlyWarning, ...]
    actions: tuple[Action, ...]
    policy_version: str
    emergence_detected: date | None = None  # the emergence the rules read (releases emergence_confirmed tranches)

    def to_dict(self) -> dict[str, Any]:
        return {
            "plot_id": self.plot_id,
            "as_of": self.as_of.isoformat(),
            "status": self.status,
            "warnings": [w.__dict__ for w in self.warnings],
            "actions": [
                {"code": a.code, "amount": a.amount, "tranche_dates": [d.isoformat() for d in a.tranche_dates]}
                for a in self.actions
            ],
            "policy_version": self.policy_version,
            "emergence_detected": self.emergence_detected.isoformat() if self.emergence_detected else None,
        }


def _warning(code: str, **values: Any) -> EarlyWarning:
    severity, en, zh = WARNINGS[code]
    return EarlyWarning(code, severity, en.format(**values), zh.format(**values))


def monitor(loan: Loan, evidence: SeasonEvidence, policy: Policy) -> MonitoringResult:
    """Early warnings and actions for ``loan`` given the season's evidence to ``evidence.as_of``."""
    m = policy.monitoring
    warnings: list[EarlyWarning] = []
    freeze_all = False
    freeze_emergence = False
    seen_enough = evidence.clear_observations >= m.min_clear_observations
    z = evidence.condition_z

    if evidence.as_of >= loan.sow_date and not seen_enough:
        warnings.append(_warning("INSUFFICIENT_IMAGERY", n=evidence.clear_observations))
    if seen_enough and z is not None:
        if z <= m.crop_failure_z:
            warnings.append(_warning("CROP_FAILURE", z=z))
            freeze_all = True
        elif z <= m.poor_condition_z:
            warnings.append(_warning("CONDITION_POOR", z=z))
    spi = evidence.spi_to_date
    if spi is not None and spi <= m.severe_drought_spi:
        warnings.append(_warning("SEVERE_DROUGHT_SO_FAR", spi=spi))
        freeze_all = True
    elif spi is not None and spi <= m.drought_spi:
        warnings.append(_warning("DROUGHT_SO_FAR", spi=spi))
    deadline = loan.expected_emergence + timedelta(days=m.emergence_grace_days)
    if evidence.emergence_detected is None and evidence.as_of > deadline and seen_enough:
        late = (evidence.as_of - loan.expected_emergence).days
        warnings.append(_warning("NO_EMERGENCE", days=late, expected=loan.expected_emergence.isoformat()))
        freeze_emergence = True
    seen = evidence.harvest_detected
    if seen is not None and seen < loan.expected_maturity - timedelta(days=m.early_harvest_days):
        warnings.append(_warning("EARLY_HARVEST", seen=seen.isoformat(), days=(loan.expected_maturity - seen).days))
        freeze_all = True

    actions: list[Action] = []
    pending = [t for t in loan.disbursements if t.date > evidence.as_of]
    frozen = (
        pending
        if freeze_all
        else [t for t in pending if t.condition == "emergence_confirmed"]
        if freeze_emergence
        else []
    )
    if frozen:
        actions.append(
            Action("freeze_undisbursed", round(sum(t.amount for t in frozen), 2), tuple(t.date for t in frozen))
        )
    if any(w.severity == "alert" or w.code in ("CONDITION_POOR", "DROUGHT_SO_FAR") for w in warnings):
        actions.append(Action("analyst_review"))
    if not warnings and z is not None and z >= m.good_condition_z and m.limit_increase > 0 and seen_enough:
        cap = min(policy.limits.max_per_farmer, policy.limits.max_per_ha * loan.area_ha)
        step = Decimal(str(policy.limits.rounding_step))
        wanted = min(Decimal(str(loan.limit)) * Decimal(str(m.limit_increase)), Decimal(str(cap - loan.limit)))
        increase = (wanted / step).to_integral_value(rounding=ROUND_DOWN) * step
        if increase > 0:
            actions.append(Action("increase_limit", float(increase)))
    status: Status = "alert" if any(w.severity == "alert" for w in warnings) else "watch" if warnings else "ok"
    return MonitoringResult(
        loan.plot_id,
        evidence.as_of,
        status,
        tuple(warnings),
        tuple(actions),
        policy.version,
        evidence.emergence_detected,
    )
