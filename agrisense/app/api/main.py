"""``create_app``: the versioned JSON API under ``/api/v1``, the map tiles, and the farmer web app at ``/``."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI

from agrisense.app.api.errors import install_error_handlers
from agrisense.app.api.limits import BodySizeLimit, RateLimit, RateLimiter, RateStore
from agrisense.app.api.logging_mw import RequestLog
from agrisense.app.api.models import Health, error_responses
from agrisense.app.api.routes import applications, auth, fields, loans, me, overrides, plots, quotes, review
from agrisense.app.api.security import SecurityHeaders
from agrisense.config import Settings, get_settings
from agrisense.errors import AuthenticationFailed
from agrisense.lending import signing_key, user_id_from_token
from agrisense.lending.outline_queue import OutlineCheckQueue
from agrisense.lending.rate_limits import DatabaseRateLimiter
from agrisense.lending.scoring import drain_scoring, set_scoring_concurrency
from agrisense.store import Database, open_database
from agrisense.warmup import start_warm_up, wait_until_warm

API_PREFIX = "/api/v1"
SUBMISSION_THREADS = 256
SHUTDOWN_WAIT_S = 60.0
log = logging.getLogger(__name__)


def scoring_concurrency() -> int:
    """How many scorings run at once: one per CPU core (scoring is CPU-bound), at least one."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def rate_store(settings: Settings, db: Database) -> RateStore:
    """The request-rate counters ``settings.rate_limit_store`` names: this process's memory, or the database."""
    if settings.rate_limit_store == "database":
        return DatabaseRateLimiter(db, settings.rate_limit_per_minute)
    return RateLimiter(settings.rate_limit_per_minute)


def stop_background_work(
    settings: Settings, outline_checks: OutlineCheckQueue | None = None, timeout: float = SHUTDOWN_WAIT_S
) -> None:
    """At shutdown: let the scorings in flight finish (their applications are stored), then the queued outline
    checks of submitted applications, the model warm-up end and stop the map-tile warmer, so no thread of the app
    outlives it; logged when one does not finish in ``timeout``."""
    from agrisense.imagery.tiles import stop_warming

    if not wait_until_warm(settings, timeout):
        log.warning("shutdown: the model warm-up is still running after %.0f s", timeout)
    if not drain_scoring(timeout):
        log.warning("shutdown: scorings still running after %.0f s", timeout)
    if outline_checks is not None and not outline_checks.stop(timeout):
        log.warning("shutdown: outline checks still queued after %.0f s (checked on their first view)", timeout)
    if not stop_warming(settings, timeout):
        log.warning("shutdown: the map-tile warmer is still running after %.0f s", timeout)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service: API, tiles and farmer app over the configured database (migrated on start)."""
    settings = settings or get_settings()
    db = open_database(settings)
    key = signing_key(settings)
    workers = scoring_concurrency()
    set_scoring_concurrency(workers, settings.tile_reuse_s)
    outline_checks = OutlineCheckQueue(db, settings)  # each submitted application's outline checks, after its offer

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.serve_warm_up:  # off by default: it did not speed up the first requests (docs/service.md)
            start_warm_up(settings)
        yield
        await anyio.to_thread.run_sync(stop_background_work, settings, outline_checks)
        db.dispose()

    app = FastAPI(
        title="agrisense API",
        version="1",
        description="Satellite-verified seasonal credit for smallholder farmers. Log in at "
        f"`{API_PREFIX}/auth/token` (phone as username) and send `Authorization: Bearer <token>`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.signing_key = key
    app.state.outline_checks = outline_checks
    # submissions wait in threads (cheap) so that concurrent ones in a tile are scored as one batch; the CPU work
    # itself is bounded by the batcher (one tile scoring per core at once)
    app.state.scoring_limiter = anyio.CapacityLimiter(SUBMISSION_THREADS)

    def user_of(token: str) -> int | None:
        try:
            return user_id_from_token(token, key)
        except AuthenticationFailed:
            return None

    install_error_handlers(app)
    api = APIRouter(prefix=API_PREFIX)
    for module in (auth, plots, fields, applications, review, overrides, me, loans, quotes):
        api.include_router(module.router)
    app.include_router(api)

    @app.get("/healthz", tags=["health"], response_model=Health, responses=error_responses(500))
    def healthz() -> dict[str, Any]:
        """Liveness and database reachability."""
        from sqlalchemy import text

        with db.session(readonly=True) as session:
            session.execute(text("select 1"))
        return {"status": "ok", "database": db.dialect, "postgis": db.is_postgis}

    from agrisense.app.api import tiles, web

    app.include_router(tiles.router)
    web.mount_web(app)
    app.add_middleware(
        RateLimit,
        limiter=rate_store(settings, db),
        user_of=user_of,
        address_only=frozenset({f"{API_PREFIX}/auth/token"}),
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders)  # outside the limits: their 413s and 429s carry the headers too
    app.add_middleware(RequestLog, user_of=user_of)  # last added = outermost: 413s and 429s get an id and a line too
    return app
