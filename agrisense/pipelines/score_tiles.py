"""The Dask fan-out of the plot scorer: one task per imagery tile (a LocalCluster, or a scheduler by address).

Each task carries a frozen :class:`~agrisense.scoring.TileJob` and :class:`~agrisense.scoring.ScoringInputs`
(paths, dates, device: no secrets) and runs :func:`agrisense.scoring.score_tile` on the worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dask.distributed import as_completed

from agrisense.pipelines.cluster import dask_client
from agrisense.scoring import ScoringInputs, TileJob, TileResult, run_in_process, score_tile
from agrisense.scoring.run import OnTile


@dataclass(frozen=True)
class DaskTileRunner:
    """Tiles as Dask tasks; a single tile without a scheduler address runs in this process (no cluster start-up)."""

    scheduler_address: str | None = None
    n_workers: int = 2

    def __call__(
        self, jobs: Sequence[TileJob], inputs: ScoringInputs, on_done: OnTile | None = None
    ) -> list[TileResult]:
        if len(jobs) <= 1 and self.scheduler_address is None:
            return run_in_process(jobs, inputs, on_done)
        with dask_client(self.scheduler_address, self.n_workers) as client:
            futures = {
                client.submit(score_tile, job, inputs, scheduler="sync", pure=False): i for i, job in enumerate(jobs)
            }
            out: list[TileResult | None] = [None] * len(jobs)
            for future in as_completed(futures):
                result = future.result()
                out[futures[future]] = result
                if on_done:
                    on_done(result)
        return [r for r in out if r is not None]
