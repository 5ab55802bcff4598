"""Re-score rows store the plot outline as a geometry: PostGIS (SRID 4326, GiST index) or WKT on SQLite.

Migration 0008 moves rows written before it (GeoJSON) into the geometry column and back on downgrade.
"""

from __future__ import annotations

import json

import pytest
import shapely
import shapely.geometry
import sqlalchemy as sa

from agrisense.errors import InvalidInput
from agrisense.lending import record_rescore
from agrisense.store import Database, RescoreRow

# Three plots in a row along the equator-ish latitude of the sample county, 0.01 deg apart.
PLOTS = {f"P{i}": shapely.box(33.0 + 0.01 * i, 2.30, 33.005 + 0.01 * i, 2.305) for i in range(3)}


def _record(db: Database, run_id: str = "run-1") -> int:
    rows = [
        {"plot_id": pid, "farmer_id": "F1", "crop": "maize", "geometry": shapely.geometry.mapping(g)}
        for pid, g in PLOTS.items()
    ]
    return record_rescore(db, run_id=run_id, season=2026, rows=rows)


def _stored(db: Database) -> dict[str, shapely.Geometry]:
    with db.session(readonly=True) as s:
        return {r.plot_id: r.geom for r in s.scalars(sa.select(RescoreRow))}


def test_sqlite_keeps_the_outline_as_wkt(sqlite_db: Database) -> None:
    assert _record(sqlite_db) == 3
    stored = _stored(sqlite_db)
    assert all(stored[pid].equals(g) for pid, g in PLOTS.items())
    with sqlite_db.session(readonly=True) as s:
        text = s.execute(sa.text("SELECT geom FROM rescore_rows WHERE plot_id = 'P0'")).scalar()
    assert isinstance(text, str) and text.startswith("POLYGON")


def test_a_bad_geometry_is_refused_and_nothing_is_written(sqlite_db: Database) -> None:
    rows = [
        {"plot_id": "ok", "geometry": shapely.geometry.mapping(PLOTS["P0"])},
        {"plot_id": "bad", "geometry": {"type": "Polygon", "coordinates": "not coordinates"}},
    ]
    with pytest.raises(InvalidInput, match="'bad': geometry is not GeoJSON"):
        record_rescore(sqlite_db, run_id="run-1", season=2026, rows=rows)
    assert _stored(sqlite_db) == {}


def _geojson_rows_survive_the_migration(db: Database) -> None:
    """Downgrade to 0007 (GeoJSON column), write an old-style row, upgrade: the row has its geometry."""
    db.downgrade("0007")
    with db.session() as s:
        s.execute(
            sa.text(
                "INSERT INTO rescore_rows (run_id, season, plot_id, geometry, reasons, created_at) "
                "VALUES ('old', 2026, 'P9', :g, '[]', CURRENT_TIMESTAMP)"
            ),
            {"g": json.dumps(shapely.geometry.mapping(PLOTS["P1"]))},
        )
    db.upgrade()
    assert _stored(db)["P9"].equals(PLOTS["P1"])
    db.downgrade("0007")
    with db.session(readonly=True) as s:
        back = s.execute(sa.text("SELECT geometry FROM rescore_rows WHERE plot_id = 'P9'")).scalar()
    back = json.loads(back) if isinstance(back, str) else back
    assert shapely.geometry.shape(back).equals(PLOTS["P1"])
    db.upgrade()


def test_sqlite_migration_moves_geojson_rows(sqlite_db: Database) -> None:
    _geojson_rows_survive_the_migration(sqlite_db)


def test_postgis_geometry_column_index_and_spatial_query(postgis_db: Database) -> None:
    _record(postgis_db)
    with postgis_db.session(readonly=True) as s:
        kind = s.execute(
            sa.text(
                "select udt_name from information_schema.columns "
                "where table_name = 'rescore_rows' and column_name = 'geom' and table_schema = current_schema()"
            )
        ).scalar()
        srid = s.execute(sa.text("select distinct ST_SRID(geom) from rescore_rows")).scalars().all()
        index = s.execute(
            sa.text(
                "select indexdef from pg_indexes where indexname = 'ix_rescore_rows_geom' "
                "and schemaname = current_schema()"
            )
        ).scalar()
        # a bbox over the first two plots (and the gap after the second) finds exactly those two
        hits = s.execute(
            sa.text(
                "select plot_id from rescore_rows "
                "where ST_Intersects(geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)) order by plot_id"
            ),
            {"minx": 32.99, "miny": 2.29, "maxx": 33.018, "maxy": 2.31},
        ).scalars()
        hits = list(hits)
    assert kind == "geometry" and srid == [4326] and "gist" in index.lower()
    assert hits == ["P0", "P1"]
    assert all(_stored(postgis_db)[pid].equals(g) for pid, g in PLOTS.items())


def test_postgis_migration_moves_geojson_rows(postgis_db: Database) -> None:
    _geojson_rows_survive_the_migration(postgis_db)
