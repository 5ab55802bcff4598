"""Real raster products (e.g. openEO / WorldCereal monthly cubes) in the band Dataset form of load_scenes."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords
from rasterio.errors import NotGeoreferencedWarning

from agrisense.errors import InvalidInput, NotFound

S2_BAND_ASSETS = {
    "B02": "blue",
    "B03": "green",
    "B04": "red",
    "B05": "rededge1",
    "B06": "rededge2",
    "B07": "rededge3",
    "B08": "nir",
    "B8A": "nir08",
    "B11": "swir16",
    "B12": "swir22",
}
"""Sentinel-2 band codes -> Earth Search asset names."""
_S2_VARIABLE = re.compile(r"(?:^|[^A-Za-z0-9])(B0[2-8]|B8A|B1[12])$")
_CF_TIME = re.compile(r"^\s*(\w+)\s+since\s+(.+?)\s*$")


def _cf_times(values: str, units: str) -> pd.DatetimeIndex:
    match = _CF_TIME.match(units)
    if match is None:
        raise InvalidInput(f"time units {units!r} are not CF 'UNIT since DATE'.")
    numbers = [float(v) for v in values.strip("{}").split(",")]
    return pd.DatetimeIndex(pd.Timestamp(match.group(2)) + pd.to_timedelta(numbers, unit=match.group(1)))


def dataset_from_netcdf(
    path: str | Path,
    *,
    scale: float = 1e-4,
    offset: float = 0.0,
    nodata: Sequence[int] = (65535,),
) -> xr.Dataset:
    """Sentinel-2 variables of a CF NetCDF cube (``(t, y, x)``, DN = reflectance x 10000) as float32
    reflectance bands named like the STAC assets, NaN at ``nodata``, plus ``clear`` (all bands valid), on the
    file's grid. Variables are recognised by a trailing band code (``S2-L2A-B04`` -> ``red``); bands the file
    lacks are simply absent. Read with GDAL's netCDF driver."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"{path} does not exist.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the container itself has no grid
        with rasterio.open(path) as container:
            subdatasets = list(container.subdatasets)
    variables = {}
    for sub in subdatasets:
        match = _S2_VARIABLE.search(sub.rsplit(":", 1)[-1])
        if match:
            variables[S2_BAND_ASSETS[match.group(1)]] = sub
    if not variables:
        raise InvalidInput(f"{path} holds no Sentinel-2 band variables (names ending in B02..B12).")

    bands: dict[str, np.ndarray] = {}
    grids: dict[str, tuple[GeoBox, pd.DatetimeIndex]] = {}
    for asset in (a for a in S2_BAND_ASSETS.values() if a in variables):
        with rasterio.open(variables[asset]) as src:
            if src.crs is None:
                raise InvalidInput(f"{variables[asset]} has no CRS; cannot place it on a grid.")
            dn = src.read()
            tags = src.tags()
            epsg = src.crs.to_epsg()
            grid = GeoBox(src.shape, src.transform, f"EPSG:{epsg}" if epsg else src.crs.to_wkt())
        time_dim = tags.get("NETCDF_DIM_EXTRA", "{t}").strip("{}")
        grids[asset] = (grid, _cf_times(tags[f"NETCDF_DIM_{time_dim}_VALUES"], tags[f"{time_dim}#units"]))
        refl = dn.astype(np.float32) * np.float32(scale) + np.float32(offset)
        refl[np.isin(dn, np.asarray(nodata))] = np.nan
        bands[asset] = refl
    geobox, times = next(iter(grids.values()))
    for asset, (grid, band_times) in grids.items():
        if grid != geobox or not band_times.equals(times):
            raise InvalidInput(
                f"{variables[asset]} is on a different grid or time axis from the other bands."
            )
    coords = {"time": times, **xr_coords(geobox)}
    ds = xr.Dataset({b: (("time", "y", "x"), a) for b, a in bands.items()}, coords=coords)
    ds["clear"] = ds.to_dataarray("band").notnull().all("band")
    ds.attrs = {"source": str(path), "scale": scale, "offset": offset}
    return ds
