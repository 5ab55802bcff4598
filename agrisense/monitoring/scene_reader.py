"""Read every clear scene of many plots (the I/O side of :mod:`agrisense.monitoring.scenes`).

Plots are grouped by cache tile (:func:`agrisense.imagery.plot_series.group_plots_by_tile`); each tile's scenes are
searched in the catalog and loaded with :func:`agrisense.imagery.load.load_scenes` (the same reflectance rule and
SCL clear mask as the composites), red and NIR only, cut to the plots' pixels; NDVI as
:func:`agrisense.imagery.indices.add_indices` defines it. A tile without usable imagery gives its plots no scenes.
The composites keep every scene's NDVI in their cache entry (:func:`agrisense.imagery.cache.read_scene_ndvi`):
:func:`cached_plot_scenes` reads the scenes from there, the county re-score's path.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from agrisense.errors import ImageryUnavailable
from agrisense.imagery.cache import TileKey, read_scene_ndvi
from agrisense.imagery.catalog import SceneSource, open_source
from agrisense.imagery.indices import add_indices
from agrisense.imagery.load import load_scenes
from agrisense.imagery.plot_series import group_plots_by_tile, plot_window
from agrisense.imagery.timeseries import SceneNdvi
from agrisense.imagery.zonal import plot_coverage
from agrisense.monitoring.scenes import PlotScenes, plot_scene_stats

log = logging.getLogger(__name__)
BANDS = ("red", "nir")


def _window(geobox: Any, plots: gpd.GeoDataFrame) -> tuple[slice, slice]:
    """The plots' pixel window (at least one pixel, at the tile's corner when they miss it)."""
    return plot_window(geobox, plots) or (slice(0, 1), slice(0, 1))


def read_plot_scenes(
    source: SceneSource | str,
    plots: gpd.GeoDataFrame,
    start: date,
    end: date,
    *,
    gdal_env: Mapping[str, Any] | None = None,
) -> dict[str, PlotScenes]:
    """Per ``plot_id`` (plots in any CRS), its :class:`PlotScenes` from every scene acquired ``start``..``end``
    that the SCL leaves usable over its tile; plots in a tile without imagery are left out."""
    src = open_source(source) if isinstance(source, str) else source
    out: dict[str, PlotScenes] = {}
    for group in group_plots_by_tile(plots):
        out.update(tile_plot_scenes(src, group.tile, group.plots, start, end, gdal_env=gdal_env))
    return out


def tile_plot_scenes(
    source: SceneSource,
    tile: TileKey,
    plots: gpd.GeoDataFrame,
    start: date,
    end: date,
    *,
    gdal_env: Mapping[str, Any] | None = None,
) -> dict[str, PlotScenes]:
    """:func:`read_plot_scenes` for the plots of one cache ``tile`` (``plot_id`` column, geometries in the tile's
    CRS), on the tile's 10 m grid; empty when the tile has no usable imagery. The county re-score's tile tasks
    call it for their financed plots when the imagery cache holds no per-scene NDVI (:func:`cached_plot_scenes`)."""
    geobox = tile.geobox()
    bbox = geobox.geographic_extent.boundingbox
    try:
        items = source.search((bbox.left, bbox.bottom, bbox.right, bbox.top), start, end)
        cube = load_scenes(items, geobox, BANDS, gdal_env=gdal_env)
    except ImageryUnavailable as exc:
        log.info("tile %s: no scenes for monitoring (%s)", tile.name, exc)
        return {}
    rows, cols = _window(geobox, plots)
    ndvi = add_indices(cube.isel(y=rows, x=cols), ["ndvi"])["ndvi"].values
    days = tuple(pd.Timestamp(d).date() for d in cube["solar_day"].values)
    return plot_scenes_from_ndvi(SceneNdvi(ndvi, days), geobox[rows, cols], plots)


def cached_plot_scenes(
    cache_dir: str | Path, entry: str, tile: TileKey, plots: gpd.GeoDataFrame
) -> dict[str, PlotScenes] | None:
    """:func:`tile_plot_scenes` from the per-scene NDVI that the imagery cache entry ``entry`` (the one the tile
    was scored from) keeps: the same scenes, clear mask and NDVI, no imagery read. None when the entry holds
    none (built before it was kept, or replaced since)."""
    geobox = tile.geobox()
    rows, cols = _window(geobox, plots)
    kept = read_scene_ndvi(cache_dir, entry, (rows, cols))
    return None if kept is None else plot_scenes_from_ndvi(kept, geobox[rows, cols], plots)


def plot_scenes_from_ndvi(ndvi: SceneNdvi, window: Any, plots: gpd.GeoDataFrame) -> dict[str, PlotScenes]:
    """Per ``plot_id``, its :class:`PlotScenes` from per-scene NDVI ``(S, h, w)`` on the geobox ``window``."""
    out: dict[str, PlotScenes] = {}
    for pid, geom in zip(plots["plot_id"], plots.geometry, strict=True):
        (r, c), weights = plot_coverage(geom, window)
        if weights.size:
            out[str(pid)] = plot_scene_stats(ndvi.values[:, r, c], weights, ndvi.days)
    return out


def scenes_frame(scenes: Mapping[str, PlotScenes]) -> pd.DataFrame:
    """Long table (``plot_id``, ``day``, ``clear_share``, ``ndvi_median``) of ``scenes``."""
    rows = [
        {"plot_id": pid, "day": d, "clear_share": c, "ndvi_median": m}
        for pid, s in scenes.items()
        for d, c, m in zip(s.days, s.clear_share, s.ndvi_median, strict=True)
    ]
    return pd.DataFrame(rows, columns=["plot_id", "day", "clear_share", "ndvi_median"])


def scenes_from_frame(frame: pd.DataFrame) -> dict[str, PlotScenes]:
    """The inverse of :func:`scenes_frame`."""
    out: dict[str, PlotScenes] = {}
    for pid, g in frame.sort_values(["plot_id", "day"]).groupby("plot_id", sort=True):
        days = tuple(pd.Timestamp(d).date() for d in g["day"])
        out[str(pid)] = PlotScenes(
            days,
            g["clear_share"].to_numpy(float),
            g["ndvi_median"].to_numpy(float),
        )
    return out
