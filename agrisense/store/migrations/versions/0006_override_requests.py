"""Four-eyes overrides: an analyst's ``change_limit`` above the policy's threshold waits for a second analyst.

``override_requests`` holds each such request (``pending``, then ``approved`` or ``rejected`` by another analyst);
the application itself changes only when a request is approved.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(14, 2)


def upgrade() -> None:
    op.create_table(
        "override_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("application_id", sa.Integer, sa.ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
        sa.Column("requested_by", sa.Integer, nullable=False),
        sa.Column("new_limit", MONEY, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.Column("threshold", MONEY, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.Integer, nullable=True),
        sa.Column("decision_reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_override_requests_application_id", "override_requests", ["application_id"])
    op.create_index("ix_override_requests_status", "override_requests", ["status"])


def downgrade() -> None:
    op.drop_index("ix_override_requests_status", "override_requests")
    op.drop_index("ix_override_requests_application_id", "override_requests")
    op.drop_table("override_requests")
