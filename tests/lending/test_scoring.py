"""The tile batcher: concurrent scorings of one tile become one call; one failing request does not fail others."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import shapely

from agrisense.config import Settings
from agrisense.errors import ImageryUnavailable
from agrisense.geo import Plot, make_plot
from agrisense.lending import scoring


def _plot(i: int) -> Plot:
    box = shapely.box(33.0 + i * 0.001, 2.3, 33.0005 + i * 0.001, 2.3005)
    return make_plot({"geometry": json.loads(shapely.to_geojson(box)), "properties": {"plot_id": f"p{i}"}})


def test_concurrent_requests_in_a_tile_are_scored_together(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def fake_score(plots: list[Plot], requests: Any, settings: Settings) -> dict[str, dict[str, Any]]:
        calls.append([p.plot_id for p in plots])
        time.sleep(0.2)
        if any(p.plot_id == "p13" for p in plots):
            raise ImageryUnavailable("no scenes")
        return {p.plot_id: {"plot_id": p.plot_id, "overlap": requests[0].overlaps.get(p.plot_id)} for p in plots}

    monkeypatch.setattr(
        scoring.TileBatcher, "_score", lambda self, plots, requests, settings: fake_score(plots, requests, settings)
    )
    batcher = scoring.TileBatcher(concurrency=1)
    settings = Settings(state_dir=tmp_path)
    results: dict[int, Any] = {}

    def submit(i: int) -> None:
        try:
            results[i] = batcher.score(
                "tile-a", [_plot(i)], settings=settings, overlaps={f"p{i}": 0.1 * i}, exposure={}
            )
        except ImageryUnavailable as exc:
            results[i] = exc

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(14)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 14
    assert isinstance(results[13], ImageryUnavailable)
    for i in range(13):
        assert results[i] == {f"p{i}": {"plot_id": f"p{i}", "overlap": pytest.approx(0.1 * i)}}
    batched = [c for c in calls if len(c) > 1]
    assert batched, "concurrent requests were never batched"
    assert batcher.batches < 14


def test_drain_waits_for_the_scorings_in_flight(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The API's shutdown drains the batcher: a scoring whose client went away still finishes (and is stored)."""
    release = threading.Event()

    def slow_score(self: Any, plots: list[Plot], requests: Any, settings: Settings) -> dict[str, dict[str, Any]]:
        release.wait(10)
        return {p.plot_id: {"plot_id": p.plot_id} for p in plots}

    monkeypatch.setattr(scoring.TileBatcher, "_score", slow_score)
    batcher = scoring.TileBatcher(concurrency=1)
    assert batcher.drain(timeout=0.01)  # idle
    done: list[Any] = []
    worker = threading.Thread(
        target=lambda: done.append(
            batcher.score("tile-a", [_plot(1)], settings=Settings(state_dir=tmp_path), overlaps={}, exposure={})
        )
    )
    worker.start()
    time.sleep(0.1)
    assert not batcher.drain(timeout=0.05)  # still scoring
    threading.Timer(0.2, release.set).start()
    assert batcher.drain(timeout=10)
    worker.join(5)
    assert done == [{"p1": {"plot_id": "p1"}}]
