"""County re-score: every plot of a region, tile by tile on Dask, resumable and incremental.

Each tile (the imagery cache's fixed 2.56 km grid) is an independent task: composites (cached), the U-Net's class
probabilities (cached), per-plot evidence, offers, the tile's maps, and every clear scene of its financed plots (for
the in-season monitoring, which then reads no imagery). A task writes its own result files atomically
(``OUT/tiles/<tile>.parquet`` last, carrying the tile's fingerprint in its metadata) and returns a small summary, so
the driver never holds pixels and peak memory does not grow with the region.

A tile's fingerprint covers everything its result depends on: the plots (geometry, farmer, declared crop, overlap
with other farmers' plots), the STAC items a catalog search returns for the tile (ids + ``updated``), the dates, the
model bundle, the policy and reference tables, which of its plots are financed. A run skips every tile whose result
file carries the current fingerprint, so a killed run resumes with the missing tiles only, and a re-run with nothing
new reads no imagery.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from dask.distributed import as_completed
from shapely.geometry import box, shape

from agrisense import services
from agrisense.config import Settings
from agrisense.credit.offer import Offer
from agrisense.errors import ImageryUnavailable, InvalidInput
from agrisense.geo import Plot, overlap_fractions
from agrisense.imagery.cache import scene_fingerprint
from agrisense.imagery.catalog import open_source
from agrisense.market import market_named, markets_dir
from agrisense.ml.plot_crop_model import PLOT_CROP_FILE
from agrisense.ml.registry import read_bundle
from agrisense.monitoring.scene_reader import cached_plot_scenes, scenes_frame, scenes_from_frame, tile_plot_scenes
from agrisense.monitoring.scenes import PlotScenes
from agrisense.pipelines.cluster import dask_client
from agrisense.pipelines.rescore_maps import write_tile_maps
from agrisense.region import Region
from agrisense.scoring import (
    CreditInputs,
    ScoringInputs,
    TileJob,
    build_offers,
    model_fingerprint,
    plan_tiles,
    score_tile,
)

PIPELINE_VERSION = "rescore-v2"  # v2: typed plot columns, reasons as records, maps masked outside imagery
"""Bump when a change to the pipeline changes what a tile result holds."""
FINGERPRINT_KEY = b"agrisense_tile_fingerprint"
MAP_LAYERS = ("crop_class", "probability", "ndvi")


@dataclass(frozen=True)
class RescoreConfig:
    """What every tile task needs (small and picklable: it travels to Dask workers; no database URL, no secret)."""

    inputs: ScoringInputs  # catalog, imagery window (cut at ``as_of`` for an in-season run), models, caches
    credit: CreditInputs
    region: Region  # with ``season`` set to the re-scored season
    out_dir: Path
    run_tags: tuple[tuple[str, str], ...] = ()
    """The run's metadata (``rescore_run.run_tags``: run id, model fingerprint, policy version, created), written
    as GDAL tags on every tile COG; set once the run id is known (it does not enter any fingerprint)."""

    @property
    def start(self) -> date:
        return self.inputs.start

    @property
    def end(self) -> date:
        return self.inputs.end

    @property
    def tiles_dir(self) -> Path:
        return self.out_dir / "tiles"

    @property
    def tile_maps_dir(self) -> Path:
        return self.out_dir / "maps" / "tiles"


def rescore_config(settings: Settings, region: Region, start: date, end: date, out_dir: Path) -> RescoreConfig:
    """The tasks' configuration from the settings: only paths, dates and the device travel, never a secret."""
    return RescoreConfig(
        inputs=services.scoring_inputs(settings, region, start=start, end=end),
        credit=services.credit_inputs(settings, region),
        region=region,
        out_dir=out_dir,
    )


@dataclass(frozen=True)
class TileTask:
    """One tile to (re)score: the job, its plots and their overlaps, the fingerprint of all its inputs, and which
    of its plots are financed (their every clear scene is read for the in-season monitoring)."""

    job: TileJob
    plots: tuple[Plot, ...]
    overlaps: Mapping[str, float]
    fingerprint: str
    financed: frozenset[str] = frozenset()


def season_window(region: Region, season: int, as_of: date | None) -> tuple[date, date]:
    """The imagery window of ``season`` (the region's window moved to that year), cut at ``as_of``."""
    try:
        start = region.imagery_start.replace(year=region.imagery_start.year + season - region.season)
        end = region.imagery_end.replace(year=region.imagery_end.year + season - region.season)
    except ValueError as exc:
        raise InvalidInput(f"season {season} is not a valid year ({exc}).") from exc
    if as_of is not None:
        if as_of < start:
            raise InvalidInput(f"--as-of {as_of} is before the season's imagery starts ({start}); pick a later date.")
        end = min(end, as_of)
    return start, end


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _file_digest(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode())
        h.update(path.read_bytes() if path.is_file() else b"-")
    return h.hexdigest()[:16]


def static_inputs_fingerprint(cfg: RescoreConfig, model_name: str | None = None) -> str:
    """Model bundle + policy + reference tables + the region's market: what every tile shares."""
    bundle = read_bundle(cfg.inputs.models_dir / (model_name or cfg.inputs.model))
    ref = cfg.credit.reference_dir
    market = [markets_dir(ref) / f"{cfg.credit.market}.yaml"] if cfg.credit.market else []
    if cfg.credit.market:  # the market's expected NDVI curves, where it has its own
        market.append(market_named(ref, cfg.credit.market).curves_path())
    if cfg.credit.plot_calibration is not None:  # a re-fitted calibration changes the offers
        market.append(cfg.credit.plot_calibration)
    if cfg.inputs.crop_model:  # a re-trained plot crop model changes the crops
        market.append(cfg.inputs.models_dir / cfg.inputs.crop_model / PLOT_CROP_FILE)
    return _digest(
        {
            "pipeline": PIPELINE_VERSION,
            "model": model_fingerprint(bundle.to_json()),
            "policy": _file_digest([cfg.credit.policy_file]),
            "reference": _file_digest([ref / "crops.csv", ref / "ndvi_curves.csv", *market]),
        }
    )


def tile_items(catalog: str, jobs: Sequence[TileJob], start: date, end: date) -> dict[str, list[tuple[str, str]]]:
    """Per tile, the STAC items of the window whose footprint meets the tile: one catalog search for all tiles
    (metadata only), then an in-memory footprint test per tile."""
    if not jobs:
        return {}
    boxes = {}
    for job in jobs:
        b = job.geobox().geographic_extent.boundingbox
        boxes[job.tile_id] = (b.left, b.bottom, b.right, b.top)
    union = shapely.unary_union([box(*b) for b in boxes.values()]).bounds
    try:
        items = open_source(catalog).search(tuple(union), start, end)  # type: ignore[arg-type]
    except ImageryUnavailable:
        items = []
    footprints = [
        (item, shape(item.geometry) if item.geometry else box(*(item.bbox or ())))
        for item in items
        if item.geometry or item.bbox
    ]
    out: dict[str, list[tuple[str, str]]] = {}
    for tile_id, bounds in boxes.items():
        area = box(*bounds)
        out[tile_id] = [
            (item.id, scene_fingerprint([item])) for item, footprint in footprints if footprint.intersects(area)
        ]
    return out


def plan_tasks(
    plots: Sequence[Plot], cfg: RescoreConfig, *, static_fingerprint: str, financed: Iterable[str] = ()
) -> list[TileTask]:
    """Tiles with their plots, overlaps (against every plot of the run), input fingerprints and ``financed`` plots
    (ids of plots under a loan; a tile holding one also keeps its per-scene NDVI, so its fingerprint names them)."""
    financed = set(financed)
    jobs = plan_tiles(plots, resolution=cfg.region.resolution)
    overlaps = overlap_fractions(plots)
    by_id = {p.plot_id: p for p in plots}
    items = tile_items(cfg.inputs.catalog, jobs, cfg.start, cfg.end)
    tasks = []
    for job in jobs:
        tile_plots = tuple(by_id[pid] for pid in job.plot_ids)
        tile_financed = frozenset(pid for pid in job.plot_ids if pid in financed)
        plot_part = [
            (
                p.plot_id,
                p.farmer_id,
                p.declared_crop,
                p.declared_area_ha,
                hashlib.sha256(shapely.to_wkb(p.geometry)).hexdigest()[:16],
                round(overlaps.get(p.plot_id, 0.0), 6),
            )
            for p in tile_plots
        ]
        fingerprint = _digest(
            {
                "static": static_fingerprint,
                "tile": job.tile_id,
                "resolution": job.resolution,
                "season": cfg.region.season,
                "window": [cfg.start.isoformat(), cfg.end.isoformat()],
                "catalog": cfg.inputs.catalog,
                "items": sorted(items.get(job.tile_id, [])),
                "plots": plot_part,
                # only where there are some: the fingerprints of tiles without loans stay those of earlier runs
                **({"financed": sorted(tile_financed)} if tile_financed else {}),
            }
        )
        tile_overlaps = {p.plot_id: overlaps.get(p.plot_id, 0.0) for p in tile_plots}
        tasks.append(TileTask(job, tile_plots, tile_overlaps, fingerprint, tile_financed))
    return tasks


def tile_result_path(cfg: RescoreConfig, tile_id: str) -> Path:
    return cfg.tiles_dir / f"{tile_id}.parquet"


def stored_fingerprint(path: Path) -> str | None:
    """The fingerprint a tile result file was computed for; None when missing or unreadable."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return None
    value = meta.get(FINGERPRINT_KEY)
    return value.decode() if value else None


SCENES_SCHEMA = pa.schema(
    [("plot_id", pa.string()), ("day", pa.date32()), ("clear_share", pa.float64()), ("ndvi_median", pa.float64())]
)
"""A scenes file of :func:`scenes_result_path` (``agrisense.monitoring.scene_reader.scenes_frame`` rows)."""


def scenes_result_path(cfg: RescoreConfig, tile_id: str) -> Path:
    """The per-scene NDVI of a tile's financed plots (``OUT/tiles/scenes/<tile>.parquet``, ``scenes_frame`` rows)."""
    return cfg.tiles_dir / "scenes" / f"{tile_id}.parquet"


def is_done(cfg: RescoreConfig, task: TileTask) -> bool:
    if task.financed and not scenes_result_path(cfg, task.job.tile_id).is_file():
        return False
    return stored_fingerprint(tile_result_path(cfg, task.job.tile_id)) == task.fingerprint


REASON_TYPE = pa.struct(
    [("code", pa.string()), ("kind", pa.string()), ("message_en", pa.string()), ("message_zh", pa.string())]
)
MONEY_TYPE = pa.decimal128(15, 2)  # agrisense.credit.money.Money: to the cent
RATE_TYPE = pa.decimal128(8, 4)  # agrisense.credit.money.Rate: to the basis point

OFFER_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("schema_version", pa.string()),
    ("crop", pa.string()),
    ("crop_probability", pa.float64()),
    ("assessed_crop", pa.string()),
    ("declared_crop", pa.string()),
    ("area_ha", pa.float64()),
    ("area_mu", pa.float64()),
    ("decision", pa.string()),
    ("credit_limit", MONEY_TYPE),
    ("assessed_limit", MONEY_TYPE),
    ("currency", pa.string()),
    ("pd", pa.float64()),
    ("score", pa.float64()),
    ("lgd", pa.float64()),
    ("expected_loss", MONEY_TYPE),
    ("annual_rate", RATE_TYPE),
    ("apr", pa.float64()),
    ("evidence_season", pa.int32()),
    ("finance_season", pa.int32()),
    ("offer_date", pa.date32()),
    ("policy_version", pa.string()),
    ("model_versions", pa.map_(pa.string(), pa.string())),
)
"""Offer fields that are columns of ``plots.parquet``, under the offer's own names (``Offer`` in
agrisense.credit.offer); the whole offer is in ``offer`` (JSON) too."""

TILE_SCHEMA = pa.schema(
    [
        pa.field("plot_id", pa.string(), nullable=False),
        ("farmer_id", pa.string()),
        ("tile_id", pa.string()),
        *OFFER_FIELDS,
        ("reasons", pa.list_(REASON_TYPE)),
        ("imagery_status", pa.string()),
        ("n_clear_months", pa.int32()),
        ("ndvi_by_month", pa.string()),
        ("offer", pa.string()),
        ("geometry", pa.binary()),
    ]
)
"""A tile result file (``OUT/tiles/<tile>.parquet``); ``plots.parquet`` adds ``run_id`` and ``as_of``
(docs/rescore.md, plots.parquet)."""


def offer_rows(offers: Mapping[str, Offer], plots: Sequence[Plot], tile_id: str) -> pd.DataFrame:
    """One row per plot (columns of :data:`TILE_SCHEMA`): the offer's fields under their own names (money as
    ``Decimal``), its reasons as records, the whole offer as JSON, WKB geometry."""
    rows = []
    for plot in plots:
        offer = offers[plot.plot_id]
        fields = offer.model_dump(mode="python", by_alias=False)
        imagery = offer.imagery
        row: dict[str, Any] = {"plot_id": plot.plot_id, "farmer_id": plot.farmer_id, "tile_id": tile_id}
        for name, _ in OFFER_FIELDS:
            row[name] = fields[name]
        row["reasons"] = [
            {"code": r.code, "kind": r.kind, "message_en": r.message_en, "message_zh": r.message_zh}
            for r in offer.reasons
        ]
        row["imagery_status"] = imagery.status if imagery else None
        row["n_clear_months"] = imagery.n_clear_months if imagery else None
        row["ndvi_by_month"] = json.dumps(imagery.ndvi_by_month if imagery else {}, sort_keys=True)
        row["offer"] = json.dumps({k: v for k, v in offer.to_dict().items() if k != "geometry"}, sort_keys=True)
        row["geometry"] = shapely.to_wkb(plot.geometry)
        rows.append(row)
    return pd.DataFrame(rows, columns=TILE_SCHEMA.names)


def _write_parquet_atomic(frame: pd.DataFrame, path: Path, fingerprint: str) -> None:
    table = pa.Table.from_pandas(frame, schema=TILE_SCHEMA, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), FINGERPRINT_KEY: fingerprint.encode()})
    _write_table_atomic(table, path)


def _write_table_atomic(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def financed_scenes(task: TileTask, cfg: RescoreConfig, entry: str | None) -> dict[str, PlotScenes]:
    """Every clear scene of the tile's financed plots over the run's imagery window (``read_plot_scenes``' rule,
    one tile): the in-season monitoring reads these instead of the imagery. From the per-scene NDVI of the
    composites' cache ``entry`` the tile was just scored from; the scenes are read again only for an entry
    that holds none (one built before it was kept)."""
    if not task.financed:
        return {}
    pairs = [(p, w) for p, w in zip(task.job.plot_ids, task.job.plot_wkb, strict=True) if p in task.financed]
    plots = gpd.GeoDataFrame(
        {"plot_id": [p for p, _ in pairs]}, geometry=[shapely.from_wkb(w) for _, w in pairs], crs=task.job.crs
    )
    if entry is not None:
        kept = cached_plot_scenes(cfg.inputs.cache_dir, entry, task.job.tile, plots)
        if kept is not None:
            return kept
    return tile_plot_scenes(open_source(cfg.inputs.catalog), task.job.tile, plots, cfg.start, cfg.end)


def _write_scenes(cfg: RescoreConfig, task: TileTask, scenes: Mapping[str, PlotScenes]) -> None:
    """The tile's scenes file (none for a tile without financed plots), written before its result file."""
    path = scenes_result_path(cfg, task.job.tile_id)
    if not task.financed:
        path.unlink(missing_ok=True)
        return
    frame = scenes_frame(scenes)
    _write_table_atomic(pa.Table.from_pandas(frame, schema=SCENES_SCHEMA, preserve_index=False), path)


def read_tile_scenes(cfg: RescoreConfig, tasks: Sequence[TileTask]) -> dict[str, PlotScenes]:
    """The financed plots' scenes that the tile tasks kept (:func:`financed_scenes`), per plot id."""
    out: dict[str, PlotScenes] = {}
    for task in tasks:
        if task.financed:
            out.update(scenes_from_frame(pq.read_table(scenes_result_path(cfg, task.job.tile_id)).to_pandas()))
    return out


def rescore_tile(task: TileTask, cfg: RescoreConfig) -> dict[str, Any]:
    """Score one tile and write its maps and its financed plots' scenes, then its result file (the completion
    mark). Returns a small summary."""
    t0 = time.perf_counter()
    result = score_tile(task.job, cfg.inputs, scheduler="sync", maps=True)
    t1 = time.perf_counter()
    evidence = {e.plot_id: e for e in result.evidence}
    offers = build_offers(task.plots, evidence, cfg.credit, overlaps=task.overlaps)
    t2 = time.perf_counter()
    if result.probability is not None:
        write_tile_maps(result, task.job, cfg.tile_maps_dir / task.job.tile_id, tags=dict(cfg.run_tags))
    t3 = time.perf_counter()
    with dask.config.set(scheduler="sync"):  # one thread per task, as score_tile's composites
        _write_scenes(cfg, task, financed_scenes(task, cfg, result.composites_entry))
    t4 = time.perf_counter()
    frame = offer_rows(offers, task.plots, task.job.tile_id)
    _write_parquet_atomic(frame, tile_result_path(cfg, task.job.tile_id), task.fingerprint)
    height, width = task.job.geobox().shape.yx
    return {
        "tile_id": task.job.tile_id,
        "fingerprint": task.fingerprint,
        "plots": len(task.plots),
        "pixels": int(height * width),
        "scenes_used": result.scenes_used,
        "imagery_and_model_s": round(t1 - t0, 3),
        "offers_s": round(t2 - t1, 3),
        "financed": len(task.financed),
        "scenes_s": round(t4 - t3, 3),
        "total_s": round(time.perf_counter() - t0, 3),
        "pid": os.getpid(),  # which worker process: the benchmark's per-worker busy time
    }


def run_tasks(
    tasks: Sequence[TileTask],
    cfg: RescoreConfig,
    *,
    scheduler_address: str | None = None,
    n_workers: int = 2,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    on_dashboard: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run tile tasks: in-process when ``n_workers == 0`` and no scheduler is given, else on Dask (a LocalCluster of
    ``n_workers`` single-threaded processes, or the cluster at ``scheduler_address``). A lost worker's tasks are
    rerun by Dask; results are deterministic, so they do not change."""
    summaries: list[dict[str, Any]] = []

    def done(summary: dict[str, Any]) -> None:
        summaries.append(summary)
        if on_done:
            on_done(summary)

    if not tasks:
        return summaries
    if scheduler_address is None and n_workers == 0:
        for task in tasks:
            done(rescore_tile(task, cfg))
        return summaries

    with dask_client(scheduler_address, n_workers) as client:
        if on_dashboard:
            on_dashboard(str(client.dashboard_link))
        workers = max(1, len(client.scheduler_info().get("workers", {})) or n_workers)
        queue = iter(largest_first(tasks))

        def submit(task: TileTask) -> Any:
            return client.submit(rescore_tile, task, cfg, key=f"rescore-{task.job.tile_id}-{task.fingerprint[:8]}")

        pending = as_completed([submit(t) for t in islice(queue, IN_FLIGHT_PER_WORKER * workers)])
        for future in pending:
            done(future.result())
            future.release()
            nxt = next(queue, None)
            if nxt is not None:
                pending.add(submit(nxt))
    return summaries


IN_FLIGHT_PER_WORKER = 2
"""Tile tasks the driver keeps submitted per Dask worker: one running, one queued, so a worker never waits for the
driver, while the scheduler's graph (and the driver's futures) stay bounded however many tiles a region has."""


def largest_first(tasks: Sequence[TileTask]) -> list[TileTask]:
    """Tasks by decreasing work (pixels, then plots): the long tiles start first, so the last ones to finish are
    short and the workers end together (longest-processing-time-first scheduling)."""

    def work(task: TileTask) -> tuple[int, int, str]:
        height, width = task.job.geobox().shape.yx
        return (-int(height * width), -len(task.plots), task.job.tile_id)

    return sorted(tasks, key=work)


def with_season(region: Region, season: int) -> Region:
    """The region as the evidence of ``season`` (the finance season is the next one)."""
    return replace(region, season=season)


def write_json_atomic(path: Path, payload: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None
