"""What the satellite and the model say about one plot: per-plot evidence aggregated from a scored tile."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from odc.geo.geobox import GeoBox
from shapely.geometry.base import BaseGeometry

from agrisense.imagery.zonal import plot_coverage
from agrisense.ml.inference import PlotPrediction, aggregate_plot
from agrisense.ml.plot_crop import crop_given_cropland, plot_band_series
from agrisense.ml.plot_crop_model import PlotCropModel
from agrisense.ml.registry import NON_CROP

MIN_PLOT_CLEAR = 0.5
"""A period counts as clear for a plot when at least this share of its pixels had a clear composite value."""
MIN_CLEAR_PERIODS = 3


@dataclass(frozen=True)
class PlotEvidence:
    """Imagery + model evidence for one plot in one season.

    ``status`` is ``ok`` when the plot had enough clear observations to be scored; otherwise
    ``no_clear_imagery`` / ``outside_coverage`` / ``imagery_failed`` with ``reason`` in plain words, and the credit
    engine must refer the plot instead of scoring it.
    """

    plot_id: str
    status: str
    reason: str | None = None
    crop: str | None = None
    crop_probability: float | None = None
    class_probabilities: dict[str, float] = field(default_factory=dict)
    cropland_fraction: float | None = None
    clear_fraction: float = 0.0
    n_clear_periods: int = 0
    ndvi_by_month: dict[int, float] = field(default_factory=dict)
    scene_ids: tuple[str, ...] = ()
    model_version: str | None = None

    @property
    def imagery_ok(self) -> bool:
        return self.status == "ok"

    def probability_given_cropland(self, crop: str | None) -> float | None:
        """P(``crop`` | cropland) from the class probabilities (uncalibrated); None for a crop the model does not
        know or without probabilities."""
        crops = {c: p for c, p in self.class_probabilities.items() if c != NON_CROP}
        total = sum(crops.values())
        if crop is None or crop not in crops or total <= 0:
            return None
        return _unit(crops[crop] / total)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TileView:
    """What per-plot aggregation needs from a scored tile: grid, monthly NDVI, class probabilities, provenance."""

    geobox: GeoBox
    ndvi: np.ndarray  # (T, H, W) float32, NaN where no clear composite
    months: tuple[int, ...]
    probs: np.ndarray  # (K, H, W) float32 class probabilities
    classes: tuple[str, ...]
    model_version: str
    scene_ids: tuple[str, ...]
    bands: np.ndarray | None = None  # (B, T, H, W) reflectance in ``ASSETS`` order: the plot crop model's input
    crop_model: PlotCropModel | None = None  # refines the U-Net's crops from the plot's mean series (``bands``)


def plot_evidence(pid: str, geom: BaseGeometry, tile: TileView) -> PlotEvidence:
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
    if tile.crop_model is not None and tile.bands is not None:
        prediction = refine_prediction(
            prediction, tile.crop_model, tile.bands[:, :, ys, xs], weights, tile.classes, tile.months
        )
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


def refine_prediction(
    prediction: PlotPrediction,
    model: PlotCropModel,
    window: np.ndarray,
    weights: np.ndarray,
    classes: tuple[str, ...],
    months: tuple[int, ...],
) -> PlotPrediction:
    """The U-Net's plot prediction with its crops pooled with the plot crop model's (non-crop share kept), from
    the plot's window of reflectances ``(B, T, h, w)`` (``ASSETS`` order) and coverage ``weights``."""
    series = plot_band_series(window, weights)[None]
    unet = np.array([[prediction.class_probabilities[c] for c in classes]])
    refined = model.refine(unet, classes, series, months)[0]
    crops, share = crop_given_cropland(refined[None], classes)
    best = int(np.argmax(share[0]))
    return replace(
        prediction,
        crop=crops[best],
        crop_probability=float(share[0, best]),
        class_probabilities={c: float(p) for c, p in zip(classes, refined, strict=True)},
        model_version=evidence_model_version(prediction.model_version, model),
    )


def evidence_model_version(landcover: str, crop_model: PlotCropModel | None) -> str:
    """What the evidence (and the plot calibration fitted on it) names as its model: the land-cover bundle's
    version, ``+name@version`` of the plot crop model when one refines its crops."""
    return landcover if crop_model is None else f"{landcover}+{crop_model.label}"


def _unit(value: float) -> float:
    """A share computed in float32 can land a hair outside [0, 1]; clip it back."""
    return float(min(1.0, max(0.0, value)))
