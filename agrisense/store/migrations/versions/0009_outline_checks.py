"""Each application keeps the outline checks of its plots (drawn outline against the field the model's boundary
head finds there), computed once when it is submitted or first reviewed, so the analyst's page reads them instead
of running the model again.

``applications.outline_checks``: JSON, plot ref -> ``{"outline_sha", "verdict", "message", "iou", "geometry",
"model_version", "checked_at"}`` (``agrisense.lending.outline_checks``); NULL until the first check. An entry
whose ``outline_sha`` no longer matches the plot's outline is stale and is computed again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("outline_checks", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("outline_checks")
