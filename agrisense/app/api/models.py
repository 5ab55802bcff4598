"""Response models of the API: what every JSON route sends, declared as its ``response_model``.

The lending service functions return plain dicts (``agrisense.lending``); these models describe those dicts as they
really are, so that OpenAPI documents them and FastAPI checks every response against them (a mismatch is a 500 in
the tests, never a silent drift). Offers are the product's own model, :class:`agrisense.credit.offer.Offer`.
Money is :data:`agrisense.credit.money.Money` (``Decimal`` in code, a JSON number on the wire).

Errors have one body, :class:`ErrorBody`, whichever layer sends it (``errors.py`` handlers, the size and rate limit
middleware, the request log's 500); :func:`error_responses` documents the statuses a route can return with it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agrisense.app.api.schemas import MultiPolygonGeometry, PolygonGeometry, Token
from agrisense.credit.money import Money
from agrisense.credit.offer import Decision, Offer

__all__ = [
    "AccountView",
    "ApplicationOffer",
    "ApplicationPlot",
    "ApplicationView",
    "AuditEntryView",
    "ConsentRecord",
    "ConsentSummary",
    "ConsentWithdrawal",
    "ErrorBody",
    "Export",
    "ExportAccount",
    "FieldError",
    "Health",
    "LoanDue",
    "LoanPostingView",
    "LoanTranche",
    "LoanView",
    "OutlineFeature",
    "OutlineProperties",
    "PlotView",
    "PortfolioRow",
    "ReviewQueueItem",
    "Token",
    "WarningView",
    "error_responses",
]

Timestamp = Annotated[str, Field(description="ISO 8601 timestamp (UTC).", examples=["2026-04-01T08:30:00+00:00"])]
Role = Literal["farmer", "analyst", "admin"]
ApplicationStatus = Literal["offered", "in_review", "declined", "accepted", "withdrawn"]
PlotGeometry = Annotated[PolygonGeometry | MultiPolygonGeometry, Field(discriminator="type")]


class _View(BaseModel):
    """A view dict of the lending service: exactly these keys (a new key must be added here, or it is a 500)."""

    model_config = ConfigDict(extra="forbid")


# --- errors -------------------------------------------------------------------------------------------------------


class FieldError(_View):
    field: str = Field(description="The invalid field, dotted (``geometry.coordinates.0``); ``request`` if none.")
    message: str


class ErrorBody(_View):
    """Every error response: a stable message code with its parameters, the message in the request's language
    (``Accept-Language``: zh-CN, else English), the English detail and the error class."""

    code: str = Field(
        description="Stable message code (agrisense.app.api.messages.MESSAGES), e.g. AREA_TOO_LARGE.",
        examples=["AREA_TOO_LARGE"],
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The values the message names.",
        examples=[{"area_ha": 1520.3, "max_ha": 1000}],
    )
    message: str = Field(description="The code's message in the negotiated language (see Content-Language).")
    detail: str = Field(description="What went wrong and what to do about it (English).")
    error: str = Field(
        description="The error class: InvalidInput, InvalidGeometry, NotFound, AuthenticationFailed, Forbidden, "
        "Conflict, RateLimited, RequestTooLarge, ImageryUnavailable, ModelUnavailable, WeatherUnavailable, "
        "PolicyError, InternalError, ...",
        examples=["InvalidInput"],
    )
    errors: list[FieldError] = Field(
        default_factory=list, description="Request validation errors (422) only: one entry per invalid field."
    )
    request_id: str = Field(default="", description="Internal errors (500) only: quote it when reporting the error.")


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The request body could not be parsed (not JSON, or not form data, in UTF-8); or (tiles) no such tile.",
    401: "Not signed in, or the session expired: log in again (`WWW-Authenticate: Bearer`).",
    403: "Signed in, but this role may not do this.",
    404: "Not found (also another farmer's object: existence is not revealed).",
    409: "Conflicts with the current state (e.g. the plot is in an open application).",
    413: "The request body is larger than the service accepts.",
    422: "The request is not valid: `errors` names the fields of a schema violation.",
    429: "Too many requests: wait `Retry-After` seconds.",
    500: "An internal error; `request_id` identifies it in the service's log.",
    503: "A model, weather history or credit policy the service needs is unavailable.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Always `Bearer`.", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait before the next request.", "schema": {"type": "integer"}}},
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each with the :class:`ErrorBody` schema."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[code]}
        if code in _HEADERS:
            entry["headers"] = _HEADERS[code]
        responses[code] = entry
    return responses


# --- accounts -----------------------------------------------------------------------------------------------------


class AccountView(_View):
    """An account (``POST /auth/register``, ``GET /auth/me``)."""

    id: int
    name: str
    role: Role


# --- plots --------------------------------------------------------------------------------------------------------


class PlotView(_View):
    """A farmer's plot as drawn (GeoJSON in EPSG:4326) with its measured geodesic area."""

    id: int
    ref: str = Field(description="The plot's stable reference (the offers' ``plot_id``).")
    name: str | None
    village: str | None
    declared_crop: str | None
    declared_area_ha: float | None
    area_ha: float = Field(description="Measured geodesic area, ha.")
    area_mu: float = Field(description="The same area in 亩 (1 ha = 15 亩).")
    geometry: PlotGeometry
    created_at: Timestamp
    updated_at: Timestamp


class OutlineProperties(_View):
    area_ha: float
    area_mu: float
    crop: str = Field(description="The crop the model sees in the field.")
    crop_probability: float = Field(ge=0, le=1)
    cropland_fraction: float = Field(ge=0, le=1)
    n_pixels: int = Field(description="10 m pixels in the detected field.")
    model_version: str


class OutlineFeature(_View):
    """A suggested field outline: a GeoJSON Feature (Polygon, EPSG:4326) and what the model sees in it."""

    type: Literal["Feature"]
    geometry: PolygonGeometry
    properties: OutlineProperties


# --- applications -------------------------------------------------------------------------------------------------


class ApplicationPlot(_View):
    id: int
    ref: str
    declared_crop: str | None
    area_ha: float
    geometry: PlotGeometry


class ApplicationOffer(_View):
    """The application's offer: the engine's decision, the approved limit and one :class:`Offer` per plot."""

    decision: Decision
    credit_limit: Money
    currency: str
    offers: list[Offer]


class ConsentSummary(_View):
    id: int
    terms_version: str
    language: str = Field(examples=["zh-CN", "en"], description="The language of the statement the farmer read.")
    granted_at: Timestamp | None
    withdrawn_at: Timestamp | None


class AuditEntryView(_View):
    """One entry of the append-only audit log (a decision, override, consent, acceptance or deletion)."""

    id: int
    at: Timestamp | None
    actor_id: int | None = Field(description="The acting user; null for the engine (``actor_role`` system).")
    actor_role: str = Field(examples=["system", "farmer", "analyst", "admin"])
    action: str = Field(examples=["consent", "engine_decision", "approve", "decline", "change_limit", "accept"])
    application_id: int | None
    subject_user_id: int | None
    reason: str | None
    details: dict[str, Any]


class PendingOverride(_View):
    """An analyst's ``change_limit`` above the policy's threshold, waiting for a second analyst (four-eyes)."""

    id: int
    new_limit: Money
    threshold: Money = Field(description="The policy's ``loans.second_approval_above`` when it was requested.")
    requested_by: int = Field(description="User id of the analyst who asked for it (who cannot approve it).")
    reason: str
    created_at: Timestamp | None


class ApplicationView(_View):
    """A credit application: its plots, the offer, consent and every decision (API, dashboard and CLI alike)."""

    id: int
    farmer_id: int
    farmer_name: str | None
    status: ApplicationStatus
    engine_decision: Decision
    credit_limit: Money = Field(description="The limit on offer (0 unless offered or accepted).")
    proposed_limit: Money = Field(description="Sum of the non-declined plots' limits (an analyst's default).")
    currency: str
    crop: str | None
    area_ha: float
    finance_season: int | None
    plots: list[ApplicationPlot]
    offer: ApplicationOffer
    consent: ConsentSummary | None
    decisions: list[AuditEntryView]
    pending_override: PendingOverride | None = Field(
        default=None, description="An override waiting for a second analyst's approval (nothing changed yet)."
    )
    created_at: Timestamp | None
    updated_at: Timestamp | None
    accepted_at: Timestamp | None


class OverrideView(_View):
    """An override request (four-eyes): pending until an analyst other than the one who asked decides it."""

    id: int
    application_id: int
    farmer_id: int
    farmer_name: str | None
    application_status: ApplicationStatus
    crop: str | None
    area_ha: float
    currency: str
    current_limit: Money = Field(description="The application's limit on offer now (unchanged while pending).")
    proposed_limit: Money
    new_limit: Money
    threshold: Money = Field(description="The policy's ``loans.second_approval_above`` when it was requested.")
    policy_version: str
    reason: str
    requested_by: int
    requested_by_name: str | None
    status: Literal["pending", "approved", "rejected"]
    decided_by: int | None
    decided_by_name: str | None
    decision_reason: str | None
    created_at: Timestamp | None
    decided_at: Timestamp | None


class ReviewQueueItem(_View):
    """An application in the analysts' queue, with the engine's decision and its decisive reason codes."""

    id: int
    farmer_id: int
    farmer_name: str
    plots: list[str] = Field(description="Plot references.")
    crop: str | None
    area_ha: float
    engine_decision: Decision
    credit_limit: Money
    proposed_limit: Money
    currency: str
    reasons: list[str] = Field(description="Decisive reason codes (decline and refer) of the plots' offers.")
    pd: float | None = Field(
        default=None, ge=0, le=1, description="Highest probability of default among the offers (null: none has one)."
    )
    age_hours: float
    status: ApplicationStatus
    created_at: Timestamp | None


# --- loans --------------------------------------------------------------------------------------------------------

LoanState = Literal["accepted", "disbursed", "repaid", "overdue", "defaulted", "written_off"]
Day = Annotated[str, Field(description="ISO 8601 date.", examples=["2027-04-15"])]


class LoanTranche(_View):
    """A planned disbursement of the loan; ``index`` is what a disbursement posting names."""

    index: int
    date: Day
    amount: Money
    payee: str = Field(description="``borrower`` or the named input supplier.")
    condition: str | None
    disbursed: bool
    status: Literal["disbursed", "frozen", "awaiting_emergence", "available"] = Field(
        description="Paid out; frozen by in-season monitoring; waiting for monitoring to confirm emergence (its "
        "condition); or free to pay out."
    )
    status_reason: str | None


class LoanDue(_View):
    """A payment still to make (remaining schedule)."""

    date: Day
    principal: Money
    interest: Money
    fees: Money
    total: Money


class LoanPostingView(_View):
    """One money movement booked on the loan."""

    id: int
    client_key: str
    kind: Literal["disbursement", "repayment"]
    tranche: int | None
    date: Day
    amount: Money
    payee: str | None
    created_at: Timestamp


class LoanView(_View):
    """A booked loan as of ``as_of``: balance, next due date and amount, remaining schedule and postings."""

    id: int
    application_id: int
    farmer_id: int
    state: LoanState
    finance_season: int | None = Field(description="The season the loan finances (the accepted offers').")
    currency: str
    credit_limit: Money
    annual_rate: float = Field(description="Simple annual rate, actual/365, on drawn principal.")
    arrangement_fee: Money
    as_of: Day
    drawn: Money
    undrawn: Money
    principal_outstanding: Money
    interest_accrued: Money = Field(description="Accrued to as_of and not paid.")
    fees_due: Money
    balance: Money = Field(description="principal_outstanding + interest_accrued + fees_due.")
    repaid: Money = Field(description="Everything repaid so far (fees, interest and principal).")
    past_due_since: Day | None = Field(description="The oldest due date not met (null: nothing past due).")
    days_past_due: int = Field(ge=0)
    amount_past_due: Money = Field(description="Principal behind plan; after the last due date the balance.")
    next_due_date: Day | None
    next_due_amount: Money | None
    tranches: list[LoanTranche]
    schedule: list[LoanDue]
    postings: list[LoanPostingView]


class ExposureAmounts(_View):
    """Ledger amounts of a loan or of the book (money)."""

    drawn: Money = Field(description="Disbursed so far.")
    repaid_principal: Money
    outstanding_principal: Money = Field(description="drawn - repaid_principal.")
    committed_undrawn: Money = Field(description="Undisbursed tranches the bank still owes (not frozen).")
    frozen_undrawn: Money = Field(description="Undisbursed tranches frozen by in-season monitoring.")
    exposure: Money = Field(description="outstanding_principal + committed_undrawn.")


class ExposureRow(ExposureAmounts):
    """One open loan's exposure from its ledger."""

    loan_id: int
    application_id: int
    farmer_id: int
    farmer_name: str
    crop: str | None
    state: LoanState
    finance_season: int | None
    currency: str
    as_of: Day
    credit_limit: Money = Field(description="The accepted limit (for comparison; not the exposure).")


class ExposureByState(ExposureAmounts):
    state: LoanState
    loans: int


class PortfolioExposure(_View):
    """The book's exposure from the ledger: open loans (accepted, disbursed, overdue, defaulted)."""

    as_of: Day | None = Field(description="The date asked for; null: each loan on today or its last posting.")
    currency: str | None
    loans: int
    accepted_limits: Money = Field(description="Sum of the open loans' accepted limits (what the book was booked at).")
    totals: ExposureAmounts
    by_state: list[ExposureByState]
    rows: list[ExposureRow]


class DelinquencyRun(_View):
    """What one run of the overdue / default rule changed (loan ids by new state)."""

    as_of: Day
    default_after_days: int = Field(description="The policy's grace before an overdue loan defaults.")
    checked: int = Field(description="Loans paid out (disbursed or overdue) that were checked.")
    overdue: list[int]
    defaulted: list[int]
    cured: list[int] = Field(description="Overdue loans with nothing past due any more: disbursed again.")


# --- monitoring and privacy ---------------------------------------------------------------------------------------


class WarningView(_View):
    """An in-season warning about a financed plot."""

    id: int
    run_id: str
    season: int | None
    plot_id: str = Field(description="The plot's reference.")
    loan_id: int | None
    code: str
    severity: str
    message_en: str
    message_zh: str
    action: str | None
    created_at: Timestamp


class PortfolioRow(_View):
    """A financed plot of an accepted loan: exposure, PD (latest re-score, else the offer's), expected loss, risk."""

    loan_id: int
    plot_id: str
    farmer_id: int
    farmer_name: str
    crop: str | None
    village: str | None
    area_ha: float
    exposure: Money
    currency: str
    pd: float | None
    expected_loss: Money
    warnings: int
    risk: Literal["low", "medium", "high"]
    rescore_run_id: str | None
    geometry: PlotGeometry


class ExportAccount(_View):
    id: int
    phone: str
    name: str
    role: Role
    created_at: Timestamp


class ConsentApplication(_View):
    id: int
    status: ApplicationStatus


class ConsentRecord(_View):
    id: int
    purpose: str
    statement: str = Field(description="The consent text the farmer agreed to, in the language they read.")
    language: str = Field(examples=["zh-CN", "en"])
    plots: list[str] = Field(description="References of the plots the consent covers.")
    terms_version: str
    granted_at: Timestamp
    withdrawn_at: Timestamp | None = Field(description="When the farmer withdrew the consent; null while it holds.")


class ConsentWithdrawal(_View):
    """The result of withdrawing a consent: the consent, what was cancelled, and which loans are kept."""

    consent: ConsentRecord
    cancelled_applications: list[int] = Field(description="Open applications under the consent, now ``withdrawn``.")
    active_loans: list[int] = Field(
        description="Applications under the consent that are active loans: not affected, their data is kept under "
        "the credit contract until repaid."
    )
    retained_records: list[str] = Field(
        default_factory=list,
        description="What stays stored because of an active loan: loan, loan_postings, application_offer, "
        "consent_record, audit_log (empty without one).",
    )
    message: str


class ConsentListItem(ConsentRecord):
    """One of your consents, with the applications under it and whether it can still be withdrawn."""

    applications: list[ConsentApplication]
    active_loans: list[int] = Field(description="Applications under it that are active loans (kept if withdrawn).")
    withdrawable: bool = Field(description="True until withdrawn: before or after a decision, with or without a loan.")


class Export(_View):
    """Everything held about the signed-in user (PIPL data export)."""

    exported_at: Timestamp
    account: ExportAccount
    plots: list[PlotView]
    consents: list[ConsentRecord]
    applications: list[ApplicationView]
    audit_log: list[AuditEntryView]
    warnings: list[WarningView]


class Health(_View):
    status: Literal["ok"]
    database: str = Field(examples=["sqlite", "postgresql"])
    postgis: bool
