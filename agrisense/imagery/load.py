"""Load Sentinel-2 L2A items onto a GeoBox as a lazy (Dask) cube of clear-sky surface reflectance.

One time step per solar day (items of one day are mosaicked by odc-stac), reflectance from each item's own
scale/offset rule, SCL-based clear mask, and scenes that are (nearly) all cloud dropped before compositing.
A failed read is never taken as data: odc-stac fills it with nodata (DN 0), which masks the pixel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import dask.array as da
import dask.base
import numpy as np
import odc.stac
import pystac
import rasterio
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry

from agrisense.errors import ImageryUnavailable, InvalidInput
from agrisense.imagery.masking import clear_mask
from agrisense.imagery.reflectance import parse_baseline, scale_offset
from agrisense.imagery.scenes import SCENE_RECORDS_ATTR, SceneRecord, records_from_json, records_to_json

ALL_BANDS: tuple[str, ...] = (
    "blue",
    "green",
    "red",
    "nir",
    "nir08",
    "rededge1",
    "rededge2",
    "rededge3",
    "swir16",
    "swir22",
)
"""The ten reflectance bands of the composites contract (Earth Search v1 asset names)."""
SCL_BAND = "scl"
DEFAULT_CHUNKS = {"time": 1, "x": 1024, "y": 1024}
DEFAULT_MIN_SCENE_CLEAR = 0.05

GDAL_READ_OPTIONS: dict[str, Any] = {
    "GDAL_HTTP_MAX_RETRY": 5,
    "GDAL_HTTP_RETRY_DELAY": 1,
    "GDAL_HTTP_TIMEOUT": 60,
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF",
    "GDAL_HTTP_MULTIRANGE": "YES",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "VSI_CACHE": True,
}
"""GDAL settings for reading COGs over HTTP; odc-stac carries them into every Dask task."""


@dataclass(frozen=True)
class _Group:
    """The items odc-stac fuses into one time step (same solar day, same reflectance rule)."""

    key: tuple[Any, ...]
    items: tuple[pystac.Item, ...]
    scales: tuple[float, ...]
    offsets: tuple[float, ...]


def _raster_band(item: pystac.Item, asset: str) -> Mapping[str, Any] | None:
    if asset not in item.assets:
        raise InvalidInput(
            f"STAC item {item.id!r} has no asset {asset!r} (it has {sorted(item.assets)}); "
            "load only bands the catalog provides."
        )
    bands = item.assets[asset].extra_fields.get("raster:bands") or []
    return bands[0] if bands else None


def _item_time(item: pystac.Item) -> datetime:
    when = item.datetime or item.common_metadata.start_datetime
    if when is None:
        raise InvalidInput(f"STAC item {item.id!r} has no datetime.")
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _solar_day(item: pystac.Item, lon: float) -> date:
    return (_item_time(item) + timedelta(hours=lon / 15.0)).date()


def _group_items(items: Sequence[pystac.Item], bands: Sequence[str], lon: float) -> tuple[list[_Group], list[Any]]:
    keys: list[Any] = []
    rules: dict[Any, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    members: dict[Any, list[pystac.Item]] = {}
    for item in items:
        pairs = [scale_offset(item.properties, _raster_band(item, b)) for b in bands]
        scales, offsets = tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
        key = (_solar_day(item, lon).isoformat(), scales, offsets)
        keys.append(key)
        rules[key] = (scales, offsets)
        members.setdefault(key, []).append(item)
    groups = [
        _Group(k, tuple(sorted(members[k], key=lambda it: (_item_time(it), it.id))), *rules[k]) for k in sorted(rules)
    ]
    return groups, keys


def _footprint_fraction(items: Sequence[pystac.Item], geobox: GeoBox) -> float:
    extent = geobox.extent
    crs = extent.crs
    if crs is None:
        raise InvalidInput("the geobox has no CRS; build it with agrisense.imagery.grid.region_geobox.")
    covered = None
    for item in items:
        if not item.geometry:
            return 1.0
        geom = Geometry(item.geometry, "EPSG:4326").to_crs(crs)
        covered = geom if covered is None else covered | geom
    return float((covered & extent).area / extent.area) if covered is not None else 0.0


def _record(item: pystac.Item, scale: float, offset: float) -> SceneRecord:
    baseline = item.properties.get("s2:processing_baseline")
    flag = item.properties.get("earthsearch:boa_offset_applied")
    parse_baseline(baseline)  # validates
    return SceneRecord(
        id=item.id,
        datetime=_item_time(item),
        processing_baseline=None if baseline is None else str(baseline),
        boa_offset_applied=None if flag is None else bool(flag),
        scale=scale,
        offset=offset,
        clear_fraction=0.0,
        used=False,
        failed=False,
        reason="",
    )


def load_scenes(
    items: Sequence[pystac.Item],
    geobox: GeoBox,
    bands: Sequence[str] = ALL_BANDS,
    *,
    chunks: dict[str, int] | None = None,
    min_scene_clear: float = DEFAULT_MIN_SCENE_CLEAR,
    dilation_px: int = 1,
    mask_snow: bool = False,
    gdal_env: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Lazy cube of clear-sky reflectance on ``geobox``.

    Returns a Dataset with one float32 ``(time, y, x)`` variable per band (NaN = nodata, failed read or not
    clear) and ``clear`` (bool: SCL clear and every band read). Per-time coordinates record the fused items
    (``scene_id``), ``processing_baseline``, ``boa_offset_applied``, ``scale``, ``offset`` (first band) and
    the SCL ``clear_fraction`` over the geobox; time steps whose clear share of their own (valid SCL) pixels
    on the geobox is below ``min_scene_clear`` are dropped. The
    attribute ``scene_records`` lists every item (used or not) as JSON (read it with :func:`scene_records`).
    Reads the SCL of every item first (small; it and its dilated clear mask are computed into memory, so the
    composites do not read it again) to decide which scenes to keep; then only the kept scenes' bands are loaded,
    lazily, one fused float32 task per band and chunk (scale/offset, mask, NaN). ``gdal_env`` overrides
    :data:`GDAL_READ_OPTIONS` (e.g. ``{"GDAL_HTTP_TIMEOUT": 5}``).
    """
    bands = list(bands)
    if not items:
        raise ImageryUnavailable("no STAC items to load; search a wider date range or area.")
    if not bands or len(set(bands)) != len(bands) or SCL_BAND in bands:
        raise InvalidInput(f"bands must be distinct reflectance asset names (without 'scl'), got {bands}.")
    if not 0.0 <= min_scene_clear <= 1.0:
        raise InvalidInput(f"min_scene_clear must be a fraction in [0, 1], got {min_scene_clear}.")
    if geobox.crs is None:
        raise InvalidInput("the geobox has no CRS; build it with agrisense.imagery.grid.region_geobox.")
    items = list(items)
    for item in items:
        _raster_band(item, SCL_BAND)
    lon = float(geobox.geographic_extent.centroid.coords[0][0])
    groups, keys = _group_items(items, bands, lon)

    env = {**GDAL_READ_OPTIONS, **dict(gdal_env or {})}
    chunking: dict[str, int | Literal["auto"]] = dict(chunks or DEFAULT_CHUNKS)

    def load(subset: Sequence[int], names: Sequence[str]) -> xr.Dataset:
        with rasterio.Env(**env):
            ds = odc.stac.load(
                [items[i] for i in subset],
                bands=list(names),
                geobox=geobox,
                groupby=lambda _item, _parsed, idx: keys[subset[idx]],
                resampling={SCL_BAND: "nearest", "*": "bilinear"},
                chunks=chunking,
                fail_on_error=False,
            )
        if ds.sizes["time"] != len({keys[i] for i in subset}):  # odc-stac groups as we keyed: guard API drift
            raise RuntimeError(f"odc-stac returned {ds.sizes['time']} time steps for the item groups")
        return ds

    # The SCL first, read once into memory with its dilated clear mask: it decides which scenes are kept, and
    # only the kept scenes' bands are then loaded (lazily, no selection step in the graph).
    scl = load(range(len(items)), [SCL_BAND])[SCL_BAND]
    scl_clear, scl_values = dask.base.compute(
        clear_mask(scl, dilation_px=dilation_px, mask_snow=mask_snow).data, scl.data
    )
    clear_frac = scl_clear.mean(axis=(1, 2))
    scl_valid_frac = (scl_values != 0).mean(axis=(1, 2))
    records: list[SceneRecord] = []
    keep: list[int] = []
    for t, group in enumerate(groups):
        frac, valid = float(clear_frac[t]), float(scl_valid_frac[t])
        failed = valid == 0.0 and _footprint_fraction(group.items, geobox) > 0.01
        # cloudiness over the scene's own pixels on the grid: a clear scene that only clips the grid is kept
        clear_share = frac / valid if valid > 0 else 0.0
        if failed:
            reason = "SCL read failed: no SCL pixels where the item footprint covers the grid"
        elif valid == 0.0:
            reason = "no pixels on the grid"
        elif clear_share < min_scene_clear:
            reason = f"too cloudy: {clear_share:.1%} of its pixels on the grid clear < {min_scene_clear:.0%}"
        else:
            reason = ""
            keep.append(t)
        for item in group.items:
            rec = _record(item, group.scales[0], group.offsets[0])
            records.append(rec.with_outcome(clear_fraction=frac, used=not reason, failed=failed, reason=reason))
    if not keep:
        raise ImageryUnavailable(
            f"all {len(items)} scenes are unusable over this grid (cloudy or unreadable); widen the dates."
        )

    kept = [groups[t] for t in keep]
    kept_keys = {g.key for g in kept}
    raw = load([i for i, key in enumerate(keys) if key in kept_keys], bands)
    scales = np.asarray([g.scales for g in kept], dtype=np.float32)  # (time, band)
    offsets = np.asarray([g.offsets for g in kept], dtype=np.float32)
    band_data = [raw[band].data for band in bands]
    kept_clear = da.from_array(scl_clear[keep], chunks=band_data[0].chunks)
    clear_data = da.map_blocks(_clear_and_read, kept_clear, *band_data, dtype=bool)
    dims = raw[bands[0]].dims
    out = xr.Dataset(coords=raw[bands[0]].coords)
    for i, band in enumerate(bands):
        refl = da.map_blocks(
            _reflectance, band_data[i], clear_data, scales=scales[:, i], offsets=offsets[:, i], dtype=np.float32
        )
        out[band] = xr.DataArray(refl, dims=dims, attrs={"units": "1", "long_name": f"surface reflectance ({band})"})
    out["clear"] = xr.DataArray(
        clear_data, dims=dims, attrs={"long_name": "clear-sky observation (SCL clear and every band read)"}
    )
    out = out.assign_coords(
        scene_id=("time", ["|".join(it.id for it in g.items) for g in kept]),
        solar_day=("time", np.asarray([g.key[0] for g in kept], dtype="datetime64[D]")),
        processing_baseline=(
            "time",
            ["|".join(sorted({str(it.properties.get("s2:processing_baseline")) for it in g.items})) for g in kept],
        ),
        boa_offset_applied=(
            "time",
            [bool(g.items[0].properties.get("earthsearch:boa_offset_applied", False)) for g in kept],
        ),
        scale=("time", scales[:, 0]),
        offset=("time", offsets[:, 0]),
        clear_fraction=("time", np.asarray([clear_frac[t] for t in keep], dtype=np.float32)),
    )
    out.attrs[SCENE_RECORDS_ATTR] = records_to_json(records)
    return out


def _clear_and_read(scl_clear: np.ndarray, *bands: np.ndarray) -> np.ndarray:
    """SCL clear and every band read (odc-stac fills a failed read with nodata, DN 0)."""
    ok = scl_clear.copy()
    for dn in bands:
        ok &= dn != 0
    return ok


def _reflectance(
    dn: np.ndarray,
    clear: np.ndarray,
    *,
    scales: np.ndarray,
    offsets: np.ndarray,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    """One chunk of DNs to float32 reflectance with each time step's own rule; NaN where not clear."""
    t0, t1 = block_info[0]["array-location"][0] if block_info else (0, dn.shape[0])
    out = dn.astype(np.float32)
    out *= scales[t0:t1, None, None]
    out += offsets[t0:t1, None, None]
    out[~clear] = np.nan
    return out


def scene_records(ds: xr.Dataset) -> list[SceneRecord]:
    """The per-item records ``load_scenes`` stored on ``ds`` (empty if none)."""
    text = ds.attrs.get(SCENE_RECORDS_ATTR)
    return records_from_json(text) if text else []
