"""A loopback HTTP server for a static STAC catalog (uvicorn + starlette StaticFiles: Range requests work,
which GDAL needs) with per-path fault injection: 5xx statuses, stalls past the client timeout, truncated
bodies and 404s. Runs in a thread of the test process, binds 127.0.0.1 on a free port, always stops."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import uvicorn
from starlette.staticfiles import StaticFiles

Scope = dict[str, Any]


@dataclass(frozen=True)
class Fault:
    """What to do to requests whose path ends with a given suffix.

    ``kind``: ``status`` (answer ``status``), ``stall`` (wait ``delay_s`` before answering), ``truncate``
    (send only ``keep_bytes`` of the body although Content-Length announces more). ``times``: fault only the
    first ``times`` matching requests (transient), ``None`` = every one (permanent)."""

    kind: Literal["status", "stall", "truncate"]
    times: int | None = None
    status: int = 500
    delay_s: float = 3.0
    keep_bytes: int = 100


class FaultInjector:
    """ASGI middleware: strips a random URL prefix (so GDAL's per-URL caches never mix servers), counts
    requests per path and applies the configured faults."""

    def __init__(self, app: Any, prefix: str, faults: dict[str, Fault]):
        self.app = app
        self.prefix = prefix
        self.faults = dict(faults)
        self.requests: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()

    def _fault(self, path: str) -> Fault | None:
        for suffix, fault in self.faults.items():
            if path.endswith(suffix) and (fault.times is None or self.injected[suffix] < fault.times):
                self.injected[suffix] += 1
                return fault
        return None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            if scope["type"] == "http":
                await _respond(send, 404, b"unknown prefix")
            return
        path = scope["path"][len(self.prefix) :] or "/"
        scope = {**scope, "path": path, "raw_path": path.encode()}
        self.requests[path] += 1
        fault = self._fault(path)
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind == "status":
            await _respond(send, fault.status, b"injected fault")
        elif fault.kind == "stall":
            await asyncio.sleep(fault.delay_s)
            await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, _truncating(send, fault.keep_bytes))


async def _respond(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _truncating(send: Any, keep: int) -> Any:
    sent = 0

    async def wrapped(message: dict[str, Any]) -> None:
        nonlocal sent
        if message["type"] == "http.response.body":
            body = message.get("body", b"")[: max(keep - sent, 0)]
            sent += len(body)
            message = {**message, "body": body, "more_body": False}
            if not body and sent >= keep:
                raise ConnectionAbortedError("injected truncation")  # uvicorn drops the connection
        await send(message)

    return wrapped


@contextmanager
def serve_directory(root: Path, faults: dict[str, Fault] | None = None) -> Iterator[tuple[str, FaultInjector]]:
    """Serve ``root`` at ``http://127.0.0.1:<free port>/<random>``; yields (base URL, injector)."""
    prefix = f"/{uuid.uuid4().hex[:12]}"
    injector = FaultInjector(StaticFiles(directory=root), prefix, faults or {})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        injector, log_level="critical", lifespan="off", timeout_graceful_shutdown=1, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the loopback HTTP server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}{prefix}", injector
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
