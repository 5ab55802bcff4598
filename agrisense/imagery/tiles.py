"""Web-mercator map tiles (256 px PNG) of a region's composites: the pixels the scoring path scored.

The composites cache (:mod:`agrisense.imagery.cache`) holds one Zarr entry per 2560 m UTM grid tile. A map tile is
rendered from the entries it overlaps, read-only: :func:`warm_region_tiles` fills the cache for the whole region
(the server runs it once at start, in a background thread), so a tile request never loads imagery itself.

Two layers, both per-pixel and therefore seamless across cache entries:

* ``truecolor``: red/green/blue of each pixel's greenest clear month of the season (the month of its highest
  NDVI, a "quality mosaic"), fixed stretch, so fields look like fields at the height of the season;
* ``ndvi``: each pixel's season-peak NDVI on a brown-yellow-green ramp.

No data (outside the region, or never clear) is transparent.
"""

from __future__ import annotations

import io
import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import xarray as xr
from affine import Affine
from PIL import Image
from rasterio.crs import CRS
from rasterio.warp import Resampling, reproject, transform_bounds

from agrisense.config import Settings
from agrisense.errors import ImageryUnavailable, InvalidInput
from agrisense.imagery.cache import KEY_ATTR, TILE_PAD_M, TILE_SIZE_M, TileKey, build_composites_cached, cache_key
from agrisense.imagery.catalog import open_source
from agrisense.imagery.load import ALL_BANDS, DEFAULT_MIN_SCENE_CLEAR
from agrisense.region import Region, load_region

log = logging.getLogger(__name__)

Layer = Literal["truecolor", "ndvi"]
LAYERS: tuple[Layer, ...] = ("truecolor", "ndvi")
TILE_PX = 256
MAX_ZOOM = 20
"""Deepest zoom served (~0.15 m per pixel at the equator): enough to draw a plot edge with a finger."""

WEB_MERCATOR = CRS.from_epsg(3857)
_HALF_WORLD_M = math.pi * 6378137.0

TRUECOLOR_MAX_REFLECTANCE = 0.25
"""Reflectance shown as full brightness; the stretch is fixed (not per tile) so neighbouring tiles match."""
TRUECOLOR_GAMMA = 1.4

NDVI_RAMP: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (-0.2, (120, 80, 50)),
    (0.1, (176, 132, 80)),
    (0.25, (230, 205, 110)),
    (0.4, (196, 222, 110)),
    (0.55, (120, 190, 80)),
    (0.7, (50, 150, 60)),
    (0.85, (10, 95, 40)),
)
"""NDVI -> colour stops (bare soil brown, sparse yellow, dense crop dark green), linear in between."""

_PNG_CACHE_SIZE = 512


@dataclass(frozen=True)
class EntryLayers:
    """One cache entry's unpadded core as display layers (float32, NaN = no data) on its UTM grid."""

    truecolor: np.ndarray  # (3, H, W) reflectance of the greenest clear month
    ndvi: np.ndarray  # (H, W) season-peak NDVI
    transform: Affine
    crs: CRS


def tile_bounds_3857(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) in EPSG:3857 metres of XYZ tile ``z/x/y``."""
    if not 0 <= z <= MAX_ZOOM or not 0 <= x < 2**z or not 0 <= y < 2**z:
        raise InvalidInput(f"tile {z}/{x}/{y} does not exist: zoom 0..{MAX_ZOOM}, x and y in 0..2^zoom - 1.")
    size = 2 * _HALF_WORLD_M / 2**z
    left, top = -_HALF_WORLD_M + x * size, _HALF_WORLD_M - y * size
    return left, top - size, left + size, top


def region_grid(region: Region) -> list[TileKey]:
    """The composites-cache grid tiles (single tiles, as the scoring path keys them) covering the region."""
    crs = CRS.from_user_input(region.crs)
    epsg = crs.to_epsg()
    if epsg is None:
        raise InvalidInput(f"region CRS {region.crs} has no EPSG code; regions use a UTM zone (EPSG:326xx/327xx).")
    x0, y0, x1, y1 = region.bbox_utm
    ixs = range(math.floor(x0 / TILE_SIZE_M), math.floor((x1 - 1e-6) / TILE_SIZE_M) + 1)
    iys = range(math.floor(y0 / TILE_SIZE_M), math.floor((y1 - 1e-6) / TILE_SIZE_M) + 1)
    return [TileKey(epsg, ix, iy, ix, iy) for iy in iys for ix in ixs]


def _entry_path(settings: Settings, region: Region, tile: TileKey) -> tuple[Path, str]:
    """Where the scoring path stores (or would store) ``tile``'s composites, and the entry's key."""
    source = open_source(settings.catalog_source)  # cheap: the identity needs no catalog read
    key = cache_key(
        source.identity,
        tile.geobox(region.resolution),
        region.imagery_start,
        region.imagery_end,
        period="1MS",
        bands=ALL_BANDS,
        min_scene_clear=DEFAULT_MIN_SCENE_CLEAR,
        max_cloud=None,
        max_gap_periods=1,
    )
    return settings.cache_dir / "composites" / f"{key}.zarr", key


def warm_region_tiles(settings: Settings, stop: threading.Event | None = None) -> int:
    """Build (or find) the cached composites of every grid tile of the region, exactly as scoring would; returns
    how many tiles have imagery. Tiles without usable imagery are logged and skipped. Slow on a cold cache (it
    loads imagery): run it in the background. A set ``stop`` ends it before the next tile."""
    region = load_region(settings.region_dir)
    ready = 0
    for tile in region_grid(region):
        if stop is not None and stop.is_set():
            break
        try:
            build_composites_cached(
                settings.catalog_source,
                tile.geobox(region.resolution),
                region.imagery_start,
                region.imagery_end,
                cache_dir=settings.cache_dir / "composites",
            )
        except ImageryUnavailable as exc:
            log.warning("map tiles: no imagery for cache tile %s (%s)", tile.name, exc)
            continue
        ready += 1
    _clear_memory_caches()
    return ready


_warmers: dict[tuple[str, str, str], tuple[threading.Thread, threading.Event]] = {}
_warmers_lock = threading.Lock()


def _warm_key(settings: Settings) -> tuple[str, str, str]:
    return str(settings.region_dir), settings.catalog_source, str(settings.cache_dir)


def start_warming(settings: Settings) -> threading.Thread:
    """:func:`warm_region_tiles` in a daemon thread, at most once per region, catalog and cache folder per process
    (an already started warmer is returned); errors are logged, never raised. :func:`stop_warming` ends it."""
    stop = threading.Event()

    def run() -> None:
        try:
            n = warm_region_tiles(settings, stop)
            log.info("map tiles: %d cache tiles ready for %s", n, settings.region_dir)
        except Exception:  # a broken region must not take the server down; tiles stay empty and it is logged
            log.exception("map tiles: warming the imagery cache failed")

    with _warmers_lock:
        key = _warm_key(settings)
        if key not in _warmers or _warmers[key][1].is_set():  # none yet, or one told to stop
            thread = threading.Thread(target=run, name="agrisense-warm-tiles", daemon=True)
            _warmers[key] = (thread, stop)
            thread.start()
        return _warmers[key][0]


def stop_warming(settings: Settings, timeout: float = 30.0) -> bool:
    """Ask this process's warmer for ``settings``' region to stop after its current tile and wait up to ``timeout``
    seconds (the service's shutdown: no imagery thread outlives the app); True when none is left running. A later
    :func:`tiles_ready` starts a fresh one where tiles are still missing."""
    with _warmers_lock:
        entry = _warmers.get(_warm_key(settings))
    if entry is None:
        return True
    thread, stop = entry
    stop.set()
    thread.join(timeout)
    if thread.is_alive():
        return False
    with _warmers_lock:
        if _warmers.get(_warm_key(settings)) is entry:
            del _warmers[_warm_key(settings)]
    return True


def tiles_ready(settings: Settings) -> bool:
    """True when every cache entry of the region is on disk, or this process's warmer has finished (tiles without
    imagery stay empty); starts the warmer otherwise. A map tile rendered while this is False may fill in later."""
    with _warmers_lock:
        warmer = _warmers.get(_warm_key(settings))
    if warmer is not None and not warmer[0].is_alive() and not warmer[1].is_set():
        return True
    region = load_region(settings.region_dir)
    if all(_entry_path(settings, region, t)[0].is_dir() for t in region_grid(region)):
        return True
    start_warming(settings)
    return False


def entry_layers(composites: xr.Dataset, pad_px: int = 0) -> EntryLayers:
    """Display layers of one composites Dataset (dims period, y, x; bands red green blue nir), cropped by
    ``pad_px`` on each side."""
    missing = [b for b in ("red", "green", "blue", "nir") if b not in composites]
    if missing:
        raise InvalidInput(f"composites lack bands {missing}; rebuild the cache with the default bands.")
    core = composites.isel(
        y=slice(pad_px, composites.sizes["y"] - pad_px), x=slice(pad_px, composites.sizes["x"] - pad_px)
    )
    red, green, blue, nir = (core[b].values.astype(np.float32) for b in ("red", "green", "blue", "nir"))
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (nir - red) / (nir + red)
    ndvi[~np.isfinite(ndvi) | np.isnan(green) | np.isnan(blue)] = np.nan
    has_data = ~np.all(np.isnan(ndvi), axis=0)
    best = np.argmax(np.where(np.isnan(ndvi), -np.inf, ndvi), axis=0)
    pick = best[None, None]
    rgb = np.take_along_axis(np.stack([red, green, blue]), np.broadcast_to(pick, (3, 1, *best.shape)), axis=1)[:, 0]
    rgb[:, ~has_data] = np.nan
    peak = np.where(has_data, np.take_along_axis(ndvi, best[None], axis=0)[0], np.nan).astype(np.float32)
    geobox = core.odc.geobox
    return EntryLayers(rgb.astype(np.float32), peak, geobox.affine, CRS.from_user_input(str(geobox.crs)))


_entries_lock = threading.Lock()
_entries: OrderedDict[str, EntryLayers] = OrderedDict()
_pngs: OrderedDict[tuple[object, ...], bytes | None] = OrderedDict()


def _clear_memory_caches() -> None:
    with _entries_lock:
        _entries.clear()
        _pngs.clear()


def _load_entry(path: Path, key: str, pad_px: int) -> EntryLayers | None:
    """The entry's display layers, or None while it is not (yet) in the cache."""
    memo = f"{path}#{key}"
    with _entries_lock:
        if memo in _entries:
            _entries.move_to_end(memo)
            return _entries[memo]
    if not path.is_dir():
        return None
    try:
        with xr.open_zarr(path, consolidated=False) as stored:
            if stored.attrs.get(KEY_ATTR) != key:
                return None
            layers = entry_layers(stored[["red", "green", "blue", "nir"]].load(), pad_px)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("map tiles: unreadable cache entry %s (%s)", path, exc)
        return None
    with _entries_lock:
        _entries[memo] = layers
        while len(_entries) > 128:
            _entries.popitem(last=False)
    return layers


def _colourise(layer: Layer, values: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 RGBA from reprojected layer values (NaN -> transparent)."""
    if layer == "truecolor":
        valid = ~np.isnan(values).any(axis=0)
        scaled = np.clip(np.nan_to_num(values) / TRUECOLOR_MAX_REFLECTANCE, 0, 1) ** (1 / TRUECOLOR_GAMMA)
        rgb = np.moveaxis(np.round(scaled * 255), 0, -1).astype(np.uint8)
    else:
        band = values[0]
        valid = ~np.isnan(band)
        stops = np.array([s for s, _ in NDVI_RAMP])
        colours = np.array([c for _, c in NDVI_RAMP], dtype=np.float64)
        v = np.nan_to_num(band)
        rgb = np.stack([np.interp(v, stops, colours[:, i]) for i in range(3)], axis=-1).round().astype(np.uint8)
    alpha = np.where(valid, 255, 0).astype(np.uint8)
    return np.concatenate([rgb * valid[..., None], alpha[..., None]], axis=-1)


def encode_png(rgba: np.ndarray) -> bytes:
    """RGBA (H, W, 4) uint8 -> PNG bytes (zlib level 6: most of level 9's size at a fraction of its time)."""
    buf = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def render_tile(layer: Layer, z: int, x: int, y: int, *, settings: Settings) -> bytes | None:
    """A 256 px PNG of ``layer`` at web-mercator tile ``z/x/y`` from the region's cached composites (the pixels
    that were scored); None where the region has no imagery in that tile, or while its cache is still cold."""
    if layer not in LAYERS:
        raise InvalidInput(f"unknown map layer {layer!r}; use one of {', '.join(LAYERS)}.")
    bounds = tile_bounds_3857(z, x, y)
    region = load_region(settings.region_dir)
    region_crs = CRS.from_user_input(region.crs)
    ux0, uy0, ux1, uy1 = transform_bounds(WEB_MERCATOR, region_crs, *bounds, densify_pts=21)
    rx0, ry0, rx1, ry1 = region.bbox_utm
    if ux0 >= rx1 or ux1 <= rx0 or uy0 >= ry1 or uy1 <= ry0:
        return None
    tiles = [
        t
        for t in region_grid(region)
        if t.ix0 * TILE_SIZE_M < ux1
        and (t.ix0 + 1) * TILE_SIZE_M > ux0
        and t.iy0 * TILE_SIZE_M < uy1
        and (t.iy0 + 1) * TILE_SIZE_M > uy0
    ]
    entries = [_entry_path(settings, region, t) for t in tiles]
    memo = (layer, z, x, y, str(settings.region_dir), tuple(str(p) for p, _ in entries))
    with _entries_lock:
        if memo in _pngs:
            _pngs.move_to_end(memo)
            return _pngs[memo]
    pad_px = round(TILE_PAD_M / region.resolution)
    left, bottom, right, top = bounds
    dst_transform = Affine.translation(left, top) * Affine.scale((right - left) / TILE_PX, -(top - bottom) / TILE_PX)
    ground_px_m = (right - left) / TILE_PX * math.cos(math.radians(region.bbox_lonlat[1]))
    resampling = Resampling.nearest if ground_px_m < region.resolution else Resampling.average
    bands = 3 if layer == "truecolor" else 1
    out = np.full((bands, TILE_PX, TILE_PX), np.nan, dtype=np.float32)
    complete = True
    for path, key in entries:
        layers = _load_entry(path, key, pad_px)
        if layers is None:
            complete = False
            continue
        src = layers.truecolor if layer == "truecolor" else layers.ndvi[None]
        part = np.full_like(out, np.nan)
        reproject(
            src,
            part,
            src_transform=layers.transform,
            src_crs=layers.crs,
            src_nodata=np.nan,
            dst_transform=dst_transform,
            dst_crs=WEB_MERCATOR,
            dst_nodata=np.nan,
            resampling=resampling,
        )
        out = np.where(np.isnan(out), part, out)
    png = None if np.isnan(out).all() else encode_png(_colourise(layer, out))
    if complete:  # a tile rendered from a cold cache is not remembered: it fills in once warm
        with _entries_lock:
            _pngs[memo] = png
            while len(_pngs) > _PNG_CACHE_SIZE:
                _pngs.popitem(last=False)
    return png


__all__ = [
    "LAYERS",
    "MAX_ZOOM",
    "EntryLayers",
    "Layer",
    "encode_png",
    "entry_layers",
    "region_grid",
    "render_tile",
    "start_warming",
    "stop_warming",
    "tile_bounds_3857",
    "tiles_ready",
    "warm_region_tiles",
]
