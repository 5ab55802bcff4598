"""The re-score's maps: per-tile COGs (the tile's core, without its padding) and region mosaics built from them.

Mosaics are GDAL VRTs over the tile COGs, copied block by block into one COG per layer by GDAL, so no step holds
the region's pixels in memory.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import geopandas as gpd
import numpy as np
import rasterio
from rasterio.features import shapes
from shapely.geometry import shape

from agrisense.errors import InvalidInput
from agrisense.geo.area import ha_to_mu
from agrisense.maps import copy_as_cog, write_cog
from agrisense.ml.fields import FieldThresholds, label_fields
from agrisense.ml.maps import NODATA_CLASS, palette
from agrisense.scoring import TileJob, TileResult

LAYERS = ("crop_class", "probability", "ndvi", "cropland", "field_boundary")
"""Per-tile and region layers; ``field_boundary`` only with a model that has a boundary head."""


def write_tile_maps(
    result: TileResult, job: TileJob, folder: Path, *, tags: Mapping[str, str] | None = None
) -> list[Path]:
    """``crop_class.tif`` (uint8 palette), ``probability.tif``, ``ndvi.tif``, ``cropland.tif`` and, with a boundary
    head, ``field_boundary.tif`` (float32, NaN nodata) of the tile's core (the padding belongs to the neighbours).

    Each carries ``tags`` (the run's metadata: run id, model fingerprint, policy version) as GDAL dataset tags, plus
    its ``layer``, the ``tile_id`` and ``created`` (UTC, when this tile's maps were written)."""
    if result.crop_class is None or result.probability is None or result.ndvi is None:
        raise InvalidInput(f"tile {job.tile_id} has no maps; score it with maps=True")
    geobox = job.geobox()
    pad = int(round(job.tile.pad_m / job.resolution))
    core = geobox[pad : geobox.shape.y - pad, pad : geobox.shape.x - pad]
    cut = (slice(pad, geobox.shape.y - pad), slice(pad, geobox.shape.x - pad))
    colormap, names = palette(result.classes)
    crs = f"EPSG:{job.tile.epsg}"
    created = datetime.now(UTC).isoformat(timespec="seconds")

    def tags_of(layer: str) -> dict[str, str]:
        return {**(tags or {}), "created": created, "tile_id": job.tile_id, "layer": layer}

    return [
        write_cog(
            folder / "crop_class.tif",
            result.crop_class[cut],
            transform=core.affine,
            crs=crs,
            nodata=NODATA_CLASS,
            band_names=["crop_class"],
            colormap=colormap,
            class_names=names,
            tags=tags_of("crop_class"),
        ),
        *(
            write_cog(
                folder / f"{name}.tif",
                layer[cut].astype(np.float32),
                transform=core.affine,
                crs=crs,
                nodata=float("nan"),
                resampling="average",
                band_names=[band],
                tags=tags_of(name),
            )
            for name, band, layer in (
                ("probability", "probability", result.probability),
                ("ndvi", "ndvi", result.ndvi),
                ("cropland", "cropland_probability", result.cropland),
                ("field_boundary", "field_boundary_probability", result.field_boundary),
            )
            if layer is not None
        ),
    ]


def _vrt(sources: Sequence[Path], vrt_path: Path, tags: Mapping[str, str] | None = None) -> None:
    """A mosaic VRT of same-CRS, same-resolution, north-up single-band rasters (later sources win overlaps), with
    the first source's band description, band tags and colour table, and ``tags`` as dataset metadata."""
    metas = []
    for src in sources:
        with rasterio.open(src) as ds:
            metas.append(
                (
                    src,
                    ds.transform,
                    ds.width,
                    ds.height,
                    ds.crs,
                    ds.dtypes[0],
                    ds.nodata,
                    ds.colormap(1) if ds.dtypes[0] == "uint8" else None,
                    ds.tags(1),
                    ds.descriptions[0],
                )
            )
    res = metas[0][1].a
    left = min(m[1].c for m in metas)
    top = max(m[1].f for m in metas)
    right = max(m[1].c + m[2] * res for m in metas)
    bottom = min(m[1].f - m[3] * res for m in metas)
    width, height = math.ceil(round((right - left) / res, 6)), math.ceil(round((top - bottom) / res, 6))
    dtype = {"uint8": "Byte", "float32": "Float32"}[metas[0][5]]
    nodata = metas[0][6]
    lines = [
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">',
        f"  <SRS>{escape(metas[0][4].to_wkt())}</SRS>",
        f"  <GeoTransform>{left!r}, {res!r}, 0, {top!r}, 0, {-res!r}</GeoTransform>",
    ]
    if tags:
        lines.append("  <Metadata>")
        lines += [f'    <MDI key="{escape(k)}">{escape(v)}</MDI>' for k, v in sorted(tags.items())]
        lines.append("  </Metadata>")
    lines.append(f'  <VRTRasterBand dataType="{dtype}" band="1">')
    if metas[0][9]:
        lines.append(f"    <Description>{escape(metas[0][9])}</Description>")
    if nodata is not None:
        lines.append(
            f"    <NoDataValue>{'nan' if isinstance(nodata, float) and math.isnan(nodata) else nodata}</NoDataValue>"
        )
    if metas[0][7]:
        lines.append("    <ColorInterp>Palette</ColorInterp>\n    <ColorTable>")
        cmap = metas[0][7]
        for value in range(max(cmap) + 1):
            c = cmap.get(value, (0, 0, 0, 0))
            lines.append(f'      <Entry c1="{c[0]}" c2="{c[1]}" c3="{c[2]}" c4="{c[3]}"/>')
        lines.append("    </ColorTable>")
    if metas[0][8]:
        lines.append("    <Metadata>")
        lines += [f'      <MDI key="{escape(k)}">{escape(v)}</MDI>' for k, v in sorted(metas[0][8].items())]
        lines.append("    </Metadata>")
    for src, transform, w, h, *_ in metas:
        x_off = round((transform.c - left) / res)
        y_off = round((top - transform.f) / res)
        rel = os.path.relpath(src, vrt_path.parent)
        lines += [
            "    <ComplexSource>" if nodata is not None else "    <SimpleSource>",
            f'      <SourceFilename relativeToVRT="1">{escape(rel)}</SourceFilename>',
            "      <SourceBand>1</SourceBand>",
            f'      <SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>',
            f'      <DstRect xOff="{x_off}" yOff="{y_off}" xSize="{w}" ySize="{h}"/>',
            *(
                [f"      <NODATA>{'nan' if isinstance(nodata, float) and math.isnan(nodata) else nodata}</NODATA>"]
                if nodata is not None
                else []
            ),
            "    </ComplexSource>" if nodata is not None else "    </SimpleSource>",
        ]
    lines += ["  </VRTRasterBand>", "</VRTDataset>"]
    vrt_path.write_text("\n".join(lines), encoding="utf-8")


def mosaic_maps(
    tile_folders: Sequence[Path], maps_dir: Path, *, tags: Mapping[str, str] | None = None
) -> dict[str, Path]:
    """Region COGs ``maps_dir/<layer>.tif`` (one UTM zone: the one most tiles lie in) from the tile maps, each
    with ``tags`` (run metadata) as dataset tags."""
    by_crs: dict[str, list[Path]] = {}
    for folder in tile_folders:
        if (folder / "crop_class.tif").is_file():
            by_crs.setdefault(folder.name.split("_")[0], []).append(folder)
    if not by_crs:
        return {}
    folders = sorted(max(by_crs.items(), key=lambda kv: len(kv[1]))[1])
    out = {}
    for layer in LAYERS:
        if not all((f / f"{layer}.tif").is_file() for f in folders):
            continue  # e.g. field_boundary from a model without a boundary head
        vrt = maps_dir / f"{layer}.vrt"
        _vrt([f / f"{layer}.tif" for f in folders], vrt, {**(tags or {}), "layer": layer})
        resampling = "nearest" if layer == "crop_class" else "average"
        out[layer] = copy_as_cog(vrt, maps_dir / f"{layer}.tif", resampling=resampling)
    return out


def write_region_fields(
    maps_dir: Path, out_path: Path, *, boundary_threshold: float, tags: Mapping[str, str] | None = None
) -> int:
    """Delineate fields on the region mosaics (``cropland.tif`` + ``field_boundary.tif``): ``maps_dir/fields.tif``
    (field id per pixel, 0 = none) and ``out_path`` (GeoParquet polygons: ``field_id``, ``area_ha``, ``area_mu``,
    ``cropland``). Returns the number of fields; 0 (and nothing written) without a boundary layer."""
    if not (maps_dir / "field_boundary.tif").is_file() or not (maps_dir / "cropland.tif").is_file():
        return 0
    with rasterio.open(maps_dir / "cropland.tif") as src:
        cropland, transform, crs = src.read(1), src.transform, src.crs
    with rasterio.open(maps_dir / "field_boundary.tif") as src:
        boundary = src.read(1)
    labels = label_fields(cropland, boundary, FieldThresholds(boundary=boundary_threshold))
    labels[~(np.isfinite(cropland) & np.isfinite(boundary))] = 0  # never a field where there is no imagery
    write_cog(maps_dir / "fields.tif", labels.astype(np.uint32), transform=transform, crs=str(crs), nodata=0,
              band_names=["field_id"], tags={**(tags or {}), "layer": "fields"})  # fmt: skip
    ids, geoms = [], []
    for geom, value in shapes(labels, mask=labels > 0, transform=transform, connectivity=4):
        ids.append(int(value))
        geoms.append(shape(geom))
    frame = gpd.GeoDataFrame({"field_id": ids}, geometry=geoms, crs=crs).dissolve(by="field_id").reset_index()
    sums = np.bincount(labels.ravel(), weights=np.nan_to_num(cropland).ravel())
    counts = np.bincount(labels.ravel())
    frame["area_ha"] = frame.area / 1e4
    frame["area_mu"] = ha_to_mu(frame["area_ha"])
    frame["cropland"] = sums[frame["field_id"]] / counts[frame["field_id"]]
    tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        frame.to_parquet(tmp)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(frame)
