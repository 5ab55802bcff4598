"""``create_app``: the versioned JSON API under ``/api/v1``, the map tiles, and the farmer web app at ``/``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI

from agrisense.app.api.errors import install_error_handlers
from agrisense.app.api.limits import BodySizeLimit, RateLimit, RateLimiter
from agrisense.app.api.logging_mw import RequestLog
from agrisense.app.api.models import Health, error_responses
from agrisense.app.api.routes import applications, auth, fields, loans, me, plots, review
from agrisense.app.api.security import SecurityHeaders
from agrisense.config import Settings, get_settings
from agrisense.errors import AuthenticationFailed
from agrisense.lending import signing_key, user_id_from_token
from agrisense.lending.scoring import set_scoring_concurrency
from agrisense.store import open_database

API_PREFIX = "/api/v1"
SUBMISSION_THREADS = 256


def scoring_concurrency() -> int:
    """How many scorings run at once: one per CPU core (scoring is CPU-bound), at least one."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service: API, tiles and farmer app over the configured database (migrated on start)."""
    settings = settings or get_settings()
    db = open_database(settings)
    key = signing_key(settings)
    workers = scoring_concurrency()
    set_scoring_concurrency(workers, settings.tile_reuse_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
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
    for module in (auth, plots, fields, applications, review, me, loans):
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
        limiter=RateLimiter(settings.rate_limit_per_minute),
        user_of=user_of,
        address_only=frozenset({f"{API_PREFIX}/auth/token"}),
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders)  # outside the limits: their 413s and 429s carry the headers too
    app.add_middleware(RequestLog, user_of=user_of)  # last added = outermost: 413s and 429s get an id and a line too
    return app
