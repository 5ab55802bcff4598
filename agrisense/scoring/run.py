"""Score a set of plots: plan tiles, score each tile (in this process or through a runner), then the offers.

A :class:`TileRunner` decides where tiles run. :func:`run_in_process` is the library's own; the Dask fan-out
lives in ``agrisense.pipelines.score_tiles`` and is passed in by the front ends that want it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from agrisense.credit.offer import Offer
from agrisense.geo import Plot, PlotError
from agrisense.region import Region
from agrisense.scoring.caches import TileMemory
from agrisense.scoring.evidence import PlotEvidence
from agrisense.scoring.offers import CreditInputs, build_offers, unusable_outline_offer
from agrisense.scoring.tasks import ScoringInputs, TileJob, plan_tiles
from agrisense.scoring.tile import ScoredTile, TileResult, score_tile

OnTile = Callable[[TileResult], None]


class TileRunner(Protocol):
    """Runs tile jobs somewhere and returns their results in job order, calling ``on_done`` as each finishes."""

    def __call__(
        self, jobs: Sequence[TileJob], inputs: ScoringInputs, on_done: OnTile | None = None
    ) -> list[TileResult]: ...


@dataclass(frozen=True)
class InProcessRunner:
    """Tiles one after another in this process (the API, tests, one-tile calls); ``memory`` reuses recent tiles."""

    memory: TileMemory[ScoredTile] | None = None

    def __call__(
        self, jobs: Sequence[TileJob], inputs: ScoringInputs, on_done: OnTile | None = None
    ) -> list[TileResult]:
        results = []
        for job in jobs:
            result = score_tile(job, inputs, memory=self.memory)
            if on_done:
                on_done(result)
            results.append(result)
        return results


run_in_process = InProcessRunner()


@dataclass
class ScoreRun:
    """The result of scoring a set of plots: offers (input order, unusable features included), evidence, tiles."""

    offers: list[Offer]
    plots: list[Plot]
    evidence: dict[str, PlotEvidence]
    tiles: list[TileResult]
    region: Region
    timings: dict[str, float] = field(default_factory=dict)


def score_plots(
    plots: Sequence[Plot],
    region: Region,
    inputs: ScoringInputs,
    credit: CreditInputs,
    *,
    errors: Sequence[PlotError] = (),
    runner: TileRunner = run_in_process,
    on_tile: OnTile | None = None,
    overlaps: Mapping[str, float] | None = None,
    existing_exposure: Mapping[str, Decimal] | None = None,
) -> ScoreRun:
    """Offers for validated plots plus a referral for each unusable feature (``errors``), in input order."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    tiles = runner(plan_tiles(plots, resolution=region.resolution), inputs, on_tile)
    timings["imagery_and_model_s"] = time.perf_counter() - t0
    evidence = {e.plot_id: e for tile in tiles for e in tile.evidence}

    t1 = time.perf_counter()
    offers_by_id = build_offers(plots, evidence, credit, overlaps=overlaps, existing_exposure=existing_exposure)
    timings["credit_s"] = time.perf_counter() - t1

    error_by_index = {e.index: e for e in errors}
    plot_iter = iter(plots)
    ordered = [
        unusable_outline_offer(error_by_index[i], currency=region.currency)
        if i in error_by_index
        else offers_by_id[next(plot_iter).plot_id]
        for i in range(len(plots) + len(errors))
    ]
    return ScoreRun(ordered, list(plots), evidence, tiles, region, timings)
