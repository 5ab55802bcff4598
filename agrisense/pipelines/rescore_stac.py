"""A re-score run as a static STAC catalog (``OUT/stac/``): one collection, an item for the region maps (every
mosaic COG an asset) and one per GeoParquet table, with relative hrefs, so QGIS or a STAC browser opens a run."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pystac
import rasterio
from rasterio.warp import transform_bounds
from shapely.geometry import box, mapping

COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
PARQUET_TYPE = "application/vnd.apache.parquet"
PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
MAP_TITLES = {
    "crop_class": "Crop class (palette; 255 = no imagery / no prediction)",
    "probability": "Probability of the mapped class",
    "ndvi": "Latest clear NDVI",
    "cropland": "Cropland probability",
    "field_boundary": "Field-boundary probability",
    "fields": "Field id per pixel (0 = none)",
}
TABLES = {
    "plots": ("plots.parquet", "Plots with their offers (GeoParquet, one row per plot)"),
    "fields": ("fields.parquet", "Fields delineated on the region maps (GeoParquet)"),
    "warnings": ("warnings.parquet", "Early warnings of financed plots"),
}


def _utc(day: date, end: bool = False) -> datetime:
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


def _raster_band(ds: Any) -> dict[str, Any]:
    nodata = ds.nodata
    band: dict[str, Any] = {"data_type": ds.dtypes[0]}
    if nodata is not None:
        band["nodata"] = "nan" if math.isnan(nodata) else nodata
    return band


def _maps_item(run_id: str, maps: Mapping[str, Path], start: date, end: date, props: dict[str, Any]) -> pystac.Item:
    first = next(iter(maps.values()))
    with rasterio.open(first) as ds:
        crs, bounds, shape, transform = ds.crs, ds.bounds, ds.shape, ds.transform
    lonlat = transform_bounds(crs, "EPSG:4326", *bounds)
    item = pystac.Item(
        id=f"{run_id}-maps",
        geometry=mapping(box(*lonlat)),
        bbox=list(lonlat),
        datetime=None,
        start_datetime=_utc(start),
        end_datetime=_utc(end, end=True),
        properties={
            **props,
            "proj:code": f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else None,
            "proj:bbox": list(bounds),
            "proj:shape": list(shape),
            "proj:transform": list(transform)[:6],
        },
        stac_extensions=[PROJECTION, RASTER],
    )
    for layer, path in maps.items():
        with rasterio.open(path) as ds:
            band = _raster_band(ds)
            same_grid = ds.shape == shape and ds.transform == transform
        extra: dict[str, Any] = {"raster:bands": [band]}
        if not same_grid:
            extra["proj:shape"] = list(ds.shape)
            extra["proj:transform"] = list(ds.transform)[:6]
        item.add_asset(
            layer,
            pystac.Asset(
                href=str(path.resolve()),
                media_type=COG_TYPE,
                title=MAP_TITLES.get(layer, layer),
                roles=["data"],
                extra_fields=extra,
            ),
        )
    return item


def _table_item(run_id: str, name: str, path: Path, start: date, end: date, props: dict[str, Any]) -> pystac.Item:
    import pyarrow.parquet as pq

    geo = (pq.read_schema(path).metadata or {}).get(b"geo")
    bbox: list[float] | None = None
    if geo is not None:
        meta = json.loads(geo)
        column = meta["columns"].get(meta.get("primary_column", "geometry"), {})
        bbox = column.get("bbox")
        if bbox is not None and column.get("crs") is not None:
            from pyproj import CRS

            crs = CRS.from_json_dict(column["crs"])
            if crs.to_epsg() != 4326:
                bbox = list(transform_bounds(crs.to_wkt(), "EPSG:4326", *bbox))
    item = pystac.Item(
        id=f"{run_id}-{name}",
        geometry=mapping(box(*bbox)) if bbox else None,
        bbox=list(bbox) if bbox else None,
        datetime=None,
        start_datetime=_utc(start),
        end_datetime=_utc(end, end=True),
        properties=dict(props),
    )
    item.add_asset(
        name,
        pystac.Asset(href=str(path.resolve()), media_type=PARQUET_TYPE, title=TABLES[name][1], roles=["data"]),
    )
    return item


def write_run_stac(
    out_dir: Path,
    *,
    run_id: str,
    maps: Mapping[str, Path],
    start: date,
    end: date,
    properties: Mapping[str, Any],
) -> Path:
    """``out_dir/stac/collection.json`` (self-contained, relative hrefs) for the run's mosaics ``maps`` (layer ->
    COG) and its GeoParquet tables in ``out_dir``; returns the collection's path. ``properties`` (run id, season,
    model and policy versions...) go on every item."""
    stac_dir = out_dir / "stac"
    shutil.rmtree(stac_dir, ignore_errors=True)  # the previous run's items
    props = {f"agrisense:{k}": v for k, v in properties.items() if v is not None}
    items = []
    if maps:
        items.append(_maps_item(run_id, maps, start, end, props))
    for name, (file, _) in TABLES.items():
        if (out_dir / file).is_file():
            items.append(_table_item(run_id, name, out_dir / file, start, end, props))
    boxes = [i.bbox for i in items if i.bbox]
    bbox = (
        [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]
        if boxes
        else [-180.0, -90.0, 180.0, 90.0]
    )
    collection = pystac.Collection(
        id=f"agrisense-rescore-{run_id}",
        title=f"agrisense re-score {run_id}",
        description="County re-score run: region maps (COGs) and per-plot offers (GeoParquet); see docs/rescore.md.",
        extent=pystac.Extent(pystac.SpatialExtent([bbox]), pystac.TemporalExtent([[_utc(start), _utc(end, end=True)]])),
        license="other",
        extra_fields={"agrisense:run_id": run_id},
    )
    for item in items:
        collection.add_item(item)
    collection.normalize_hrefs(str(stac_dir))
    collection.make_all_asset_hrefs_relative()
    collection.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return stac_dir / "collection.json"
