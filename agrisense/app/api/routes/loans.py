"""Booked loans: the farmer's own (balance, next due date and amount), and the postings of the bank's core system.

Postings are for staff (analyst or admin; the core system signs in with an admin account) and idempotent by
``client_key``: the same key again returns the loan unchanged, never a second payment.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from agrisense.app.api.deps import ActorDep, DbDep
from agrisense.app.api.models import LoanView, PortfolioExposure, error_responses
from agrisense.loans.exposure import portfolio_exposure
from agrisense.loans.service import get_loan, list_loans, post_disbursement, post_repayment

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


@router.get("", response_model=list[LoanView])
def loans(db: DbDep, actor: ActorDep) -> list[dict[str, Any]]:
    """Your loans, newest first (staff: every loan)."""
    return list_loans(db, actor)


@router.get("/exposure", response_model=PortfolioExposure, responses=error_responses(422))
def exposure(db: DbDep, actor: ActorDep, as_of: dt.date | None = None) -> dict[str, Any]:
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
