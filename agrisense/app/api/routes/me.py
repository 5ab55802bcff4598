"""Privacy (PIPL): export or delete your data, withdraw a consent; your monitoring warnings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Response

from agrisense.app.api.deps import ActorDep, DbDep
from agrisense.app.api.models import ConsentListItem, ConsentWithdrawal, Export, WarningView, error_responses
from agrisense.lending import delete_farmer_data, export_farmer_data, list_warnings, withdraw_consent
from agrisense.lending.privacy import list_consents

router = APIRouter(prefix="/me", tags=["privacy"], responses=error_responses(401, 429, 500))
ConsentId = Path(ge=1, le=2**31 - 1)


@router.get("/export", response_model=Export, responses=error_responses(404))
def export(db: DbDep, actor: ActorDep) -> dict[str, Any]:
    """Everything we hold about you, as JSON."""
    return export_farmer_data(db, actor)


@router.get("/consents", response_model=list[ConsentListItem])
def consents(db: DbDep, actor: ActorDep) -> list[dict[str, Any]]:
    """Your consents, newest first, with the applications under each and whether it can still be withdrawn."""
    return list_consents(db, actor)


@router.post(
    "/consents/{consent_id}/withdraw", response_model=ConsentWithdrawal, responses=error_responses(404, 409, 422)
)
def withdraw(db: DbDep, actor: ActorDep, consent_id: int = ConsentId) -> dict[str, Any]:
    """Withdraw one of your consents, before or after a decision. An open application under it (offered or in
    review) is cancelled and its plots released; a decided one stays as the record of the decision; an active loan is
    not affected (``retained_records`` are kept under the credit contract until repaid). 404 for a consent that is
    not yours; 409 when it is already withdrawn."""
    return withdraw_consent(db, actor, consent_id)


@router.delete("", status_code=204, responses=error_responses(404, 409))
def delete_me(db: DbDep, actor: ActorDep) -> Response:
    """Delete your account and data (refused while a loan is active)."""
    delete_farmer_data(db, actor)
    return Response(status_code=204)


@router.get("/warnings", response_model=list[WarningView], responses=error_responses(422))
def warnings(db: DbDep, actor: ActorDep, active_only: bool = True) -> list[dict[str, Any]]:
    """In-season warnings about your financed plots."""
    return list_warnings(db, actor, active_only=active_only)
