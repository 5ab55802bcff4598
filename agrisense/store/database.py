"""``Database``: one SQLAlchemy engine, transactional sessions and Alembic upgrades (SQLite or PostgreSQL + PostGIS)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from agrisense.config import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_setup(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and explicit BEGIN (IMMEDIATE for writes) so writers queue, not fail."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """The service database. ``session()`` commits on success and rolls back on error."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.dialect = url.split(":", 1)[0].split("+", 1)[0]
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20)
        self.engine = create_engine(url, **kwargs)
        if self.dialect == "sqlite":
            _sqlite_setup(self.engine)
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(self.engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"

    @cached_property
    def is_postgis(self) -> bool:
        """True on PostgreSQL with the PostGIS extension (spatial queries run in the database)."""
        if self.dialect != "postgresql":
            return False
        with self.engine.connect() as conn:
            return conn.execute(text("select 1 from pg_extension where extname = 'postgis'")).first() is not None

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """A transaction: commit when the block ends, roll back (and re-raise) on any error."""
        session = (self._read if readonly else self._write)()
        try:
            yield session
            if not readonly:
                session.commit()  # a read-only session just closes (its transaction ends, loaded objects stay usable)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations up to ``revision``."""
        with self.engine.begin() as conn:
            command.upgrade(self._alembic_config(conn), revision)

    def downgrade(self, revision: str) -> None:

        with self.engine.begin() as conn:
            command.downgrade(self._alembic_config(conn), revision)

    def current_revision(self) -> str | None:

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def _alembic_config(self, conn: Any) -> Any:

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        return config

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings) -> Database:
    """The configured database (SQLite in ``state_dir`` by default), migrated to the newest schema."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url_or_default)
    db.upgrade()
    return db
