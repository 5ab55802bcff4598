"""Map layers from per-pixel class probabilities, and writing them as COGs readable in QGIS.

``class_layers`` is pure (arrays in, arrays out); ``write_class_maps`` writes the three layers through
``agrisense.maps.write_cog``: ``crop_class.tif`` (uint8 palette with class names, 255 = no prediction),
``probability.tif`` (calibrated probability of the mapped class, float32, NaN = none) and ``cropland.tif``
(1 - p(non_crop), float32).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine

from agrisense.errors import InvalidInput
from agrisense.maps.palette import NODATA_CLASS, PALETTE, palette
from agrisense.ml.registry import NON_CROP

__all__ = ["MAP_FILES", "NODATA_CLASS", "PALETTE", "MapLayers", "class_layers", "palette", "write_class_maps",
           "write_field_maps"]  # fmt: skip

MAP_FILES = {"crop_class": "crop_class.tif", "probability": "probability.tif", "cropland": "cropland.tif"}


@dataclass(frozen=True)
class MapLayers:
    """Per-pixel maps on the probabilities' grid."""

    crop_class: np.ndarray  # (H, W) uint8: index into classes, NODATA_CLASS where no prediction
    probability: np.ndarray  # (H, W) float32: probability of the mapped class, NaN where no prediction
    cropland: np.ndarray  # (H, W) float32: 1 - p(non_crop), NaN where no prediction
    classes: tuple[str, ...]


def class_layers(probabilities: np.ndarray, classes: Sequence[str]) -> MapLayers:
    """Arg-max class, its probability and the cropland probability from ``probabilities`` ``(K, H, W)``.

    A pixel with any NaN probability (outside the imagery or the region) gets no class and NaN values.
    """
    classes = tuple(classes)
    probs = np.asarray(probabilities)
    if probs.ndim != 3 or probs.shape[0] != len(classes):
        raise InvalidInput(f"probabilities must be (K, H, W) with K = {len(classes)} classes, got {probs.shape}")
    if NON_CROP not in classes:
        raise InvalidInput(f"classes {classes} must include {NON_CROP!r} to give a cropland layer")
    if len(classes) >= NODATA_CLASS:
        raise InvalidInput(f"at most {NODATA_CLASS - 1} classes fit a uint8 class map, got {len(classes)}")
    valid = np.isfinite(probs).all(axis=0)
    filled = np.where(valid, probs, 0.0).astype(np.float32, copy=False)
    best = filled.argmax(axis=0)
    top = np.take_along_axis(filled, best[np.newaxis], axis=0)[0]
    crop_class = np.where(valid, best, NODATA_CLASS).astype(np.uint8)
    probability = np.where(valid, top, np.nan).astype(np.float32)
    cropland = np.where(valid, 1.0 - filled[classes.index(NON_CROP)], np.nan).astype(np.float32)
    return MapLayers(crop_class, probability, cropland, classes)


def write_class_maps(layers: MapLayers, out_dir: Path, *, transform: Affine, crs: str) -> dict[str, Path]:
    """Write ``crop_class.tif``, ``probability.tif`` and ``cropland.tif`` (COGs) to ``out_dir``; paths by layer."""
    from agrisense.maps import write_cog

    colormap, names = palette(layers.classes)
    out_dir = Path(out_dir)
    return {
        "crop_class": write_cog(
            out_dir / MAP_FILES["crop_class"], layers.crop_class, transform=transform, crs=crs,
            nodata=NODATA_CLASS, band_names=["crop_class"], colormap=colormap, class_names=names,
        ),
        "probability": write_cog(
            out_dir / MAP_FILES["probability"], layers.probability, transform=transform, crs=crs,
            nodata=float("nan"), band_names=["probability"], resampling="average",
        ),
        "cropland": write_cog(
            out_dir / MAP_FILES["cropland"], layers.cropland, transform=transform, crs=crs,
            nodata=float("nan"), band_names=["cropland_probability"], resampling="average",
        ),
    }  # fmt: skip


def write_field_maps(
    boundary: np.ndarray, field_labels: np.ndarray, out_dir: Path, *, transform: Affine, crs: str
) -> dict[str, Path]:
    """Write ``field_boundary.tif`` (boundary probability, float32) and ``fields.tif`` (field id per pixel,
    uint32, 0 = no field) as COGs to ``out_dir``; paths by layer."""
    from agrisense.maps import write_cog

    out_dir = Path(out_dir)
    return {
        "field_boundary": write_cog(
            out_dir / "field_boundary.tif", np.asarray(boundary, dtype=np.float32), transform=transform, crs=crs,
            nodata=float("nan"), band_names=["field_boundary_probability"], resampling="average",
        ),
        "fields": write_cog(
            out_dir / "fields.tif", np.asarray(field_labels, dtype=np.uint32), transform=transform, crs=crs,
            nodata=0, band_names=["field_id"],
        ),
    }  # fmt: skip
