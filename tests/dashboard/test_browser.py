"""One real headless-Chromium screenshot per page of the dashboard, served by `streamlit run` in a subprocess.

Skips when Chromium or Playwright is missing; FAILS instead when AGRISENSE_REQUIRE_BROWSER=1. Also checks that the
pages load nothing from outside the local server (no CDN, no map tiles from the internet)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import ARTIFACTS, missing_browser, require_browser
from tests.dashboard.conftest import ANALYST_PHONE, DashboardData

REPO = Path(__file__).resolve().parents[2]
PAGES = {  # url path -> (screenshot name, text the page shows once rendered)
    "": ("dashboard_home", "rendered in"),
    "Review_queue": ("dashboard_review_queue", "Rendered in"),
    "Application": ("dashboard_application", "Rendered in"),
    "Portfolio": ("dashboard_portfolio", "Rendered in"),
    "Model_monitoring": ("dashboard_model_monitoring", "Rendered in"),
}


def test_a_missing_browser_fails_when_required_and_skips_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    reason = missing_browser(Path("/nonexistent/chromium"))
    monkeypatch.setenv("AGRISENSE_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="required .* Chromium is not installed"):
        require_browser(reason)
    monkeypatch.setenv("AGRISENSE_REQUIRE_BROWSER", "0")
    with pytest.raises(pytest.skip.Exception, match="Chromium is not installed"):
        require_browser(reason)


@pytest.fixture(scope="module")
def chromium(system_chromium: Any) -> Any:
    """Headless system Chromium through Playwright (never `playwright install`)."""
    return system_chromium


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def dashboard_server(
    dashboard_data: DashboardData, small_region: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`streamlit run agrisense/app/dashboard/Home.py` on a free loopback port over a copy of the seeded database."""
    root = tmp_path_factory.mktemp("dashboard-server")
    shutil.copy(dashboard_data.template_db, root / "agrisense.db")
    port = _free_port()
    env = {
        **os.environ,
        "AGRISENSE_REGION_DIR": str(small_region),
        "AGRISENSE_STATE_DIR": str(root / "state"),
        "AGRISENSE_DATABASE_URL": f"sqlite:///{root / 'agrisense.db'}",
        "AGRISENSE_DASHBOARD_RESCORE_DIR": str(dashboard_data.rescore_dir),
    }
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "agrisense/app/dashboard/Home.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
    ]
    log = (root / "streamlit.log").open("w")
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a loaded CI machine starts Streamlit slowly
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start: {(root / 'streamlit.log').read_text()[-2000:]}")
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.mark.parametrize("path", list(PAGES))
def test_page_screenshot(path: str, chromium: Any, dashboard_server: str, dashboard_data: DashboardData) -> None:
    name, ready = PAGES[path]
    page = chromium.new_page(viewport={"width": 1400, "height": 2400})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(f"{dashboard_server}/{path}", wait_until="domcontentloaded")
        page.get_by_label("Phone number").fill(ANALYST_PHONE)
        page.get_by_label("Password", exact=True).fill(dashboard_data.analyst_password)
        page.get_by_role("button", name="Log in").click()
        page.get_by_text(ready).first.wait_for(timeout=90_000)
        page.wait_for_timeout(500)  # let images finish painting
        assert page.get_by_text("Traceback").count() == 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        page.close()
    outside = [u for u in requests if not u.startswith((dashboard_server, "data:", "blob:"))]
    assert not outside, f"the dashboard fetched from outside the local server: {outside[:5]}"


def test_a_browser_reload_keeps_the_log_in(chromium: Any, dashboard_server: str, dashboard_data: DashboardData) -> None:
    page = chromium.new_page(viewport={"width": 1400, "height": 1200})
    try:
        page.goto(f"{dashboard_server}/Review_queue", wait_until="domcontentloaded")
        page.get_by_label("Phone number").fill(ANALYST_PHONE)
        page.get_by_label("Password", exact=True).fill(dashboard_data.analyst_password)
        page.get_by_role("button", name="Log in").click()
        page.get_by_text("Rendered in").first.wait_for(timeout=90_000)
        assert "session=" in page.url
        page.reload(wait_until="domcontentloaded")
        page.get_by_text("Rendered in").first.wait_for(timeout=90_000)
        assert page.get_by_label("Phone number").count() == 0
        page.get_by_role("button", name="Log out").click()
        page.get_by_label("Phone number").wait_for(timeout=60_000)
        assert "session=" not in page.url
    finally:
        page.close()
