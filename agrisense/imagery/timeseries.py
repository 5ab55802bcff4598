"""The pipeline's one entry point: STAC source + grid + dates -> computed composites with provenance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from odc.geo.geobox import GeoBox

from agrisense.errors import ImageryUnavailable, InvalidInput
from agrisense.imagery.catalog import SceneSource, open_source
from agrisense.imagery.composite import composites
from agrisense.imagery.indices import add_indices
from agrisense.imagery.load import ALL_BANDS, DEFAULT_MIN_SCENE_CLEAR, load_scenes, scene_records
from agrisense.imagery.scenes import SCENE_RECORDS_ATTR, SceneRecord

__all__ = ["CompositeResult", "SceneNdvi", "SceneRecord", "build_composites"]


@dataclass(frozen=True)
class SceneNdvi:
    """Every scene that went into the composites, as NDVI on their grid (NaN where not clear), in time order:
    what the per-scene monitoring reads (``agrisense.monitoring.scene_reader``), kept so it reads no imagery."""

    values: np.ndarray  # (S, H, W) float32
    days: tuple[date, ...]  # (S,) solar day of each scene


@dataclass(frozen=True)
class CompositeResult:
    """Computed (numpy-backed) composites and the record of every scene found for them."""

    composites: xr.Dataset
    scenes: list[SceneRecord]
    scene_ndvi: SceneNdvi | None = None  # with red and nir among the bands; absent in cache entries built earlier

    @property
    def used_scenes(self) -> list[SceneRecord]:
        """Scenes that went into the composites."""
        return [s for s in self.scenes if s.used]


def _mark_failed_reads(records: list[SceneRecord], ds: xr.Dataset, valid: np.ndarray) -> list[SceneRecord]:
    """Scenes whose SCL says clear but whose bands could not be read contributed nothing: mark them failed."""
    by_id: dict[str, tuple[float, float]] = {}
    for t, ids in enumerate(ds["scene_id"].values):
        for scene_id in str(ids).split("|"):
            by_id[scene_id] = (float(ds["clear_fraction"].values[t]), float(valid[t]))
    out = []
    for rec in records:
        if rec.id in by_id:
            scl_clear, read = by_id[rec.id]
            if scl_clear > 0 and read == 0:
                rec = rec.with_outcome(
                    used=False, failed=True, reason="pixel reads failed (bands nodata where SCL is clear)"
                )
            elif read < 0.5 * scl_clear:
                rec = rec.with_outcome(
                    reason=f"partly unreadable: {read:.1%} of the grid read vs {scl_clear:.1%} clear"
                )
        out.append(rec)
    return out


def build_composites(
    source: SceneSource | str,
    geobox: GeoBox,
    start: date,
    end: date,
    *,
    period: str = "1MS",
    bands: Sequence[str] = ALL_BANDS,
    min_scene_clear: float = DEFAULT_MIN_SCENE_CLEAR,
    max_cloud: float | None = None,
    max_gap_periods: int = 1,
    gdal_env: Mapping[str, Any] | None = None,
) -> CompositeResult:
    """Search ``source`` over the geobox for ``start``..``end`` (both included), load clear-sky reflectance
    with Dask, composite per ``period`` and compute with the current Dask scheduler (a distributed Client when
    one is active). ``gdal_env`` overrides the GDAL read options (timeouts, retries). Raises
    ImageryUnavailable when no scene is usable. For repeated calls over one area use
    :func:`agrisense.imagery.cache.build_composites_cached`."""
    if end < start:
        raise InvalidInput(f"end {end} is before start {start}.")
    src = open_source(source) if isinstance(source, str) else source
    bbox = geobox.geographic_extent.boundingbox
    items = src.search((bbox.left, bbox.bottom, bbox.right, bbox.top), start, end, max_cloud=max_cloud)
    cube = load_scenes(items, geobox, bands, min_scene_clear=min_scene_clear, gdal_env=gdal_env)
    lazy = composites(cube, period=period, start=start, end=end + timedelta(days=1), max_gap_periods=max_gap_periods)
    # One pass over the pixels: the per-scene share of readable clear pixels rides along with the composites.
    # (Dataset.compute, not dask.compute(dataset): the latter hits a graph-optimisation bug in dask 2026.8.)
    # The per-scene NDVI rides along too, so the in-season monitoring never loads these scenes again.
    valid_var, ndvi_var = "_scene_valid_fraction", "_scene_ndvi"
    extra = {valid_var: cube["clear"].mean(("y", "x"))}
    if {"red", "nir"} <= set(bands):
        extra[ndvi_var] = add_indices(cube[["red", "nir"]], ["ndvi"])["ndvi"]
    extra = {name: var.rename(time="_scene").reset_coords(drop=True) for name, var in extra.items()}
    computed = lazy.assign(extra).compute()
    valid = computed[valid_var].values
    scene_ndvi = None
    if ndvi_var in computed:
        days = tuple(pd.Timestamp(d).date() for d in cube["solar_day"].values)
        scene_ndvi = SceneNdvi(np.asarray(computed[ndvi_var].values, dtype=np.float32), days)
    computed = computed.drop_vars([*extra, "_scene"])
    records = _mark_failed_reads(scene_records(cube), cube, np.asarray(valid))
    if not any(r.used for r in records):
        raise ImageryUnavailable(f"none of the {len(records)} scenes could be read; check the catalog's assets.")
    computed.attrs.pop(SCENE_RECORDS_ATTR, None)
    return CompositeResult(composites=computed, scenes=records, scene_ndvi=scene_ndvi)
