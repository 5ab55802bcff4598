"""The loan ledger: ``loans`` (one per accepted application) and ``loan_postings`` (tranches paid out, repayments).

Money columns are NUMERIC(14, 2) like every other amount (see 0002); the rate is NUMERIC(8, 4). A posting is
idempotent per loan and client key (a unique constraint), so a retried request never books twice.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(14, 2)


def upgrade() -> None:
    op.create_table(
        "loans",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("application_id", sa.Integer, sa.ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
        sa.Column("farmer_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("credit_limit", MONEY, nullable=False),
        sa.Column("annual_rate", sa.Numeric(8, 4), nullable=False),
        sa.Column("arrangement_fee", MONEY, nullable=False),
        sa.Column("terms", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("application_id", name="uq_loans_application"),
    )
    op.create_index("ix_loans_farmer_id", "loans", ["farmer_id"])
    op.create_index("ix_loans_state", "loans", ["state"])
    op.create_table(
        "loan_postings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("loan_id", sa.Integer, sa.ForeignKey("loans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("client_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tranche", sa.Integer),
        sa.Column("on_date", sa.Date, nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("payee", sa.String(100)),
        sa.Column("actor_id", sa.Integer),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("loan_id", "client_key", name="uq_loan_postings_client_key"),
    )
    op.create_index("ix_loan_postings_loan_id", "loan_postings", ["loan_id"])


def downgrade() -> None:
    op.drop_index("ix_loan_postings_loan_id", "loan_postings")
    op.drop_table("loan_postings")
    op.drop_index("ix_loans_state", "loans")
    op.drop_index("ix_loans_farmer_id", "loans")
    op.drop_table("loans")
