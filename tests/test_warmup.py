"""Start-up warm-up (#16): the model is loaded once per process in the background, callers join it instead of
loading a second copy, and a broken model folder is logged, not raised (the first request reports it)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agrisense.config import Settings
from agrisense.errors import ModelUnavailable
from agrisense.ml.registry import load_model_cached
from agrisense.warmup import start_warm_up, wait_until_warm


def test_warm_up_runs_once_and_leaves_the_model_loaded(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    steps: list[str] = []
    thread = start_warm_up(settings, lambda: steps.append("chart"))
    assert start_warm_up(settings) is thread  # once per models folder and device
    assert wait_until_warm(settings, timeout=300) and not thread.is_alive()
    hits = load_model_cached.cache_info().hits
    load_model_cached(str(settings.models_dir), device=settings.device)
    assert load_model_cached.cache_info().hits == hits + 1  # the callers' call is served from the cache
    assert steps in ([], ["chart"])  # [] when an earlier test of this process started the warm-up first


def test_a_broken_model_folder_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(state_dir=tmp_path, models_dir=tmp_path / "no-models")
    with caplog.at_level(logging.WARNING, logger="agrisense.warmup"):
        start_warm_up(settings)
        assert wait_until_warm(settings, timeout=120)
    assert "warm-up failed" in caplog.text
    with pytest.raises(ModelUnavailable):  # the request still gets the clear error
        load_model_cached(str(settings.models_dir), device=settings.device)


def test_nothing_to_wait_for_without_a_warm_up(tmp_path: Path) -> None:
    assert wait_until_warm(Settings(state_dir=tmp_path, models_dir=tmp_path / "never"), timeout=0.01)
