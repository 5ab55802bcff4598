"""On-disk cache of computed composites per region tile and season (Zarr), so that a new plot in an area
already seen needs no imagery reads.

Tiles are a fixed grid per UTM zone: squares of ``TILE_SIZE_M`` aligned to the CRS origin, loaded with a
``TILE_PAD_M`` margin so plots near a tile edge still lie on the grid. Every plot in one tile shares one cache
entry. An entry is named by the catalog identity, the exact geobox, the dates, the period, the bands, the
loading parameters and :data:`CACHE_VERSION`, and is valid only for the STAC items it was built from: every call
runs the (cheap) catalog search for the tile and compares :func:`scene_fingerprint` of the hits (item ids and
``updated``/``created`` timestamps) with the one stored in the entry. A new or reprocessed scene therefore rebuilds
exactly the tiles it touches; a warm tile still reads no pixels. When the catalog cannot be reached, an existing
entry is served as it is (logged), so a cached area keeps working offline.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox

from agrisense.errors import ImageryUnavailable, InvalidInput
from agrisense.imagery.catalog import SceneSource, open_source
from agrisense.imagery.indices import INDEX_NAMES, add_indices
from agrisense.imagery.load import ALL_BANDS, DEFAULT_MIN_SCENE_CLEAR
from agrisense.imagery.scenes import SCENE_RECORDS_ATTR, records_from_json, records_to_json
from agrisense.imagery.timeseries import CompositeResult, SceneNdvi, build_composites

log = logging.getLogger(__name__)

CACHE_VERSION = "composites-v3"  # v3: indices masked where a reflectance is <= 0, clipped to range
"""Bump whenever loading, masking or compositing changes what a cached entry would hold."""
TILE_SIZE_M = 2560.0
TILE_PAD_M = 320.0
KEY_ATTR = "agrisense_cache_key"
SCENES_ATTR = "agrisense_scene_fingerprint"
SCENE_NDVI_VAR, SCENE_DAY_COORD = "scene_ndvi", "scene_day"  # (scene, y, x) beside the composites, read apart
_CHUNK_PX = 128


@dataclass(frozen=True)
class TileKey:
    """A block of grid tiles ``ix0..ix1`` x ``iy0..iy1`` (inclusive) in UTM zone ``epsg``; usually one tile."""

    epsg: int
    ix0: int
    iy0: int
    ix1: int
    iy1: int
    tile_m: float = TILE_SIZE_M
    pad_m: float = TILE_PAD_M

    @property
    def name(self) -> str:
        """Short id, e.g. ``32636_193_97`` (one tile) or ``32636_193_97_194_97`` (a block)."""
        corners = (
            (self.ix0, self.iy0)
            if (self.ix0, self.iy0) == (self.ix1, self.iy1)
            else (self.ix0, self.iy0, self.ix1, self.iy1)
        )
        return "_".join(str(v) for v in (self.epsg, *corners))

    def geobox(self, resolution: float = 10.0) -> GeoBox:
        """The padded tile (block) as a north-up GeoBox with pixel edges on multiples of ``resolution``."""
        bounds = (
            self.ix0 * self.tile_m - self.pad_m,
            self.iy0 * self.tile_m - self.pad_m,
            (self.ix1 + 1) * self.tile_m + self.pad_m,
            (self.iy1 + 1) * self.tile_m + self.pad_m,
        )
        return GeoBox.from_bbox(bounds, f"EPSG:{self.epsg}", resolution=resolution, anchor="edge")


def tile_for_bounds(
    bounds: tuple[float, float, float, float],
    epsg: int,
    *,
    tile_m: float = TILE_SIZE_M,
    pad_m: float = TILE_PAD_M,
) -> TileKey:
    """The tile of a geometry with ``bounds`` (in ``EPSG:epsg`` metres): the tile holding its centre when
    the geometry fits that tile's padded box, else the block of tiles covering it."""
    x0, y0, x1, y1 = bounds
    if not all(math.isfinite(v) for v in bounds) or x1 < x0 or y1 < y0:
        raise InvalidInput(f"bounds {bounds!r} are not (minx, miny, maxx, maxy) in metres.")
    if tile_m <= 0 or pad_m < 0:
        raise InvalidInput(f"tile_m must be > 0 and pad_m >= 0, got {tile_m} and {pad_m}.")
    ix, iy = math.floor((x0 + x1) / 2 / tile_m), math.floor((y0 + y1) / 2 / tile_m)
    fits = (
        x0 >= ix * tile_m - pad_m
        and x1 <= (ix + 1) * tile_m + pad_m
        and y0 >= iy * tile_m - pad_m
        and y1 <= (iy + 1) * tile_m + pad_m
    )
    if fits:
        return TileKey(epsg, ix, iy, ix, iy, tile_m, pad_m)
    return TileKey(
        epsg,
        math.floor(x0 / tile_m),
        math.floor(y0 / tile_m),
        math.floor(x1 / tile_m),
        math.floor(y1 / tile_m),
        tile_m,
        pad_m,
    )


def cache_key(
    source_identity: str,
    geobox: GeoBox,
    start: date,
    end: date,
    *,
    period: str,
    bands: Sequence[str],
    min_scene_clear: float,
    max_cloud: float | None,
    max_gap_periods: int,
) -> str:
    """Hex digest naming one cache entry (everything that changes the composites, and the code version)."""
    crs = geobox.crs
    if crs is None:
        raise InvalidInput("the geobox has no CRS; build it with agrisense.imagery.grid.region_geobox.")
    parts = {
        "version": CACHE_VERSION,
        "source": source_identity,
        "crs": f"EPSG:{crs.epsg}" if crs.epsg else crs.wkt,
        "affine": [round(v, 6) for v in tuple(geobox.affine)[:6]],
        "shape": list(geobox.shape.yx),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "period": period,
        "bands": list(bands),
        "min_scene_clear": min_scene_clear,
        "max_cloud": max_cloud,
        "max_gap_periods": max_gap_periods,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def scene_fingerprint(items: Sequence[pystac.Item]) -> str:
    """Hex digest of the STAC items a search returned: ids and ``updated`` (else ``created``) timestamps, in any
    order. A new, removed or reprocessed scene changes it."""
    stamps = sorted(
        (item.id, str(item.properties.get("updated") or item.properties.get("created") or "")) for item in items
    )
    return hashlib.sha256(json.dumps(stamps).encode()).hexdigest()[:32]


def search_tile(
    source: SceneSource, geobox: GeoBox, start: date, end: date, *, max_cloud: float | None = None
) -> list[pystac.Item]:
    """The catalog search that :func:`~agrisense.imagery.timeseries.build_composites` runs for ``geobox``
    (metadata only, no pixel reads). ImageryUnavailable when no scene matches or the catalog is unreachable."""
    bbox = geobox.geographic_extent.boundingbox
    return source.search((bbox.left, bbox.bottom, bbox.right, bbox.top), start, end, max_cloud=max_cloud)


class _Replay(SceneSource):
    """A source that answers the one search already made with its items (no second catalog request)."""

    def __init__(self, inner: SceneSource, items: list[pystac.Item], query: tuple[Any, ...]):
        self.inner, self.items, self.query, self.collection = inner, items, query, inner.collection

    @property
    def identity(self) -> str:
        return self.inner.identity

    def search(
        self, bbox_lonlat: tuple[float, float, float, float], start: date, end: date, max_cloud: float | None = None
    ) -> list[pystac.Item]:
        if (tuple(bbox_lonlat), start, end, max_cloud) == self.query:
            return self.items
        return self.inner.search(bbox_lonlat, start, end, max_cloud)


def _read(path: Path, key: str, scenes: str | None) -> CompositeResult | None:
    """The entry at ``path`` if it holds ``key`` and was built from ``scenes`` (None: any scenes)."""
    try:
        with xr.open_zarr(path, consolidated=False) as stored:
            if stored.attrs.get(KEY_ATTR) != key:
                return None
            if scenes is not None and stored.attrs.get(SCENES_ATTR) != scenes:
                log.info("composite cache entry %s is stale: the catalog's scenes changed", path.name)
                return None
            ds = stored.drop_vars([SCENE_NDVI_VAR, SCENE_DAY_COORD], errors="ignore").load()
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable composite cache entry %s (%s)", path, exc)
        return None
    records = records_from_json(ds.attrs.pop(SCENE_RECORDS_ATTR))
    ds.attrs.pop(KEY_ATTR)
    ds.attrs.pop(SCENES_ATTR, None)
    return CompositeResult(composites=add_indices(ds), scenes=records)


def _write(result: CompositeResult, path: Path, key: str, scenes: str) -> None:
    comp = result.composites
    ds = comp.drop_vars([n for n in INDEX_NAMES if n in comp])  # recomputed on read: bit-identical, smaller
    ds.attrs = {
        **comp.attrs,
        KEY_ATTR: key,
        SCENES_ATTR: scenes,
        SCENE_RECORDS_ATTR: records_to_json(result.scenes),
    }
    if result.scene_ndvi is not None:
        days = np.asarray(result.scene_ndvi.days, dtype="datetime64[D]")
        ds[SCENE_NDVI_VAR] = xr.DataArray(
            result.scene_ndvi.values, dims=("scene", "y", "x"), coords={"y": ds.y, "x": ds.x}
        )
        ds = ds.assign_coords({SCENE_DAY_COORD: ("scene", days)})
    chunks = {"period": -1, "scene": -1, "y": _CHUNK_PX, "x": _CHUNK_PX}
    ds = ds.chunk({d: c for d, c in chunks.items() if d in ds.dims})
    for name in ds.variables:
        ds[name].encoding = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        ds.to_zarr(tmp, mode="w", consolidated=False)
        if path.is_dir():  # a stale entry (older scenes): move it aside, then swap the new one in
            old = path.with_name(f".{path.name}.{uuid.uuid4().hex}.old")
            with contextlib.suppress(OSError):
                os.replace(path, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, path)  # atomic; a concurrent writer of the same key wrote the same content
    except OSError:
        if not path.exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_scene_ndvi(cache_dir: str | Path, entry: str, window: tuple[slice, slice] | None = None) -> SceneNdvi | None:
    """The per-scene NDVI kept in the cache entry ``entry`` (an id :func:`build_composites_keyed` returned), cut
    to the pixel ``window`` (rows, cols) of the tile; None when the entry is gone, rebuilt from other scenes, or
    was written before per-scene NDVI was kept (then read the scenes)."""
    key, _, scenes = entry.partition("-")
    path = Path(cache_dir) / f"{key}.zarr"
    if not path.is_dir():
        return None
    try:
        with xr.open_zarr(path, consolidated=False) as stored:
            if stored.attrs.get(KEY_ATTR) != key or stored.attrs.get(SCENES_ATTR) != scenes:
                return None
            if SCENE_NDVI_VAR not in stored:
                return None
            ndvi = stored[SCENE_NDVI_VAR]
            if window is not None:
                ndvi = ndvi.isel(y=window[0], x=window[1])
            values = np.asarray(ndvi.values, dtype=np.float32)
            days = tuple(pd.Timestamp(d).date() for d in stored[SCENE_DAY_COORD].values)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable per-scene NDVI in cache entry %s (%s)", path, exc)
        return None
    return SceneNdvi(values, days)


def build_composites_keyed(
    source: SceneSource | str,
    geobox: GeoBox,
    start: date,
    end: date,
    *,
    cache_dir: str | Path,
    period: str = "1MS",
    bands: Sequence[str] = ALL_BANDS,
    min_scene_clear: float = DEFAULT_MIN_SCENE_CLEAR,
    max_cloud: float | None = None,
    max_gap_periods: int = 1,
    gdal_env: Mapping[str, Any] | None = None,
) -> tuple[CompositeResult, str]:
    """:func:`build_composites_cached` and the id of the cache entry's content (the entry key + the scene
    fingerprint): equal ids mean identical composites, so derived products (model probabilities) can be cached
    under it.

    :func:`~agrisense.imagery.timeseries.build_composites`, served from ``cache_dir`` when an entry with
    the same key was built from the same STAC items (one catalog search, no imagery read), else built and stored
    (Zarr, one directory per key, written atomically). Use a tile geobox (:meth:`TileKey.geobox`) so nearby
    plots share entries. When the catalog cannot be searched, an existing entry is served as it is."""
    src = open_source(source) if isinstance(source, str) else source
    key = cache_key(
        src.identity,
        geobox,
        start,
        end,
        period=period,
        bands=bands,
        min_scene_clear=min_scene_clear,
        max_cloud=max_cloud,
        max_gap_periods=max_gap_periods,
    )
    path = Path(cache_dir) / f"{key}.zarr"
    try:
        items = search_tile(src, geobox, start, end, max_cloud=max_cloud)
    except ImageryUnavailable:
        offline = _read(path, key, None) if path.is_dir() else None
        if offline is None:
            raise
        log.warning("catalog search failed for cached tile %s; serving the cached composites", path.name)
        return offline, f"{key}-{_stored_scenes(path)}"
    scenes = scene_fingerprint(items)
    if path.is_dir():
        cached = _read(path, key, scenes)
        if cached is not None:
            return cached, f"{key}-{scenes}"
    bbox = geobox.geographic_extent.boundingbox
    query = ((bbox.left, bbox.bottom, bbox.right, bbox.top), start, end, max_cloud)
    result = build_composites(
        _Replay(src, items, query),
        geobox,
        start,
        end,
        period=period,
        bands=bands,
        min_scene_clear=min_scene_clear,
        max_cloud=max_cloud,
        max_gap_periods=max_gap_periods,
        gdal_env=gdal_env,
    )
    _write(result, path, key, scenes)
    return result, f"{key}-{scenes}"


def build_composites_cached(
    source: SceneSource | str,
    geobox: GeoBox,
    start: date,
    end: date,
    *,
    cache_dir: str | Path,
    period: str = "1MS",
    bands: Sequence[str] = ALL_BANDS,
    min_scene_clear: float = DEFAULT_MIN_SCENE_CLEAR,
    max_cloud: float | None = None,
    max_gap_periods: int = 1,
    gdal_env: Mapping[str, Any] | None = None,
) -> CompositeResult:
    """:func:`~agrisense.imagery.timeseries.build_composites`, served from ``cache_dir`` when an entry with
    the same key was built from the same STAC items (one catalog search, no imagery read), else built and stored
    (Zarr, one directory per key, written atomically). Use a tile geobox (:meth:`TileKey.geobox`) so nearby
    plots share entries. When the catalog cannot be searched, an existing entry is served as it is."""
    result, _ = build_composites_keyed(
        source,
        geobox,
        start,
        end,
        cache_dir=cache_dir,
        period=period,
        bands=bands,
        min_scene_clear=min_scene_clear,
        max_cloud=max_cloud,
        max_gap_periods=max_gap_periods,
        gdal_env=gdal_env,
    )
    return result


def _stored_scenes(path: Path) -> str:
    try:
        with xr.open_zarr(path, consolidated=False) as stored:
            return str(stored.attrs.get(SCENES_ATTR, "unknown"))
    except (OSError, ValueError, KeyError):
        return "unknown"


__all__ = [
    "CACHE_VERSION",
    "TILE_PAD_M",
    "TILE_SIZE_M",
    "TileKey",
    "build_composites_cached",
    "build_composites_keyed",
    "cache_key",
    "scene_fingerprint",
    "search_tile",
    "tile_for_bounds",
]
