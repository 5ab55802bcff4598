"""Credit applications: consent, submission (scored offer), acceptance, analyst review and the audit log."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from agrisense.config import Settings
from agrisense.credit.money import json_number, to_money, total
from agrisense.errors import Conflict, InvalidGeometry, InvalidInput, NotFound
from agrisense.lending.actors import STAFF, Actor, require_role
from agrisense.lending.plots import as_plot, overlap_with_others
from agrisense.lending.scoring import score_application
from agrisense.store import Application, ApplicationPlot, AuditEntry, Consent, Database, FarmPlot, User

MAX_PLOTS_PER_APPLICATION = 20
CONSENT_PURPOSE = "credit_assessment_imagery"
CONSENT_STATEMENT = (
    "I agree that agrisense processes Sentinel-2 satellite imagery of the plots listed here, their outlines and my "
    "declared crops, to assess my application for seasonal credit. This consent is separate from any other terms; "
    "I can export or delete my data at any time."
)
OPEN_STATUSES = frozenset({"offered", "in_review", "accepted"})
Decision = Literal["approve", "decline", "change_limit"]


def _aware(ts: datetime | None) -> datetime | None:
    return None if ts is None else (ts if ts.tzinfo else ts.replace(tzinfo=UTC))


def _iso(ts: datetime | None) -> str | None:
    aware = _aware(ts)
    return None if aware is None else aware.isoformat()


def write_audit(
    session: Session,
    actor: Actor | None,
    action: str,
    *,
    application_id: int | None = None,
    subject_user_id: int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry to the audit log (there is no update or delete path)."""
    session.add(
        AuditEntry(
            actor_id=None if actor is None else actor.user_id,
            actor_role="system" if actor is None else actor.role,
            action=action,
            application_id=application_id,
            subject_user_id=subject_user_id,
            reason=reason,
            details=details or {},
        )
    )


def audit_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": _iso(entry.at),
        "actor_id": entry.actor_id,
        "actor_role": entry.actor_role,
        "action": entry.action,
        "application_id": entry.application_id,
        "subject_user_id": entry.subject_user_id,
        "reason": entry.reason,
        "details": entry.details,
    }


def engine_decision(offers: Sequence[dict[str, Any]]) -> str:
    """The application's decision from its plots' offers: approve if all approve, decline if all decline, else refer."""
    decisions = {o.get("decision") for o in offers}
    if decisions == {"approve"}:
        return "approve"
    if decisions == {"decline"}:
        return "decline"
    return "refer"


STATUS_OF = {"approve": "offered", "refer": "in_review", "decline": "declined"}


def _main_crop(offers: Sequence[dict[str, Any]]) -> str | None:
    area: dict[str, float] = {}
    for o in offers:
        crop = o.get("assessed_crop") or o.get("crop") or o.get("declared_crop")
        if crop:
            area[crop] = area.get(crop, 0.0) + float(o.get("area_ha") or 0.0)
    return max(area, key=lambda c: area[c]) if area else None


def _load(session: Session, actor: Actor, app_id: int) -> Application:
    app = session.get(Application, app_id, options=[selectinload(Application.links).selectinload(ApplicationPlot.plot)])
    if app is None or (actor.role not in STAFF and app.farmer_id != actor.user_id):
        raise NotFound(f"Application {app_id} was not found among your applications.")
    return app


def application_view(session: Session, app: Application) -> dict[str, Any]:
    """The one JSON view of an application (API, dashboard and CLI show the same object)."""
    decisions = session.scalars(
        select(AuditEntry).where(AuditEntry.application_id == app.id).order_by(AuditEntry.id)
    ).all()
    consent = session.get(Consent, app.consent_id) if app.consent_id is not None else None
    farmer = session.get(User, app.farmer_id)
    plots = [
        {
            "id": link.plot.id,
            "ref": link.plot.ref,
            "declared_crop": link.plot.declared_crop,
            "area_ha": round(link.plot.area_ha, 4),
            "geometry": link.plot.geometry_json,
        }
        for link in sorted(app.links, key=lambda lk: lk.plot_id)
    ]
    return {
        "id": app.id,
        "farmer_id": app.farmer_id,
        "farmer_name": None if farmer is None else farmer.name,
        "status": app.status,
        "engine_decision": app.engine_decision,
        "credit_limit": json_number(app.credit_limit),
        "proposed_limit": json_number(app.proposed_limit),
        "currency": app.currency,
        "crop": app.crop,
        "area_ha": round(app.area_ha, 4),
        "finance_season": app.finance_season,
        "plots": plots,
        "offer": {
            "decision": app.engine_decision,
            "credit_limit": json_number(app.credit_limit),
            "currency": app.currency,
            "offers": app.offers,
        },
        "consent": None
        if consent is None
        else {"id": consent.id, "terms_version": consent.terms_version, "granted_at": _iso(consent.granted_at)},
        "decisions": [audit_view(d) for d in decisions],
        "created_at": _iso(app.created_at),
        "updated_at": _iso(app.updated_at),
        "accepted_at": _iso(app.accepted_at),
    }


def _plot_ids(plot_ids: Sequence[int]) -> list[int]:
    if not isinstance(plot_ids, list | tuple) or not plot_ids:
        raise InvalidInput("Choose at least one of your plots for the application.")
    if len(plot_ids) > MAX_PLOTS_PER_APPLICATION:
        raise InvalidInput(f"An application can hold at most {MAX_PLOTS_PER_APPLICATION} plots.")
    ids = [int(i) for i in plot_ids]
    if len(set(ids)) != len(ids):
        raise InvalidInput("A plot is listed twice. List each plot once.")
    return ids


def _refuse_non_cropland(offers: Sequence[dict[str, Any]], refs: Sequence[str]) -> None:
    """A plot the satellite sees as not cropland is a drawing mistake the farmer can fix: 422, nothing stored.

    Only the consent (given before any imagery was processed) stays on record; no application is written."""
    for offer, ref in zip(offers, refs, strict=True):
        if any(r.get("code") == "NOT_CROPLAND" for r in offer.get("reasons") or []):
            share = float((offer.get("evidence") or {}).get("cropland_fraction") or 0.0)
            raise InvalidGeometry(
                f"Plot {ref}: the satellite sees almost no farmland inside this outline (only {share:.0%} cropland). "
                "Check that you drew your own field, not a road, houses, water or forest, then redraw it and "
                "submit again."
            )


def submit_application(
    db: Database, actor: Actor, *, plot_ids: Sequence[int], consent: bool, settings: Settings
) -> dict[str, Any]:
    """Record consent, score the farmer's plots and store the application with its offer, all or nothing.

    Consent is stored first (imagery is processed only after it). The application is written in one transaction
    after scoring; a plot can be in one open application only (a database constraint), so a duplicate or concurrent
    second submission gets ``Conflict``.
    """
    require_role(actor, ["farmer"], "apply for credit")
    if consent is not True:
        raise InvalidInput(
            "We need your explicit consent to process satellite imagery of your plots before we can assess them. "
            "Tick the consent box and submit again."
        )
    ids = _plot_ids(plot_ids)
    with db.session(readonly=True) as session:
        rows = session.scalars(select(FarmPlot).where(FarmPlot.id.in_(ids))).all()
        mine = {r.id: r for r in rows if r.farmer_id == actor.user_id}
        missing = [i for i in ids if i not in mine]
        if missing:
            raise NotFound(f"Plot {missing[0]} was not found among your plots. Choose plots you have drawn.")
        _check_not_pledged(session, ids)
        plots = [as_plot(mine[i]) for i in ids]
        overlaps = overlap_with_others(session, plots, actor.user_id, postgis=db.is_postgis)
        exposure = session.scalars(
            select(Application.credit_limit).where(
                Application.farmer_id == actor.user_id, Application.status == "accepted"
            )
        ).all()
        refs = [mine[i].ref for i in ids]
    with db.session() as session:
        consent_row = Consent(
            farmer_id=actor.user_id,
            purpose=CONSENT_PURPOSE,
            statement=CONSENT_STATEMENT,
            plot_refs=refs,
            terms_version=settings.terms_version,
        )
        session.add(consent_row)
        session.flush()
        consent_id = consent_row.id
        write_audit(
            session,
            actor,
            "consent",
            subject_user_id=actor.user_id,
            details={"consent_id": consent_id, "plots": refs, "terms_version": settings.terms_version},
        )
    offers = score_application(
        plots, settings=settings, overlaps=overlaps, existing_exposure={str(actor.user_id): total(exposure)}
    )
    _refuse_non_cropland(offers, refs)
    decision = engine_decision(offers)
    limit = total(o.get("credit_limit") for o in offers if o.get("decision") == "approve")
    proposed = total(o.get("credit_limit") for o in offers if o.get("decision") != "decline")
    status = STATUS_OF[decision]
    try:
        with db.session() as session:
            app = Application(
                farmer_id=actor.user_id,
                consent_id=consent_id,
                status=status,
                engine_decision=decision,
                credit_limit=limit if decision == "approve" else Decimal(0),
                proposed_limit=proposed,
                currency=str(offers[0].get("currency") or "CNY"),
                crop=_main_crop(offers),
                area_ha=float(sum(p.area_ha for p in plots)),
                finance_season=offers[0].get("finance_season"),
                offers=offers,
            )
            session.add(app)
            session.flush()
            for i in ids:
                session.add(ApplicationPlot(application_id=app.id, plot_id=i, active=status != "declined"))
            session.flush()
            write_audit(
                session,
                None,
                "engine_decision",
                application_id=app.id,
                subject_user_id=actor.user_id,
                reason="; ".join(_decisive_codes(offers)) or None,
                details={
                    "decision": decision,
                    "credit_limit": json_number(app.credit_limit),
                    "proposed_limit": json_number(proposed),
                    "policy_version": offers[0].get("policy_version"),
                },
            )
            session.flush()
            return application_view(session, _load(session, actor, app.id))
    except IntegrityError as exc:
        raise Conflict(
            "One of these plots was submitted in another application at the same moment. Open your applications "
            "to see it."
        ) from exc


def _check_not_pledged(session: Session, ids: Sequence[int]) -> None:
    row = session.execute(
        select(ApplicationPlot.plot_id, ApplicationPlot.application_id, Application.status)
        .join(Application, Application.id == ApplicationPlot.application_id)
        .where(ApplicationPlot.plot_id.in_(ids), ApplicationPlot.active)
    ).first()
    if row is not None:
        raise Conflict(
            f"Plot {row.plot_id} is already in application {row.application_id} ({row.status}). "
            "Wait for that application's decision instead of submitting it again."
        )


def _decisive_codes(offers: Sequence[dict[str, Any]]) -> list[str]:
    codes: list[str] = []
    for o in offers:
        for r in o.get("reasons") or []:
            if r.get("kind") in ("decline", "refer") and r.get("code") not in codes:
                codes.append(r["code"])
    return codes


def get_application(db: Database, actor: Actor, app_id: int) -> dict[str, Any]:
    """One application (its farmer or staff only)."""
    with db.session(readonly=True) as session:
        return application_view(session, _load(session, actor, app_id))


def list_applications(db: Database, actor: Actor) -> list[dict[str, Any]]:
    """The acting farmer's applications, newest first (staff: use ``list_review_queue``)."""
    with db.session(readonly=True) as session:
        apps = session.scalars(
            select(Application)
            .where(Application.farmer_id == actor.user_id)
            .options(selectinload(Application.links).selectinload(ApplicationPlot.plot))
            .order_by(Application.id.desc())
        ).all()
        return [application_view(session, a) for a in apps]


def accept_offer(db: Database, actor: Actor, app_id: int) -> dict[str, Any]:
    """The farmer accepts an offered limit: the application becomes an active loan."""
    with db.session() as session:
        app = _load(session, actor, app_id)
        require_role(actor, ["farmer"], "accept an offer")
        if app.status != "offered":
            hint = {
                "accepted": "It is already accepted.",
                "in_review": "It is still being reviewed by an analyst; you will be told the decision.",
                "declined": "It was declined, so there is nothing to accept.",
            }.get(app.status, "")
            raise Conflict(f"Application {app_id} cannot be accepted now. {hint}".strip())
        if app.credit_limit <= 0:
            raise Conflict(f"Application {app_id} has no credit limit to accept.")
        app.status = "accepted"
        app.accepted_at = datetime.now(UTC)
        write_audit(
            session,
            actor,
            "accept",
            application_id=app.id,
            subject_user_id=actor.user_id,
            details={"credit_limit": json_number(app.credit_limit)},
        )
        session.flush()
        return application_view(session, app)


def list_review_queue(
    db: Database,
    actor: Actor,
    *,
    status: str | None = None,
    decision: str | None = None,
    crop: str | None = None,
    older_than_hours: float | None = None,
) -> list[dict[str, Any]]:
    """Applications for analysts, oldest first, with the engine's decision, limit and decisive reasons."""
    require_role(actor, STAFF, "see the review queue")
    now = datetime.now(UTC)
    with db.session(readonly=True) as session:
        query = (
            select(Application, User.name)
            .join(User, User.id == Application.farmer_id)
            .options(selectinload(Application.links).selectinload(ApplicationPlot.plot))
            .order_by(Application.created_at, Application.id)
        )
        if status:
            query = query.where(Application.status == status)
        if decision:
            query = query.where(Application.engine_decision == decision)
        if crop:
            query = query.where(Application.crop == crop.strip().lower())
        rows = []
        for app, farmer_name in session.execute(query):
            created = _aware(app.created_at) or now
            age = (now - created).total_seconds() / 3600
            if older_than_hours is not None and age < older_than_hours:
                continue
            rows.append(
                {
                    "id": app.id,
                    "farmer_id": app.farmer_id,
                    "farmer_name": farmer_name,
                    "plots": [link.plot.ref for link in app.links],
                    "crop": app.crop,
                    "area_ha": round(app.area_ha, 4),
                    "engine_decision": app.engine_decision,
                    "credit_limit": json_number(app.credit_limit),
                    "proposed_limit": json_number(app.proposed_limit),
                    "currency": app.currency,
                    "reasons": _decisive_codes(app.offers),
                    "age_hours": round(age, 2),
                    "status": app.status,
                    "created_at": _iso(app.created_at),
                }
            )
        return rows


def decide_application(
    db: Database,
    actor: Actor,
    app_id: int,
    *,
    decision: Decision,
    reason: str,
    new_limit: float | None = None,
) -> dict[str, Any]:
    """An analyst's decision or override, with a mandatory reason, written to the audit log in the same transaction."""
    require_role(actor, STAFF, "decide applications")
    if decision not in ("approve", "decline", "change_limit"):
        raise InvalidInput("decision must be approve, decline or change_limit.")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a reason for the decision; it is kept in the audit log.")
    if decision == "change_limit" and (
        new_limit is None or not math.isfinite(new_limit) or new_limit <= 0 or new_limit > 1_000_000
    ):
        raise InvalidInput("change_limit needs new_limit, a positive amount (at most 1,000,000).")
    try:
        with db.session() as session:
            app = _load(session, actor, app_id)
            if app.status == "accepted":
                raise Conflict(f"Application {app_id} was already accepted by the farmer; it is an active loan now.")
            before = {"status": app.status, "credit_limit": json_number(app.credit_limit)}
            if decision == "decline":
                app.status, app.credit_limit = "declined", Decimal(0)
            else:
                limit = (
                    to_money(new_limit or 0) if decision == "change_limit" else (app.credit_limit or app.proposed_limit)
                )
                if limit <= 0:
                    raise Conflict(
                        f"Application {app_id} has no proposed limit to approve. Use change_limit with new_limit."
                    )
                app.status, app.credit_limit = "offered", to_money(limit)
            for link in app.links:
                link.active = app.status != "declined"
            session.flush()
            write_audit(
                session,
                actor,
                decision,
                application_id=app.id,
                subject_user_id=app.farmer_id,
                reason=reason,
                details={
                    "before": before,
                    "after": {"status": app.status, "credit_limit": json_number(app.credit_limit)},
                },
            )
            session.flush()
            return application_view(session, app)
    except IntegrityError as exc:
        raise Conflict(
            f"A plot of application {app_id} is now in another open application; decide that one first."
        ) from exc


def audit_log(db: Database, actor: Actor, *, app_id: int | None = None) -> list[dict[str, Any]]:
    """Audit entries, oldest first: staff see all; a farmer sees the entries about them and their applications."""
    with db.session(readonly=True) as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if app_id is not None:
            _load(session, actor, app_id)
            query = query.where(AuditEntry.application_id == app_id)
        elif actor.role not in STAFF:
            query = query.where(AuditEntry.subject_user_id == actor.user_id)
        return [audit_view(e) for e in session.scalars(query)]
