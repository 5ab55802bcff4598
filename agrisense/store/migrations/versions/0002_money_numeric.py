"""Money columns as NUMERIC(14, 2) (Decimal in Python), never binary floats; stored offers move to schema 1.1.

On PostgreSQL the columns change type in place (exact: the amounts were whole cents). SQLite has no decimal
storage class: its columns keep REAL affinity, and SQLAlchemy's ``Numeric`` reads them back as ``Decimal`` at the
cent, so nothing is rebuilt there (a batch table copy would also cascade-delete the plots' links).

Offers stored under schema 1.0 have every key of 1.1 (the API stored scored offers, which carried ``imagery`` and
``geometry``), so moving them is a change of ``schema_version`` only.

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


def _offers_version(old: str, new: str) -> None:
    bind = op.get_bind()
    table = sa.table("applications", sa.column("id", sa.Integer), sa.column("offers", sa.JSON))
    for row_id, offers in bind.execute(sa.select(table.c.id, table.c.offers)).all():
        if any(isinstance(o, dict) and o.get("schema_version") == old for o in offers or []):
            moved = [{**o, "schema_version": new} if isinstance(o, dict) else o for o in offers]
            bind.execute(table.update().where(table.c.id == row_id).values(offers=moved))


def upgrade() -> None:
    _alter(sa.Numeric(14, 2), "round({column}::numeric, 2)")
    _offers_version("1.0", "1.1")


def downgrade() -> None:
    _offers_version("1.1", "1.0")
    _alter(sa.Float(), "{column}::double precision")
