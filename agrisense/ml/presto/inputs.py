"""Monthly pixel series (sample tables, composites) -> Presto's normalised channels, missing mask and metadata.

Pure functions on arrays. Sentinel-2 arrives as reflectance x 10,000 in the sample table's band order
(``B02 … B12``), precipitation as monthly mm, temperature as monthly mean deg C. Sentinel-1 and SRTM are absent
(masked) and Dynamic World is unknown (class 9). Units follow the Presto README: S2 / 10,000; temperature deg C ->
K, then (K - 272.15) / 35; NDVI from the normalised B8 and B4; precipitation: the month's total mm -> its mean
*daily* total in metres (ERA5's monthly means of daily accumulations), then / 0.03. The README says "monthly total
precipitation in metres"; the pretrained decoder's reconstruction check says daily means (docs/croptype.md, *Is our
Presto right?*: hidden Sentinel-2 values are reconstructed with 0.57x the baseline's error with daily means, 1.5x
with monthly totals).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from agrisense.errors import InvalidInput
from agrisense.ml.croptype.table import BANDS, N_MONTHS, band_columns
from agrisense.ml.presto.encoder import CHANNELS, DW_UNKNOWN, GROUPS, PrestoBatch

#: sample-table band name -> Presto channel index
_S2_INDEX = {band: CHANNELS.index(band.replace("B0", "B")) for band in BANDS}
_TEMP, _PRECIP, _NDVI = CHANNELS.index("temperature_2m"), CHANNELS.index("total_precipitation"), CHANNELS.index("NDVI")
_ALWAYS_MISSING = [*GROUPS["S1"], *GROUPS["SRTM"]]
KELVIN_OFFSET = 273.15
#: days per calendar month (January first); February averaged over leap years, the series carry no year
DAYS_IN_MONTH = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


@dataclass(frozen=True)
class MonthlySeries:
    """N pixels x T months: ``s2`` (N, T, 10) reflectance x 10,000 in ``BANDS`` order (NaN = missing),
    ``precip_mm`` and ``tmean_c`` (N, T) or None when unknown, ``lat``/``lon`` (N,) degrees, ``first_month``
    (N,) month of step 0 (0 = January)."""

    s2: np.ndarray
    precip_mm: np.ndarray | None
    tmean_c: np.ndarray | None
    lat: np.ndarray
    lon: np.ndarray
    first_month: np.ndarray


@dataclass(frozen=True)
class PrestoInputs:
    """Numpy form of ``PrestoBatch``: ``x``/``mask`` (N, T, 17) float32, ``dynamic_world`` (N, T) int64,
    ``latlon`` (N, 2) float32 degrees, ``month`` (N,) int64."""

    x: np.ndarray
    mask: np.ndarray
    dynamic_world: np.ndarray
    latlon: np.ndarray
    month: np.ndarray

    def to_batch(self) -> PrestoBatch:
        return PrestoBatch(
            torch.from_numpy(self.x),
            torch.from_numpy(self.mask),
            torch.from_numpy(self.dynamic_world),
            torch.from_numpy(self.latlon),
            torch.from_numpy(self.month),
        )

    def __len__(self) -> int:
        return int(self.x.shape[0])


def presto_inputs(series: MonthlySeries) -> PrestoInputs:
    """Normalise ``series`` into Presto's 17 channels with a 1 = missing mask (see the module docstring).

    Reflectance outside [0, 20,000] (fill values mixed in by resampling) counts as missing. A month without B4 or
    B8 has no NDVI. Weather given as None is masked.
    """
    s2 = np.asarray(series.s2, dtype=np.float64)
    if s2.ndim != 3 or s2.shape[2] != len(BANDS):
        raise InvalidInput(f"s2 must be (pixels, months, {len(BANDS)}) in the order {', '.join(BANDS)}; got {s2.shape}")
    n, t, _ = s2.shape
    x = np.zeros((n, t, len(CHANNELS)), dtype=np.float64)
    s2 = np.where((s2 < 0) | (s2 > 20_000), np.nan, s2) / 10_000.0
    for b, band in enumerate(BANDS):
        x[..., _S2_INDEX[band]] = s2[..., b]
    daily = _daily_metres(series.precip_mm, series.first_month, t)
    for channel, values in ((_TEMP, _kelvin(series.tmean_c)), (_PRECIP, daily)):
        x[..., channel] = np.nan if values is None else _check_shape(values, (n, t))
    red, nir = x[..., CHANNELS.index("B4")], x[..., CHANNELS.index("B8")]
    with np.errstate(invalid="ignore", divide="ignore"):
        x[..., _NDVI] = np.clip((nir - red) / (nir + red), -1, 1)
    x[..., _ALWAYS_MISSING] = np.nan
    mask = np.isnan(x)
    latlon = np.stack([np.asarray(series.lat, np.float64), np.asarray(series.lon, np.float64)], axis=1)
    if latlon.shape != (n, 2) or not np.isfinite(latlon).all():
        raise InvalidInput("lat and lon must be finite WGS84 degrees, one pair per pixel")
    month = np.broadcast_to(np.asarray(series.first_month, dtype=np.int64), (n,)) % 12
    return PrestoInputs(
        x=np.nan_to_num(x, nan=0.0).astype(np.float32),
        mask=mask.astype(np.float32),
        dynamic_world=np.full((n, t), DW_UNKNOWN, dtype=np.int64),
        latlon=latlon.astype(np.float32),
        month=month.copy(),
    )


def _kelvin(tmean_c: np.ndarray | None) -> np.ndarray | None:
    return None if tmean_c is None else (np.asarray(tmean_c, np.float64) + KELVIN_OFFSET - 272.15) / 35.0


def _daily_metres(precip_mm: np.ndarray | None, first_month: np.ndarray, t: int) -> np.ndarray | None:
    """Monthly totals (mm) -> normalised mean daily totals (m / 0.03) for steps starting at ``first_month``."""
    if precip_mm is None:
        return None
    months = (np.asarray(first_month, dtype=np.int64).reshape(-1, 1) + np.arange(t)[None, :]) % 12
    return np.asarray(precip_mm, np.float64) / DAYS_IN_MONTH[months] / 1000.0 / 0.03


def _check_shape(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if values.shape != shape:
        raise InvalidInput(f"weather must be (pixels, months) = {shape} like the bands; got {values.shape}")
    return values


def series_from_table(table: pd.DataFrame) -> MonthlySeries:
    """The wide sample table (``{band}_m{tt}``, ``precip_mm_m{tt}``, ``tmean_c_m{tt}``, lon, lat, season_start)
    as a ``MonthlySeries``; weather columns are optional, ``season_start`` defaults to December (the table's
    seasons both start on 1 December)."""
    for column in ("lon", "lat"):
        if column not in table.columns:
            raise InvalidInput(f"the sample table has no column {column!r}; Presto needs each sample's location")
    n = len(table)
    s2 = table[band_columns()].to_numpy(dtype=np.float64).reshape(n, len(BANDS), N_MONTHS).transpose(0, 2, 1)
    weather = {}
    for name in ("precip_mm", "tmean_c"):
        cols = [f"{name}_m{m:02d}" for m in range(N_MONTHS)]
        weather[name] = table[cols].to_numpy(dtype=np.float64) if all(c in table.columns for c in cols) else None
    if "season_start" in table.columns:
        start = pd.to_datetime(table["season_start"], errors="coerce")
        if start.isna().any():
            raise InvalidInput("column 'season_start' must hold ISO dates (the month of m00), e.g. 2016-12-01")
        first_month = start.dt.month.to_numpy(dtype=np.int64) - 1
    else:
        first_month = np.full(n, 11, dtype=np.int64)
    return MonthlySeries(
        s2=s2,
        precip_mm=weather["precip_mm"],
        tmean_c=weather["tmean_c"],
        lat=table["lat"].to_numpy(dtype=np.float64),
        lon=table["lon"].to_numpy(dtype=np.float64),
        first_month=first_month,
    )
