"""Headless system Chromium for the browser tests (farmer app, dashboard): Playwright, never `playwright install`.

Browser tests skip when Chromium or Playwright is missing, and FAIL instead when AGRISENSE_REQUIRE_BROWSER=1
(``make test`` sets it)."""

from __future__ import annotations

import os
from pathlib import Path

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
