"""Request ids and one log line per request, as plain ASGI middleware (the outermost one of ``create_app``).

Every request gets an id: a well-formed incoming ``X-Request-ID`` (1-64 of ``A-Z a-z 0-9 . _ : -``), else a new
uuid4 hex. It is sent back in the ``X-Request-ID`` response header, set as ``request_id`` on every log line written
while the request is handled (``agrisense.logs.request_id_var``) and put on ``scope["state"]["request_id"]``.

The request line (logger ``agrisense.app.api.requests``)::

    2026-12-01T21:00:00.123Z INFO agrisense.app.api.requests request_id=9f0c… method=POST path=/api/v1/plots
        status=201 duration_ms=12.4 user=7 POST /api/v1/plots 201

holds no query string, headers or body (so no tokens or passwords). ``user`` is the account of a valid bearer token.
4xx lines are INFO, 5xx ERROR; ``/healthz`` is logged at DEBUG (probes). An unhandled error is logged once with its
traceback and answered here with a JSON 500 that names the request id.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from agrisense.app.api.messages import localised, negotiate
from agrisense.logs import request_id_var

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode()
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
QUIET_PATHS = frozenset({"/healthz"})

log = logging.getLogger("agrisense.app.api.requests")


def request_id_from(headers: list[tuple[bytes, bytes]] | None) -> str:
    """The client's ``X-Request-ID`` when it is well formed, else a fresh uuid4 hex."""
    for key, value in headers or ():
        if key.lower() == _HEADER_KEY:
            text = value.decode("latin-1").strip()
            if _VALID_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class RequestLog:
    """Assigns the request id, returns it in ``X-Request-ID`` and logs one line per HTTP request."""

    def __init__(self, app: ASGIApp, *, user_of: Callable[[str], int | None] | None = None) -> None:
        self.app = app
        self.user_of = user_of

    def _user(self, headers: list[tuple[bytes, bytes]]) -> int | None:
        if self.user_of is None:
            return None
        auth = next((v for k, v in headers if k.lower() == b"authorization"), b"").decode("latin-1")
        if not auth.lower().startswith("bearer "):
            return None
        try:
            return self.user_of(auth[7:].strip())
        except Exception:  # a broken token is the route's business, not the log's
            return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        headers = list(scope.get("headers") or [])
        request_id = request_id_from(headers)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        status: int | None = None
        id_header = (_HEADER_KEY, request_id.encode("latin-1"))

        async def send_with_id(event: dict[str, Any]) -> None:
            nonlocal status
            if event["type"] == "http.response.start":
                status = int(event["status"])
                kept = [(k, v) for k, v in event.get("headers") or () if k.lower() != _HEADER_KEY]
                event = {**event, "headers": [*kept, id_header]}
            await send(event)

        method = str(scope.get("method", ""))
        path = str(scope.get("path", ""))
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            started = status is not None
            if not started:
                status = 500
            self._log(logging.ERROR, method, path, status or 500, t0, headers, exc_info=True)
            if started:
                raise  # the response is half sent: let the server drop the connection
            language = negotiate(dict(headers).get(b"accept-language", b"").decode("latin-1"))
            body = json.dumps(
                {
                    **localised("INTERNAL_ERROR", {"request_id": request_id}, language),
                    "detail": f"Something went wrong on our side. Quote request id {request_id} if you report it.",
                    "error": "InternalError",
                    "request_id": request_id,
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        id_header,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        else:
            final = status if status is not None else 500
            if final >= 500:
                level = logging.ERROR
            elif path in QUIET_PATHS and final < 400:
                level = logging.DEBUG
            else:
                level = logging.INFO
            self._log(level, method, path, final, t0, headers)
        finally:
            request_id_var.reset(token)

    def _log(
        self,
        level: int,
        method: str,
        path: str,
        status: int,
        t0: float,
        headers: list[tuple[bytes, bytes]],
        *,
        exc_info: bool = False,
    ) -> None:
        if not log.isEnabledFor(level):
            return
        fields: dict[str, Any] = {
            "request_id": request_id_var.get(),
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round((time.perf_counter() - t0) * 1000, 1),
        }
        user = self._user(headers)
        if user is not None:
            fields["user"] = user
        log.log(level, "%s %s %d", method, path, status, extra=fields, exc_info=exc_info)
