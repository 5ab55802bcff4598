"""Fixtures of the farmer-app tests: a real service on a loopback port, and headless Chromium.

Browser tests skip when Chromium or Playwright is missing, and FAIL instead when AGRISENSE_REQUIRE_BROWSER=1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agrisense.config import Settings
from tests.browser import ARTIFACTS, missing_browser, require_browser

__all__ = ["ARTIFACTS", "PHONE_VIEWPORT", "LiveService", "uvicorn_thread"]

PHONE_VIEWPORT = {"width": 360, "height": 740}
NODE_MODULES = Path(__file__).resolve().parents[2] / "agrisense" / "app" / "web" / "node_modules"


def _missing_browser() -> str | None:
    if not (NODE_MODULES / "leaflet" / "dist" / "leaflet.js").is_file():
        return f"The farmer app's npm packages are missing from {NODE_MODULES} (run `make web`)."
    return missing_browser()


@pytest.fixture(scope="session")
def browser(system_chromium: Any) -> Any:
    """Headless Chromium through Playwright (the system Chromium; never `playwright install`), with the app's npm
    packages in place."""
    require_browser(_missing_browser())
    return system_chromium


@dataclass
class LiveService:
    url: str
    settings: Settings


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_thread(app: Any, join_s: float = 10.0) -> Iterator[str]:
    """``app`` served by uvicorn (lifespan on) in a thread on a free loopback port; yields its base URL and stops
    it on exit (waiting up to ``join_s`` for its shutdown)."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="agrisense-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=join_s)


@pytest.fixture(scope="session")
def live_service(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The real app (API, tiles, farmer app) served by uvicorn on a free loopback port, its map imagery warm."""
    from agrisense.app.api.main import create_app
    from agrisense.imagery.tiles import warm_region_tiles

    settings = Settings(
        region_dir=small_region, state_dir=tmp_path_factory.mktemp("web-state"), rate_limit_per_minute=100_000
    )
    warm_region_tiles(settings)  # the session's imagery cache (shared with the tile tests)
    with uvicorn_thread(create_app(settings)) as url:
        yield LiveService(url, settings)
