"""Privacy (PIPL): export or delete your data; your monitoring warnings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from agrisense.app.api.deps import ActorDep, DbDep
from agrisense.app.api.models import Export, WarningView, error_responses
from agrisense.lending import delete_farmer_data, export_farmer_data, list_warnings

router = APIRouter(prefix="/me", tags=["privacy"], responses=error_responses(401, 429, 500))


@router.get("/export", response_model=Export, responses=error_responses(404))
def export(db: DbDep, actor: ActorDep) -> dict[str, Any]:
    """Everything we hold about you, as JSON."""
    return export_farmer_data(db, actor)


@router.delete("", status_code=204, responses=error_responses(404, 409))
def delete_me(db: DbDep, actor: ActorDep) -> Response:
    """Delete your account and data (refused while a loan is active)."""
    delete_farmer_data(db, actor)
    return Response(status_code=204)


@router.get("/warnings", response_model=list[WarningView], responses=error_responses(422))
def warnings(db: DbDep, actor: ActorDep, active_only: bool = True) -> list[dict[str, Any]]:
    """In-season warnings about your financed plots."""
    return list_warnings(db, actor, active_only=active_only)
