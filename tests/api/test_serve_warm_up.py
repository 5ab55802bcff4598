"""The API's start-up warm-up is off by default (``Settings.serve_warm_up``): a server start loads no model until
a request needs one; with the setting on, the lifespan starts it (here on a broken models folder, which it logs)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agrisense.config import Settings
from agrisense.warmup import wait_until_warm


@pytest.mark.parametrize("on", [False, True])
def test_the_warm_up_runs_only_when_switched_on(
    on: bool, small_region: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from agrisense.app.api.main import create_app

    settings = Settings(
        region_dir=small_region, state_dir=tmp_path, models_dir=tmp_path / f"no-models-{on}", serve_warm_up=on
    )
    assert Settings(state_dir=tmp_path).serve_warm_up is False  # the default
    with caplog.at_level(logging.WARNING, logger="agrisense.warmup"), TestClient(create_app(settings)) as c:
        assert c.get("/healthz").status_code == 200
        assert wait_until_warm(settings, timeout=120)
    assert ("warm-up failed" in caplog.text) is on
