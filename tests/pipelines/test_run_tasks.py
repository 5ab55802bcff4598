"""The re-score driver's task order: the tiles with the most work start first (longest-processing-time first)."""

from __future__ import annotations

from agrisense.geo import make_plot
from agrisense.pipelines.rescore import IN_FLIGHT_PER_WORKER, TileTask, largest_first
from agrisense.scoring import plan_tiles
from tests.pipelines.test_plan_tiles import square


def test_tiles_with_more_plots_start_first() -> None:
    # tile A (1 plot) near 33.00 E, tile B (4 plots) ~5 km east, tile C (2 plots) ~10 km east
    spots = [(33.0, 1), (33.05, 4), (33.1, 2)]
    plots = [make_plot(square(f"t{t}p{i}", lon + 0.002 * i, 2.3)) for t, (lon, n) in enumerate(spots) for i in range(n)]
    jobs = plan_tiles(plots)
    by_id = {p.plot_id: p for p in plots}
    tasks = [TileTask(j, tuple(by_id[p] for p in j.plot_ids), {}, j.tile_id) for j in jobs]
    assert len(tasks) == 3
    ordered = largest_first(tasks)
    assert [len(t.plots) for t in ordered] == [4, 2, 1]
    assert largest_first(list(reversed(tasks))) == ordered  # deterministic whatever the planning order
    assert IN_FLIGHT_PER_WORKER >= 2  # a worker always has its next tile queued
