"""On-disk cache of computed composites per region tile and season (Zarr), so that a new plot in an area
already seen needs no imagery reads.

Tiles are a fixed grid per UTM zone: squares of ``TILE_SIZE_M`` aligned to the CRS origin, loaded with a
``TILE_PAD_M`` margin so plots near a tile edge still lie on the grid. Every plot in one tile shares one cache
entry. An entry is keyed by the catalog identity, the exact geobox, the dates, the period, the bands, the
loading parameters and :data:`CACHE_VERSION`; the key is computed without touching the catalog.
"""

from __future__ import annotations

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

import xarray as xr
from odc.geo.geobox import GeoBox

from agrisense.errors import InvalidInput
from agrisense.imagery.catalog import SceneSource, open_source
from agrisense.imagery.indices import INDEX_NAMES, add_indices
from agrisense.imagery.load import ALL_BANDS, DEFAULT_MIN_SCENE_CLEAR
from agrisense.imagery.scenes import SCENE_RECORDS_ATTR, records_from_json, records_to_json
from agrisense.imagery.timeseries import CompositeResult, build_composites

log = logging.getLogger(__name__)

CACHE_VERSION = "composites-v2"
"""Bump whenever loading, masking or compositing changes what a cached entry would hold."""
TILE_SIZE_M = 2560.0
TILE_PAD_M = 320.0
KEY_ATTR = "agrisense_cache_key"
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


def _read(path: Path, key: str) -> CompositeResult | None:
    try:
        with xr.open_zarr(path, consolidated=False) as stored:
            if stored.attrs.get(KEY_ATTR) != key:
                return None
            ds = stored.load()
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable composite cache entry %s (%s)", path, exc)
        return None
    records = records_from_json(ds.attrs.pop(SCENE_RECORDS_ATTR))
    ds.attrs.pop(KEY_ATTR)
    return CompositeResult(composites=add_indices(ds), scenes=records)


def _write(result: CompositeResult, path: Path, key: str) -> None:
    comp = result.composites
    ds = comp.drop_vars([n for n in INDEX_NAMES if n in comp])  # recomputed on read: bit-identical, smaller
    ds.attrs = {**comp.attrs, KEY_ATTR: key, SCENE_RECORDS_ATTR: records_to_json(result.scenes)}
    chunks = {"period": -1, "y": _CHUNK_PX, "x": _CHUNK_PX}
    ds = ds.chunk({d: c for d, c in chunks.items() if d in ds.dims})
    for name in ds.variables:
        ds[name].encoding = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        ds.to_zarr(tmp, mode="w", consolidated=False)
        os.replace(tmp, path)  # atomic; a concurrent writer of the same key wrote the same content
    except OSError:
        if not path.exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
    the same key exists (no catalog request, no imagery read), else built and stored (Zarr, one directory per
    key, written atomically). Use a tile geobox (:meth:`TileKey.geobox`) so nearby plots share entries.

    The key does not see catalog changes at the same address: clear ``cache_dir`` after a catalog update."""
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
    if path.is_dir():
        cached = _read(path, key)
        if cached is not None:
            return cached
    result = build_composites(
        src,
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
    _write(result, path, key)
    return result


__all__ = [
    "CACHE_VERSION",
    "TILE_PAD_M",
    "TILE_SIZE_M",
    "TileKey",
    "build_composites_cached",
    "cache_key",
    "tile_for_bounds",
]
