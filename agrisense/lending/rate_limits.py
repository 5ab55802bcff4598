"""Request-rate counters in the database, so one limit holds across every uvicorn worker (and every host).

A fixed one-minute window per client key: each request adds one to its ``(key, window)`` row with a single atomic
``INSERT … ON CONFLICT DO UPDATE … RETURNING hits`` (SQLite 3.35+ and PostgreSQL), so concurrent workers never
lose a count and never read a stale one. A client may send ``per_minute`` requests per calendar minute (up to twice
that across a minute boundary: the price of a fixed window). Windows older than the previous one are deleted when a
worker first sees a new minute.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from agrisense.errors import InvalidInput
from agrisense.store import Database
from agrisense.store.security import RateWindow

WINDOW_S = 60


class DatabaseRateLimiter:
    """``hit(key)``: ``None`` while the key's window has room, else the seconds until the next window opens.

    Same contract as the API's in-process ``RateLimiter``; ``blocking`` tells the middleware to call it off the
    event loop (it waits for the database)."""

    blocking = True

    def __init__(self, db: Database, per_minute: int, *, clock: Callable[[], float] = time.time) -> None:
        if db.dialect not in ("sqlite", "postgresql"):
            raise InvalidInput(
                f"rate_limit_store=database needs SQLite or PostgreSQL, not {db.dialect}; use rate_limit_store=memory."
            )
        self.db = db
        self.per_minute = per_minute
        self.clock = clock
        self._insert: Any = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
        self._swept = -1
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Count one request for ``key`` in the current window."""
        now = self.clock()
        window = int(now // WINDOW_S)
        statement = (
            self._insert(RateWindow)
            .values(key=key[:120], window_start=window, hits=1)
            .on_conflict_do_update(index_elements=["key", "window_start"], set_={"hits": RateWindow.hits + 1})
            .returning(RateWindow.hits)
        )
        with self.db.session() as session:
            hits = int(session.execute(statement).scalar_one())
            if self._sweep_due(window):
                session.execute(delete(RateWindow).where(RateWindow.window_start < window - 1))
        if hits <= self.per_minute:
            return None
        return max(0.0, (window + 1) * WINDOW_S - now)

    def _sweep_due(self, window: int) -> bool:
        with self._lock:
            due, self._swept = self._swept != window, window
        return due
