"""Burn the landscape onto the 10 m grid: the object raster (for rendering) and the landcover truth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rasterio import features

from agrisense.sample.grid import RegionGrid
from agrisense.sample.inputs import CROPS
from agrisense.sample.landscape import Landscape

LANDCOVER_NODATA = 255


@dataclass(frozen=True)
class ObjectMap:
    """Object index per pixel and, per object, its class, field index (-1 = none)."""

    raster: np.ndarray  # (H, W) int32
    cls: np.ndarray  # (n_obj,) str
    field_index: np.ndarray  # (n_obj,) int


def object_map(land: Landscape, grid: RegionGrid) -> ObjectMap:
    """Object 0 is the grassland background; then patches, fields, overlay in drawing order."""
    cls: list[str] = ["grassland"]
    fidx: list[int] = [-1]
    shapes = []
    for geom, c in zip(land.patches.geometry, land.patches.cls, strict=True):
        shapes.append((geom, len(cls)))
        cls.append(str(c))
        fidx.append(-1)
    for i, (geom, c) in enumerate(zip(land.fields.geometry, land.fields.crop, strict=True)):
        shapes.append((geom, len(cls)))
        cls.append(str(c))
        fidx.append(i)
    for geom, c in zip(land.overlay.geometry, land.overlay.cls, strict=True):
        shapes.append((geom, len(cls)))
        cls.append(str(c))
        fidx.append(-1)
    raster = features.rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=0, dtype="int32")
    return ObjectMap(raster, np.array(cls, dtype=object), np.array(fidx))


def landcover(land: Landscape, grid: RegionGrid, crops: Sequence[str] = CROPS) -> np.ndarray:
    """uint8 truth: 0 non-crop, 1..n crop id in ``crops`` order (pixel centre inside the field polygon)."""
    code = {c: i + 1 for i, c in enumerate(crops)}
    shapes = [(g, code[str(c)]) for g, c in zip(land.fields.geometry, land.fields.crop, strict=True)]
    if not shapes:
        return np.zeros(grid.shape, np.uint8)
    return features.rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=0, dtype="uint8")
