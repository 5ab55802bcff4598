"""Write a 2-D or 3-D array on a known grid as a Cloud-Optimized GeoTIFF (tiled, overviews, deflate)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import ColorInterp
from rasterio.io import DatasetReader
from rasterio.shutil import copy as rio_copy

from agrisense.errors import InvalidInput

Colormap = Mapping[int, tuple[int, int, int, int]]


def write_cog(
    path: str | Path,
    data: np.ndarray,
    *,
    transform: Affine,
    crs: str,
    nodata: float | int | None = None,
    band_names: Sequence[str] | None = None,
    colormap: Colormap | None = None,
    class_names: Mapping[int, str] | None = None,
    resampling: str = "nearest",
    tags: Mapping[str, str] | None = None,
    blocksize: int | None = None,
) -> Path:
    """Write ``data`` (``(H, W)`` or ``(bands, H, W)``) as a COG; returns the path.

    Class maps should use ``uint8`` with a ``colormap`` and ``class_names`` (band tags ``class_<value>`` and
    ``class_names`` (JSON), beside the colour table, so QGIS shows a legend-ready palette) and
    ``resampling="nearest"``; continuous maps (probability, NDVI) ``float32`` with NaN or a
    ``nodata`` value and ``resampling="average"`` for overviews. ``band_names`` become the band descriptions and
    ``tags`` dataset tags (e.g. run metadata). The file is written next to its destination and
    renamed into place, so a reader never sees half a map.
    """
    arr = np.asarray(data)
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.ndim != 3 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise InvalidInput(f"a map must be (H, W) or (bands, H, W) with non-empty sides, got shape {data.shape}")
    if band_names is not None and len(band_names) != arr.shape[0]:
        raise InvalidInput(f"{len(band_names)} band names for {arr.shape[0]} bands")
    if colormap is not None and (arr.shape[0] != 1 or arr.dtype != np.uint8):
        raise InvalidInput("a colormap needs a single-band uint8 class map")
    profile = {
        "height": arr.shape[1],
        "width": arr.shape[2],
        "count": arr.shape[0],
        "dtype": arr.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
    }
    # The COG driver builds overviews and the tiled layout from an in-memory copy, then writes once.
    with rasterio.MemoryFile() as mem:
        with mem.open(**profile, driver="GTiff") as dst:
            dst.write(arr)
            for i, name in enumerate(band_names or [], start=1):
                dst.set_band_description(i, name)
            if colormap is not None:
                dst.write_colormap(1, dict(colormap))
                dst.colorinterp = [ColorInterp.palette]
            if class_names:
                dst.update_tags(1, **class_tags(class_names))
            if tags:
                dst.update_tags(**{str(k): str(v) for k, v in tags.items()})
        with mem.open() as src:
            return copy_as_cog(src, path, resampling=resampling, blocksize=blocksize)


def copy_as_cog(
    source: str | Path | DatasetReader, path: str | Path, *, resampling: str = "nearest", blocksize: int | None = None
) -> Path:
    """Copy a raster (a dataset, a file or a VRT mosaic) to ``path`` as the product's COG: deflate with the
    predictor of its data type, ``blocksize`` px blocks (default 256, smaller for small rasters), overviews by
    ``resampling``; written next to its destination and renamed into place, so a reader never sees half a map."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp.tif")
    with rasterio.open(source) if not isinstance(source, DatasetReader) else nullcontext(source) as src:
        side = min(src.height, src.width)
        options = {
            "driver": "COG",
            "compress": "deflate",
            "predictor": 2 if np.issubdtype(np.dtype(src.dtypes[0]), np.integer) else 3,
            "blocksize": blocksize or (256 if side >= 256 else 128 if side >= 128 else 16),
            "overview_resampling": resampling,
        }
        try:
            rio_copy(src, tmp, **options)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path


def class_tags(class_names: Mapping[int, str]) -> dict[str, str]:
    """Band tags naming the classes of a class map: ``class_<value>`` each, and ``class_names`` as one JSON object
    (value -> name) for readers that want the whole legend."""
    tags = {f"class_{int(k)}": str(v) for k, v in sorted(class_names.items())}
    tags["class_names"] = json.dumps({str(int(k)): str(v) for k, v in sorted(class_names.items())})
    return tags
