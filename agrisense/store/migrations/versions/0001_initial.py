"""Initial schema: users, plots (PostGIS geometry on PostgreSQL), consents, applications, audit log, monitoring.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from agrisense.store.types import GeometryType

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("phone", sa.String(20), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "plots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ref", sa.String(64), nullable=False, unique=True),
        sa.Column("farmer_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100)),
        sa.Column("village", sa.String(100)),
        sa.Column("declared_crop", sa.String(32)),
        sa.Column("declared_area_ha", sa.Float),
        sa.Column("area_ha", sa.Float, nullable=False),
        sa.Column("geometry_json", sa.JSON, nullable=False),
        sa.Column("geom", GeometryType(), nullable=False),
        sa.Column("minx", sa.Float, nullable=False),
        sa.Column("miny", sa.Float, nullable=False),
        sa.Column("maxx", sa.Float, nullable=False),
        sa.Column("maxy", sa.Float, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_plots_farmer_id", "plots", ["farmer_id"])
    op.create_index("ix_plots_bbox", "plots", ["minx", "maxx", "miny", "maxy"])
    if dialect == "postgresql":
        op.create_index("ix_plots_geom", "plots", ["geom"], postgresql_using="gist")
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("farmer_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("plot_refs", sa.JSON, nullable=False),
        sa.Column("terms_version", sa.String(32), nullable=False),
        sa.Column("granted_at", TS, nullable=False),
    )
    op.create_index("ix_consents_farmer_id", "consents", ["farmer_id"])
    op.create_table(
        "applications",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("farmer_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("consent_id", sa.Integer, sa.ForeignKey("consents.id", ondelete="SET NULL")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("engine_decision", sa.String(16), nullable=False),
        sa.Column("credit_limit", sa.Float, nullable=False),
        sa.Column("proposed_limit", sa.Float, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("crop", sa.String(32)),
        sa.Column("area_ha", sa.Float, nullable=False),
        sa.Column("finance_season", sa.Integer),
        sa.Column("offers", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("accepted_at", TS),
    )
    op.create_index("ix_applications_farmer_id", "applications", ["farmer_id"])
    op.create_index("ix_applications_status", "applications", ["status"])
    op.create_index("ix_applications_created_at", "applications", ["created_at"])
    op.create_table(
        "application_plots",
        sa.Column(
            "application_id",
            sa.Integer,
            sa.ForeignKey("applications.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("plot_id", sa.Integer, sa.ForeignKey("plots.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_index(
        "uq_application_plots_active",
        "application_plots",
        ["plot_id"],
        unique=True,
        sqlite_where=sa.text("active = 1"),
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor_id", sa.Integer),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("application_id", sa.Integer),
        sa.Column("subject_user_id", sa.Integer),
        sa.Column("reason", sa.Text),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_log_application_id", "audit_log", ["application_id"])
    op.create_index("ix_audit_log_subject_user_id", "audit_log", ["subject_user_id"])
    op.create_table(
        "rescore_rows",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("season", sa.Integer, nullable=False),
        sa.Column("plot_id", sa.String(64), nullable=False),
        sa.Column("farmer_id", sa.String(64)),
        sa.Column("crop", sa.String(32)),
        sa.Column("crop_probability", sa.Float),
        sa.Column("area_ha", sa.Float),
        sa.Column("decision", sa.String(16)),
        sa.Column("credit_limit", sa.Float),
        sa.Column("expected_loss", sa.Float),
        sa.Column("pd", sa.Float),
        sa.Column("geometry", sa.JSON),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("run_id", "plot_id", name="uq_rescore_run_plot"),
    )
    op.create_index("ix_rescore_rows_plot_id", "rescore_rows", ["plot_id"])
    op.create_table(
        "warnings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("season", sa.Integer),
        sa.Column("plot_id", sa.String(64), nullable=False),
        sa.Column("loan_id", sa.Integer),
        sa.Column("farmer_user_id", sa.Integer),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message_en", sa.Text, nullable=False),
        sa.Column("message_zh", sa.Text, nullable=False),
        sa.Column("action", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("run_id", "plot_id", "code", name="uq_warning_run_plot_code"),
    )
    op.create_index("ix_warnings_plot_id", "warnings", ["plot_id"])
    op.create_index("ix_warnings_farmer_user_id", "warnings", ["farmer_user_id"])
    _append_only_audit(dialect)


def _append_only_audit(dialect: str) -> None:
    """The audit log refuses UPDATE and DELETE in the database itself, not only in the code."""
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    elif dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for name in ("warnings", "rescore_rows", "audit_log", "application_plots", "applications", "consents", "plots"):
        op.drop_table(name)
    op.drop_table("users")
