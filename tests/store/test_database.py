"""Migrations on SQLite and PostGIS, the append-only audit log, the one-open-application-per-plot constraint."""

from __future__ import annotations

import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from agrisense.config import Settings
from agrisense.store import (
    Application,
    ApplicationPlot,
    AuditEntry,
    Database,
    FarmPlot,
    User,
    open_database,
)
from agrisense.store.database import MIGRATIONS

TABLES = {
    "users",
    "plots",
    "consents",
    "applications",
    "application_plots",
    "audit_log",
    "rescore_rows",
    "warnings",
    "loans",
    "override_requests",
    "loan_postings",
}


def _user_and_plot(db: Database) -> tuple[int, int]:
    geom = shapely.box(33.0, 2.3, 33.001, 2.301)
    with db.session() as s:
        user = User(phone="13800000001", name="A", role="farmer", password_hash="x")
        s.add(user)
        s.flush()
        plot = FarmPlot(
            ref="p1",
            farmer_id=user.id,
            area_ha=1.2,
            geometry_json=shapely.geometry.mapping(geom),
            geom=geom,
            minx=33.0,
            miny=2.3,
            maxx=33.001,
            maxy=2.301,
        )
        s.add(plot)
        s.flush()
        return user.id, plot.id


def _application(db: Database, user_id: int, plot_id: int, *, active: bool = True) -> int:
    with db.session() as s:
        app = Application(
            farmer_id=user_id,
            status="in_review",
            engine_decision="refer",
            credit_limit=0,
            proposed_limit=100,
            currency="CNY",
            area_ha=1.2,
            offers=[],
        )
        s.add(app)
        s.flush()
        s.add(ApplicationPlot(application_id=app.id, plot_id=plot_id, active=active))
        return app.id


def _head() -> str:
    """The one head of the migrations (two engineers chaining after the same revision would make two)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"the migrations have {len(heads)} heads {heads}: chain the newest after the other"
    return str(heads[0])


def test_migrations_are_linear() -> None:
    assert _head() >= "0006"


def _check_schema(db: Database) -> None:
    assert db.current_revision() == _head()
    assert set(sa.inspect(db.engine).get_table_names()) >= TABLES
    user_id, plot_id = _user_and_plot(db)
    _application(db, user_id, plot_id)
    with pytest.raises(IntegrityError):  # the same plot in a second open application
        _application(db, user_id, plot_id)
    _application(db, user_id, plot_id, active=False)  # closed applications may share it
    with db.session() as s:
        s.add(AuditEntry(actor_role="system", action="engine_decision", details={}))
    for statement in ("UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), db.session() as s:
            s.execute(sa.text(statement))
    with db.session(readonly=True) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 1


def test_sqlite_upgrade_constraints_and_downgrade(sqlite_db: Database) -> None:
    _check_schema(sqlite_db)
    assert not sqlite_db.is_postgis
    sqlite_db.downgrade("base")
    assert sqlite_db.current_revision() is None
    assert not TABLES & set(sa.inspect(sqlite_db.engine).get_table_names())


def test_postgis_upgrade_constraints_and_downgrade(postgis_db: Database) -> None:
    assert postgis_db.is_postgis
    _check_schema(postgis_db)
    with postgis_db.session(readonly=True) as s:
        kind = s.execute(
            sa.text("select udt_name from information_schema.columns where table_name='plots' and column_name='geom'")
        ).scalar()
        srid = s.execute(sa.text("select ST_SRID(geom) from plots limit 1")).scalar()
        index = s.execute(sa.text("select indexdef from pg_indexes where indexname = 'ix_plots_geom'")).scalar()
    assert kind == "geometry" and srid == 4326 and "gist" in index.lower()
    postgis_db.downgrade("base")
    assert postgis_db.current_revision() is None


def test_session_rolls_back_on_error(sqlite_db: Database) -> None:
    with pytest.raises(RuntimeError), sqlite_db.session() as s:
        s.add(User(phone="13800000009", name="B", role="farmer", password_hash="x"))
        s.flush()
        raise RuntimeError("boom")
    with sqlite_db.session(readonly=True) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_open_database_creates_state_dir_and_migrates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(state_dir=tmp_path / "state" / "nested")
    db = open_database(settings)
    assert (tmp_path / "state" / "nested" / "agrisense.db").exists()
    assert db.current_revision() == _head()
    db.dispose()


def _stored_offers_move_to_the_current_schema(db: Database) -> None:
    from decimal import Decimal

    from agrisense.agronomy.calendar import load_crop_table
    from agrisense.credit.engine import quote
    from agrisense.credit.offer import SCHEMA_VERSION, Offer
    from agrisense.credit.policy import load_policy

    settings = Settings()
    offer = quote(
        "maize",
        1.2,
        season=2027,
        crops=load_crop_table(settings.reference_dir / "crops.csv"),
        policy=load_policy(settings.policy_file),
    ).to_dict()
    db.downgrade("0001")
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO users (phone, name, role, password_hash, created_at) "
                "VALUES ('13800000009', 'B', 'farmer', 'x', CURRENT_TIMESTAMP)"
            )
        )
        user_id = conn.execute(sa.text("SELECT id FROM users WHERE phone = '13800000009'")).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO applications (farmer_id, status, engine_decision, credit_limit, proposed_limit, currency,"
                " area_ha, offers, created_at, updated_at) VALUES (:f, 'offered', 'approve', 1234.5, 1234.5, 'CNY',"
                " 1.2, :offers, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ).bindparams(sa.bindparam("offers", type_=sa.JSON)),
            {"f": user_id, "offers": [{**offer, "schema_version": "1.0"}]},
        )
    db.upgrade()
    with db.session(readonly=True) as s:
        app = s.scalars(sa.select(Application).where(Application.farmer_id == user_id)).one()
        assert app.credit_limit == Decimal("1234.50") and isinstance(app.credit_limit, Decimal)
        # 0002 moves 1.0 offers to 1.1; 1.2 and 1.3 only added optional fields (location, explanation; weather
        # seasons), so a 1.1 offer reads under the current model without a migration
        assert app.offers[0]["schema_version"] == "1.1" and SCHEMA_VERSION == "1.3"
        assert Offer.model_validate(app.offers[0]).credit_limit == Decimal(str(offer["credit_limit"]))


def test_sqlite_migration_keeps_money_exact_and_moves_offers(sqlite_db: Database) -> None:
    _stored_offers_move_to_the_current_schema(sqlite_db)


def test_postgis_migration_keeps_money_exact_and_moves_offers(postgis_db: Database) -> None:
    _stored_offers_move_to_the_current_schema(postgis_db)
