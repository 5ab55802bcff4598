"""The Offer: the product's one output object, a typed pydantic model.

The credit engine returns it, the API declares it as its ``response_model``, the database stores its JSON form, the
dashboard and ``agrisense score --json`` show it. Money is ``Decimal`` (a JSON number with two decimals on the
wire, see ``credit.money``). The JSON Schema is generated into ``docs/offer.schema.json`` (``agrisense schema``).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from agrisense.credit.evidence import CreditEvidence
from agrisense.credit.money import Money, Rate
from agrisense.credit.reasons import Reason, ReasonEffect, ReasonKind
from agrisense.errors import InvalidInput, NotFound

SCHEMA_VERSION: Literal["1.3"] = "1.3"
"""The version of the offer's JSON form; bumped on any change a reader must know about. 1.2 (a minor bump) only
adds optional fields (``location``, ``explanation``): a 1.1 offer still reads. 1.3 (minor) only adds the optional
``weather_risk.seasons`` and ``weather_risk.drought_any_season`` of crops grown in several seasons a year."""

Decision = Literal["approve", "refer", "decline"]

__all__ = [
    "SCHEMA_VERSION",
    "Decision",
    "DecisionChange",
    "Disbursement",
    "Explanation",
    "Fee",
    "Haircut",
    "ImageryEvidence",
    "Instalment",
    "LimitBreakdown",
    "Offer",
    "PointsLine",
    "QuoteLocation",
    "Reason",
    "ReasonEffect",
    "ReasonKind",
    "ScoreFactor",
    "Scorecard",
    "SeasonWeatherSummary",
    "WeatherEvents",
    "WeatherSummary",
    "YieldSummary",
    "offer_json_schema",
    "read_offers",
]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Fee(_Part):
    """A fee charged on the loan; ``rate`` is its share of the limit (``arrangement``: paid with the first
    repayment)."""

    name: str
    rate: float
    amount: Money


class Disbursement(_Part):
    """Money paid out: to the borrower, or to an input supplier on the borrower's behalf. ``condition`` (e.g.
    ``emergence_confirmed``) holds a tranche until the satellite confirms it."""

    date: date
    amount: Money
    payee: str
    condition: str | None = None


class Instalment(_Part):
    """One repayment: principal, interest (simple, actual/365 on drawn principal) and fees due on a date."""

    date: date
    principal: Money
    interest: Money
    fees: Money
    total: Money


class YieldSummary(_Part):
    """The plot's yield distribution (t/ha)."""

    p10: float
    p50: float
    p90: float
    mean: float
    unit: Literal["t/ha"] = "t/ha"


class WeatherEvents(_Part):
    """Annual event probabilities of a crop's (or a season's) weather history and its mean weather yield loss."""

    drought: float
    severe_drought: float
    heat: float
    frost: float
    excess_rain: float
    expected_loss: float


class SeasonWeatherSummary(WeatherEvents):
    """One season of a crop grown in several seasons a year (double rice: early rice, late rice): its own event
    probabilities and mean yield loss (its calendar and thresholds), its share of the year's reference revenue and
    of the year's expected revenue loss."""

    crop: str
    name_zh: str
    name_en: str
    revenue_share: float
    loss_share: float


class WeatherSummary(WeatherEvents):
    """The crop's weather events over ``n_years`` historical seasons. For a crop grown in several seasons a year
    the probabilities and the loss are revenue-weighted over ``seasons`` (what the PD and the drought referral use)
    and ``drought_any_season`` is the share of years with a drought in any season."""

    n_years: int
    first_year: int
    last_year: int
    drought_any_season: float | None = None
    seasons: tuple[SeasonWeatherSummary, ...] = ()


class Haircut(_Part):
    """One multiplicative haircut and the amount it took off the limit (applied in order)."""

    name: str
    value: float | None
    factor: float
    amount: Money


class LimitBreakdown(_Part):
    """How the limit was built, every step in currency units."""

    revenue_cap: Money
    input_cost_cap: Money
    policy_cap: Money
    binding_cap: str
    existing_exposure: Money
    base: Money
    haircuts: tuple[Haircut, ...]
    limit: Money

    def haircut(self, name: str) -> Haircut | None:
        return next((h for h in self.haircuts if h.name == name), None)


class ScoreFactor(_Part):
    name: str
    value: float
    logit: float
    points: float


class Scorecard(_Part):
    """The PD scorecard: points (higher = safer), log-odds and each factor's contribution."""

    score: float
    logit: float
    factors: tuple[ScoreFactor, ...]


class ImageryEvidence(_Part):
    """What the satellite showed (offers scored from imagery): ``status`` ``ok`` or why the plot could not be
    scored, the coverage-weighted NDVI of each clear month (``"3"``..``"11"``), the model's class shares."""

    status: str
    reason: str | None = None
    clear_fraction: float
    n_clear_months: int
    ndvi_by_month: dict[str, float]
    class_probabilities: dict[str, float]
    scenes: int


class PointsLine(_Part):
    """One line of the points that add up to the score: the starting points or one factor (plain-word label)."""

    name: str
    label_zh: str
    label_en: str
    points: float


class DecisionChange(_Part):
    """The single change that would most improve the decision (then the limit), found by re-running the
    assessment: a matching outline, clearer crop evidence, clearer imagery, or a larger area."""

    change: Literal["outline", "crop_evidence", "imagery", "area"]
    decision: Decision
    credit_limit: Money
    area_mu: float | None = None  # the smallest area that reaches the minimum loan (change "area")
    message_zh: str
    message_en: str


class Explanation(_Part):
    """What the farmer reads first: the one main reason, what would change the decision, and the points."""

    main_zh: str
    main_en: str
    change: DecisionChange | None = None
    points: tuple[PointsLine, ...] = Field(default=(), description="Starting points + factors = score.")


class QuoteLocation(_Part):
    """Where a quote was made for: the market and area its crops, prices and policy come from, and what its
    weather risk was computed on."""

    market: str
    area: str
    area_zh: str
    area_en: str
    weather_source: str


class Offer(BaseModel):
    """A credit decision for one plot: evidence, limit, price, decision with reasons, and a seasonal schedule.

    Fields that need a scored plot are ``None`` for a feature whose outline could not be used (decision
    ``refer``, one ``INVALID_GEOMETRY`` / ``INVALID_INPUT`` reason)."""

    model_config = ConfigDict(frozen=True, extra="forbid", serialize_by_alias=True, validate_by_name=True)

    schema_version: Literal["1.1", "1.2", "1.3"] = SCHEMA_VERSION
    plot_id: str
    farmer_id: str | None = None
    crop: str | None = Field(default=None, description="Crop verified by the model; null when not verified.")
    assessed_crop: str | None = Field(default=None, description="Crop the numbers use: crop, else declared_crop.")
    declared_crop: str | None = None
    crop_probability: float | None = Field(default=None, ge=0, le=1)
    area_ha: float | None = Field(default=None, gt=0, description="Measured geodesic area.")
    area_mu: float | None = Field(default=None, gt=0, description="The same area in 亩 (1 ha = 15 亩).")
    credit_limit: Money = Field(description="Limit offered; 0 on decline or below the policy minimum.")
    assessed_limit: Money = Field(description="Limit the policy arrived at, before the decision.")
    currency: str = Field(min_length=3, max_length=3)
    decision: Decision
    reasons: tuple[Reason, ...] = Field(description="Decisive reasons first, then info, then positive.")
    pd: float | None = Field(default=None, ge=0, le=1, description="Probability of default over the loan.")
    score: float | None = None
    lgd: float | None = Field(default=None, ge=0, le=1)
    expected_loss: Money = Field(description="PD x LGD x credit_limit.")
    annual_rate: Rate | None = None
    apr: float | None = Field(default=None, description="Effective annual rate of the dated cash flows incl. fees.")
    fees: tuple[Fee, ...] = ()
    disbursements: tuple[Disbursement, ...] = ()
    schedule: tuple[Instalment, ...] = ()
    yield_: YieldSummary | None = Field(default=None, alias="yield", description="Yield distribution (t/ha).")
    weather_risk: WeatherSummary | None = None
    limit_breakdown: LimitBreakdown | None = None
    scorecard: Scorecard | None = None
    evidence: CreditEvidence | None = None
    evidence_season: int | None = None
    finance_season: int | None = None
    policy_version: str | None = None
    model_versions: dict[str, str] = Field(default_factory=dict)
    offer_date: date | None = None
    imagery: ImageryEvidence | None = None
    geometry: dict[str, Any] | None = Field(default=None, description="The plot outline (GeoJSON, EPSG:4326).")
    location: QuoteLocation | None = Field(default=None, description="Quotes: the market, area and weather used.")
    explanation: Explanation | None = Field(default=None, description="The farmer's explanation (plain words).")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (only JSON types): what the API sends, the database stores and ``offers.json`` holds."""
        return self.model_dump(mode="json")

    def with_scoring(self, imagery: ImageryEvidence, geometry: dict[str, Any]) -> Offer:
        """This offer with the imagery evidence and the outline it was scored on."""
        return self.model_copy(update={"imagery": imagery, "geometry": geometry})


_OFFERS = TypeAdapter(list[Offer])


def offer_json_schema() -> dict[str, Any]:
    """The JSON Schema of one offer as it is sent and stored (serialization mode)."""
    schema = Offer.model_json_schema(mode="serialization")
    schema["$id"] = f"https://agrisense.example/schemas/offer-{SCHEMA_VERSION}.json"
    return schema


def read_offers(path: Path) -> list[Offer]:
    """Offers from a JSON file holding a list of offers (``offers.json`` of ``agrisense demo`` / ``score``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotFound(f"offers file {path} does not exist; write one with `agrisense demo` or `score --out`") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"offers file {path} is not valid JSON ({exc})") from exc
    if not isinstance(data, list):
        raise InvalidInput(f"offers file {path} must hold a JSON list of offers")
    try:
        return _OFFERS.validate_python(data)
    except ValueError as exc:
        raise InvalidInput(f"offers file {path} does not match offer schema {SCHEMA_VERSION}: {exc}") from exc
