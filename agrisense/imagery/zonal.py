"""Per-plot statistics of composites: exact fractional pixel coverage, weighted quantiles, provenance."""

from __future__ import annotations

import math
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from rasterio import features
from shapely.geometry.base import BaseGeometry

from agrisense.errors import InvalidInput
from agrisense.imagery.composite import PERIOD_FREQ_ATTR, band_names, period_bounds
from agrisense.imagery.indices import INDEX_NAMES
from agrisense.imagery.scenes import SceneRecord

Window = tuple[slice, slice]
EMPTY_WINDOW: Window = (slice(0, 0), slice(0, 0))
QUANTILES = {"median": 0.5, "p10": 0.1, "p90": 0.9}
DEFAULT_MIN_CLEAR_FRACTION = 0.5
"""Below this share of a plot with an observed (not gap-filled) clear composite, a period is flagged."""


def plot_coverage(geom_utm: BaseGeometry, geobox: GeoBox, supersample: int = 10) -> tuple[Window, np.ndarray]:
    """``(window, weights)``: the (row, col) slices of ``geobox`` the polygon touches and, for each pixel of
    that window, the share of the pixel's area inside the polygon (0..1), from a ``supersample`` x
    ``supersample`` rasterisation of every pixel. ``geom_utm`` is in the geobox CRS. Outside the grid: an
    empty window and a ``(0, 0)`` array."""
    if geom_utm is None or geom_utm.is_empty:
        return EMPTY_WINDOW, np.zeros((0, 0), dtype=np.float32)
    if geom_utm.geom_type not in {"Polygon", "MultiPolygon"}:
        raise InvalidInput(f"plot geometry must be a Polygon or MultiPolygon, got {geom_utm.geom_type}.")
    if supersample < 1:
        raise InvalidInput(f"supersample must be >= 1, got {supersample}.")
    height, width = geobox.shape.yx
    inverse = ~geobox.affine
    corners = [inverse @ (x, y) for x in geom_utm.bounds[0::2] for y in geom_utm.bounds[1::2]]
    cols = [c for c, _ in corners]
    rows = [r for _, r in corners]
    c0, c1 = max(math.floor(min(cols)), 0), min(math.ceil(max(cols)), width)
    r0, r1 = max(math.floor(min(rows)), 0), min(math.ceil(max(rows)), height)
    if c0 >= c1 or r0 >= r1:
        return EMPTY_WINDOW, np.zeros((0, 0), dtype=np.float32)
    h, w = r1 - r0, c1 - c0
    fine = geobox.affine @ Affine.translation(c0, r0) @ Affine.scale(1.0 / supersample)
    mask = features.rasterize(
        [(geom_utm, 1)], out_shape=(h * supersample, w * supersample), transform=fine, fill=0, dtype="uint8"
    )
    weights = mask.reshape(h, supersample, w, supersample).mean(axis=(1, 3), dtype=np.float64)
    return (slice(r0, r1), slice(c0, c1)), weights.astype(np.float32)


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """Quantiles of ``values`` weighted by ``weights`` (NaN values and zero weights ignored; all-NaN -> NaN).

    Each value sits at the centre of its weight on the cumulative-weight axis; quantiles interpolate
    linearly."""
    v = np.asarray(values, dtype=np.float64).ravel()
    w = np.asarray(weights, dtype=np.float64).ravel()
    keep = np.isfinite(v) & (w > 0)
    if not keep.any():
        return np.full(len(quantiles), np.nan)
    v, w = v[keep], w[keep]
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    position = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(np.asarray(quantiles, dtype=np.float64), position, v)


def _stat_vars(composites: xr.Dataset) -> list[str]:
    return band_names(composites) + [n for n in INDEX_NAMES if n in composites]


def _period_scenes(
    scenes: Sequence[SceneRecord] | None, lo: pd.Timestamp, hi: pd.Timestamp
) -> tuple[list[str], list[str], list[str]]:
    """Used scene ids, their baselines, and ``id (reason)`` of failed scenes dated in ``[lo, hi)``."""

    def when(scene: SceneRecord) -> pd.Timestamp:
        stamp = pd.Timestamp(scene.datetime)  # naive UTC, like the composites' time axis
        return stamp.tz_convert(None) if stamp.tzinfo else stamp

    inside = [s for s in scenes or [] if lo <= when(s) < hi]
    used = [s for s in inside if s.used]
    failed = [f"{s.id} ({s.reason})" for s in inside if s.failed]
    return [s.id for s in used], sorted({s.processing_baseline for s in used if s.processing_baseline}), failed


def plot_statistics(
    composites: xr.Dataset,
    plots: gpd.GeoDataFrame,
    scenes: Sequence[SceneRecord] | None = None,
    *,
    min_clear_fraction: float = DEFAULT_MIN_CLEAR_FRACTION,
) -> pd.DataFrame:
    """One row per plot x period: coverage-weighted ``<var>_median``, ``<var>_p10``, ``<var>_p90`` of every
    band and index, ``clear_fraction`` (share of the plot's coverage weight with an observed clear composite),
    ``filled_fraction`` (share gap-filled), ``n_obs`` (weighted median), ``grid_fraction`` (share of the plot
    on the grid), ``scene_ids`` and ``baselines`` of the used scenes dated in the period, ``status`` (``ok``,
    ``partly_outside_grid``, ``too_few_clear_observations`` (``clear_fraction < min_clear_fraction``; values
    may be gap-filled), ``no_clear_observation``, ``outside_grid``, ``empty_geometry``) and ``reason`` (empty
    when ``ok``; names failed scenes of the period). Values are NaN where nothing was observed or filled;
    nothing is filled with zeros."""
    if not 0.0 <= min_clear_fraction <= 1.0:
        raise InvalidInput(f"min_clear_fraction must be in [0, 1], got {min_clear_fraction}.")
    if "plot_id" not in plots.columns:
        raise InvalidInput("plots need a 'plot_id' column.")
    if plots.crs is None:
        raise InvalidInput("plots have no CRS; set it (plots.geojson is EPSG:4326) before computing statistics.")
    if "period" not in composites.dims:
        raise InvalidInput("composites need a 'period' dimension (see agrisense.imagery.composite.composites).")
    geobox = composites.odc.geobox
    if geobox is None:
        raise InvalidInput("composites carry no CRS/grid (spatial_ref); build them with agrisense.imagery.")
    names = _stat_vars(composites)
    arrays = {n: np.asarray(composites[n].values, dtype=np.float32) for n in names}
    n_obs = np.asarray(composites["n_obs"].values) if "n_obs" in composites else None
    filled = np.asarray(composites["filled"].values) if "filled" in composites else None
    starts = pd.DatetimeIndex(composites["period"].values)
    bounds = period_bounds(starts, str(composites.attrs.get(PERIOD_FREQ_ATTR, "1MS")))
    provenance = [_period_scenes(scenes, lo, hi) for lo, hi in bounds]
    pixel_area = abs(geobox.affine.a * geobox.affine.e - geobox.affine.b * geobox.affine.d)
    reference = arrays[names[0]]

    rows: list[dict[str, object]] = []
    for plot_id, geom in zip(plots["plot_id"], plots.to_crs(geobox.crs.to_wkt()).geometry, strict=True):
        window, weights = plot_coverage(geom, geobox)
        total = float(weights.sum())
        grid_fraction = total * pixel_area / geom.area if geom is not None and not geom.is_empty else 0.0
        for p, start in enumerate(starts):
            row: dict[str, object] = {"plot_id": plot_id, "period_start": start}
            finite = np.isfinite(reference[p][window]) if total else np.zeros((0, 0), bool)
            observed = finite & (n_obs[p][window] > 0) if n_obs is not None and total else finite
            for name in names:
                values = arrays[name][p][window]
                qs = weighted_quantiles(values, weights, list(QUANTILES.values())) if total else [np.nan] * 3
                row.update({f"{name}_{label}": float(q) for label, q in zip(QUANTILES, qs, strict=True)})
            clear_fraction = float((weights * observed).sum() / total) if total else 0.0
            row["clear_fraction"] = clear_fraction
            was_filled = filled[p][window] if filled is not None and total else np.zeros_like(finite)
            row["filled_fraction"] = float((weights * was_filled).sum() / total) if total else 0.0
            if n_obs is not None and total:
                row["n_obs"] = int(round(weighted_quantiles(n_obs[p][window], weights, [0.5])[0]))
            else:
                row["n_obs"] = 0
            row["grid_fraction"] = min(grid_fraction, 1.0)
            row["scene_ids"], row["baselines"], failed = provenance[p]
            any_value = bool((weights * finite).sum() > 0)
            status, reason = _status(geom, total, grid_fraction, any_value, clear_fraction, min_clear_fraction)
            if failed and status != "ok":
                reason += f"; failed scenes in the period: {', '.join(failed)}"
            row["status"], row["reason"] = status, reason
            rows.append(row)
    return pd.DataFrame(rows)


def _status(
    geom: BaseGeometry | None,
    total: float,
    grid_fraction: float,
    any_value: bool,
    clear_fraction: float,
    min_clear_fraction: float,
) -> tuple[str, str]:
    if geom is None or geom.is_empty:
        return "empty_geometry", "the plot geometry is empty"
    if total == 0:
        return "outside_grid", "the plot lies outside the imagery grid"
    if not any_value:
        return "no_clear_observation", "no clear observation of the plot in the period (cloud, nodata or failed reads)"
    if clear_fraction < min_clear_fraction:
        return (
            "too_few_clear_observations",
            f"only {clear_fraction:.0%} of the plot had a clear observation (minimum {min_clear_fraction:.0%});"
            " the rest is gap-filled or missing",
        )
    if grid_fraction < 0.99:
        return "partly_outside_grid", f"only {grid_fraction:.0%} of the plot lies on the imagery grid"
    return "ok", ""
