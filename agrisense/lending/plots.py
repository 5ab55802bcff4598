"""A farmer's plots: validated outlines inside the region's imagery, stored with a spatial copy; overlap queries."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import shapely
from pyproj import Transformer
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from agrisense.agronomy.calendar import load_crop_table
from agrisense.config import Settings
from agrisense.errors import Conflict, Forbidden, InvalidGeometry, InvalidInput, NotFound
from agrisense.geo import ImageryArea, Plot, ha_to_mu, make_plot
from agrisense.geo.utm import utm_epsg
from agrisense.lending.actors import Actor, require_role
from agrisense.region import Region, load_region
from agrisense.store import Application, ApplicationPlot, Database, FarmPlot

MAX_PLOTS_PER_FARMER = 50


def check_plot(
    geometry: Mapping[str, Any],
    *,
    region: Region,
    plot_id: str = "new",
    farmer_id: str | None = None,
    declared_crop: str | None = None,
    declared_area_ha: float | None = None,
) -> Plot:
    """A validated ``Plot`` that lies inside the region's imagery, or ``InvalidGeometry`` / ``InvalidInput``."""
    feature = {
        "type": "Feature",
        "geometry": geometry,
        "properties": {
            "plot_id": plot_id,
            "farmer_id": farmer_id,
            "declared_crop": declared_crop,
            "declared_area_ha": declared_area_ha,
        },
    }
    try:
        plot = make_plot(feature, expected_bbox=region.bbox_lonlat)
    except (ValueError, TypeError, GEOSException) as exc:
        raise InvalidGeometry(f"The outline could not be read ({exc}). Redraw the field on the map.") from exc
    area = ImageryArea(region.name, region.bbox_lonlat)
    outside = area.problem(plot.geometry)
    if outside is not None:
        raise InvalidGeometry(outside, code=area.problem_code(plot.geometry), params={"area": region.name})
    return plot


@cache
def _known_crops(path: Path) -> list[str]:
    return sorted(load_crop_table(path))


def check_crop(declared_crop: str | None, settings: Settings) -> str | None:
    """The declared crop in lower case; ``InvalidInput`` naming the known crops if it is not one of them."""
    if declared_crop is None or not str(declared_crop).strip():
        return None
    crop = str(declared_crop).strip().lower()
    known = _known_crops(settings.reference_dir / "crops.csv")
    if crop not in known:
        raise InvalidInput(
            f"Unknown crop {declared_crop!r}. Choose one of: {', '.join(known)}.",
            code="UNKNOWN_CROP",
            params={"crop": str(declared_crop), "crops": ", ".join(known)},
        )
    return crop


def plot_view(plot: FarmPlot) -> dict[str, Any]:
    return {
        "id": plot.id,
        "ref": plot.ref,
        "name": plot.name,
        "village": plot.village,
        "declared_crop": plot.declared_crop,
        "declared_area_ha": plot.declared_area_ha,
        "area_ha": round(plot.area_ha, 4),
        "area_mu": round(ha_to_mu(plot.area_ha), 3),
        "geometry": plot.geometry_json,
        "created_at": plot.created_at.isoformat(),
        "updated_at": plot.updated_at.isoformat(),
    }


def _json_coords(geometry: BaseGeometry) -> dict[str, Any]:
    """GeoJSON with lists (not tuples), so that it round-trips through JSON columns unchanged."""
    return json.loads(shapely.to_geojson(geometry))


def owned_plot(session: Session, actor: Actor, plot_id: int) -> FarmPlot:
    """The plot if the actor may see it (its farmer, or staff); ``NotFound`` otherwise (no existence leak)."""
    plot = session.get(FarmPlot, plot_id)
    if plot is None or (not actor.is_staff and plot.farmer_id != actor.user_id):
        raise NotFound(
            f"Plot {plot_id} was not found among your plots.", code="PLOT_NOT_FOUND", params={"plot_id": plot_id}
        )
    return plot


def create_plot(
    db: Database,
    actor: Actor,
    *,
    geometry: Mapping[str, Any],
    settings: Settings,
    declared_crop: str | None = None,
    name: str | None = None,
    village: str | None = None,
    declared_area_ha: float | None = None,
) -> dict[str, Any]:
    """Validate and store a plot for the acting farmer."""
    require_role(actor, ["farmer"], "draw plots")
    crop = check_crop(declared_crop, settings)
    plot = check_plot(
        geometry, region=load_region(settings.region_dir), declared_crop=crop, declared_area_ha=declared_area_ha
    )
    with db.session() as session:
        count = session.scalar(select(func.count()).select_from(FarmPlot).where(FarmPlot.farmer_id == actor.user_id))
        if (count or 0) >= MAX_PLOTS_PER_FARMER:
            raise Conflict(
                f"You already have {MAX_PLOTS_PER_FARMER} plots. Delete plots you no longer farm first.",
                code="PLOT_LIMIT_REACHED",
                params={"max": MAX_PLOTS_PER_FARMER},
            )
        row = FarmPlot(
            ref=f"new-{uuid.uuid4().hex}",  # replaced by plot-<id> once the row has its id
            farmer_id=actor.user_id,
            name=name,
            village=village,
            declared_crop=crop,
            declared_area_ha=declared_area_ha,
        )
        _store_geometry(row, plot)
        session.add(row)
        session.flush()
        row.ref = f"plot-{row.id}"
        session.flush()
        return plot_view(row)


def _store_geometry(row: FarmPlot, plot: Plot) -> None:
    minx, miny, maxx, maxy = plot.geometry.bounds
    row.geometry_json = _json_coords(plot.geometry)
    row.geom = plot.geometry
    row.area_ha = float(plot.area_ha)
    row.minx, row.miny, row.maxx, row.maxy = float(minx), float(miny), float(maxx), float(maxy)


def list_plots(db: Database, actor: Actor) -> list[dict[str, Any]]:
    """The acting farmer's plots (staff: every plot)."""
    with db.session(readonly=True) as session:
        query = select(FarmPlot).order_by(FarmPlot.id)
        if not actor.is_staff:
            query = query.where(FarmPlot.farmer_id == actor.user_id)
        return [plot_view(p) for p in session.scalars(query)]


def get_plot(db: Database, actor: Actor, plot_id: int) -> dict[str, Any]:
    with db.session(readonly=True) as session:
        return plot_view(owned_plot(session, actor, plot_id))


def _locked(session: Session, plot_id: int) -> int | None:
    """The open application a plot is pledged in, if any."""
    return session.scalar(
        select(ApplicationPlot.application_id).where(ApplicationPlot.plot_id == plot_id, ApplicationPlot.active)
    )


def update_plot(
    db: Database, actor: Actor, plot_id: int, *, settings: Settings, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Change a plot's outline, crop, name or declared area; refused while it is in an open application."""
    allowed = {"geometry", "declared_crop", "name", "village", "declared_area_ha"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))}; editable: {', '.join(sorted(allowed))}.")
    crop_given = "declared_crop" in changes
    crop = check_crop(changes.get("declared_crop"), settings) if crop_given else None
    with db.session() as session:
        row = _editable_plot(session, actor, plot_id, verb="change", consequence="It cannot change now.")
        if crop_given:
            row.declared_crop = crop
        for key in ("name", "village", "declared_area_ha"):
            if key in changes:
                setattr(row, key, changes[key])
        if "geometry" in changes:
            if changes["geometry"] is None:
                raise InvalidGeometry("A plot needs an outline. Draw the field on the map.", code="OUTLINE_MISSING")
            plot = check_plot(changes["geometry"], region=load_region(settings.region_dir))
            _store_geometry(row, plot)
        session.flush()
        return plot_view(row)


def _editable_plot(session: Session, actor: Actor, plot_id: int, *, verb: str, consequence: str) -> FarmPlot:
    """The actor's own plot, for its farmer only, and not pledged in an open application."""
    row = owned_plot(session, actor, plot_id)
    if actor.role != "farmer":
        raise Forbidden(f"Only the farmer who drew a plot can {verb} it.")
    app_id = _locked(session, row.id)
    if app_id is not None:
        raise Conflict(
            f"Plot {plot_id} is part of application {app_id}, which is still open. {consequence}",
            code="PLOT_IN_OPEN_APPLICATION",
            params={"plot_id": plot_id, "application_id": app_id},
        )
    return row


def delete_plot(db: Database, actor: Actor, plot_id: int) -> None:
    """Delete a plot that is not pledged in an open application."""
    with db.session() as session:
        row = _editable_plot(session, actor, plot_id, verb="delete", consequence="It cannot be deleted.")
        session.delete(row)


def as_plot(row: FarmPlot) -> Plot:
    """A stored plot as a ``geo.Plot`` for scoring (plot_id = ref, farmer_id = user id)."""
    feature = {
        "type": "Feature",
        "geometry": row.geometry_json,
        "properties": {
            "plot_id": row.ref,
            "farmer_id": str(row.farmer_id),
            "declared_crop": row.declared_crop,
            "declared_area_ha": row.declared_area_ha,
        },
    }
    return make_plot(feature)


def overlap_with_others(session: Session, plots: Sequence[Plot], farmer_id: int, *, postgis: bool) -> dict[str, float]:
    """Share of each plot's area also claimed by another farmer's stored plot.

    PostGIS computes it in the database (``ST_Intersects`` on the GiST index, geodesic ``ST_Area``); on SQLite a
    bounding-box query finds candidates and shapely measures them in UTM.
    """
    result: dict[str, float] = {}
    for plot in plots:
        if postgis:
            share = session.execute(
                text(
                    "WITH probe AS (SELECT ST_GeomFromText(:wkt, 4326) AS g), "
                    "shared AS (SELECT ST_Union(ST_Intersection(p.geom, probe.g)) AS u FROM plots p, probe "
                    "WHERE p.farmer_id <> :farmer AND ST_Intersects(p.geom, probe.g)) "
                    "SELECT COALESCE(ST_Area(shared.u::geography) / NULLIF(ST_Area(probe.g::geography), 0), 0) "
                    "FROM shared, probe"
                ),
                {"wkt": plot.geometry.wkt, "farmer": farmer_id},
            ).scalar()
            result[plot.plot_id] = float(min(1.0, share or 0.0))
            continue
        minx, miny, maxx, maxy = plot.geometry.bounds
        candidates = session.scalars(
            select(FarmPlot.geometry_json).where(
                FarmPlot.farmer_id != farmer_id,
                FarmPlot.minx <= maxx,
                FarmPlot.maxx >= minx,
                FarmPlot.miny <= maxy,
                FarmPlot.maxy >= miny,
            )
        ).all()
        result[plot.plot_id] = _shared_fraction(plot.geometry, [shapely.geometry.shape(g) for g in candidates])
    return result


def financed_overlap(session: Session, row: FarmPlot, *, min_share: float) -> tuple[int, int, str, float] | None:
    """The first other plot, of any farmer (the same one included), pledged in an open application (offered,
    in review, or accepted and not yet repaid: its link is active) that covers more than ``min_share`` of ``row``:
    ``(plot id, application id, application status, share of row's area)``; None when the land is free.

    Portable SQL (a bbox prefilter on the plots table) and the same geodesic shapely share on SQLite and PostgreSQL."""
    candidates = session.execute(
        select(FarmPlot.id, FarmPlot.geometry_json, Application.id, Application.status)
        .join(ApplicationPlot, ApplicationPlot.plot_id == FarmPlot.id)
        .join(Application, Application.id == ApplicationPlot.application_id)
        .where(
            ApplicationPlot.active,
            Application.status.in_(("offered", "in_review", "accepted")),
            FarmPlot.id != row.id,
            FarmPlot.minx <= row.maxx,
            FarmPlot.maxx >= row.minx,
            FarmPlot.miny <= row.maxy,
            FarmPlot.maxy >= row.miny,
        )
        .order_by(FarmPlot.id)
    ).all()
    mine = shapely.geometry.shape(row.geometry_json)
    for plot_id, geometry, app_id, status in candidates:
        share = _shared_fraction(mine, [shapely.geometry.shape(geometry)])
        if share > min_share:
            return int(plot_id), int(app_id), str(status), share
    return None


def overlapping_pair(rows: Sequence[FarmPlot], *, min_share: float) -> tuple[int, int, float] | None:
    """Two plots of one application that cover each other by more than ``min_share`` (the same field drawn twice):
    ``(plot id, other plot id, share of the first)``; None when they are apart."""
    shapes = [(row.id, shapely.geometry.shape(row.geometry_json)) for row in rows]
    for k, (pid, geom) in enumerate(shapes):
        for other_id, other in shapes[k + 1 :]:
            share = max(_shared_fraction(geom, [other]), _shared_fraction(other, [geom]))
            if share > min_share:
                return pid, other_id, share
    return None


def _shared_fraction(geom: BaseGeometry, others: Sequence[BaseGeometry]) -> float:
    others = [o for o in others if o.intersects(geom)]
    if not others:
        return 0.0
    centre = geom.centroid
    to_utm = _to_utm(utm_epsg(centre.x, centre.y))
    mine = shapely.transform(geom, to_utm, interleaved=False)
    theirs = shapely.transform(shapely.union_all(others), to_utm, interleaved=False)
    area = mine.area
    return 0.0 if area == 0 else float(min(1.0, mine.intersection(theirs).area / area))


@cache
def _to_utm(epsg: int) -> Any:
    """A vectorised lon/lat -> UTM coordinate function for ``shapely.transform``."""
    transformer = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    return lambda x, y: transformer.transform(x, y)
