"""Security headers on every response (API, farmer app, tiles) as plain ASGI middleware.

The farmer app loads only same-origin scripts and styles (``/static``, ``/vendor``: no inline ``<script>`` or
``<style>``, no ``style=`` attributes; Leaflet positions tiles through the CSSOM, which CSP allows), its tiles and
API calls from the same origin, and its service worker and manifest from the same origin. Leaflet-Geoman's toolbar
icons are ``data:`` SVGs in its CSS, so images may also be ``data:``/``blob:``. The interactive API docs (``/docs``,
``/redoc``) are FastAPI's pages, which load Swagger UI / ReDoc from jsDelivr with an inline bootstrap script: they
get a policy that allows exactly that, and nothing else does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

APP_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""The farmer app, the API and the tiles."""

DOCS_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com",
        "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
        "font-src 'self' https://fonts.gstatic.com",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
"""FastAPI's ``/docs`` (Swagger UI) and ``/redoc`` pages only."""

DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})

COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"geolocation=(self), camera=(), microphone=(), payment=(), usb=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    """The headers added to a response for ``path``."""
    csp = DOCS_CSP if path in DOCS_PATHS else APP_CSP
    return [(b"content-security-policy", csp.encode()), *COMMON_HEADERS]


class SecurityHeaders:
    """Adds :func:`security_headers` to every HTTP response (a header the app set itself is kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(str(scope.get("path") or ""))

        async def send_with_headers(event: dict[str, Any]) -> None:
            if event["type"] == "http.response.start":
                headers = list(event.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in extra if name not in present)
                event = {**event, "headers": headers}
            await send(event)

        await self.app(scope, receive, send_with_headers)
