"""Score one tile: composites (cached) -> model probabilities (cached) -> per-plot evidence and small maps.

Pure apart from the imagery reads and the model load, both behind the imagery cache and the model registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dask
import numpy as np
import xarray as xr
from shapely import from_wkb

from agrisense.errors import ImageryUnavailable
from agrisense.imagery.cache import build_composites_keyed
from agrisense.imagery.composite import band_names
from agrisense.ml.features import stack_features
from agrisense.ml.inference import predict_maps
from agrisense.ml.maps import class_layers
from agrisense.ml.plot_crop import ASSETS
from agrisense.ml.plot_crop_model import load_plot_crop_model
from agrisense.ml.registry import load_model_cached
from agrisense.scoring.caches import TileMemory, cached_probabilities, model_fingerprint
from agrisense.scoring.evidence import PlotEvidence, TileView, evidence_model_version, plot_evidence
from agrisense.scoring.tasks import ScoringInputs, TileJob


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
    composites_entry: str | None = None  # the imagery cache entry it was scored from (``read_scene_ndvi``)


@dataclass(frozen=True)
class ScoredTile:
    """Everything of a scored tile that does not depend on which plots are in it (what TileMemory keeps)."""

    view: TileView
    rgb: np.ndarray | None
    crop_class: np.ndarray
    scenes_failed: tuple[str, ...]
    probability: np.ndarray | None
    ndvi: np.ndarray | None
    cropland: np.ndarray | None
    field_boundary: np.ndarray | None
    composites_entry: str | None = None


def score_tile(
    job: TileJob,
    inputs: ScoringInputs,
    *,
    maps: bool = False,
    scheduler: str = "threads",
    memory: TileMemory[ScoredTile] | None = None,
) -> TileResult:
    """Imagery, model and per-plot aggregation for one tile.

    ``maps=True`` also returns the probability of the mapped class and the latest clear NDVI per pixel.
    ``memory`` (serving processes): a tile scored there recently is reused without a catalog search, so a new plot
    costs only its zonal statistics; without it (batch jobs) the catalog is always asked for new scenes."""
    key = (job.tile.name, job.resolution, inputs, maps)
    base = memory.get(key) if memory is not None else None
    if base is None:
        built = _score_tile_base(job, inputs, scheduler=scheduler, maps=maps)
        if isinstance(built, TileResult):  # no imagery: nothing to reuse
            return built
        base = built
        if memory is not None:
            memory.put(key, base)
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
        base.composites_entry,
    )


def _score_tile_base(job: TileJob, inputs: ScoringInputs, *, scheduler: str, maps: bool) -> ScoredTile | TileResult:
    """Composites (cache), model probabilities (cache) and maps of a tile; a TileResult when it has no imagery."""
    geobox = job.geobox()
    try:
        with dask.config.set(scheduler=scheduler):
            result, entry = build_composites_keyed(
                inputs.catalog, geobox, inputs.start, inputs.end, cache_dir=inputs.cache_dir
            )
    except ImageryUnavailable as exc:
        missing = tuple(PlotEvidence(pid, "no_clear_imagery", str(exc)) for pid in job.plot_ids)
        return TileResult(job.tile_id, missing, job.crs, job.bbox)
    comp = result.composites
    model = load_model_cached(str(inputs.models_dir), inputs.model, device=inputs.device)
    bundle = model.bundle

    def predict() -> np.ndarray:  # class probabilities, plus the boundary probability when the model has a head
        features = stack_features(comp, bands=bundle.bands, indices=bundle.indices, months=bundle.months)
        out = predict_maps(model, features)
        return out.probabilities if out.boundary is None else np.concatenate([out.probabilities, out.boundary[None]])

    stacked = cached_probabilities(entry, model_fingerprint(bundle.to_json()), inputs.probabilities_dir, predict)
    n_classes = len(bundle.classes)
    probs = stacked[:n_classes]
    boundary = stacked[n_classes] if stacked.shape[0] > n_classes else None
    crop_model = load_plot_crop_model(inputs.models_dir, inputs.crop_model) if inputs.crop_model else None
    view = TileView(
        geobox=geobox,
        ndvi=comp["ndvi"].values,
        months=tuple(int(str(p)[5:7]) for p in comp["period"].values),
        probs=probs,
        classes=tuple(bundle.classes),
        model_version=evidence_model_version(bundle.version, crop_model),
        scene_ids=tuple(s.id for s in result.scenes if s.used),
        bands=None if crop_model is None else np.stack([comp[a].values for a in ASSETS]).astype(np.float32),
        crop_model=crop_model,
    )
    clear = imagery_mask(comp) if maps else np.ones(probs.shape[1:], dtype=bool)
    layers = class_layers(np.where(clear, map_probabilities(view), np.nan), bundle.classes) if maps else None
    return ScoredTile(
        view=view,
        rgb=true_colour(comp),
        crop_class=layers.crop_class if layers else np.argmax(probs, axis=0).astype(np.uint8),
        scenes_failed=tuple(s.id for s in result.scenes if s.failed),
        probability=layers.probability if layers else None,
        ndvi=np.where(clear, latest_clear(comp["ndvi"].values), np.nan).astype(np.float32) if maps else None,
        cropland=layers.cropland if layers else None,
        field_boundary=None if not maps or boundary is None else np.where(clear, boundary, np.nan).astype(np.float32),
        composites_entry=entry,
    )


def map_probabilities(view: TileView) -> np.ndarray:
    """``(K, H, W)`` class probabilities of the tile's maps: the U-Net's, with each pixel's crops pooled with the
    plot crop model's as a plot's are (on a county neither trained on, 78.0 % of crop pixels right against the
    U-Net's 71.3 %: docs/croptype.md), so the maps show the crops the decisions read."""
    if view.crop_model is None or view.bands is None:
        return view.probs
    return view.crop_model.refine_pixels(view.probs, view.classes, view.bands, view.months).astype(np.float32)


def imagery_mask(comp: xr.Dataset) -> np.ndarray:
    """``(H, W)`` True where a pixel has imagery: a clear observation (``n_obs``) in some period and, in some
    period, a finite value of every reflectance band. Maps are nodata elsewhere (the model's output there is
    a guess from filled-in features)."""
    bands = band_names(comp)
    finite = np.ones(comp[bands[0]].shape, dtype=bool)  # (period, H, W)
    for band in bands:
        finite &= np.isfinite(comp[band].values)
    clear = np.asarray(finite.any(axis=0))
    if "n_obs" in comp:
        clear &= (comp["n_obs"].values > 0).any(axis=0)
    return clear


def latest_clear(stack: np.ndarray) -> np.ndarray:
    """Per pixel, the value of the last period with a finite value ``(T, H, W) -> (H, W)``; NaN if none."""
    out = np.full(stack.shape[1:], np.nan, dtype=np.float32)
    for layer in stack:
        ok = np.isfinite(layer)
        out[ok] = layer[ok]
    return out


PREVIEW_MONTHS = (9, 8, 10, 7, 11, 6, 5, 4, 3)
"""Months for report previews, best first: peak season, then its neighbours fill cloud gaps."""


def true_colour(comp: xr.Dataset) -> np.ndarray | None:
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
