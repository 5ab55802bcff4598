"""Request size and rate limits as plain ASGI middleware (they answer before a body is read or a route runs)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import anyio.to_thread

from agrisense.app.api.messages import localised, negotiate

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]


async def _reply(
    scope: Scope,
    send: Send,
    status: int,
    message: str,
    error: str,
    headers: list[tuple[bytes, bytes]],
    *,
    code: str,
    params: dict[str, Any],
) -> None:
    """An error body like the exception handlers' (code, params, localised message, English detail)."""
    language = negotiate(dict(scope.get("headers") or []).get(b"accept-language", b"").decode("latin-1"))
    body = json.dumps({**localised(code, params, language), "detail": message, "error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"content-language", language.encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """413 for a body larger than ``max_bytes`` (by Content-Length up front, or counted while streaming)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = (
            f"The request is larger than {self.max_bytes // 1000:,} kB. Simplify the plot outline "
            "(fewer corners) or send fewer items at once."
        )
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_large: dict[str, Any] = {"code": "REQUEST_TOO_LARGE", "params": {"max_kb": self.max_bytes // 1000}}
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _reply(scope, send, 413, message, "RequestTooLarge", [], **too_large)
            return
        seen = 0
        started = False
        refused = False

        async def counting_receive() -> dict[str, Any]:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > self.max_bytes:
                    # answer now and tell the app the client is gone, so no route runs on a truncated body
                    refused = True
                    if not started:
                        await _reply(scope, send, 413, message, "RequestTooLarge", [], **too_large)
                    return {"type": "http.disconnect"}
            return event

        async def guarded_send(event: dict[str, Any]) -> None:
            nonlocal started
            if refused:
                return
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        await self.app(scope, counting_receive, guarded_send)


class RateStore(Protocol):
    """Where request counts live: :class:`RateLimiter` (this process) or
    :class:`agrisense.lending.rate_limits.DatabaseRateLimiter` (shared by every worker; ``blocking``: called in a
    worker thread, off the event loop)."""

    blocking: bool

    def hit(self, key: str) -> float | None: ...


class RateLimiter:
    """Sliding one-minute window per key in this process's memory (the default, for a single worker): at most
    ``per_minute`` requests, then the wait time."""

    blocking = False

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Record a request; ``None`` if allowed, else the seconds until the next one is."""
        now = self.clock()
        with self._lock:
            window = self._hits.setdefault(key, deque())
            while window and now - window[0] >= 60.0:
                window.popleft()
            if len(window) >= self.per_minute:
                return max(0.0, 60.0 - (now - window[0]))
            window.append(now)
            if len(self._hits) > 100_000:  # forget idle clients
                for k in [k for k, w in self._hits.items() if not w or now - w[-1] >= 60.0]:
                    del self._hits[k]
            return None


class RateLimit:
    """429 once a client exceeds the limit; the key is the signed-in user when a bearer token names one, else the
    client address (so many farmers behind one carrier NAT are not throttled together). On ``address_only`` paths
    (the login) the key is always the address: a token sent along does not open a fresh window."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateStore,
        user_of: Callable[[str], int | None],
        address_only: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.user_of = user_of
        self.address_only = address_only  # paths always keyed by address (login: a token must not buy guesses)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/healthz":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        key = None
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if auth.lower().startswith("bearer ") and scope.get("path") not in self.address_only:
            user = self.user_of(auth[7:].strip())
            key = None if user is None else f"user:{user}"
        if key is None:
            client = scope.get("client")
            key = f"ip:{client[0] if client else 'unknown'}"
        if self.limiter.blocking:
            wait = await anyio.to_thread.run_sync(self.limiter.hit, key)
        else:
            wait = self.limiter.hit(key)
        if wait is not None:
            seconds = max(1, int(wait + 0.999))
            await _reply(
                scope,
                send,
                429,
                f"Too many requests. Wait {seconds} seconds and try again.",
                "RateLimited",
                [(b"retry-after", str(seconds).encode())],
                code="TOO_MANY_REQUESTS",
                params={"seconds": seconds},
            )
            return
        await self.app(scope, receive, send)
