"""Score an application's plots with the product's one scorer, batched per imagery tile, in-process.

Scoring a tile costs about the same for one plot as for a hundred (the imagery is loaded and the model run once
per tile), so concurrent submissions in the same tile are scored together: the first request for a tile becomes
the batch's leader, waits for a free CPU slot (at most ``concurrency`` scorings run at once), then scores every
plot queued for that tile meanwhile and hands each request its offers. Requests never start a Dask cluster.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agrisense import services
from agrisense.config import Settings
from agrisense.geo import Plot
from agrisense.scoring import InProcessRunner, ScoredTile, TileMemory, plan_tiles


@dataclass
class _Request:
    plots: list[Plot]
    overlaps: dict[str, float]
    exposure: dict[str, Decimal]
    done: threading.Event = field(default_factory=threading.Event)
    offers: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: BaseException | None = None


@dataclass
class _Queue:
    settings: Settings
    pending: list[_Request] = field(default_factory=list)
    leader: bool = False


class TileBatcher:
    """Coalesces concurrent scorings of the same tile into one ``services.score_plots`` call, and keeps the tiles
    it scored in memory for ``tile_reuse_s`` seconds (a new plot there then costs only its zonal statistics)."""

    def __init__(self, concurrency: int = 2, tile_reuse_s: float = 300.0) -> None:
        self.memory: TileMemory[ScoredTile] = TileMemory(tile_reuse_s)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified whenever a tile's queue is done
        self._queues: dict[tuple[str, ...], _Queue] = {}
        self._gate = threading.BoundedSemaphore(max(1, concurrency))
        self.batches = 0

    def score(
        self,
        tile_id: str,
        plots: list[Plot],
        *,
        settings: Settings,
        overlaps: dict[str, float],
        exposure: dict[str, Decimal],
    ) -> dict[str, dict[str, Any]]:
        key = (
            tile_id,
            str(settings.region_dir),
            str(settings.models_dir),
            str(settings.cache_dir),
            str(settings.policy_file),
            str(settings.catalog_source),
        )
        request = _Request(plots, overlaps, exposure)
        with self._lock:
            queue = self._queues.setdefault(key, _Queue(settings))
            queue.pending.append(request)
            lead = not queue.leader
            queue.leader = queue.leader or lead
        if lead:
            self._lead(key, queue)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.offers

    def _lead(self, key: tuple[str, ...], queue: _Queue) -> None:
        while True:
            with self._gate:  # wait for a CPU slot; requests queue up for this tile meanwhile
                with self._lock:
                    batch, queue.pending = queue.pending, []
                self._run(batch, queue.settings)
            with self._lock:
                if not queue.pending:
                    queue.leader = False
                    del self._queues[key]
                    self._idle.notify_all()
                    return

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait up to ``timeout`` seconds until no scoring is queued or running (the service's shutdown, so that a
        submission whose client went away still stores its application before the database closes); True when
        idle. Scorings keep being accepted meanwhile."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._queues:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _run(self, batch: list[_Request], settings: Settings) -> None:
        self.batches += 1
        try:
            offers = self._score([p for r in batch for p in r.plots], batch, settings)
            for r in batch:
                r.offers = {p.plot_id: offers[p.plot_id] for p in r.plots}
        except BaseException as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:  # one bad request must not fail the others: score them one by one
                for r in batch:
                    try:
                        r.offers = self._score(r.plots, [r], settings)
                    except BaseException as single:
                        r.error = single
        finally:
            for r in batch:
                r.done.set()

    def _score(self, plots: list[Plot], requests: list[_Request], settings: Settings) -> dict[str, dict[str, Any]]:
        overlaps = {k: v for r in requests for k, v in r.overlaps.items()}
        exposure = {k: v for r in requests for k, v in r.exposure.items()}
        run = services.score_plots(
            plots,
            settings=settings,
            runner=InProcessRunner(self.memory),
            overlaps=overlaps,
            existing_exposure=exposure,
        )
        return {o.plot_id: o.to_dict() for o in run.offers}


SERVICE_TILE_REUSE_S = 300.0
"""How long the API reuses a scored tile from memory before asking the catalog for new scenes again."""
_batcher = TileBatcher(tile_reuse_s=SERVICE_TILE_REUSE_S)


def set_scoring_concurrency(n: int, tile_reuse_s: float | None = None) -> None:
    """How many tile scorings may run at once in this process (the API sets one per CPU core at start-up), and how
    long a scored tile is reused from memory (``Settings.tile_reuse_s``; default 300 s)."""
    global _batcher
    _batcher = TileBatcher(n, SERVICE_TILE_REUSE_S if tile_reuse_s is None else tile_reuse_s)


def drain_scoring(timeout: float = 60.0) -> bool:
    """:meth:`TileBatcher.drain` of this process's batcher."""
    return _batcher.drain(timeout)


def score_application(
    plots: Sequence[Plot],
    *,
    settings: Settings,
    overlaps: Mapping[str, float],
    existing_exposure: Mapping[str, Decimal],
) -> list[dict[str, Any]]:
    """Offers (JSON form of ``credit.offer.Offer``) for the plots, in input order, one batched tile scoring per
    imagery tile."""
    by_id = {p.plot_id: p for p in plots}
    offers: dict[str, dict[str, Any]] = {}
    for job in plan_tiles(plots):
        group = [by_id[pid] for pid in job.plot_ids]
        offers.update(
            _batcher.score(
                job.tile_id,
                group,
                settings=settings,
                overlaps={p.plot_id: float(overlaps.get(p.plot_id, 0.0)) for p in group},
                exposure=dict(existing_exposure),
            )
        )
    return [offers[p.plot_id] for p in plots]
