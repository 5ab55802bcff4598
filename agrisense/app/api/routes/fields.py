"""Field outlines the model suggests where a farmer taps (the farmer checks and adjusts them before saving)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request

from agrisense.app.api.deps import ActorDep, SettingsDep
from agrisense.app.api.models import OutlineFeature, error_responses
from agrisense.outline import OutlineSuggestion, suggest_outline
from agrisense.warmup import wait_until_warm

router = APIRouter(prefix="/fields", tags=["fields"], responses=error_responses(401, 429, 500))


@router.get("/outline", response_model=OutlineFeature, responses=error_responses(404, 422, 503))
async def outline(
    request: Request,
    actor: ActorDep,
    settings: SettingsDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude of the tap, decimal degrees (WGS84).")],
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude of the tap, decimal degrees (WGS84).")],
) -> dict[str, Any]:
    """The outline of the field at the tapped point as a GeoJSON Feature (area in ha and mu, the crop the model
    sees). 404 when no field is detected there (draw the outline by hand); 422 outside the service's imagery."""
    del actor  # any signed-in user; the dependency authenticates
    suggest = partial(suggest_outline, lon, lat, settings=settings)

    def call() -> OutlineSuggestion:
        wait_until_warm(settings)  # join the start-up model load rather than load a second copy
        return suggest()

    # imagery + model are CPU work: worker threads bounded like scoring, never the event loop
    return (await anyio.to_thread.run_sync(call, limiter=request.app.state.scoring_limiter)).to_json()
