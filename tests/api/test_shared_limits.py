"""Request-rate limits shared by several API workers through the database (``rate_limit_store = "database"``),
the in-process store as the default, and a clean shutdown (no scoring or tile-warming thread outlives the app).

Two apps over one database stand for two uvicorn workers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from agrisense.app.api.limits import RateLimiter
from agrisense.config import Settings
from agrisense.errors import InvalidInput
from agrisense.lending.rate_limits import DatabaseRateLimiter
from agrisense.store import Database
from agrisense.store.security import RateWindow

V1 = "/api/v1"
LIMIT = 6


@contextmanager
def _workers(settings: Settings, n: int = 2) -> Iterator[list[TestClient]]:
    from agrisense.app.api.main import create_app

    with ExitStack() as stack:
        yield [stack.enter_context(TestClient(create_app(settings))) for _ in range(n)]


def _statuses(clients: list[TestClient], n: int) -> list[int]:
    return [clients[i % len(clients)].get(f"{V1}/auth/me").status_code for i in range(n)]


def _settings(region: Path, state: Path, **extra: Any) -> Settings:
    return Settings(region_dir=region, state_dir=state, rate_limit_per_minute=LIMIT, **extra)


def test_two_workers_share_one_limit_in_the_database(small_region: Path, tmp_path: Path) -> None:
    with _workers(_settings(small_region, tmp_path, rate_limit_store="database")) as clients:
        codes = _statuses(clients, LIMIT + 2)
        assert codes[:LIMIT] == [401] * LIMIT  # counted across both workers
        assert codes[LIMIT:] == [429, 429]
        r = clients[1].get(f"{V1}/auth/me")
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
        assert r.json()["error"] == "RateLimited"
        assert clients[0].get("/healthz").status_code == 200  # health checks are never limited


def test_the_default_store_is_per_worker(small_region: Path, tmp_path: Path, sqlite_db: Database) -> None:
    from agrisense.app.api.main import rate_store

    settings = _settings(small_region, tmp_path)
    assert isinstance(rate_store(settings, sqlite_db), RateLimiter)
    assert isinstance(
        rate_store(settings.model_copy(update={"rate_limit_store": "database"}), sqlite_db), DatabaseRateLimiter
    )
    with _workers(settings) as clients:
        codes = _statuses(clients, 2 * LIMIT)
        assert 429 not in codes  # each worker counts only its own requests: LIMIT each


def test_two_workers_share_one_limit_on_postgresql(postgis_db: Database, small_region: Path, tmp_path: Path) -> None:
    settings = _settings(small_region, tmp_path, rate_limit_store="database", database_url=postgis_db.url)
    with _workers(settings) as clients:
        codes = _statuses(clients, LIMIT + 2)
        assert codes == [401] * LIMIT + [429, 429]
    with postgis_db.session(readonly=True) as session:
        assert session.scalar(select(func.sum(RateWindow.hits))) == LIMIT + 2


def _concurrent_hits(db: Database, n_threads: int, per_thread: int) -> list[float | None]:
    limiter = DatabaseRateLimiter(db, per_minute=25, clock=lambda: 6000.0)
    results: list[float | None] = []
    lock = threading.Lock()

    def run() -> None:
        for _ in range(per_thread):
            wait = limiter.hit("ip:203.0.113.9")
            with lock:
                results.append(wait)

    threads = [threading.Thread(target=run) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_hits_are_counted_exactly_sqlite(sqlite_db: Database) -> None:
    results = _concurrent_hits(sqlite_db, 4, 10)
    assert results.count(None) == 25 and len(results) == 40


def test_concurrent_hits_are_counted_exactly_postgresql(postgis_db: Database) -> None:
    results = _concurrent_hits(postgis_db, 8, 10)
    assert results.count(None) == 25 and len(results) == 80


def test_fixed_windows_roll_over_and_old_ones_are_swept(sqlite_db: Database) -> None:
    now = [120.0]
    limiter = DatabaseRateLimiter(sqlite_db, per_minute=2, clock=lambda: now[0])
    assert [limiter.hit("k"), limiter.hit("k")] == [None, None]
    now[0] = 135.0
    assert limiter.hit("k") == pytest.approx(45.0)  # the next window opens at 180 s
    assert limiter.hit("other") is None  # keys are counted apart
    now[0] = 180.0
    assert limiter.hit("k") is None
    now[0] = 300.0  # two windows later: the window of 120 s is deleted
    assert limiter.hit("k") is None
    with sqlite_db.session(readonly=True) as session:
        assert sorted(session.scalars(select(RateWindow.window_start)).all()) == [5]


def test_a_database_store_needs_sqlite_or_postgresql() -> None:
    class Fake:
        dialect = "mysql"

    with pytest.raises(InvalidInput, match="rate_limit_store=memory"):
        DatabaseRateLimiter(Fake(), per_minute=5)  # type: ignore[arg-type]
    assert RateLimiter(5).blocking is False and DatabaseRateLimiter.blocking is True


@pytest.mark.slow
def test_shutdown_stops_the_tile_warmer(small_region: Path, tmp_path: Path) -> None:
    from agrisense.app.api.main import create_app
    from agrisense.imagery.tiles import start_warming

    settings = _settings(small_region, tmp_path, cache_dir=tmp_path / "cache")  # a cold cache: a long warm-up
    with TestClient(create_app(settings)):
        warmer = start_warming(settings)
        assert warmer.is_alive()
    assert not warmer.is_alive()  # the lifespan's shutdown stopped it after its current tile
