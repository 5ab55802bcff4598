"""Re-score rows keep the plot outline as a real geometry: PostGIS ``geometry(Geometry, 4326)`` with a GiST index on
PostgreSQL (WKT text on SQLite), in place of the GeoJSON ``geometry`` column.

Existing rows move over: their GeoJSON becomes the geometry (``ST_GeomFromGeoJSON`` in PostGIS, shapely on SQLite);
downgrade writes the GeoJSON back.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import json

import shapely
import shapely.geometry
import sqlalchemy as sa
from alembic import op

from agrisense.store.types import GeometryType

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEX = "ix_rescore_rows_geom"


def _rows(sql: str) -> list[tuple[int, str | None]]:
    return [(int(r[0]), r[1]) for r in op.get_bind().execute(sa.text(sql))]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("rescore_rows") as batch:
        batch.add_column(sa.Column("geom", GeometryType(), nullable=True))
    if postgres:
        op.execute(
            "UPDATE rescore_rows SET geom = ST_SetSRID(ST_GeomFromGeoJSON(geometry::text), 4326) "
            "WHERE geometry IS NOT NULL AND geometry::text <> 'null'"
        )
        op.create_index(INDEX, "rescore_rows", ["geom"], postgresql_using="gist")
    else:
        update = sa.text("UPDATE rescore_rows SET geom = :wkt WHERE id = :id")
        for row_id, text in _rows("SELECT id, geometry FROM rescore_rows WHERE geometry IS NOT NULL"):
            value = json.loads(text) if isinstance(text, str) else text
            if value:
                op.get_bind().execute(update, {"id": row_id, "wkt": shapely.geometry.shape(value).wkt})
    with op.batch_alter_table("rescore_rows") as batch:
        batch.drop_column("geometry")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("rescore_rows") as batch:
        batch.add_column(sa.Column("geometry", sa.JSON, nullable=True))
    if postgres:
        op.drop_index(INDEX, table_name="rescore_rows")
        op.execute("UPDATE rescore_rows SET geometry = ST_AsGeoJSON(geom)::json WHERE geom IS NOT NULL")
    else:
        update = sa.text("UPDATE rescore_rows SET geometry = :geojson WHERE id = :id")
        for row_id, wkt in _rows("SELECT id, geom FROM rescore_rows WHERE geom IS NOT NULL"):
            geojson = json.dumps(shapely.geometry.mapping(shapely.from_wkt(wkt)))
            op.get_bind().execute(update, {"id": row_id, "geojson": geojson})
    with op.batch_alter_table("rescore_rows") as batch:
        batch.drop_column("geom")
