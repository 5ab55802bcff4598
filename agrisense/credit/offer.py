"""The Offer: the product's one output object (schema in docs/offer-schema.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from agrisense.agronomy.weather import WeatherRisk
from agrisense.agronomy.yields import YieldDistribution
from agrisense.credit.evidence import CreditEvidence
from agrisense.credit.limit import LimitResult
from agrisense.credit.reasons import Reason
from agrisense.credit.schedule import Disbursement, Instalment, cents_to_amount
from agrisense.credit.scorecard import ScoreResult

SCHEMA_VERSION = "1.0"
MU_PER_HA = 15  # 1 ha = 15 mu exactly


@dataclass(frozen=True)
class Fee:
    """A fee charged on the loan."""

    name: str
    rate: float  # share of the limit
    amount_cents: int


@dataclass(frozen=True)
class Offer:
    """A credit decision for one plot, with its evidence, limit, price and schedule."""

    plot_id: str
    farmer_id: str
    crop: str | None  # crop verified by the model (None: not verified)
    assessed_crop: str  # crop the numbers use: the verified crop, else the declared one
    declared_crop: str
    crop_probability: float
    area_ha: float
    credit_limit: Decimal  # offered limit; 0 on decline
    assessed_limit: Decimal  # limit the policy arrived at before the decision
    currency: str
    decision: Literal["approve", "refer", "decline"]
    reasons: tuple[Reason, ...]
    pd: float | None
    score: float | None
    lgd: float
    expected_loss: Decimal
    annual_rate: Decimal | None
    apr: float | None
    fees: tuple[Fee, ...]
    disbursements: tuple[Disbursement, ...]
    schedule: tuple[Instalment, ...]
    yield_distribution: YieldDistribution | None
    weather_risk: WeatherRisk | None
    evidence: CreditEvidence
    evidence_season: int
    finance_season: int
    policy_version: str
    model_versions: dict[str, str] = field(default_factory=dict)
    limit_breakdown: LimitResult | None = field(default=None, repr=False)
    scorecard: ScoreResult | None = field(default=None, repr=False)
    offer_date: date | None = None

    @property
    def area_mu(self) -> float:
        return self.area_ha * MU_PER_HA

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (see docs/offer-schema.md); only JSON types."""
        return {
            "schema_version": SCHEMA_VERSION,
            "plot_id": self.plot_id,
            "farmer_id": self.farmer_id,
            "crop": self.crop,
            "assessed_crop": self.assessed_crop,
            "declared_crop": self.declared_crop,
            "crop_probability": round(self.crop_probability, 4),
            "area_ha": round(self.area_ha, 4),
            "area_mu": round(self.area_mu, 3),
            "credit_limit": float(self.credit_limit.quantize(Decimal("0.01"))),
            "assessed_limit": float(self.assessed_limit.quantize(Decimal("0.01"))),
            "currency": self.currency,
            "decision": self.decision,
            "reasons": [r.to_dict() for r in self.reasons],
            "pd": None if self.pd is None else round(self.pd, 4),
            "score": None if self.score is None else round(self.score, 1),
            "lgd": self.lgd,
            "expected_loss": float(self.expected_loss.quantize(Decimal("0.01"))),
            "annual_rate": None if self.annual_rate is None else float(self.annual_rate),
            "apr": None if self.apr is None else round(self.apr, 4),
            "fees": [{"name": f.name, "rate": f.rate, "amount": cents_to_amount(f.amount_cents)} for f in self.fees],
            "disbursements": [
                {
                    "date": d.date.isoformat(),
                    "amount": cents_to_amount(d.amount_cents),
                    "payee": d.payee,
                    "condition": d.condition,
                }
                for d in self.disbursements
            ],
            "schedule": [
                {
                    "date": i.date.isoformat(),
                    "principal": cents_to_amount(i.principal_cents),
                    "interest": cents_to_amount(i.interest_cents),
                    "fees": cents_to_amount(i.fee_cents),
                    "total": cents_to_amount(i.total_cents),
                }
                for i in self.schedule
            ],
            "yield": None if self.yield_distribution is None else self.yield_distribution.to_dict(),
            "weather_risk": None if self.weather_risk is None else self.weather_risk.to_dict(),
            "limit_breakdown": None if self.limit_breakdown is None else _limit_dict(self.limit_breakdown),
            "scorecard": None if self.scorecard is None else _score_dict(self.scorecard),
            "evidence": self.evidence.to_dict(),
            "evidence_season": self.evidence_season,
            "finance_season": self.finance_season,
            "policy_version": self.policy_version,
            "model_versions": dict(self.model_versions),
            "offer_date": None if self.offer_date is None else self.offer_date.isoformat(),
        }


def _limit_dict(limit: LimitResult) -> dict[str, Any]:
    return {
        "revenue_cap": float(limit.revenue_cap),
        "input_cost_cap": float(limit.input_cost_cap),
        "policy_cap": float(limit.policy_cap),
        "binding_cap": limit.binding_cap,
        "existing_exposure": float(limit.existing_exposure),
        "base": float(limit.base),
        "haircuts": [
            {
                "name": h.name,
                "value": None if h.value is None else round(h.value, 4),
                "factor": round(h.factor, 4),
                "amount": float(h.amount),
            }
            for h in limit.haircuts
        ],
        "limit": float(limit.limit),
    }


def _score_dict(score: ScoreResult) -> dict[str, Any]:
    return {
        "score": round(score.score, 1),
        "logit": round(score.logit, 4),
        "factors": [
            {
                "name": f.name,
                "value": round(f.value, 4),
                "logit": round(f.logit, 4),
                "points": round(f.points, 1),
            }
            for f in score.factors
        ],
    }
