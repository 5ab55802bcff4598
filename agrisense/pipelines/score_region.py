"""Score plots tile by tile: imagery → composites → U-Net probabilities → per-plot evidence, on Dask.

Plots are grouped into the fixed, padded 2.56 km tiles of the imagery cache (per UTM zone). Each tile's composites
are loaded once (and cached on disk), the model runs once per tile, and every plot inside is aggregated. Tiles are
independent, so they run as tasks on a Dask cluster (a LocalCluster by default, or an existing scheduler by address).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dask
import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox
from shapely import from_wkb, to_wkb
from shapely.geometry.base import BaseGeometry

from agrisense.errors import ImageryUnavailable
from agrisense.evidence import PlotEvidence
from agrisense.geo.plots import Plot
from agrisense.imagery.cache import TileKey, build_composites_keyed
from agrisense.imagery.plot_series import group_plots_by_tile
from agrisense.imagery.zonal import plot_coverage
from agrisense.ml.features import stack_features
from agrisense.ml.inference import aggregate_plot, predict_maps
from agrisense.ml.maps import class_layers
from agrisense.ml.registry import load_model_cached

MIN_PLOT_CLEAR = 0.5
"""A period counts as clear for a plot when at least this share of its pixels had a clear composite value."""
MIN_CLEAR_PERIODS = 3


@dataclass(frozen=True)
class TileJob:
    """One imagery-cache tile and the plots (UTM geometries as WKB) scored in it."""

    tile: TileKey
    resolution: float
    plot_ids: tuple[str, ...]
    plot_wkb: tuple[bytes, ...]

    @property
    def tile_id(self) -> str:
        return self.tile.name

    @property
    def crs(self) -> str:
        return f"EPSG:{self.tile.epsg}"

    def geobox(self) -> GeoBox:
        return self.tile.geobox(self.resolution)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        left, bottom, right, top = self.geobox().boundingbox
        return (float(left), float(bottom), float(right), float(top))


@dataclass(frozen=True)
class TileResult:
    """Per-plot evidence of a tile, plus small maps for reports (true colour at peak, crop class)."""

    tile_id: str
    evidence: tuple[PlotEvidence, ...]
    crs: str
    bbox: tuple[float, float, float, float]
    rgb: np.ndarray | None = None
    crop_class: np.ndarray | None = None
    classes: tuple[str, ...] = ()
    scenes_used: int = 0
    scenes_failed: tuple[str, ...] = field(default_factory=tuple)
    probability: np.ndarray | None = None  # (H, W) float32 probability of the mapped class (``maps=True``)
    ndvi: np.ndarray | None = None  # (H, W) float32 latest clear NDVI per pixel (``maps=True``)
    cropland: np.ndarray | None = None  # (H, W) float32 1 - p(non_crop) (``maps=True``)
    field_boundary: np.ndarray | None = None  # (H, W) float32 boundary probability (``maps=True``, boundary head)


def plan_tiles(plots: Sequence[Plot], *, resolution: float = 10.0) -> list[TileJob]:
    """Group plots into the fixed imagery-cache tiles (2.56 km, UTM-aligned, padded) they fall in.

    The grid does not depend on which plots are present, so a later plot in an already-seen area reuses the
    cached composites of its tile. Deterministic order (the imagery layer's own grouping).
    """
    import geopandas as gpd

    if not plots:
        return []
    frame = gpd.GeoDataFrame(
        {"plot_id": [p.plot_id for p in plots]}, geometry=[p.geometry for p in plots], crs="EPSG:4326"
    )
    return [
        TileJob(
            tile=group.tile,
            resolution=resolution,
            plot_ids=tuple(str(pid) for pid in group.plots["plot_id"]),
            plot_wkb=tuple(to_wkb(g) for g in group.plots.geometry),
        )
        for group in group_plots_by_tile(frame)
    ]


def score_tile(
    job: TileJob,
    *,
    catalog: str,
    start: date,
    end: date,
    models_dir: str,
    cache_dir: str,
    device: str = "auto",
    scheduler: str = "threads",
    maps: bool = False,
    reuse_s: float = 0.0,
) -> TileResult:
    """Imagery, model and per-plot aggregation for one tile (pure apart from imagery reads and model loading).

    ``maps=True`` also returns the probability of the mapped class and the latest clear NDVI per pixel.
    ``reuse_s > 0`` (serving processes): a tile scored in this process less than ``reuse_s`` seconds ago is reused
    from memory without a catalog search, so a new plot there costs only its zonal statistics; 0 (batch jobs)
    always checks the catalog for new scenes."""
    key = (job.tile.name, job.resolution, catalog, start, end, models_dir, cache_dir, device, maps)
    base = _recent_tile(key, reuse_s)
    if base is None:
        built = _score_tile_base(
            job,
            catalog=catalog,
            start=start,
            end=end,
            models_dir=models_dir,
            cache_dir=cache_dir,
            device=device,
            scheduler=scheduler,
            maps=maps,
        )
        if isinstance(built, TileResult):  # no imagery: nothing to reuse
            return built
        base = built
        if reuse_s > 0:
            _remember_tile(key, base)
    evidence = tuple(
        plot_evidence(pid, from_wkb(wkb), base.view) for pid, wkb in zip(job.plot_ids, job.plot_wkb, strict=True)
    )
    return TileResult(
        job.tile_id,
        evidence,
        job.crs,
        job.bbox,
        base.rgb,
        base.crop_class,
        base.view.classes,
        len(base.view.scene_ids),
        base.scenes_failed,
        base.probability,
        base.ndvi,
        base.cropland,
        base.field_boundary,
    )


@dataclass(frozen=True)
class _TileBase:
    """Everything of a scored tile that does not depend on which plots are in it."""

    view: _TileView
    rgb: np.ndarray | None
    crop_class: np.ndarray
    scenes_failed: tuple[str, ...]
    probability: np.ndarray | None
    ndvi: np.ndarray | None
    cropland: np.ndarray | None
    field_boundary: np.ndarray | None


_RECENT_TILES: OrderedDict[tuple[object, ...], tuple[float, _TileBase]] = OrderedDict()
_RECENT_LOCK = threading.Lock()
RECENT_TILES_MAX = 16
"""Scored tiles kept in memory by a serving process (about 7 MB each without maps)."""


def _recent_tile(key: tuple[object, ...], reuse_s: float) -> _TileBase | None:
    if reuse_s <= 0:
        return None
    with _RECENT_LOCK:
        hit = _RECENT_TILES.get(key)
        if hit is None or time.monotonic() - hit[0] > reuse_s:
            return None
        _RECENT_TILES.move_to_end(key)
        return hit[1]


def _remember_tile(key: tuple[object, ...], base: _TileBase) -> None:
    with _RECENT_LOCK:
        _RECENT_TILES[key] = (time.monotonic(), base)
        _RECENT_TILES.move_to_end(key)
        while len(_RECENT_TILES) > RECENT_TILES_MAX:
            _RECENT_TILES.popitem(last=False)


def forget_recent_tiles() -> None:
    """Drop the in-memory tiles (the next scoring asks the catalog and the caches again)."""
    with _RECENT_LOCK:
        _RECENT_TILES.clear()


def _score_tile_base(
    job: TileJob,
    *,
    catalog: str,
    start: date,
    end: date,
    models_dir: str,
    cache_dir: str,
    device: str,
    scheduler: str,
    maps: bool,
) -> _TileBase | TileResult:
    """Composites (cache), model probabilities (cache) and maps of a tile; a TileResult when it has no imagery."""
    geobox = job.geobox()
    try:
        with dask.config.set(scheduler=scheduler):
            result, entry = build_composites_keyed(catalog, geobox, start, end, cache_dir=Path(cache_dir))
    except ImageryUnavailable as exc:
        missing = tuple(PlotEvidence(pid, "no_clear_imagery", str(exc)) for pid in job.plot_ids)
        return TileResult(job.tile_id, missing, job.crs, job.bbox)
    comp = result.composites
    model = load_model_cached(models_dir, device=device)
    bundle = model.bundle

    def predict() -> np.ndarray:  # class probabilities, plus the boundary probability when the model has a head
        features = stack_features(comp, bands=bundle.bands, indices=bundle.indices, months=bundle.months)
        out = predict_maps(model, features)
        return out.probabilities if out.boundary is None else np.concatenate([out.probabilities, out.boundary[None]])

    stacked = cached_probabilities(
        entry, model_fingerprint(bundle.to_json()), Path(cache_dir) / "probabilities", predict
    )
    n_classes = len(bundle.classes)
    probs = stacked[:n_classes]
    boundary = stacked[n_classes] if stacked.shape[0] > n_classes else None
    view = _TileView(
        geobox=geobox,
        ndvi=comp["ndvi"].values,
        months=tuple(int(str(p)[5:7]) for p in comp["period"].values),
        probs=probs,
        classes=tuple(bundle.classes),
        model_version=bundle.version,
        scene_ids=tuple(s.id for s in result.scenes if s.used),
    )
    layers = class_layers(probs, bundle.classes) if maps else None
    return _TileBase(
        view=view,
        rgb=_true_colour(comp),
        crop_class=layers.crop_class if layers else np.argmax(probs, axis=0).astype(np.uint8),
        scenes_failed=tuple(s.id for s in result.scenes if s.failed),
        probability=layers.probability if layers else None,
        ndvi=latest_clear(comp["ndvi"].values) if maps else None,
        cropland=layers.cropland if layers else None,
        field_boundary=boundary if maps else None,
    )


def latest_clear(stack: np.ndarray) -> np.ndarray:
    """Per pixel, the value of the last period with a finite value ``(T, H, W) -> (H, W)``; NaN if none."""
    out = np.full(stack.shape[1:], np.nan, dtype=np.float32)
    for layer in stack:
        ok = np.isfinite(layer)
        out[ok] = layer[ok]
    return out


def model_fingerprint(bundle_json: dict[str, object]) -> str:
    """Hex digest of a model bundle's description (name, version, classes, normalisation, temperature…)."""
    return hashlib.sha256(json.dumps(bundle_json, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached_probabilities(
    composites_id: str, model_id: str, cache_dir: Path, compute: Callable[[], np.ndarray]
) -> np.ndarray:
    """The model's class probabilities ``(K, H, W)`` of a tile, from ``cache_dir`` when the same composites
    (``composites_id`` from :func:`~agrisense.imagery.cache.build_composites_keyed`) went through the same model
    before, else ``compute()`` stored atomically (``.npy``). A new plot in a scored tile then needs only zonal
    statistics."""
    path = cache_dir / f"{hashlib.sha256(f'{composites_id}|{model_id}'.encode()).hexdigest()[:32]}.npy"
    if path.is_file():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            pass  # unreadable entry: recompute and overwrite
    probs = np.ascontiguousarray(compute(), dtype=np.float32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp.npy")
    try:
        np.save(tmp, probs, allow_pickle=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return probs


@dataclass(frozen=True)
class _TileView:
    """What per-plot aggregation needs from a tile: grid, monthly NDVI, class probabilities, provenance."""

    geobox: GeoBox
    ndvi: np.ndarray
    months: tuple[int, ...]
    probs: np.ndarray
    classes: tuple[str, ...]
    model_version: str
    scene_ids: tuple[str, ...]


def plot_evidence(pid: str, geom: BaseGeometry, tile: _TileView) -> PlotEvidence:
    """Per-plot evidence from a tile: coverage-weighted NDVI per clear month, crop probabilities, clear share."""
    window, weights = plot_coverage(geom, tile.geobox)
    if weights is None or float(np.sum(weights)) <= 0:
        return PlotEvidence(pid, "outside_coverage", "The plot lies outside the imagery grid.")
    ys, xs = window
    total = float(weights.sum())
    ndvi_by_month: dict[int, float] = {}
    clear_shares = []
    for k, month in enumerate(tile.months):
        values = tile.ndvi[k, ys, xs]
        ok = np.isfinite(values) & (weights > 0)
        share = min(1.0, float(weights[ok].sum() / total))
        clear_shares.append(share)
        if share >= MIN_PLOT_CLEAR:
            ndvi_by_month[month] = float(np.average(values[ok], weights=weights[ok]))
    n_clear = sum(s >= MIN_PLOT_CLEAR for s in clear_shares)
    prediction = aggregate_plot(tile.probs[:, ys, xs], weights, tile.classes)
    status, reason = "ok", None
    if n_clear < MIN_CLEAR_PERIODS:
        status = "no_clear_imagery"
        reason = f"Only {n_clear} month(s) with a clear view of the plot (need {MIN_CLEAR_PERIODS})."
    return PlotEvidence(
        plot_id=pid,
        status=status,
        reason=reason,
        crop=prediction.crop,
        crop_probability=_unit(prediction.crop_probability),
        class_probabilities=dict(prediction.class_probabilities),
        cropland_fraction=_unit(prediction.cropland_fraction),
        clear_fraction=float(np.mean(clear_shares)) if clear_shares else 0.0,
        n_clear_periods=int(n_clear),
        ndvi_by_month=ndvi_by_month,
        scene_ids=tile.scene_ids,
        model_version=tile.model_version,
    )


def _unit(value: float) -> float:
    """A share computed in float32 can land a hair outside [0, 1]; clip it back."""
    return float(min(1.0, max(0.0, value)))


PREVIEW_MONTHS = (9, 8, 10, 7, 11, 6, 5, 4, 3)
"""Months for report previews, best first: peak season, then its neighbours fill cloud gaps."""


def _true_colour(comp: xr.Dataset) -> np.ndarray | None:
    """RGBA uint8 preview of the peak-season composite, gaps filled from neighbouring months (alpha 0: no data)."""
    months = [int(str(p)[5:7]) for p in comp["period"].values]
    rgb = np.full((*comp["red"].shape[1:], 3), np.nan, dtype=np.float32)
    for month in PREVIEW_MONTHS:
        if month not in months:
            continue
        k = months.index(month)
        layer = np.stack([comp[b].values[k] for b in ("red", "green", "blue")], axis=-1)
        gap = np.isnan(rgb[..., 0])
        rgb[gap] = layer[gap]
    missing = np.isnan(rgb).any(axis=-1)
    if missing.all():
        return None
    rgb = np.clip(np.nan_to_num(rgb, nan=0.0) / 0.2, 0, 1) ** 0.8
    alpha = np.where(missing, 0.0, 1.0)[..., None]
    return (np.concatenate([rgb, alpha], axis=-1) * 255).astype(np.uint8)


def run_tiles(
    jobs: Sequence[TileJob],
    *,
    catalog: str,
    start: date,
    end: date,
    models_dir: Path,
    cache_dir: Path,
    device: str = "auto",
    scheduler_address: str | None = None,
    n_workers: int = 2,
    on_done: Callable[[TileResult], None] | None = None,
    reuse_s: float = 0.0,
) -> list[TileResult]:
    """Run tiles in-process (one tile) or on a Dask cluster; results in job order. ``reuse_s``: see score_tile
    (in-process only)."""
    kwargs = dict(
        catalog=catalog, start=start, end=end, models_dir=str(models_dir), cache_dir=str(cache_dir), device=device
    )
    if len(jobs) <= 1 and scheduler_address is None:
        results = [score_tile(job, reuse_s=reuse_s, **kwargs) for job in jobs]  # type: ignore[arg-type]
        for r in results:
            if on_done:
                on_done(r)
        return results
    from dask.distributed import as_completed

    from agrisense.pipelines.cluster import dask_client

    with dask_client(scheduler_address, n_workers) as client:
        futures = {
            client.submit(score_tile, job, scheduler="sync", pure=False, **kwargs): i  # type: ignore[arg-type]
            for i, job in enumerate(jobs)
        }
        out: list[TileResult | None] = [None] * len(jobs)
        for future in as_completed(futures):
            res = future.result()
            out[futures[future]] = res
            if on_done:
                on_done(res)
        return [r for r in out if r is not None]
