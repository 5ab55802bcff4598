"""PIPL rights: a farmer exports everything held about them, withdraws a consent, or deletes their data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from agrisense.errors import Conflict, NotFound
from agrisense.lending.actors import Actor
from agrisense.lending.applications import (
    WITHDRAWABLE_STATUSES,
    application_view,
    audit_view,
    lock_farmer,
    write_audit,
)
from agrisense.lending.monitoring import list_warnings
from agrisense.lending.plots import plot_view
from agrisense.store import (
    Application,
    AuditEntry,
    Consent,
    Database,
    FarmPlot,
    Loan,
    MonitoringWarning,
    RescoreRow,
    User,
)


def _iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    return (ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)).isoformat()


def consent_record(c: Consent) -> dict[str, Any]:
    """A stored consent as the export and the withdrawal show it."""
    return {
        "id": c.id,
        "purpose": c.purpose,
        "statement": c.statement,
        "language": c.language,
        "plots": c.plot_refs,
        "terms_version": c.terms_version,
        "granted_at": _iso(c.granted_at),
        "withdrawn_at": _iso(c.withdrawn_at),
    }


RETAINED_WITH_LOAN = (
    "loan",
    "loan_postings",
    "application_offer",
    "consent_record",
    "audit_log",
)
"""What stays stored when a consent under an active loan is withdrawn (PIPL art. 13(1)(2): needed to perform the
credit contract; art. 47: kept while the law requires, then deletable): the loan (limit, price, dated schedule),
its ledger postings (disbursements, repayments, interest, fees), the application with the offer the farmer
accepted (the contract's terms and the evidence they rest on), this consent with its withdrawal time (proof of both),
and the audit entries about them."""


def _applications_under(session: Any, consent_id: int) -> list[Application]:
    return list(
        session.scalars(select(Application).where(Application.consent_id == consent_id).order_by(Application.id))
    )


def _active_loan(session: Any, app: Application) -> bool:
    if app.status != "accepted":
        return False
    return session.scalar(select(Loan.state).where(Loan.application_id == app.id)) != "repaid"


def list_consents(db: Database, actor: Actor) -> list[dict[str, Any]]:
    """The acting farmer's consents, newest first, each with the applications under it (id, status), the active
    loans among them and whether it can still be withdrawn (any consent not yet withdrawn: before or after a
    decision, with or without a loan)."""
    with db.session(readonly=True) as session:
        consents = session.scalars(
            select(Consent).where(Consent.farmer_id == actor.user_id).order_by(Consent.id.desc())
        ).all()
        rows = []
        for consent in consents:
            apps = _applications_under(session, consent.id)
            rows.append(
                {
                    **consent_record(consent),
                    "applications": [{"id": a.id, "status": a.status} for a in apps],
                    "active_loans": [a.id for a in apps if _active_loan(session, a)],
                    "withdrawable": consent.withdrawn_at is None,
                }
            )
        return rows


def withdraw_consent(db: Database, actor: Actor, consent_id: int) -> dict[str, Any]:
    """The farmer withdraws one of their consents: ``withdrawn_at`` is recorded and audited (``consent_withdrawn``).

    Any consent not yet withdrawn can be withdrawn, before or after a decision. An open application under it
    (``offered`` / ``in_review``) is cancelled: status ``withdrawn``, its plots released (free for a new
    application), audited (``withdrawn``). A decided one (``declined``, or already ``withdrawn``) stays as the
    record of the decision; the farmer can delete it with their data. An accepted application (an active loan) is
    not affected: ``retained_records`` (:data:`RETAINED_WITH_LOAN`) are kept under the credit contract until the loan
    is repaid. Another user's consent is ``NotFound``; a consent already withdrawn is ``Conflict`` (nothing
    changes)."""
    with db.session() as session:
        lock_farmer(session, actor.user_id)
        consent = session.get(Consent, consent_id)
        if consent is None or consent.farmer_id != actor.user_id:
            raise NotFound(f"Consent {consent_id} was not found among your consents.")
        if consent.withdrawn_at is not None:
            raise Conflict(f"Consent {consent_id} was already withdrawn on {_iso(consent.withdrawn_at)}.")
        consent.withdrawn_at = datetime.now(UTC)
        apps = _applications_under(session, consent.id)
        cancelled: list[int] = []
        kept: list[int] = []
        for app in apps:
            if app.status in WITHDRAWABLE_STATUSES:
                before = app.status
                app.status = "withdrawn"
                for link in app.links:
                    link.active = False
                cancelled.append(app.id)
                session.flush()
                write_audit(
                    session,
                    actor,
                    "withdrawn",
                    application_id=app.id,
                    subject_user_id=actor.user_id,
                    reason="consent withdrawn",
                    details={"consent_id": consent.id, "before": before},
                )
            elif _active_loan(session, app):
                kept.append(app.id)
        session.flush()
        write_audit(
            session,
            actor,
            "consent_withdrawn",
            subject_user_id=actor.user_id,
            details={
                "consent_id": consent.id,
                "cancelled_applications": cancelled,
                "active_loans": kept,
                "retained_records": list(RETAINED_WITH_LOAN) if kept else [],
            },
        )
        parts = [f"Consent {consent.id} is withdrawn: we will not use it to assess an application again."]
        if cancelled:
            ids = ", ".join(str(i) for i in cancelled)
            parts.append(f"Application {ids} under it was cancelled and its plots are free for a new application.")
        if kept:
            ids = ", ".join(str(i) for i in kept)
            parts.append(
                f"Your active loan (application {ids}) is not affected: the loan, its payments, the accepted offer, "
                "this consent and the audit entries are kept under the credit contract until the loan is repaid; "
                "after that you can delete your data."
            )
        decided = [a.id for a in apps if a.id not in cancelled and a.id not in kept]
        if decided:
            parts.append("Decided applications stay as the record of the decision until you delete your data.")
        return {
            "consent": consent_record(consent),
            "cancelled_applications": cancelled,
            "active_loans": kept,
            "retained_records": list(RETAINED_WITH_LOAN) if kept else [],
            "message": " ".join(parts),
        }


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
            "consents": [consent_record(c) for c in consents],
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
                "you can delete your data after that.",
                code="ACTIVE_LOAN_KEEPS_DATA",
                params={"application_id": active},
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
