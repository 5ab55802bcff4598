"""Analyst review: the queue, decisions and overrides (with a reason, audited), the audit log, the portfolio."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from agrisense.app.api.deps import ActorDep, DbDep, SettingsDep
from agrisense.app.api.models import ApplicationView, AuditEntryView, PortfolioRow, ReviewQueueItem, error_responses
from agrisense.app.api.schemas import DecisionIn
from agrisense.lending import audit_log, decide_application, list_review_queue, portfolio

router = APIRouter(tags=["review"], responses=error_responses(401, 429, 500))
AppId = Path(ge=1, le=2**31 - 1)


@router.get("/review/applications", response_model=list[ReviewQueueItem], responses=error_responses(403, 422))
def review_queue(
    db: DbDep,
    actor: ActorDep,
    status: Literal["offered", "in_review", "declined", "accepted", "withdrawn"] | None = None,
    decision: Literal["approve", "refer", "decline"] | None = None,
    crop: Annotated[str | None, Query(max_length=32)] = None,
    older_than_hours: Annotated[float | None, Query(ge=0, le=100_000)] = None,
    pd_min: Annotated[float | None, Query(ge=0, le=1, description="Lowest PD kept (0-1).")] = None,
    pd_max: Annotated[float | None, Query(ge=0, le=1, description="Highest PD kept (0-1).")] = None,
) -> list[dict[str, Any]]:
    """Applications for review, oldest first (analysts and admins); ``pd_min`` / ``pd_max`` keep a PD range (the
    application's PD is its riskiest offer's; applications without one are left out of a PD filter)."""
    return list_review_queue(
        db,
        actor,
        status=status,
        decision=decision,
        crop=crop,
        older_than_hours=older_than_hours,
        pd_min=pd_min,
        pd_max=pd_max,
    )


@router.post(
    "/review/applications/{app_id}/decision",
    response_model=ApplicationView,
    responses=error_responses(400, 403, 404, 409, 413, 422),
)
def decide(body: DecisionIn, db: DbDep, actor: ActorDep, settings: SettingsDep, app_id: int = AppId) -> dict[str, Any]:
    """Approve, decline or change the limit of an application; the reason is mandatory and audited. ``change_limit``
    is bounded by the policy (422 above ``max_per_ha`` x area and ``max_per_farmer`` less other credit) and
    re-prices the offer's tranches and schedule for the new limit."""
    return decide_application(
        db,
        actor,
        app_id,
        decision=body.decision,
        reason=body.reason,
        new_limit=body.new_limit,
        settings=settings,
    )


@router.get("/audit", response_model=list[AuditEntryView], responses=error_responses(404, 422))
def audit(
    db: DbDep, actor: ActorDep, application_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
) -> list[dict[str, Any]]:
    """The append-only audit log (a farmer sees the entries about them)."""
    return audit_log(db, actor, app_id=application_id)


@router.get("/portfolio", response_model=list[PortfolioRow])
def book(db: DbDep, actor: ActorDep) -> list[dict[str, Any]]:
    """Financed plots with exposure, expected loss and risk (a farmer sees their own)."""
    return portfolio(db, actor)
