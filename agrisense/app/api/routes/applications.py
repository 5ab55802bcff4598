"""Credit applications: submit with consent (the offer comes back), read, accept."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
from fastapi import APIRouter, Path, Request

from agrisense.app.api.deps import ActorDep, DbDep, SettingsDep
from agrisense.app.api.models import ApplicationView, error_responses
from agrisense.app.api.schemas import ApplicationIn
from agrisense.lending import accept_offer, get_application, list_applications, submit_application
from agrisense.warmup import wait_until_warm

router = APIRouter(prefix="/applications", tags=["applications"], responses=error_responses(401, 429, 500))
AppId = Path(ge=1, le=2**31 - 1)


@router.post(
    "",
    status_code=201,
    response_model=ApplicationView,
    responses=error_responses(400, 403, 404, 409, 413, 422, 503),
)
async def submit(
    body: ApplicationIn, db: DbDep, actor: ActorDep, settings: SettingsDep, request: Request
) -> dict[str, Any]:
    """Apply for credit on your plots. ``consent`` must be true: it is recorded (the statement in
    ``consent_language``, the language the farmer read, with the terms version) before any imagery of the plots is
    processed. Returns the application with its offer; its plots' outline checks (for the analyst) are computed
    afterwards in the background."""
    submit = partial(
        submit_application,
        db,
        actor,
        plot_ids=body.plot_ids,
        consent=body.consent,
        consent_language=body.consent_language,
        settings=settings,
    )

    def call() -> dict[str, Any]:
        wait_until_warm(settings)  # join the start-up model load rather than load a second copy
        return submit()

    # scoring is CPU work: it runs in worker threads (batched per tile, bounded by CPU), never on the event loop
    view = await anyio.to_thread.run_sync(call, limiter=request.app.state.scoring_limiter)
    request.app.state.outline_checks.submit(int(view["id"]))  # queued: the offer does not wait for it
    return view


@router.get("", response_model=list[ApplicationView])
def applications(db: DbDep, actor: ActorDep) -> list[dict[str, Any]]:
    """Your applications, newest first."""
    return list_applications(db, actor)


@router.get("/{app_id}", response_model=ApplicationView, responses=error_responses(404, 422))
def application(db: DbDep, actor: ActorDep, app_id: int = AppId) -> dict[str, Any]:
    """One of your applications, with its offer and decisions."""
    return get_application(db, actor, app_id)


@router.post("/{app_id}/accept", response_model=ApplicationView, responses=error_responses(403, 404, 409, 422))
def accept(db: DbDep, actor: ActorDep, settings: SettingsDep, app_id: int = AppId) -> dict[str, Any]:
    """Accept the offered credit limit: the loan is booked (``/loans``). 409 when it would take your loans above
    the policy's per-farmer cap."""
    return accept_offer(db, actor, app_id, settings=settings)
