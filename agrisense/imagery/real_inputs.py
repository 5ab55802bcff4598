"""Real raster products (openEO / WorldCereal NetCDF cubes, multi-date GeoTIFF stacks) in the band Dataset
form of load_scenes, so composites, indices and per-plot statistics run on them unchanged."""

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
from agrisense.imagery.composite import DateLike

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
            raise InvalidInput(f"{variables[asset]} is on a different grid or time axis from the other bands.")
    coords = {"time": times, **xr_coords(geobox)}
    ds = xr.Dataset({b: (("time", "y", "x"), a) for b, a in bands.items()}, coords=coords)
    ds["clear"] = ds.to_dataarray("band").notnull().all("band")
    ds.attrs = {"source": str(path), "scale": scale, "offset": offset}
    return ds


S2_L1C_BAND_CODES: tuple[str, ...] = (
    "B01",
    "B02",
    "B03",
    "B04",
    "B05",
    "B06",
    "B07",
    "B08",
    "B8A",
    "B09",
    "B10",
    "B11",
    "B12",
)
"""The 13 Sentinel-2 bands in product order (L1C; L2A lacks B10)."""


def asset_names(codes: Sequence[str]) -> list[str | None]:
    """Band codes (``B04``) -> asset names (``red``); bands outside the composites contract -> None."""
    return [S2_BAND_ASSETS.get(code.upper()) for code in codes]


def dataset_from_geotiff(
    path: str | Path,
    *,
    band_map: Sequence[str | None],
    dates: Sequence[DateLike],
    scale: float = 1e-4,
    offset: float = 0.0,
    nodata: Sequence[int] = (0,),
    reflectance: str = "BOA",
) -> xr.Dataset:
    """A multi-date GeoTIFF stack (bands date-major: all bands of date 0, then date 1, ...) as float32
    reflectance bands ``(time, y, x)`` named like the STAC assets, NaN at ``nodata`` (and the file's own
    nodata), plus ``clear`` (every band valid): the form of ``load_scenes``. ``band_map`` names each band
    within a date block (asset names; None skips a band, e.g. B01); ``reflectance`` records ``"BOA"`` (L2A)
    or ``"TOA"`` (L1C) in the attributes: TOA indices are biased (no atmospheric correction)."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"{path} does not exist.")
    names = list(band_map)
    kept = [n for n in names if n is not None]
    if not kept or len(set(kept)) != len(kept):
        raise InvalidInput(f"band_map must name distinct bands (None to skip one), got {names}.")
    times = pd.DatetimeIndex([pd.Timestamp(d) for d in dates])
    if times.tz is not None:
        times = times.tz_convert(None)
    if len(times) == 0 or not times.is_monotonic_increasing:
        raise InvalidInput(f"dates must be a non-empty increasing sequence, got {list(dates)}.")
    with rasterio.open(path) as src:
        if src.count != len(names) * len(times):
            raise InvalidInput(
                f"{path} has {src.count} bands, not {len(times)} dates x {len(names)} bands; check band_map "
                "and dates against the file's band order."
            )
        if src.crs is None:
            raise InvalidInput(f"{path} has no CRS; cannot place it on a grid.")
        epsg = src.crs.to_epsg()
        geobox = GeoBox(src.shape, src.transform, f"EPSG:{epsg}" if epsg else src.crs.to_wkt())
        dn = src.read().reshape(len(times), len(names), *src.shape)
        invalid = np.asarray([*nodata, *(() if src.nodata is None else (src.nodata,))])
    data = {}
    for b, name in enumerate(names):
        if name is None:
            continue
        refl = dn[:, b].astype(np.float32) * np.float32(scale) + np.float32(offset)
        refl[np.isin(dn[:, b], invalid)] = np.nan
        data[name] = (("time", "y", "x"), refl)
    ds = xr.Dataset(data, coords={"time": times, **xr_coords(geobox)})
    ds["clear"] = ds.to_dataarray("band").notnull().all("band")
    ds.attrs = {"source": str(path), "scale": scale, "offset": offset, "reflectance": reflectance}
    return ds
