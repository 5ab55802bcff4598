"""Outline checks stored with the application: each plot's drawn outline against the field the model's boundary head
finds there (``agrisense.outline.check_outline``), computed once and kept in ``applications.outline_checks``.

An entry is keyed by the plot's ref and carries the fingerprint of the outline it was computed on
(``outline_sha``); when the plot's outline changes, the entry is stale and :func:`application_outline_checks`
computes it again. A check the model cannot make (no boundary head, no imagery) is returned with the verdict
``unavailable`` and is not stored, so it is tried again on the next view.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import selectinload

from agrisense.config import Settings
from agrisense.errors import AgrisenseError, NotFound
from agrisense.lending.actors import STAFF, Actor, require_role
from agrisense.store import Application, ApplicationPlot, Database

UNAVAILABLE = "unavailable"


def outline_sha(geometry: Mapping[str, Any]) -> str:
    """A fingerprint of a GeoJSON outline (its canonical JSON), to tell whether a stored check is still current."""
    canonical = json.dumps(geometry, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_plot_outline(geometry: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The outline check of one drawn outline as a JSON-ready entry: ``verdict``, ``message``, ``iou``, the
    detected field's ``geometry`` (or None), ``model_version``, ``outline_sha`` and ``checked_at``."""
    from agrisense.outline import check_outline
    from agrisense.warmup import wait_until_warm

    wait_until_warm(settings)  # join a start-up model load rather than load a second copy
    base = {"outline_sha": outline_sha(geometry), "checked_at": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        check = check_outline(geometry, settings=settings)
    except AgrisenseError as exc:
        unavailable = {"verdict": UNAVAILABLE, "message": f"Outline check unavailable: {exc}", "iou": None}
        return {**base, **unavailable, "geometry": None, "model_version": None}
    detected = check.detected
    return {
        **base,
        "verdict": check.verdict,
        "message": check.message,
        "iou": None if check.iou is None else round(check.iou, 4),
        "geometry": None if detected is None else json.loads(json.dumps(detected.geometry)),  # as stored: lists
        "model_version": None if detected is None else detected.model_version,
    }


Progress = Callable[[int, int], object]
"""Called after each plot's check with (plots checked, plots to check): a front end's progress bar."""


def check_plots(
    plots: Sequence[Mapping[str, Any]], settings: Settings, progress: Progress | None = None
) -> dict[str, dict[str, Any]]:
    """Outline checks of ``plots`` (dicts with ``ref`` and a GeoJSON ``geometry``), by ref; ``progress`` is told
    after each one."""
    todo = [p for p in plots if p.get("geometry")]
    checks: dict[str, dict[str, Any]] = {}
    for plot in todo:
        checks[str(plot["ref"])] = check_plot_outline(plot["geometry"], settings)
        if progress is not None:
            progress(len(checks), len(todo))
    return checks


def storable(checks: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The checks worth keeping: every one the model could make (an ``unavailable`` one is tried again)."""
    return {ref: dict(c) for ref, c in checks.items() if c.get("verdict") != UNAVAILABLE}


def split_fresh(
    stored: Mapping[str, Any] | None, plots: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, dict[str, Any]], list[Mapping[str, Any]]]:
    """The stored checks still matching their plot's outline (by ref), and the plots with an outline that need a
    (new) check: none stored, or stored for an outline since changed."""
    stored = stored or {}
    fresh: dict[str, dict[str, Any]] = {}
    missing: list[Mapping[str, Any]] = []
    for plot in plots:
        geometry = plot.get("geometry")
        if not geometry:
            continue
        entry = stored.get(str(plot["ref"]))
        if isinstance(entry, Mapping) and entry.get("outline_sha") == outline_sha(geometry):
            fresh[str(plot["ref"])] = dict(entry)
        else:
            missing.append(plot)
    return fresh, missing


def _application_plots(db: Database, app_id: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    with db.session(readonly=True) as session:
        app = session.get(
            Application, app_id, options=[selectinload(Application.links).selectinload(ApplicationPlot.plot)]
        )
        if app is None:
            raise NotFound(f"Application {app_id} was not found. Pick one from the review queue.")
        plots = [
            {"ref": link.plot.ref, "geometry": link.plot.geometry_json}
            for link in sorted(app.links, key=lambda lk: lk.plot_id)
        ]
        return (dict(app.outline_checks) if app.outline_checks else None), plots


def _store(db: Database, app_id: int, checks: Mapping[str, Mapping[str, Any]]) -> None:
    """Merge ``checks`` into the application's stored ones (``updated_at`` kept: nothing the farmer or an analyst
    decided has changed)."""
    if not checks:
        return
    with db.session() as session:
        current = session.get(Application, app_id)
        if current is None:  # deleted meanwhile (the farmer's data deletion): nothing to keep
            return
        merged = {**(current.outline_checks or {}), **{ref: dict(c) for ref, c in checks.items()}}
        session.execute(
            update(Application)
            .where(Application.id == app_id)
            .values(outline_checks=merged, updated_at=Application.updated_at)
        )


def missing_outline_checks(db: Database, actor: Actor, app_id: int) -> list[str]:
    """The refs of the application's plots (staff only) whose outline check is not stored, or stored for an
    outline since changed: what :func:`application_outline_checks` would compute now."""
    require_role(actor, STAFF, "review the outline checks of an application")
    stored, plots = _application_plots(db, app_id)
    return [str(p["ref"]) for p in split_fresh(stored, plots)[1]]


def store_outline_checks(
    db: Database, app_id: int, *, settings: Settings, progress: Progress | None = None
) -> dict[str, dict[str, Any]]:
    """Each plot's outline check of an application, by plot ref: the stored ones where the outline is unchanged,
    the others computed now (the model on each plot's window: a second or more each) and stored. No actor: the
    service calls it for a submitted application (``agrisense.lending.outline_queue``); staff go through
    :func:`application_outline_checks`. Idempotent: a second call finds them stored."""
    stored, plots = _application_plots(db, app_id)
    fresh, missing = split_fresh(stored, plots)
    if not missing:
        return fresh
    computed = check_plots(missing, settings, progress)
    _store(db, app_id, storable(computed))
    return {**fresh, **computed}


def application_outline_checks(
    db: Database, actor: Actor, app_id: int, *, settings: Settings, progress: Progress | None = None
) -> dict[str, dict[str, Any]]:
    """Each plot's outline check of an application (staff only), by plot ref, as :func:`store_outline_checks`
    (``progress`` is told after each plot computed now)."""
    require_role(actor, STAFF, "review the outline checks of an application")
    return store_outline_checks(db, app_id, settings=settings, progress=progress)
