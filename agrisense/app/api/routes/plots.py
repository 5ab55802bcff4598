"""A farmer's plots (GeoJSON geometry in EPSG:4326, declared crop)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Response

from agrisense.app.api.deps import ActorDep, DbDep, SettingsDep
from agrisense.app.api.models import PlotView, error_responses
from agrisense.app.api.schemas import PlotIn, PlotPatch
from agrisense.lending import create_plot, delete_plot, get_plot, list_plots, update_plot

router = APIRouter(prefix="/plots", tags=["plots"], responses=error_responses(401, 429, 500))
PlotId = Path(ge=1, le=2**31 - 1)


@router.get("", response_model=list[PlotView])
def plots(db: DbDep, actor: ActorDep) -> list[dict[str, Any]]:
    """Your plots."""
    return list_plots(db, actor)


@router.post("", status_code=201, response_model=PlotView, responses=error_responses(400, 403, 409, 413, 422))
def add_plot(body: PlotIn, db: DbDep, actor: ActorDep, settings: SettingsDep) -> dict[str, Any]:
    """Draw a new plot. The outline must be a valid polygon inside the county's imagery."""
    return create_plot(
        db,
        actor,
        geometry=body.geometry.model_dump(),
        settings=settings,
        declared_crop=body.declared_crop,
        name=body.name,
        village=body.village,
        declared_area_ha=body.declared_area_ha,
    )


@router.get("/{plot_id}", response_model=PlotView, responses=error_responses(404, 422))
def plot(db: DbDep, actor: ActorDep, plot_id: int = PlotId) -> dict[str, Any]:
    """One of your plots."""
    return get_plot(db, actor, plot_id)


@router.patch("/{plot_id}", response_model=PlotView, responses=error_responses(400, 403, 404, 409, 413, 422))
def patch_plot(
    body: PlotPatch, db: DbDep, actor: ActorDep, settings: SettingsDep, plot_id: int = PlotId
) -> dict[str, Any]:
    """Change a plot's outline, crop, name, village or declared area (not while it is in an open application)."""
    changes = body.model_dump(exclude_unset=True)
    if "geometry" in changes and body.geometry is not None:
        changes["geometry"] = body.geometry.model_dump()
    return update_plot(db, actor, plot_id, settings=settings, changes=changes)


@router.delete("/{plot_id}", status_code=204, responses=error_responses(403, 404, 409, 422))
def remove_plot(db: DbDep, actor: ActorDep, plot_id: int = PlotId) -> Response:
    """Delete a plot (not while it is in an open application)."""
    delete_plot(db, actor, plot_id)
    return Response(status_code=204)
