"""Database fixtures (a plugin of tests/conftest.py): a fresh SQLite file per test, a PostGIS schema of its own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agrisense.store import Database


def postgres_base_url() -> str | None:
    """The PostGIS URL from ``make test``; fails (not skips) when AGRISENSE_REQUIRE_POSTGRES=1 and it is missing."""
    url = os.environ.get("AGRISENSE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("AGRISENSE_REQUIRE_POSTGRES") == "1":
            pytest.fail(
                "AGRISENSE_REQUIRE_POSTGRES=1 but AGRISENSE_TEST_POSTGRES_URL is not set (bash scripts/postgres.sh)"
            )
        pytest.skip("PostgreSQL tests need AGRISENSE_TEST_POSTGRES_URL (bash scripts/postgres.sh prints it)")
    return url


@pytest.fixture()
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'test.db'}")
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture()
def postgis_db() -> Iterator[Database]:
    """A migrated database in a schema of its own (dropped afterwards), so runs never interfere."""
    import sqlalchemy as sa

    base = postgres_base_url()
    assert base is not None
    schema = f"agrisense_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    db = Database(f"{base}{sep}options=-csearch_path%3D{schema},public")
    try:
        db.upgrade()
        yield db
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
