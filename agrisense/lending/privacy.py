"""PIPL rights: a farmer exports everything held about them, or deletes it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from agrisense.errors import Conflict, NotFound
from agrisense.lending.actors import Actor
from agrisense.lending.applications import application_view, audit_view, write_audit
from agrisense.lending.monitoring import list_warnings
from agrisense.lending.plots import plot_view
from agrisense.store import (
    Application,
    AuditEntry,
    Consent,
    Database,
    FarmPlot,
    MonitoringWarning,
    RescoreRow,
    User,
)


def export_farmer_data(db: Database, actor: Actor) -> dict[str, Any]:
    """Everything stored about the acting user: account, plots, consents, applications, audit entries, warnings."""
    warnings = list_warnings(db, actor, active_only=False) if actor.role == "farmer" else []
    with db.session(readonly=True) as session:
        user = session.get(User, actor.user_id)
        if user is None:
            raise NotFound("Your account no longer exists.")
        plots = session.scalars(select(FarmPlot).where(FarmPlot.farmer_id == user.id).order_by(FarmPlot.id)).all()
        consents = session.scalars(select(Consent).where(Consent.farmer_id == user.id).order_by(Consent.id)).all()
        apps = session.scalars(
            select(Application).where(Application.farmer_id == user.id).order_by(Application.id)
        ).all()
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.subject_user_id == user.id).order_by(AuditEntry.id)
        ).all()
        return {
            "exported_at": datetime.now(UTC).isoformat(),
            "account": {
                "id": user.id,
                "phone": user.phone,
                "name": user.name,
                "role": user.role,
                "created_at": user.created_at.isoformat(),
            },
            "plots": [plot_view(p) for p in plots],
            "consents": [
                {
                    "id": c.id,
                    "purpose": c.purpose,
                    "statement": c.statement,
                    "plots": c.plot_refs,
                    "terms_version": c.terms_version,
                    "granted_at": c.granted_at.isoformat(),
                }
                for c in consents
            ],
            "applications": [application_view(session, a) for a in apps],
            "audit_log": [audit_view(e) for e in audit],
            "warnings": warnings,
        }


def delete_farmer_data(db: Database, actor: Actor) -> None:
    """Delete the acting user's account, plots, consents, applications, re-score rows and warnings.

    Refused (``Conflict``) while a loan is active: the lender must keep loan records until repayment. The audit log
    keeps its entries (ids and decisions only, no personal data) and records the deletion itself.
    """
    with db.session() as session:
        user = session.get(User, actor.user_id)
        if user is None:
            raise NotFound("Your account no longer exists.")
        active = session.scalar(
            select(Application.id).where(Application.farmer_id == user.id, Application.status == "accepted")
        )
        if active is not None:
            raise Conflict(
                f"You have an active loan (application {active}). Its records must be kept until it is repaid; "
                "you can delete your data after that."
            )
        refs = session.scalars(select(FarmPlot.ref).where(FarmPlot.farmer_id == user.id)).all()
        counts = {
            "plots": len(refs),
            "applications": len(session.scalars(select(Application.id).where(Application.farmer_id == user.id)).all()),
        }
        session.execute(delete(MonitoringWarning).where(MonitoringWarning.farmer_user_id == user.id))
        if refs:
            session.execute(delete(RescoreRow).where(RescoreRow.plot_id.in_(refs)))
        session.execute(delete(Application).where(Application.farmer_id == user.id))
        session.execute(delete(Consent).where(Consent.farmer_id == user.id))
        session.execute(delete(FarmPlot).where(FarmPlot.farmer_id == user.id))
        session.delete(user)
        session.flush()
        write_audit(session, actor, "delete_data", subject_user_id=actor.user_id, details=counts)
