"""Money columns as NUMERIC(14, 2) (Decimal in Python), never binary floats.

On PostgreSQL the columns change type in place (exact: the amounts were whole cents). SQLite has no decimal
storage class: its columns keep REAL affinity, and SQLAlchemy's ``Numeric`` reads them back as ``Decimal`` at the
cent, so nothing is rebuilt there (a batch table copy would also cascade-delete the plots' links).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MONEY_COLUMNS = {
    "applications": ("credit_limit", "proposed_limit"),
    "rescore_rows": ("credit_limit", "expected_loss"),
}


def _alter(to: sa.types.TypeEngine[Any], using: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in MONEY_COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=to, postgresql_using=using.format(column=column))


def upgrade() -> None:
    _alter(sa.Numeric(14, 2), "round({column}::numeric, 2)")


def downgrade() -> None:
    _alter(sa.Float(), "{column}::double precision")
