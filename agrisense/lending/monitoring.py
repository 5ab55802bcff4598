"""Portfolio and in-season monitoring: re-score rows, active loans, warnings (written by the re-score pipeline)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import shapely
import shapely.errors
import shapely.geometry
from shapely.geometry.base import BaseGeometry
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from agrisense.credit.money import CENT, from_cents, json_number, to_money
from agrisense.errors import InvalidInput
from agrisense.lending.actors import STAFF, Actor
from agrisense.loans.booking import ledger_postings
from agrisense.loans.ledger import loan_exposure
from agrisense.loans.terms import frozen_tranches, terms_from_json
from agrisense.store import Application, ApplicationPlot, Database, FarmPlot, Loan, MonitoringWarning, RescoreRow, User

RESCORE_FIELDS = (
    "farmer_id",
    "crop",
    "crop_probability",
    "area_ha",
    "decision",
    "credit_limit",
    "expected_loss",
    "pd",
    "geometry",
    "reasons",
)
WARNING_FIELDS = ("loan_id", "severity", "message_en", "message_zh", "action", "season")


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _geometry(value: Any, plot_id: str) -> BaseGeometry | None:
    """A row's outline as a shapely geometry (lon/lat) from GeoJSON or a geometry; None stays None."""
    if value is None or isinstance(value, BaseGeometry):
        return value
    try:
        return shapely.geometry.shape(value)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
        raise InvalidInput(f"re-score row {plot_id!r}: geometry is not GeoJSON ({exc}); send GeoJSON.") from exc


def record_rescore(db: Database, *, run_id: str, season: int, rows: Sequence[dict[str, Any]]) -> int:
    """Upsert one row per plot of a county re-score (idempotent per ``(run_id, plot_id)``); returns rows written.

    A row's ``geometry`` (GeoJSON or shapely, lon/lat) is stored as ``RescoreRow.geom``: PostGIS geometry (SRID
    4326, GiST index) on PostgreSQL, WKT on SQLite. A row with a geometry that is not GeoJSON is refused before
    anything is written."""
    if not run_id:
        raise InvalidInput("record_rescore needs a run_id.")
    by_plot = {str(r["plot_id"]): r for r in rows if r.get("plot_id") is not None}
    geoms = {plot_id: _geometry(data.get("geometry"), plot_id) for plot_id, data in by_plot.items()}
    with db.session() as session:
        existing = {
            r.plot_id: r
            for r in session.scalars(
                select(RescoreRow).where(RescoreRow.run_id == run_id, RescoreRow.plot_id.in_(list(by_plot)))
            )
        }
        for plot_id, data in by_plot.items():
            row = existing.get(plot_id) or RescoreRow(run_id=run_id, plot_id=plot_id)
            row.season = int(season)
            row.farmer_id = None if data.get("farmer_id") is None else str(data["farmer_id"])
            row.crop = data.get("crop")
            row.decision = data.get("decision")
            for key in ("crop_probability", "area_ha", "pd"):
                setattr(row, key, _float(data.get(key)))
            for key in ("credit_limit", "expected_loss"):
                amount = _float(data.get(key))
                setattr(row, key, None if amount is None else to_money(amount))
            row.geom = geoms[plot_id]
            row.reasons = list(data.get("reasons") or [])
            if plot_id not in existing:
                session.add(row)
    return len(by_plot)


def active_loans(db: Database, *, season: int | None = None) -> list[dict[str, Any]]:
    """Accepted applications whose loan is not repaid: loan id (the application's), the booked ledger loan's id,
    farmer, plots (ids, GeoJSON and each plot's accepted offer), crop, limit and finance season (``season``: only
    loans financing that season)."""
    with db.session(readonly=True) as session:
        query = (
            select(Application, Loan.id)
            .outerjoin(Loan, Loan.application_id == Application.id)
            .where(Application.status == "accepted", or_(Loan.state.is_(None), Loan.state != "repaid"))
            .options(selectinload(Application.links).selectinload(ApplicationPlot.plot))
            .order_by(Application.id)
        )
        if season is not None:
            query = query.where(Application.finance_season == season)
        loans = []
        for app, ledger_id in session.execute(query):
            offers = {str(o.get("plot_id")): o for o in app.offers or [] if isinstance(o, dict)}
            plots = [
                {
                    "plot_id": link.plot.ref,
                    "crop": link.plot.declared_crop,
                    "area_ha": link.plot.area_ha,
                    "geometry": link.plot.geometry_json,
                    "offer": offers.get(link.plot.ref),
                }
                for link in app.links
            ]
            loans.append(
                {
                    "loan_id": app.id,
                    "ledger_loan_id": ledger_id,
                    "application_id": app.id,
                    "farmer_id": app.farmer_id,
                    "plot_ids": [p["plot_id"] for p in plots],
                    "crop": app.crop,
                    "credit_limit": json_number(app.credit_limit),
                    "currency": app.currency,
                    "finance_season": app.finance_season,
                    "accepted_at": None if app.accepted_at is None else app.accepted_at.isoformat(),
                    "geometry": _collection(plots),
                    "plots": plots,
                }
            )
        return loans


def _collection(plots: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One GeoJSON geometry for a loan's plots (a MultiPolygon of every part)."""
    parts: list[Any] = []
    for p in plots:
        geom = p["geometry"]
        parts.extend([geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"])
    return {"type": "MultiPolygon", "coordinates": parts}


def record_warnings(db: Database, warnings: Sequence[dict[str, Any]]) -> int:
    """Store monitoring warnings, idempotent per ``(run_id, plot_id, code)``; returns warnings written."""
    with db.session() as session:
        written = 0
        for w in warnings:
            missing = [k for k in ("run_id", "plot_id", "code", "severity", "message_en", "message_zh") if not w.get(k)]
            if missing:
                raise InvalidInput(f"A warning is missing {', '.join(missing)}.")
            key = (str(w["run_id"]), str(w["plot_id"]), str(w["code"]))
            row = session.scalar(
                select(MonitoringWarning).where(
                    MonitoringWarning.run_id == key[0],
                    MonitoringWarning.plot_id == key[1],
                    MonitoringWarning.code == key[2],
                )
            )
            if row is None:
                row = MonitoringWarning(run_id=key[0], plot_id=key[1], code=key[2])
                session.add(row)
            loan_id = _loan_id(w.get("loan_id"))
            row.loan_id = loan_id
            row.season = None if w.get("season") is None else int(w["season"])
            row.severity = str(w["severity"])
            row.message_en = str(w["message_en"])
            row.message_zh = str(w["message_zh"])
            row.action = None if w.get("action") is None else str(w["action"])
            row.farmer_user_id = _farmer_of(session, loan_id, key[1])
            session.flush()
            written += 1
        return written


def _loan_id(value: Any) -> int | None:
    """A warning's application id, or None for a loan that is not in the database (e.g. an offers file's plot id
    such as ``P00011`` when ``rescore --active-loans`` runs with ``--database``)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() else None


def _farmer_of(session: Any, loan_id: int | None, plot_ref: str) -> int | None:
    if loan_id is not None:
        farmer = session.scalar(select(Application.farmer_id).where(Application.id == loan_id))
        if farmer is not None:
            return int(farmer)
    farmer = session.scalar(select(FarmPlot.farmer_id).where(FarmPlot.ref == plot_ref))
    return None if farmer is None else int(farmer)


def _warning_view(w: MonitoringWarning) -> dict[str, Any]:
    return {
        "id": w.id,
        "run_id": w.run_id,
        "season": w.season,
        "plot_id": w.plot_id,
        "loan_id": w.loan_id,
        "code": w.code,
        "severity": w.severity,
        "message_en": w.message_en,
        "message_zh": w.message_zh,
        "action": w.action,
        "created_at": w.created_at.isoformat(),
    }


def list_warnings(db: Database, actor: Actor, *, active_only: bool = True) -> list[dict[str, Any]]:
    """Warnings, newest first; a farmer sees only their own. ``active_only``: each plot's latest run only."""
    with db.session(readonly=True) as session:
        query = select(MonitoringWarning).order_by(MonitoringWarning.id.desc())
        if actor.role not in STAFF:
            query = query.where(MonitoringWarning.farmer_user_id == actor.user_id)
        rows = session.scalars(query).all()
        if active_only:
            latest: dict[str, str] = {}
            for w in rows:  # newest first: the first run seen for a plot is its latest
                latest.setdefault(w.plot_id, w.run_id)
            rows = [w for w in rows if latest[w.plot_id] == w.run_id]
        return [_warning_view(w) for w in rows]


def _risk(pd: float | None, n_warnings: int) -> str:
    if n_warnings > 0 or (pd is not None and pd > 0.15):
        return "high"
    if pd is not None and pd > 0.07:
        return "medium"
    return "low"


def _ledger_exposure(loan: Loan | None, limit: Decimal) -> Decimal:
    """A booked loan's exposure from its ledger today (outstanding principal + committed, not frozen, tranches);
    the accepted limit for an accepted application booked before the ledger existed."""
    if loan is None:
        return limit
    postings = ledger_postings(loan)
    on = max([datetime.now(UTC).date(), *(p.on for p in postings)])
    exposure = loan_exposure(terms_from_json(loan.terms), postings, on, frozen_tranches(loan.terms))
    return from_cents(exposure.exposure_cents)


def portfolio(db: Database, actor: Actor) -> list[dict[str, Any]]:
    """Financed plots (accepted loans, not yet repaid): crop, village, exposure, expected loss, PD and a risk band.

    A plot's exposure is its share (by its offer's limit) of the loan's ledger exposure: outstanding principal
    plus the tranches still committed (``loans.ledger.loan_exposure``), not the accepted limit.

    Staff see the whole book; a farmer sees their own plots. The latest re-score of a plot, when there is one,
    supersedes the PD and expected loss of the original offer.
    """
    warnings = list_warnings(db, actor, active_only=True)
    warned: dict[str, int] = {}
    for w in warnings:
        warned[w["plot_id"]] = warned.get(w["plot_id"], 0) + 1
    with db.session(readonly=True) as session:
        query = (
            select(Application, User.name, Loan)
            .join(User, User.id == Application.farmer_id)
            .outerjoin(Loan, Loan.application_id == Application.id)
            .where(
                Application.status == "accepted",
                or_(Loan.state.is_(None), Loan.state.not_in(("repaid", "written_off"))),
            )
            .options(selectinload(Application.links).selectinload(ApplicationPlot.plot), selectinload(Loan.postings))
            .order_by(Application.id)
        )
        if actor.role not in STAFF:
            query = query.where(Application.farmer_id == actor.user_id)
        result = []
        for app, farmer_name, loan in session.execute(query):
            booked = _ledger_exposure(loan, app.credit_limit)
            offers = {o.get("plot_id"): o for o in app.offers}
            offered_total = sum(float(o.get("credit_limit") or 0.0) for o in app.offers) or 0.0
            for link in app.links:
                plot = link.plot
                offer = offers.get(plot.ref, {})
                share = (
                    float(offer.get("credit_limit") or 0.0) / offered_total
                    if offered_total > 0
                    else 1.0 / max(1, len(app.links))
                )
                exposure = (booked * Decimal(str(share))).quantize(CENT)
                latest = session.scalars(
                    select(RescoreRow).where(RescoreRow.plot_id == plot.ref).order_by(RescoreRow.id.desc()).limit(1)
                ).first()
                pd = latest.pd if latest is not None and latest.pd is not None else _float(offer.get("pd"))
                lgd = Decimal(str(offer.get("lgd") or 0.6))
                el = (exposure * Decimal(str(pd or 0.0)) * lgd).quantize(CENT)
                result.append(
                    {
                        "loan_id": app.id,
                        "plot_id": plot.ref,
                        "farmer_id": app.farmer_id,
                        "farmer_name": farmer_name,
                        "crop": (latest.crop if latest is not None and latest.crop else None) or app.crop,
                        "village": plot.village,
                        "area_ha": round(plot.area_ha, 4),
                        "exposure": json_number(exposure),
                        "currency": app.currency,
                        "pd": pd,
                        "expected_loss": json_number(el),
                        "warnings": warned.get(plot.ref, 0),
                        "risk": _risk(pd, warned.get(plot.ref, 0)),
                        "rescore_run_id": None if latest is None else latest.run_id,
                        "geometry": plot.geometry_json,
                    }
                )
        return result
