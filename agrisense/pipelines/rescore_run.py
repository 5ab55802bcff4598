"""The county re-score job: plan tiles, run the missing ones on Dask, then assemble the run's outputs.

Outputs in ``OUT``: ``plots.parquet`` (GeoParquet, one row per plot with the offer fields), ``maps/*.tif`` (COGs:
crop class, probability, NDVI, cropland, field boundary, field ids), ``fields.parquet`` (fields the boundary head
delineates, with a model that has one), ``warnings.parquet`` (in-season early warnings of financed plots),
``report.md`` (+ images), ``run.json`` and ``manifest.json`` (tile fingerprints); per-tile results in ``tiles/``
(the financed plots' per-scene NDVI in ``tiles/scenes/``).
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely

from agrisense.config import Settings
from agrisense.errors import InvalidInput, NotFound
from agrisense.geo import Plot, make_plot, read_plots
from agrisense.ml.plot_crop_model import load_plot_crop_model
from agrisense.ml.registry import ModelBundle, read_bundle
from agrisense.monitoring.scenes import PlotScenes
from agrisense.monitoring.season import ActiveLoan, approved_offers, loan_from_record, monitor_plot
from agrisense.pipelines.rescore import (
    TILE_SCHEMA,
    RescoreConfig,
    TileTask,
    _digest,
    finite,
    is_done,
    plan_tasks,
    read_tile_scenes,
    rescore_config,
    run_tasks,
    season_window,
    static_inputs_fingerprint,
    tile_result_path,
    with_season,
    write_json_atomic,
)
from agrisense.pipelines.rescore_maps import mosaic_maps, write_region_fields
from agrisense.pipelines.rescore_report import write_run_report
from agrisense.pipelines.rescore_stac import write_run_stac
from agrisense.region import load_region
from agrisense.scoring import model_fingerprint
from agrisense.scoring.evidence import evidence_model_version
from agrisense.scoring.offers import condition_curves

log = logging.getLogger(__name__)

WARNING_COLUMNS = (
    "plot_id",
    "loan_id",
    "code",
    "severity",
    "message_en",
    "message_zh",
    "action",
    "season",
    "run_id",
    "as_of",
    "status",
    "stage",
    "condition_z",
    "spi_to_date",
    "frozen_amount",
    "increase_amount",
    "policy_version",
)


@dataclass
class RescoreRun:
    """What a re-score did: counts, timings, where the outputs are."""

    run_id: str
    out_dir: Path
    season: int
    as_of: date | None
    n_plots: int
    n_tiles: int
    tiles_run: list[dict[str, Any]]
    tiles_skipped: int
    timings: dict[str, float] = field(default_factory=dict)
    warnings: int = 0
    loans: int = 0
    database: str | None = None
    dashboard: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "season": self.season,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "plots": self.n_plots,
            "tiles": self.n_tiles,
            "tiles_run": len(self.tiles_run),
            "tiles_skipped": self.tiles_skipped,
            "warnings": self.warnings,
            "loans_monitored": self.loans,
            "database": self.database,
            "dashboard": self.dashboard,
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "pixels_run": sum(t["pixels"] for t in self.tiles_run),
            "tile_summaries": sorted(self.tiles_run, key=lambda t: t["tile_id"]),
        }


def read_offers_file(path: Path) -> list[dict[str, Any]]:
    """Accepted offers (a JSON list of ``Offer.to_dict()``, e.g. ``out/demo/offers.json``)."""
    if not path.is_file():
        raise NotFound(f"offers file {path} does not exist; pass a JSON list of accepted offers")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path} is not JSON ({exc}); pass a JSON list of offers") from exc
    if isinstance(data, Mapping):
        data = data.get("offers", [])
    if not isinstance(data, list):
        raise InvalidInput(f"{path} must hold a JSON list of offers")
    return [o for o in data if isinstance(o, dict)]


def _loan_plots(records: Sequence[Mapping[str, Any]], known: set[str]) -> list[Plot]:
    """Plots of financed loans that the region's plot file lacks (scored too, so they can be monitored)."""
    extra = []
    for rec in records:
        geometry = rec.get("geometry") or (rec.get("offer") or {}).get("geometry")
        pid = str(rec.get("plot_id") or (rec.get("plot_ids") or [None])[0] or "")
        if pid and pid not in known and geometry:
            feature = {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "plot_id": pid,
                    "farmer_id": rec.get("farmer_id"),
                    "declared_crop": rec.get("crop") or rec.get("declared_crop"),
                },
            }
            extra.append(make_plot(feature))
            known.add(pid)
    return extra


def financed_plots(loans: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One record per financed plot of ``agrisense.lending.active_loans`` rows (a loan over several plots is
    monitored plot by plot, each on its own accepted offer: its tranches, conditions and limit); records without
    ``plots`` (offers) pass unchanged."""
    out: list[dict[str, Any]] = []
    for loan in loans:
        plots = loan.get("plots")
        if not plots:
            out.append(dict(loan))
            continue
        for p in plots:
            offer = p.get("offer") if isinstance(p.get("offer"), Mapping) else None
            record = {
                **{k: v for k, v in loan.items() if k not in ("plots", "geometry", "plot_ids", "credit_limit")},
                "plot_id": p["plot_id"],
                "plot_ids": [p["plot_id"]],
                "crop": (offer or {}).get("assessed_crop") or p.get("crop") or loan.get("crop"),
                "area_ha": p.get("area_ha"),
                "geometry": p.get("geometry"),
                "credit_limit": (offer or {}).get("credit_limit", loan.get("credit_limit")),
            }
            if offer is not None and offer.get("disbursements") and float(offer.get("credit_limit") or 0) > 0:
                record["offer"] = dict(offer)
            out.append(record)
    return out


def _open_db(settings: Settings, use_database: bool) -> Any:
    if not use_database:
        return None
    from agrisense.store import open_database

    return open_database(settings)


def rescore_region(
    settings: Settings,
    out_dir: Path,
    *,
    season: int | None = None,
    as_of: date | None = None,
    scheduler_address: str | None = None,
    n_workers: int = 2,
    active_loans_file: Path | None = None,
    use_database: bool = False,
    on_plan: Callable[[int, int], None] | None = None,
    on_tile: Callable[[dict[str, Any]], None] | None = None,
    on_dashboard: Callable[[str], None] | None = None,
) -> RescoreRun:
    """Re-score every plot of ``settings.region_dir`` for ``season`` (imagery up to ``as_of`` when given) into
    ``out_dir``; only tiles whose inputs changed since the last run in ``out_dir`` are computed."""
    t0 = time.perf_counter()
    base_region = load_region(settings.region_dir)
    season = season or base_region.season
    region = with_season(base_region, season)
    start, end = season_window(base_region, season, as_of)
    cfg = rescore_config(settings, region, start, end, out_dir)

    plots, errors = read_plots(region.plots, expected_bbox=region.bbox_lonlat)
    db = _open_db(settings, use_database)
    loan_records: list[dict[str, Any]] = []
    if db is not None:
        from agrisense.lending import active_loans

        loan_records = list(active_loans(db, season=season))
    n_loans = len(loan_records)
    loan_records = financed_plots(loan_records)
    if not loan_records and active_loans_file is not None:
        loan_records = [dict(o) for o in approved_offers(read_offers_file(active_loans_file))]
        n_loans = len(loan_records)
    plots = plots + _loan_plots(loan_records, {p.plot_id for p in plots})

    financed = {a.loan.plot_id for a in active_loans_of(cfg, loan_records)}
    tasks = plan_tasks(plots, cfg, static_fingerprint=static_inputs_fingerprint(cfg), financed=financed)
    todo = [t for t in tasks if not is_done(cfg, t)]
    run_id = f"{season}-{as_of.isoformat() if as_of else 'season'}-{_digest(sorted(t.fingerprint for t in tasks))[:10]}"
    timings = {"plan_s": time.perf_counter() - t0}
    log.info(
        "planned %d tiles: %d to score, %d unchanged",
        len(tasks),
        len(todo),
        len(tasks) - len(todo),
        extra={"run": run_id, "plots": len(plots), "invalid": len(errors), "loans": len(loan_records)},
    )
    scoring = {t.job.tile_id for t in todo}
    for t in tasks:
        if t.job.tile_id not in scoring:
            log.debug(
                "tile unchanged", extra={"run": run_id, "tile": t.job.tile_id, "plots": len(t.plots), "cached": True}
            )
    if on_plan:
        on_plan(len(tasks), len(todo))
    write_json_atomic(
        out_dir / "manifest.json", _manifest(run_id, cfg, tasks, done=[t for t in tasks if t not in todo])
    )

    bundle = read_bundle(settings.models_dir / cfg.region.model)
    tags = run_tags(cfg, run_id=run_id, bundle=bundle, as_of=as_of)
    cfg = replace(cfg, run_tags=tuple(sorted(tags.items())))

    t1 = time.perf_counter()
    dashboard: list[str] = []
    summaries = run_tasks(
        todo,
        cfg,
        scheduler_address=scheduler_address,
        n_workers=n_workers,
        on_done=_log_tile(run_id, len(todo), on_tile),
        on_dashboard=lambda link: _tell(link, dashboard, on_dashboard),
    )
    timings["tiles_s"] = time.perf_counter() - t1
    write_json_atomic(out_dir / "manifest.json", _manifest(run_id, cfg, tasks, done=tasks))

    t2 = time.perf_counter()
    frame = assemble_plots(cfg, tasks, run_id=run_id, as_of=as_of, n_invalid=len(errors))
    _remove_stale(cfg, tasks)

    maps = mosaic_maps([cfg.tile_maps_dir / t.job.tile_id for t in tasks], out_dir / "maps", tags=tags)
    n_fields = write_region_fields(
        out_dir / "maps", out_dir / "fields.parquet", boundary_threshold=bundle.boundary_threshold, tags=tags
    )
    if n_fields:
        maps["fields"] = out_dir / "maps" / "fields.tif"
    log.info("delineated %d fields (fields.parquet)", n_fields)
    timings["assemble_s"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    outcomes: list[dict[str, Any]] = []
    scenes = read_tile_scenes(cfg, tasks)
    warnings = monitor_loans(
        cfg, frame, loan_records, as_of=as_of or end, run_id=run_id, scenes=scenes, outcomes=outcomes
    )
    write_warnings(warnings, out_dir / "warnings.parquet")
    timings["monitoring_s"] = time.perf_counter() - t3

    write_run_stac(out_dir, run_id=run_id, maps=maps, start=start, end=end, properties=tags)

    database = None
    if db is not None:
        database = _write_database(db, frame, warnings, run_id=run_id, season=season)
        database += release_tranches(db, outcomes, run_id=run_id, as_of=as_of or end)
    timings["total_s"] = time.perf_counter() - t0
    run = RescoreRun(
        run_id,
        out_dir,
        season,
        as_of,
        len(plots),
        len(tasks),
        summaries,
        len(tasks) - len(todo),
        timings,
        len(warnings),
        n_loans,
        database,
        dashboard[0] if dashboard else None,
    )

    write_run_report(run, frame, warnings, out_dir)
    write_json_atomic(out_dir / "run.json", run.to_dict())
    log.info(
        "rescore done: %d plots in %d tiles (%d computed, %d unchanged), %d warnings",
        run.n_plots,
        run.n_tiles,
        len(run.tiles_run),
        run.tiles_skipped,
        run.warnings,
        extra={"run": run_id, "seconds": round(timings["total_s"], 1), "out": str(out_dir)},
    )
    return run


def run_tags(cfg: RescoreConfig, *, run_id: str, bundle: ModelBundle, as_of: date | None) -> dict[str, str]:
    """Run metadata every COG (region and tile) carries as dataset tags (and every STAC item of the run as
    properties): run id, model version and fingerprint (``scoring.model_fingerprint`` of the bundle, as the
    probability cache keys it), policy version, season, window, as-of, created (UTC)."""
    policy = cfg.credit.reference().policy
    return {
        "run_id": run_id,
        "model_version": evidence_model_version(
            bundle.version,
            load_plot_crop_model(cfg.inputs.models_dir, cfg.inputs.crop_model) if cfg.inputs.crop_model else None,
        ),
        "model_fingerprint": model_fingerprint(bundle.to_json()),
        "policy_version": policy.version,
        "season": str(cfg.region.season),
        "window": f"{cfg.start.isoformat()}/{cfg.end.isoformat()}",
        **({"as_of": as_of.isoformat()} if as_of else {}),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "software": "agrisense rescore",
    }


def _log_tile(
    run_id: str, n_todo: int, callback: Callable[[dict[str, Any]], None] | None
) -> Callable[[dict[str, Any]], None]:
    """``on_done`` for run_tasks: one INFO line per computed tile (``tile 3/12 done``), then the caller's callback."""
    count = 0

    def done(summary: dict[str, Any]) -> None:
        nonlocal count
        count += 1
        log.info(
            "tile %d/%d done",
            count,
            n_todo,
            extra={
                "run": run_id,
                "tile": summary.get("tile_id"),
                "plots": summary.get("plots"),
                "scenes": summary.get("scenes_used"),
                "cached": False,
                "seconds": summary.get("total_s"),
            },
        )
        if callback:
            callback(summary)

    return done


def _tell(link: str, seen: list[str], callback: Callable[[str], None] | None) -> None:
    seen.append(link)
    if callback:
        callback(link)


def _manifest(run_id: str, cfg: RescoreConfig, tasks: Sequence[TileTask], *, done: Sequence[TileTask]) -> dict:
    finished = {t.job.tile_id for t in done}
    return {
        "run_id": run_id,
        "region": str(cfg.region.root),
        "season": cfg.region.season,
        "window": [cfg.start.isoformat(), cfg.end.isoformat()],
        "tiles": {
            t.job.tile_id: {"fingerprint": t.fingerprint, "plots": len(t.plots), "done": t.job.tile_id in finished}
            for t in tasks
        },
    }


PLOTS_SCHEMA = pa.schema([*TILE_SCHEMA, pa.field("run_id", pa.string()), pa.field("as_of", pa.date32())])
"""``OUT/plots.parquet`` (GeoParquet: ``geometry`` WKB, EPSG:4326); documented in docs/rescore.md."""


def _geo_metadata(geometry: Sequence[Any]) -> bytes:
    """The GeoParquet ``geo`` metadata of a WKB ``geometry`` column in EPSG:4326, as geopandas writes it."""
    buffer = io.BytesIO()
    gpd.GeoDataFrame(geometry=list(geometry), crs="EPSG:4326").to_parquet(buffer, index=False)
    buffer.seek(0)
    return (pq.read_schema(buffer).metadata or {})[b"geo"]


def assemble_plots(
    cfg: RescoreConfig,
    tasks: Sequence[TileTask],
    *,
    run_id: str,
    as_of: date | None = None,
    n_invalid: int = 0,
) -> gpd.GeoDataFrame:
    """``OUT/plots.parquet`` from the tile result files (GeoParquet, EPSG:4326, sorted by plot id, columns and
    types of :data:`PLOTS_SCHEMA`); returns it as read back."""
    parts = [pq.read_table(tile_result_path(cfg, t.job.tile_id)).cast(TILE_SCHEMA) for t in tasks]
    table = pa.concat_tables(parts) if parts else TILE_SCHEMA.empty_table()
    table = table.take(pc.sort_indices(table, sort_keys=[("plot_id", "ascending")]))
    n = table.num_rows
    table = table.append_column(PLOTS_SCHEMA.field("run_id"), pa.array([run_id] * n, pa.string()))
    table = table.append_column(PLOTS_SCHEMA.field("as_of"), pa.array([as_of] * n, pa.date32()))
    geometry = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
    table = table.cast(PLOTS_SCHEMA).replace_schema_metadata({b"geo": _geo_metadata(geometry)})
    path = cfg.out_dir / "plots.parquet"
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    gdf = gpd.read_parquet(path)
    gdf.attrs["invalid_features"] = n_invalid
    return gdf


def _remove_stale(cfg: RescoreConfig, tasks: Sequence[TileTask]) -> None:
    """Drop result files and maps of tiles that no longer hold plots (idempotent outputs)."""
    keep = {t.job.tile_id for t in tasks}
    for path in [*cfg.tiles_dir.glob("*.parquet"), *(cfg.tiles_dir / "scenes").glob("*.parquet")]:
        if path.stem not in keep:
            path.unlink(missing_ok=True)
    if cfg.tile_maps_dir.is_dir():
        for folder in cfg.tile_maps_dir.iterdir():
            if folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)


def active_loans_of(cfg: RescoreConfig, loan_records: Sequence[Mapping[str, Any]]) -> list[ActiveLoan]:
    """The loans monitored in the run's season, one per financed-plot record."""
    crops = cfg.credit.reference().crops
    return [loan_from_record(record, crops, season=cfg.region.season) for record in loan_records]


def monitor_loans(
    cfg: RescoreConfig,
    frame: pd.DataFrame,
    loan_records: Sequence[Mapping[str, Any]],
    *,
    as_of: date,
    run_id: str,
    scenes: Mapping[str, PlotScenes],
    outcomes: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Early warnings for every financed plot from its monthly NDVI (``frame``) and its every clear scene
    (``scenes``: those the tile tasks kept, :func:`agrisense.pipelines.rescore.read_tile_scenes`) up to ``as_of``;
    ``outcomes`` (when given) receives one entry per plot of a booked loan (``ledger_loan_id``, ``plot_id``,
    ``emerged``, ``frozen_dates``, ``reason``) for :func:`release_tranches`."""
    if not loan_records:
        return []

    ref = cfg.credit.reference()
    # the curves the offers were measured against: the region's calibrated ones for this crop model, if fitted
    _, curves = condition_curves(cfg.credit, dict(cfg.run_tags).get("model_version", "none"))
    crops, policy = ref.crops, ref.policy
    rain = pd.read_csv(cfg.region.weather, usecols=["date", "precip_mm"]) if cfg.region.weather.is_file() else None
    ndvi = {str(r.plot_id): json.loads(r.ndvi_by_month) for r in frame[["plot_id", "ndvi_by_month"]].itertuples()}
    actives = active_loans_of(cfg, loan_records)
    rows: list[dict[str, Any]] = []
    for record, active in zip(loan_records, actives, strict=True):
        series = {int(k): float(v) for k, v in ndvi.get(active.loan.plot_id, {}).items()}
        result, plot_rows = monitor_plot(
            active,
            series,
            season=cfg.region.season,
            as_of=as_of,
            crops=crops,
            curves=curves,
            policy=policy,
            rain=rain,
            run_id=run_id,
            scenes=scenes.get(active.loan.plot_id),
        )
        rows += plot_rows
        if outcomes is not None and record.get("ledger_loan_id") is not None:
            freeze = [a for a in result.actions if a.code == "freeze_undisbursed"]
            outcomes.append(
                {
                    "ledger_loan_id": int(record["ledger_loan_id"]),
                    "plot_id": active.loan.plot_id,
                    "emerged": result.emergence_detected,
                    "frozen_dates": [d.isoformat() for a in freeze for d in a.tranche_dates],
                    "reason": ",".join(w.code for w in result.warnings) if freeze else None,
                }
            )
    return rows


def release_tranches(db: Any, outcomes: Sequence[Mapping[str, Any]], *, run_id: str, as_of: date) -> str:
    """Each booked loan's tranches after this run (``agrisense.loans.service.apply_monitoring``): conditional
    tranches released on confirmed emergence, pending ones frozen where the warnings policy says so."""
    from agrisense.loans.service import apply_monitoring

    by_loan: dict[int, list[Mapping[str, Any]]] = {}
    for o in outcomes:
        by_loan.setdefault(int(o["ledger_loan_id"]), []).append(o)
    released = frozen = 0
    for loan_id, plots in sorted(by_loan.items()):
        before = {p["id"] for p in apply_monitoring(db, loan_id, run_id=run_id, as_of=as_of, plots=[])["postings"]}
        view = apply_monitoring(db, loan_id, run_id=run_id, as_of=as_of, plots=plots)
        released += sum(1 for p in view["postings"] if p["id"] not in before)
        frozen += sum(1 for t in view["tranches"] if t["status"] == "frozen")
    return f"; {len(by_loan)} booked loans monitored: {released} tranches released, {frozen} frozen"


def write_warnings(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    frame = pd.DataFrame(list(rows), columns=list(WARNING_COLUMNS))
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def _write_database(
    db: Any, frame: gpd.GeoDataFrame, warnings: list[dict[str, Any]], *, run_id: str, season: int
) -> str:
    """Rows and warnings through ``agrisense.lending``; says what was written (or why not)."""
    from agrisense.lending import record_rescore, record_warnings

    rows = []
    for r in frame.itertuples():
        offer = json.loads(r.offer)
        rows.append(
            {
                "plot_id": r.plot_id,
                "farmer_id": r.farmer_id,
                "crop": r.crop,
                "crop_probability": finite(r.crop_probability),
                "area_ha": finite(r.area_ha),
                "decision": r.decision,
                "credit_limit": finite(r.credit_limit),
                "expected_loss": finite(r.expected_loss),
                "pd": finite(r.pd),
                "geometry": shapely.geometry.mapping(r.geometry),
                "reasons": offer.get("reasons", []),
            }
        )
    n = record_rescore(db, run_id=run_id, season=season, rows=rows)
    m = record_warnings(db, warnings) if warnings else 0
    return f"{n} plot rows and {m} warnings recorded"
