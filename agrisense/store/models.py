"""The service's tables (SQLAlchemy 2 declarative). The Alembic migrations in ``migrations/`` create them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from agrisense.store.types import GeometryType


def utcnow() -> datetime:
    return datetime.now(UTC)


MONEY = Numeric(14, 2)
"""Every amount of money in the database: exact to the cent, Decimal in Python (migration 0002)."""


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    plots: Mapped[list[FarmPlot]] = relationship(back_populates="farmer", cascade="all, delete-orphan")


class FarmPlot(Base):
    """A farmer's plot: GeoJSON as drawn (validated, EPSG:4326), a spatial copy for queries, and its bbox."""

    __tablename__ = "plots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    farmer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(100))
    village: Mapped[str | None] = mapped_column(String(100))
    declared_crop: Mapped[str | None] = mapped_column(String(32))
    declared_area_ha: Mapped[float | None] = mapped_column(Float)
    area_ha: Mapped[float] = mapped_column(Float)
    geometry_json: Mapped[dict[str, Any]] = mapped_column(JSON)
    geom: Mapped[BaseGeometry] = mapped_column(GeometryType(), deferred=True)
    minx: Mapped[float] = mapped_column(Float)
    miny: Mapped[float] = mapped_column(Float)
    maxx: Mapped[float] = mapped_column(Float)
    maxy: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    farmer: Mapped[User] = relationship(back_populates="plots")

    __table_args__ = (Index("ix_plots_bbox", "minx", "maxx", "miny", "maxy"),)


class Consent(Base):
    """An explicit, separate consent: what the farmer agreed to (in the language shown), when, under which terms
    version, and when it was withdrawn (migration 0005)."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    farmer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    statement: Mapped[str] = mapped_column(Text)
    plot_refs: Mapped[list[Any]] = mapped_column(JSON)
    terms_version: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Application(Base):
    """A credit application: the plots, the engine's offers (frozen JSON) and where it stands."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    farmer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    engine_decision: Mapped[str] = mapped_column(String(16))
    credit_limit: Mapped[Decimal] = mapped_column(MONEY)
    proposed_limit: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    crop: Mapped[str | None] = mapped_column(String(32))
    area_ha: Mapped[float] = mapped_column(Float)
    finance_season: Mapped[int | None] = mapped_column(Integer)
    offers: Mapped[list[Any]] = mapped_column(JSON)
    # plot ref -> the outline check of that plot's drawn outline (agrisense.lending.outline_checks); NULL until checked
    outline_checks: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    links: Mapped[list[ApplicationPlot]] = relationship(cascade="all, delete-orphan")
    farmer: Mapped[User] = relationship()


class ApplicationPlot(Base):
    """A plot in an application; ``active`` while the application is open, so one plot is pledged at most once."""

    __tablename__ = "application_plots"

    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True)
    plot_id: Mapped[int] = mapped_column(ForeignKey("plots.id", ondelete="CASCADE"), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    plot: Mapped[FarmPlot] = relationship()

    __table_args__ = (
        Index(
            "uq_application_plots_active",
            "plot_id",
            unique=True,
            sqlite_where=text("active = 1"),
            postgresql_where=text("active"),
        ),
    )


class AuditEntry(Base):
    """Append-only log of every decision and override (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    application_id: Mapped[int | None] = mapped_column(Integer, index=True)
    subject_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RescoreRow(Base):
    """One plot of a county re-score run (idempotent per run and plot)."""

    __tablename__ = "rescore_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64))
    season: Mapped[int] = mapped_column(Integer)
    plot_id: Mapped[str] = mapped_column(String(64), index=True)
    farmer_id: Mapped[str | None] = mapped_column(String(64))
    crop: Mapped[str | None] = mapped_column(String(32))
    crop_probability: Mapped[float | None] = mapped_column(Float)
    area_ha: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[str | None] = mapped_column(String(16))
    credit_limit: Mapped[Decimal | None] = mapped_column(MONEY)
    expected_loss: Mapped[Decimal | None] = mapped_column(MONEY)
    pd: Mapped[float | None] = mapped_column(Float)
    geom: Mapped[BaseGeometry | None] = mapped_column(GeometryType())  # PostGIS + GiST index (migration 0008)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("run_id", "plot_id", name="uq_rescore_run_plot"),)


class MonitoringWarning(Base):
    """An in-season warning about a financed plot (idempotent per run, plot and code)."""

    __tablename__ = "warnings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64))
    season: Mapped[int | None] = mapped_column(Integer)
    plot_id: Mapped[str] = mapped_column(String(64), index=True)
    loan_id: Mapped[int | None] = mapped_column(Integer)
    farmer_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    code: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    message_en: Mapped[str] = mapped_column(Text)
    message_zh: Mapped[str] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("run_id", "plot_id", "code", name="uq_warning_run_plot_code"),)


class Loan(Base):
    """A booked loan: one per accepted application (``agrisense.loans``); its balance follows from its postings."""

    __tablename__ = "loans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    farmer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    credit_limit: Mapped[Decimal] = mapped_column(MONEY)
    annual_rate: Mapped[Decimal] = mapped_column(Numeric(8, 4))
    arrangement_fee: Mapped[Decimal] = mapped_column(MONEY)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    postings: Mapped[list[LoanPosting]] = relationship(
        cascade="all, delete-orphan", order_by="LoanPosting.id", back_populates="loan"
    )

    __table_args__ = (UniqueConstraint("application_id", name="uq_loans_application"),)


class LoanPosting(Base):
    """One money movement on a loan (a tranche paid out, a repayment); idempotent per loan and client key."""

    __tablename__ = "loan_postings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE"), index=True)
    client_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    tranche: Mapped[int | None] = mapped_column(Integer)
    on_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    payee: Mapped[str | None] = mapped_column(String(100))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    loan: Mapped[Loan] = relationship(back_populates="postings")

    __table_args__ = (UniqueConstraint("loan_id", "client_key", name="uq_loan_postings_client_key"),)


class OverrideRequest(Base):
    """An analyst's ``change_limit`` above the policy's ``loans.second_approval_above``: it waits (``pending``) until
    a second analyst approves or rejects it (four-eyes, ``lending.overrides``); the application is unchanged until
    then."""

    __tablename__ = "override_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[int] = mapped_column(Integer)
    new_limit: Mapped[Decimal] = mapped_column(MONEY)
    reason: Mapped[str] = mapped_column(Text)
    policy_version: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(16), index=True)
    decided_by: Mapped[int | None] = mapped_column(Integer)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
