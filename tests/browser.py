"""Headless system Chromium for the browser tests (farmer app, dashboard): Playwright, never `playwright install`.
A plugin of tests/conftest.py (the ``system_chromium`` fixture).

Browser tests skip when Chromium or Playwright is missing, and FAIL instead when AGRISENSE_REQUIRE_BROWSER=1
(``make test`` sets it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "_artifacts"
"""Screenshots and other test artifacts (git-ignored)."""


def missing_browser(chromium: Path = CHROMIUM) -> str | None:
    """Why browser tests cannot run here, or None."""
    if not chromium.exists():
        return f"Chromium is not installed at {chromium} (install it with `make system`)."
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)."
    return None


def require_browser(reason: str | None) -> None:
    """Skip for ``reason``; fail instead when AGRISENSE_REQUIRE_BROWSER=1. No-op when ``reason`` is None."""
    if reason is not None:
        if os.environ.get("AGRISENSE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required (AGRISENSE_REQUIRE_BROWSER=1) but: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def system_chromium() -> Iterator[Any]:
    """One headless system Chromium per test session (Playwright's sync API allows one running instance)."""
    require_browser(missing_browser())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
