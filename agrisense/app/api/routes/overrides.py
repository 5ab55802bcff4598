"""Four-eyes overrides: the analysts' queue of override requests above the policy's threshold, approve and reject
(by an analyst other than the one who asked; a reason is mandatory and audited). Thin over ``lending.overrides``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from agrisense.app.api.deps import ActorDep, DbDep, SettingsDep
from agrisense.app.api.models import ApplicationView, OverrideView, error_responses
from agrisense.lending.overrides import approve_override, list_overrides, reject_override

router = APIRouter(prefix="/review/overrides", tags=["review"], responses=error_responses(401, 429, 500))
OverrideId = Path(ge=1, le=2**31 - 1)


class OverrideDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=2000, description="Why; kept in the audit log.")]


@router.get("", response_model=list[OverrideView], responses=error_responses(403, 422))
def overrides(
    db: DbDep, actor: ActorDep, status: Literal["pending", "approved", "rejected"] | None = "pending"
) -> list[dict[str, Any]]:
    """Override requests, oldest first (default: those waiting for a second analyst); analysts and admins."""
    return list_overrides(db, actor, status=status)


@router.post(
    "/{override_id}/approve",
    response_model=ApplicationView,
    responses=error_responses(400, 403, 404, 409, 413, 422),
)
def approve(
    body: OverrideDecisionIn, db: DbDep, actor: ActorDep, settings: SettingsDep, override_id: int = OverrideId
) -> dict[str, Any]:
    """Approve another analyst's override: the application gets the new limit, re-priced and bounded by the policy
    as of now (422 above it). 403 for the analyst who asked for it."""
    return approve_override(db, actor, override_id, reason=body.reason, settings=settings)


@router.post(
    "/{override_id}/reject", response_model=OverrideView, responses=error_responses(400, 403, 404, 409, 413, 422)
)
def reject(body: OverrideDecisionIn, db: DbDep, actor: ActorDep, override_id: int = OverrideId) -> dict[str, Any]:
    """Reject another analyst's override; the application stays as it was. 403 for the analyst who asked for it."""
    return reject_override(db, actor, override_id, reason=body.reason)
