"""Booked loans: the farmer's own (balance, next due date and amount), and the postings of the bank's core system.

Postings are for staff (analyst or admin; the core system signs in with an admin account) and idempotent by
``client_key``: the same key again returns the loan unchanged, never a second payment.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from agrisense.app.api.deps import ActorDep, DbDep, SettingsDep
from agrisense.app.api.models import DelinquencyRun, LoanView, PortfolioExposure, error_responses
from agrisense.loans.exposure import portfolio_exposure
from agrisense.loans.service import get_loan, list_loans, post_disbursement, post_repayment, set_loan_state
from agrisense.loans.servicing import mark_delinquent


def _iso_day(value: Any) -> Any:
    """Only a date written YYYY-MM-DD (not a number of seconds since 1970, which pydantic would also read)."""
    if isinstance(value, dt.date) or (isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
        return value
    raise ValueError("write the date as YYYY-MM-DD")


IsoDay = Annotated[dt.date, BeforeValidator(_iso_day)]
router = APIRouter(prefix="/loans", tags=["loans"], responses=error_responses(401, 429, 500))
LoanId = Path(ge=1, le=2**31 - 1)
ClientKey = Annotated[
    str,
    Field(min_length=1, max_length=64, description="Your system's unique id of this payment (idempotency key)."),
]


class DisbursementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_key: ClientKey
    tranche: Annotated[int, Field(ge=0, le=100, description="Index of the planned tranche paid out in full.")]
    date: dt.date | None = Field(default=None, description="Value date; default today.")


class RepaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_key: ClientKey
    amount: Annotated[Decimal, Field(gt=0, le=1_000_000, max_digits=9, decimal_places=2, allow_inf_nan=False)]
    date: dt.date | None = Field(default=None, description="Value date; default today.")


class StateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["overdue", "disbursed", "defaulted", "written_off"] = Field(
        description="overdue, cured back to disbursed, defaulted or written_off (repaid follows repayments)."
    )
    reason: Annotated[str, Field(min_length=1, max_length=2000, description="Why; kept in the audit log.")]


class DelinquencyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: IsoDay = Field(description="Apply the overdue / default rule as of this date.")


@router.get("", response_model=list[LoanView])
def loans(db: DbDep, actor: ActorDep) -> list[dict[str, Any]]:
    """Your loans, newest first (staff: every loan)."""
    return list_loans(db, actor)


@router.get("/exposure", response_model=PortfolioExposure, responses=error_responses(422))
def exposure(db: DbDep, actor: ActorDep, as_of: IsoDay | None = None) -> dict[str, Any]:
    """The book's exposure from the ledger (staff: every open loan; a farmer: their own): outstanding principal
    (disbursed - repaid principal) and the undisbursed committed tranches apart, frozen ones apart again."""
    return portfolio_exposure(db, actor, on=as_of)


@router.get("/{loan_id}", response_model=LoanView, responses=error_responses(404, 422))
def loan(db: DbDep, actor: ActorDep, loan_id: int = LoanId) -> dict[str, Any]:
    """One of your loans: balance, accrued interest, next due date and amount, remaining schedule, postings."""
    return get_loan(db, actor, loan_id)


@router.post(
    "/{loan_id}/disbursements", response_model=LoanView, responses=error_responses(400, 403, 404, 409, 413, 422)
)
def disburse(body: DisbursementIn, db: DbDep, actor: ActorDep, loan_id: int = LoanId) -> dict[str, Any]:
    """Book a tranche paid out (to the farmer or the named input supplier); staff only."""
    return post_disbursement(db, actor, loan_id, client_key=body.client_key, tranche=body.tranche, on=body.date)


@router.post("/{loan_id}/repayments", response_model=LoanView, responses=error_responses(400, 403, 404, 409, 413, 422))
def repay(body: RepaymentIn, db: DbDep, actor: ActorDep, loan_id: int = LoanId) -> dict[str, Any]:
    """Book a repayment (fee, then interest, then principal; at most the balance); staff only. A loan repaid in full
    becomes ``repaid`` and its land can be financed again."""
    return post_repayment(db, actor, loan_id, client_key=body.client_key, amount=body.amount, on=body.date)


@router.post("/{loan_id}/state", response_model=LoanView, responses=error_responses(400, 403, 404, 409, 413, 422))
def change_state(body: StateIn, db: DbDep, actor: ActorDep, loan_id: int = LoanId) -> dict[str, Any]:
    """An analyst sets the loan's state (overdue, cured to disbursed, defaulted, written off) with a reason; 409
    for a change the loan states do not allow; staff only."""
    return set_loan_state(db, actor, loan_id, state=body.state, reason=body.reason)


@router.post("/delinquency", response_model=DelinquencyRun, responses=error_responses(400, 403, 413, 422))
def delinquency(body: DelinquencyIn, db: DbDep, actor: ActorDep, settings: SettingsDep) -> dict[str, Any]:
    """Apply the overdue / default rule to every paid-out loan as of ``as_of`` (the policy's
    ``loans.default_after_days``); staff only. Idempotent per date."""
    return mark_delinquent(db, as_of=body.as_of, actor=actor, settings=settings)
