"""Four-eyes overrides: a ``change_limit`` above the policy's ``loans.second_approval_above`` needs a second analyst.

``decide_application`` records such an override as a pending ``OverrideRequest`` (audited
``change_limit_requested``) and leaves the application as it was. Another analyst (never the one who asked)
approves it, which applies the override exactly as an ordinary ``change_limit`` (bounded by the policy again, at
approval time, and re-priced; audited ``change_limit_approved`` and ``change_limit``), or rejects it (audited
``change_limit_rejected``). Every step runs under the farmer's lock in one transaction with its audit entry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from agrisense.config import Settings, get_settings
from agrisense.credit.money import json_number, total
from agrisense.credit.policy import load_policy
from agrisense.errors import Conflict, Forbidden, InvalidInput, NotFound
from agrisense.lending.actors import STAFF, Actor, require_role
from agrisense.lending.applications import (
    application_view,
    lock_farmer,
    lock_land,
    override_offers,
    refuse_financed_land,
    write_audit,
)
from agrisense.store import Application, ApplicationPlot, Database, OverrideRequest, User

OverrideStatus = Literal["pending", "approved", "rejected"]
OVERRIDE_STATUSES: tuple[str, ...] = ("pending", "approved", "rejected")


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).isoformat()


def override_view(row: OverrideRequest, app: Application, names: dict[int, str]) -> dict[str, Any]:
    """One override request as the queue, the API and the dashboard show it."""
    return {
        "id": row.id,
        "application_id": row.application_id,
        "farmer_id": app.farmer_id,
        "farmer_name": names.get(app.farmer_id),
        "application_status": app.status,
        "crop": app.crop,
        "area_ha": round(app.area_ha, 4),
        "currency": app.currency,
        "current_limit": json_number(app.credit_limit),
        "proposed_limit": json_number(app.proposed_limit),
        "new_limit": json_number(row.new_limit),
        "threshold": json_number(row.threshold),
        "policy_version": row.policy_version,
        "reason": row.reason,
        "requested_by": row.requested_by,
        "requested_by_name": names.get(row.requested_by),
        "status": row.status,
        "decided_by": row.decided_by,
        "decided_by_name": None if row.decided_by is None else names.get(row.decided_by),
        "decision_reason": row.decision_reason,
        "created_at": _iso(row.created_at),
        "decided_at": _iso(row.decided_at),
    }


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {int(i): str(n) for i, n in session.execute(select(User.id, User.name).where(User.id.in_(ids)))}


def list_overrides(db: Database, actor: Actor, *, status: str | None = "pending") -> list[dict[str, Any]]:
    """Override requests, oldest first (``status``: pending by default, None for all); analysts and admins."""
    require_role(actor, STAFF, "see override requests")
    if status is not None and status not in OVERRIDE_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(OVERRIDE_STATUSES)}.")
    with db.session(readonly=True) as session:
        query = select(OverrideRequest, Application).join(Application, Application.id == OverrideRequest.application_id)
        if status is not None:
            query = query.where(OverrideRequest.status == status)
        rows = session.execute(query.order_by(OverrideRequest.created_at, OverrideRequest.id)).all()
        people = {a.farmer_id for _, a in rows} | {r.requested_by for r, _ in rows}
        names = _names(session, people | {r.decided_by for r, _ in rows if r.decided_by is not None})
        return [override_view(r, a, names) for r, a in rows]


def _for_decision(session: Session, actor: Actor, override_id: int, reason: str) -> tuple[OverrideRequest, str]:
    """The pending request, locked under its farmer; refuses the analyst who asked for it (four-eyes)."""
    require_role(actor, STAFF, "decide override requests")
    why = (reason or "").strip()
    if not why:
        raise InvalidInput("Give a reason for approving or rejecting the override; it is kept in the audit log.")
    farmer_id = session.scalar(
        select(Application.farmer_id)
        .join(OverrideRequest, OverrideRequest.application_id == Application.id)
        .where(OverrideRequest.id == override_id)
    )
    if farmer_id is None:
        raise NotFound(f"Override request {override_id} does not exist.")
    lock_farmer(session, farmer_id)
    row = session.get(OverrideRequest, override_id)
    if row is None:
        raise NotFound(f"Override request {override_id} does not exist.")
    session.refresh(row)  # read again under the lock: another analyst may have decided it
    if row.status != "pending":
        raise Conflict(f"Override request {override_id} was already {row.status}.")
    if row.requested_by == actor.user_id:
        raise Forbidden(
            f"You asked for override {override_id}; a second analyst must approve or reject it (four-eyes rule)."
        )
    return row, why


def _close(row: OverrideRequest, actor: Actor, status: OverrideStatus, reason: str) -> None:
    row.status = status
    row.decided_by = actor.user_id
    row.decision_reason = reason
    row.decided_at = datetime.now(UTC)


def approve_override(
    db: Database, actor: Actor, override_id: int, *, reason: str, settings: Settings | None = None
) -> dict[str, Any]:
    """A second analyst approves a pending override: the application gets the new limit, re-priced and bounded by
    the policy as of now (``InvalidInput`` if the farmer's other credit has grown since: reject it then). Returns
    the application view."""
    try:
        with db.session() as session:
            row, why = _for_decision(session, actor, override_id, reason)
            app = session.get(
                Application,
                row.application_id,
                options=[selectinload(Application.links).selectinload(ApplicationPlot.plot)],
            )
            if app is None:
                raise NotFound(f"Application {row.application_id} does not exist.")
            if app.status in ("accepted", "withdrawn"):
                raise Conflict(
                    f"Application {app.id} is {app.status}; its override request {override_id} can only be rejected."
                )
            if app.status == "declined":  # its plots were released: they may be under another loan by now
                lock_land(session)
                policy = load_policy((settings or get_settings()).policy_file)
                refuse_financed_land(session, [link.plot for link in app.links], policy)
            before = {"status": app.status, "credit_limit": json_number(app.credit_limit)}
            app.offers = override_offers(session, app, Decimal(row.new_limit), settings)
            app.proposed_limit = total(o.get("credit_limit") for o in app.offers)
            app.status, app.credit_limit = "offered", Decimal(row.new_limit)
            for link in app.links:
                link.active = True
            _close(row, actor, "approved", why)
            session.flush()
            after = {"status": app.status, "credit_limit": json_number(app.credit_limit)}
            common = {"application_id": app.id, "subject_user_id": app.farmer_id}
            write_audit(session, actor, "change_limit_approved", reason=why, details={"override_id": row.id}, **common)
            write_audit(
                session,
                actor,
                "change_limit",
                reason=row.reason,
                details={
                    "before": before,
                    "after": after,
                    "override_id": row.id,
                    "requested_by": row.requested_by,
                    "approved_by": actor.user_id,
                },
                **common,
            )
            session.flush()
            return application_view(session, app)
    except IntegrityError as exc:
        raise Conflict(
            f"A plot of override request {override_id}'s application is now in another open application; "
            "reject the override."
        ) from exc


def reject_override(db: Database, actor: Actor, override_id: int, *, reason: str) -> dict[str, Any]:
    """A second analyst rejects a pending override; the application stays as it was. Returns the request."""
    with db.session() as session:
        row, why = _for_decision(session, actor, override_id, reason)
        app = session.get(Application, row.application_id)
        if app is None:
            raise NotFound(f"Application {row.application_id} does not exist.")
        _close(row, actor, "rejected", why)
        session.flush()
        write_audit(
            session,
            actor,
            "change_limit_rejected",
            application_id=app.id,
            subject_user_id=app.farmer_id,
            reason=why,
            details={"override_id": row.id, "new_limit": json_number(row.new_limit)},
        )
        session.flush()
        return override_view(row, app, _names(session, {app.farmer_id, row.requested_by, actor.user_id}))
