"""The operations every front end calls (CLI, API, dashboard, batch jobs): score plots, run the demo.

A service call wires library parts together and nothing more: geometry checks (``geo``), imagery + model
evidence per tile (``agrisense.pipelines.score_region``), condition (``ml.growth``), yield and weather risk (``agronomy``)
and the credit engine (``credit``). Each returns plain values that the front ends render.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from agrisense.config import Settings, get_settings
from agrisense.evidence import PlotEvidence
from agrisense.geo import Plot, PlotError, overlap_fractions, read_plots
from agrisense.pipelines.score_region import TileResult, plan_tiles, run_tiles
from agrisense.region import Region, load_region

OFFER_SCHEMA_VERSION = "1"


@dataclass
class ScoreRun:
    """The result of scoring a set of plots: offers (JSON-ready, input order), evidence and tile maps."""

    offers: list[dict[str, Any]]
    plots: list[Plot]
    evidence: dict[str, PlotEvidence]
    tiles: list[TileResult]
    region: Region
    timings: dict[str, float] = field(default_factory=dict)


@cache
def _reference(reference_dir: Path, policy_file: Path):  # type: ignore[no-untyped-def]
    from agrisense.agronomy.calendar import load_crop_table
    from agrisense.credit.policy import load_policy
    from agrisense.ml.growth import load_expected_curves

    return (
        load_crop_table(reference_dir / "crops.csv"),
        load_policy(policy_file),
        load_expected_curves(reference_dir / "ndvi_curves.csv"),
    )


@cache
def _weather_risk(weather_csv: Path, crop: str, reference_dir: Path, policy_file: Path):  # type: ignore[no-untyped-def]
    from agrisense.agronomy.weather import LocalCsvWeather, weather_risk

    crops, _, _ = _reference(reference_dir, policy_file)
    return weather_risk(LocalCsvWeather(weather_csv).history(), crops[crop], crop)


def score_plots(
    plots: Sequence[Plot],
    *,
    errors: Sequence[PlotError] = (),
    settings: Settings | None = None,
    on_tile: Callable[[TileResult], None] | None = None,
    overlaps: Mapping[str, float] | None = None,
    existing_exposure: Mapping[str, float] | None = None,
) -> ScoreRun:
    """Offers for validated plots (plus a referral entry for each invalid feature), in input order.

    ``overlaps`` and ``existing_exposure`` are passed to ``build_offers`` (a service with a database knows them).
    """

    settings = settings or get_settings()
    region = load_region(settings.region_dir)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    jobs = plan_tiles(plots, resolution=region.resolution)
    tiles = run_tiles(
        jobs,
        catalog=settings.catalog_source,
        start=region.imagery_start,
        end=region.imagery_end,
        models_dir=settings.models_dir,
        cache_dir=settings.cache_dir / "composites",
        device=settings.device,
        scheduler_address=settings.dask_scheduler,
        n_workers=settings.dask_workers,
        on_done=on_tile,
        reuse_s=settings.tile_reuse_s or 0.0,
    )
    timings["imagery_and_model_s"] = time.perf_counter() - t0
    evidence = {e.plot_id: e for tile in tiles for e in tile.evidence}

    t1 = time.perf_counter()
    offers_by_id = build_offers(
        plots, evidence, region=region, settings=settings, overlaps=overlaps, existing_exposure=existing_exposure
    )
    timings["credit_s"] = time.perf_counter() - t1

    ordered: list[dict[str, Any]] = []
    error_by_index = {e.index: e for e in errors}
    plot_iter = iter(plots)
    for i in range(len(plots) + len(errors)):
        if i in error_by_index:
            ordered.append(rejected_entry(error_by_index[i], currency=region.currency))
        else:
            ordered.append(offers_by_id[next(plot_iter).plot_id])
    return ScoreRun(ordered, list(plots), evidence, tiles, region, timings)


def _seed(plot_id: str) -> int:
    import zlib

    return zlib.crc32(plot_id.encode("utf-8"))


def build_offers(
    plots: Sequence[Plot],
    evidence: Mapping[str, PlotEvidence],
    *,
    region: Region,
    settings: Settings,
    overlaps: Mapping[str, float] | None = None,
    existing_exposure: Mapping[str, float] | None = None,
) -> dict[str, dict[str, Any]]:
    """Offers (JSON-ready, by plot id) from imagery + model evidence: condition, yield, weather risk, credit engine.

    ``overlaps`` defaults to the overlap among ``plots`` themselves; a service with a database passes the overlap with
    every other farmer's plots. ``existing_exposure`` is the farmer's outstanding credit by ``farmer_id``.
    """
    from agrisense.agronomy.yields import yield_distribution
    from agrisense.credit.engine import CreditEvidence, make_offer
    from agrisense.ml.growth import condition_z

    crops, policy, curves = _reference(settings.reference_dir, settings.policy_file)
    overlaps = overlap_fractions(plots) if overlaps is None else overlaps
    exposure = existing_exposure or {}
    weather = {
        crop: _weather_risk(region.weather, crop, settings.reference_dir, settings.policy_file) for crop in crops
    }
    model_versions = {"landcover": next((e.model_version for e in evidence.values() if e.model_version), "none")}
    offers_by_id: dict[str, dict[str, Any]] = {}
    for plot in plots:
        ev = evidence[plot.plot_id]
        seen = ev.crop if ev.imagery_ok else None
        assessed = seen or plot.declared_crop  # the engine assesses the crop the satellite saw
        cond = None
        if ev.imagery_ok and ev.crop in curves:
            cond = condition_z(ev.ndvi_by_month, curves[ev.crop]).z
        ydist = None
        if assessed in crops:
            ydist = yield_distribution(
                crops[assessed], condition_z=cond, weather=weather.get(assessed), seed=_seed(plot.plot_id)
            )
        farmer_id = plot.farmer_id or "unknown"
        credit_evidence = CreditEvidence(
            plot_id=plot.plot_id,
            farmer_id=farmer_id,
            declared_crop=plot.declared_crop or ev.crop or "unknown",
            # without clear imagery the model's output is no evidence: the engine refers the plot
            crop=ev.crop if ev.imagery_ok else None,
            crop_probability=(ev.crop_probability or 0.0) if ev.imagery_ok else 0.0,
            area_ha=plot.area_ha,
            declared_area_ha=plot.declared_area_ha,
            cropland_fraction=ev.cropland_fraction or 0.0,
            imagery_ok=ev.imagery_ok,
            clear_fraction=ev.clear_fraction,
            n_clear_periods=ev.n_clear_periods,
            ndvi_condition_z=cond,
            overlap_fraction=overlaps.get(plot.plot_id, 0.0),
            existing_exposure=exposure.get(farmer_id, 0.0),
            evidence_season=region.season,
            finance_season=region.season + 1,
            model_versions=model_versions,
        )
        offer = make_offer(credit_evidence, crops=crops, weather=weather, policy=policy, yield_dist=ydist)
        payload = offer.to_dict()
        payload["imagery"] = {
            "status": ev.status,
            "reason": ev.reason,
            "clear_fraction": round(ev.clear_fraction, 3),
            "n_clear_months": ev.n_clear_periods,
            "ndvi_by_month": {str(k): round(v, 3) for k, v in sorted(ev.ndvi_by_month.items())},
            "class_probabilities": {k: round(v, 3) for k, v in ev.class_probabilities.items()},
            "scenes": len(ev.scene_ids),
        }
        payload["geometry"] = json.loads(json.dumps(plot.geometry.__geo_interface__))
        offers_by_id[plot.plot_id] = payload
    return offers_by_id


def rejected_entry(error: PlotError, *, currency: str) -> dict[str, Any]:
    """The offer-shaped entry for a feature that could not be scored: refer, zero limit, the reason."""
    return {
        "plot_id": error.plot_id or f"feature-{error.index + 1}",
        "crop": None,
        "crop_probability": None,
        "area_ha": None,
        "area_mu": None,
        "credit_limit": 0.0,
        "currency": currency,
        "decision": "refer",
        "reasons": [
            {
                "code": error.code,
                "kind": "refer",
                "message_en": error.message,
                "message_zh": f"地块边界无法使用，请按提示修改后重新提交：{error.message}",
                "effect": None,
            }
        ],
        "disbursements": [],
        "schedule": [],
    }


def score_file(path: Path, settings: Settings | None = None) -> ScoreRun:
    """Read a GeoJSON file of plots and score them (invalid features become referral entries)."""
    settings = settings or get_settings()
    region = load_region(settings.region_dir)
    plots, errors = read_plots(path, expected_bbox=region.bbox_lonlat)
    return score_plots(plots, errors=errors, settings=settings)


def run_demo(settings: Settings | None, out_dir: Path) -> ScoreRun:
    """The main job: score every plot of the region, write offers, a plots GeoJSON, a report and a map."""
    from rich.progress import Progress

    from agrisense.report import write_report

    settings = settings or get_settings()
    region = load_region(settings.region_dir)
    plots, errors = read_plots(region.plots, expected_bbox=region.bbox_lonlat)
    n_tiles = len(plan_tiles(plots, resolution=region.resolution))
    t0 = time.perf_counter()
    with Progress(transient=True) as progress:
        task = progress.add_task(f"Scoring {len(plots)} plots in {n_tiles} tiles", total=n_tiles)
        run = score_plots(plots, errors=errors, settings=settings, on_tile=lambda _: progress.advance(task))
    run.timings["total_s"] = time.perf_counter() - t0
    out_dir.mkdir(parents=True, exist_ok=True)
    write_report(run, out_dir)
    return run
