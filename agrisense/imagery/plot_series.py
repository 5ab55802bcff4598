"""Per-plot time series for many plots: plots grouped by cache tile, each tile loaded (or read from the
composite cache) once, statistics per plot x period with provenance."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from agrisense.errors import ImageryUnavailable, InvalidInput
from agrisense.geo.utm import utm_epsg
from agrisense.imagery.cache import TILE_PAD_M, TILE_SIZE_M, TileKey, build_composites_cached, tile_for_bounds
from agrisense.imagery.catalog import SceneSource, open_source
from agrisense.imagery.composite import period_starts
from agrisense.imagery.load import ALL_BANDS
from agrisense.imagery.timeseries import CompositeResult, build_composites
from agrisense.imagery.zonal import DEFAULT_MIN_CLEAR_FRACTION, plot_statistics

Progress = Callable[[int, int, str], None]
"""``progress(done_tiles, total_tiles, tile_name)``."""


@dataclass(frozen=True)
class TileGroup:
    """The plots whose statistics come from one tile's composites (plots in the tile's CRS)."""

    tile: TileKey
    plots: gpd.GeoDataFrame


def group_plots_by_tile(
    plots: gpd.GeoDataFrame, *, tile_m: float = TILE_SIZE_M, pad_m: float = TILE_PAD_M
) -> list[TileGroup]:
    """Plots (any CRS, column ``plot_id``) grouped by :func:`~agrisense.imagery.cache.tile_for_bounds` in
    the UTM zone of each plot's centroid; groups sorted by tile name."""
    if "plot_id" not in plots.columns:
        raise InvalidInput("plots need a 'plot_id' column.")
    if plots.crs is None:
        raise InvalidInput("plots have no CRS; GeoJSON plots are EPSG:4326.")
    lonlat = plots.to_crs(4326)
    centroids = lonlat.geometry.representative_point()
    epsgs = [utm_epsg(p.x, p.y) for p in centroids]
    members: dict[TileKey, list[int]] = {}
    for epsg in sorted(set(epsgs)):
        rows = [i for i, e in enumerate(epsgs) if e == epsg]
        utm = lonlat.iloc[rows].to_crs(epsg)
        for row, geom in zip(rows, utm.geometry, strict=True):
            tile = tile_for_bounds(geom.bounds, epsg, tile_m=tile_m, pad_m=pad_m)
            members.setdefault(tile, []).append(row)
    groups = [
        TileGroup(tile, lonlat.iloc[rows].to_crs(tile.epsg).reset_index(drop=True)) for tile, rows in members.items()
    ]
    return sorted(groups, key=lambda g: g.tile.name)


def plot_window(geobox: Any, plots: gpd.GeoDataFrame, margin_px: int = 2) -> tuple[slice, slice] | None:
    """The rows and columns of ``geobox`` that the plots (in its CRS) touch, plus a margin; None when they miss it."""
    inverse = ~geobox.affine
    x0, y0, x1, y1 = plots.total_bounds
    cols, rows = zip(*(inverse * (x, y) for x in (x0, x1) for y in (y0, y1)), strict=True)
    height, width = geobox.shape.yx
    r0, r1 = max(math.floor(min(rows)) - margin_px, 0), min(math.ceil(max(rows)) + margin_px, height)
    c0, c1 = max(math.floor(min(cols)) - margin_px, 0), min(math.ceil(max(cols)) + margin_px, width)
    if r0 >= r1 or c0 >= c1:
        return None
    return slice(r0, r1), slice(c0, c1)


def _crop(composites: xr.Dataset, plots: gpd.GeoDataFrame) -> xr.Dataset:
    """The composites cut to the pixels the plots touch (plus a margin): statistics read less."""
    window = plot_window(composites.odc.geobox, plots)
    return composites if window is None else composites.isel(y=window[0], x=window[1])


def _unavailable_rows(plot_ids: Sequence[str], starts: pd.DatetimeIndex, status: str, reason: str) -> pd.DataFrame:
    rows = [
        {
            "plot_id": pid,
            "period_start": start,
            "clear_fraction": 0.0,
            "n_obs": 0,
            "scene_ids": [],
            "baselines": [],
            "status": status,
            "reason": reason,
        }
        for pid in plot_ids
        for start in starts
    ]
    return pd.DataFrame(rows)


def plot_timeseries(
    source: SceneSource | str,
    plots: gpd.GeoDataFrame,
    start: date,
    end: date,
    *,
    period: str = "1MS",
    cache_dir: str | Path | None = None,
    bands: Sequence[str] = ALL_BANDS,
    min_clear_fraction: float = DEFAULT_MIN_CLEAR_FRACTION,
    max_cloud: float | None = None,
    gdal_env: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """One row per plot x period (``start``..``end``, both included) with the columns of
    :func:`~agrisense.imagery.zonal.plot_statistics` plus ``tile_id``. Each tile is loaded once, through the
    composite cache when ``cache_dir`` is given. A tile without usable imagery gives its plots rows with
    status ``imagery_unavailable`` and the reason, not an error."""
    if end < start:
        raise InvalidInput(f"end {end} is before start {start}.")
    src = open_source(source) if isinstance(source, str) else source
    groups = group_plots_by_tile(plots)
    starts = period_starts(start, end + timedelta(days=1), period)
    frames = []
    for done, group in enumerate(groups):
        geobox = group.tile.geobox()
        try:
            result: CompositeResult
            if cache_dir is not None:
                result = build_composites_cached(
                    src,
                    geobox,
                    start,
                    end,
                    cache_dir=cache_dir,
                    period=period,
                    bands=bands,
                    max_cloud=max_cloud,
                    gdal_env=gdal_env,
                )
            else:
                result = build_composites(
                    src, geobox, start, end, period=period, bands=bands, max_cloud=max_cloud, gdal_env=gdal_env
                )
        except ImageryUnavailable as exc:
            frame = _unavailable_rows(list(group.plots["plot_id"]), starts, "imagery_unavailable", str(exc))
        else:
            comp = _crop(result.composites, group.plots)
            frame = plot_statistics(comp, group.plots, result.scenes, min_clear_fraction=min_clear_fraction)
        frames.append(frame.assign(tile_id=group.tile.name))
        if progress is not None:
            progress(done + 1, len(groups), group.tile.name)
    if not frames:
        return _unavailable_rows([], starts, "", "").assign(tile_id=pd.Series(dtype=str))
    out = pd.concat(frames, ignore_index=True)
    out["n_obs"] = out["n_obs"].astype(np.int64)
    return out.sort_values(["plot_id", "period_start"], kind="stable").reset_index(drop=True)
