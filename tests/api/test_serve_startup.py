"""`agrisense serve` refuses to start without the farmer app's map library (it would serve 500s: "L is not defined")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agrisense.app.api import web
from agrisense.app.cli.main import app


def test_serve_fails_fast_when_the_vendor_files_are_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "NODE_MODULES", tmp_path / "node_modules")  # a fresh clone before `npm ci`
    started: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append(a))
    result = CliRunner().invoke(app, ["serve", "--state-dir", str(tmp_path / "state"), "--port", "8765"])
    assert result.exit_code == 3, result.output  # NotFound
    out = " ".join(result.output.split())
    assert "map library is not installed" in out and "make install" in out and "leaflet.js" in out
    assert not started, "the server started anyway"
    assert len(web.missing_vendor_files()) == 4


def test_the_check_passes_with_the_vendor_files_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modules = tmp_path / "node_modules"
    for url in web.SHELL_URLS:
        if url.startswith("/vendor/"):
            folder, _, rest = url.removeprefix("/vendor/").partition("/")
            path = modules / web.VENDOR_PACKAGES[folder] / rest
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("/* vendor */")
    monkeypatch.setattr(web, "NODE_MODULES", modules)
    assert web.missing_vendor_files() == []
    web.check_web_assets()
