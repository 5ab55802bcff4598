"""The main job: score every plot of a region on Dask and write offers, a plots GeoJSON, a report and a map."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from rich.progress import Progress

from agrisense import services
from agrisense.config import Settings
from agrisense.pipelines.score_tiles import DaskTileRunner
from agrisense.region import load_region
from agrisense.report import write_report
from agrisense.scoring import ScoreRun, TileResult, plan_tiles

log = logging.getLogger(__name__)


def dask_runner(settings: Settings) -> DaskTileRunner:
    """The tile runner the settings ask for: an existing scheduler, else a LocalCluster of ``dask_workers``."""
    return DaskTileRunner(settings.dask_scheduler, settings.dask_workers)


def run_demo(settings: Settings, out_dir: Path) -> ScoreRun:
    """Score every plot of ``settings.region_dir`` tile by tile on Dask; write the report files to ``out_dir``."""
    region = load_region(settings.region_dir)
    # the same reading as `agrisense score` and the API: outlines outside the imagery are OUTSIDE_IMAGERY entries
    plots, errors = services.read_region_plots(region.plots, settings)
    n_tiles = len(plan_tiles(plots, resolution=region.resolution))
    t0 = time.perf_counter()
    log.info("scoring %d plots in %d tiles", len(plots), n_tiles, extra={"region": region.name})
    done = 0
    with Progress(transient=True) as progress:
        task = progress.add_task(f"Scoring {len(plots)} plots in {n_tiles} tiles", total=n_tiles)

        def tile_done(result: TileResult) -> None:
            nonlocal done
            done += 1
            progress.advance(task)
            log.info(
                "tile %d/%d done",
                done,
                n_tiles,
                extra={"tile": result.tile_id, "plots": len(result.evidence), "scenes": result.scenes_used},
            )

        run = services.score_plots(
            plots, errors=errors, settings=settings, runner=dask_runner(settings), on_tile=tile_done
        )
    run.timings["total_s"] = time.perf_counter() - t0
    log.info("scored %d offers", len(run.offers), extra={"seconds": round(run.timings["total_s"], 1)})
    out_dir.mkdir(parents=True, exist_ok=True)
    write_report(run, out_dir)
    return run
