"""Weather providers behind :class:`agrisense.agronomy.weather.WeatherProvider`: a local NetCDF cube and the
Open-Meteo historical archive (the one class here that touches the network).

``LocalCsvWeather`` (in ``weather``) stays the default for regions that ship ``weather/daily.csv``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agrisense.agronomy.weather import WEATHER_COLUMNS, validate_daily
from agrisense.errors import InvalidInput, NotFound, WeatherUnavailable

OPEN_METEO_ARCHIVE = "https://archive-api.open-meteo.com/v1/archive"
OPEN_METEO_DAILY = {
    "temperature_2m_max": "tmax_c",
    "temperature_2m_min": "tmin_c",
    "precipitation_sum": "precip_mm",
}

# transport(url, timeout_s) -> (HTTP status, body bytes); raises OSError on connection failures.
Transport = Callable[[str, float], tuple[int, bytes]]


def urllib_transport(url: str, timeout_s: float) -> tuple[int, bytes]:
    """GET ``url`` with the standard library; HTTP errors come back as (status, body), not exceptions."""
    request = urllib.request.Request(url, headers={"User-Agent": "agrisense", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (https URL we build)
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def _check_range(start: date, end: date) -> None:
    if end < start:
        raise InvalidInput(f"weather range end {end} is before start {start}")


def _check_place(latitude: float, longitude: float) -> None:
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        raise InvalidInput(
            f"latitude {latitude}, longitude {longitude} is not a place on Earth (latitude first, in degrees)"
        )


class OpenMeteoArchive:
    """Daily weather of a point from the Open-Meteo historical archive API (ERA5-based reanalysis).

    Retries connection errors, timeouts, HTTP 429 and 5xx with exponential backoff; HTTP 4xx (bad request)
    fails at once with the service's reason. Any failure raises :class:`WeatherUnavailable`. ``transport`` and
    ``sleep`` are injectable so tests replay recorded responses without a network.
    """

    def __init__(
        self,
        latitude: float,
        longitude: float,
        *,
        timezone: str = "auto",
        base_url: str = OPEN_METEO_ARCHIVE,
        timeout_s: float = 30.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        transport: Transport = urllib_transport,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        _check_place(latitude, longitude)
        if retries < 0 or timeout_s <= 0 or backoff_s < 0:
            raise InvalidInput("retries and backoff_s must be >= 0 and timeout_s > 0")
        self.latitude, self.longitude, self.timezone = latitude, longitude, timezone
        self.base_url, self.timeout_s, self.retries, self.backoff_s = base_url, timeout_s, retries, backoff_s
        self._transport, self._sleep = transport, sleep

    def url(self, start: date, end: date) -> str:
        """The archive request for ``start..end`` (inclusive)."""
        query = {
            "latitude": f"{self.latitude:.4f}",
            "longitude": f"{self.longitude:.4f}",
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "daily": ",".join(OPEN_METEO_DAILY),
            "timezone": self.timezone,
        }
        return f"{self.base_url}?{urllib.parse.urlencode(query, safe=',')}"

    def _fetch(self, url: str) -> dict[str, Any]:
        problem = "no attempt made"
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                status, body = self._transport(url, self.timeout_s)
            except (OSError, TimeoutError) as exc:  # URLError, socket timeouts and resets are OSErrors
                problem = f"connection failed ({exc})"
                continue
            if status == 200:
                try:
                    payload = json.loads(body)
                except ValueError as exc:
                    raise WeatherUnavailable(f"Open-Meteo sent a response that is not JSON ({exc})") from exc
                if not isinstance(payload, dict):
                    raise WeatherUnavailable("Open-Meteo sent an unexpected response (not a JSON object)")
                return payload
            reason = _reason(body)
            if status == 429 or status >= 500:
                problem = f"HTTP {status}: {reason}"
                continue
            raise WeatherUnavailable(
                f"Open-Meteo refused the request (HTTP {status}: {reason}); check the dates and place"
            )
        raise WeatherUnavailable(
            f"Open-Meteo archive unreachable after {self.retries + 1} attempt(s): {problem}; try again later or use "
            "the region's weather/daily.csv"
        )

    def daily(self, start: date, end: date) -> pd.DataFrame:
        """Rows from ``start`` to ``end`` inclusive: date, tmin_c, tmax_c, precip_mm (validated, no gaps)."""
        _check_range(start, end)
        payload = self._fetch(self.url(start, end))
        return parse_open_meteo(payload, start, end)


def _reason(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace") or "no reason given"
    if isinstance(payload, dict) and payload.get("reason"):
        return str(payload["reason"])
    return "no reason given"


def parse_open_meteo(payload: Mapping[str, Any], start: date, end: date) -> pd.DataFrame:
    """The ``daily`` block of an Open-Meteo archive response -> a validated daily weather table."""
    if payload.get("error"):
        raise WeatherUnavailable(f"Open-Meteo returned an error: {payload.get('reason', 'no reason given')}")
    block = payload.get("daily")
    if not isinstance(block, dict) or "time" not in block:
        raise WeatherUnavailable("Open-Meteo response has no 'daily' block; request daily variables")
    missing = [name for name in OPEN_METEO_DAILY if name not in block]
    if missing:
        raise WeatherUnavailable(f"Open-Meteo response lacks daily {', '.join(missing)}")
    units = payload.get("daily_units", {})
    if units.get("precipitation_sum", "mm") != "mm" or units.get("temperature_2m_max", "°C") != "°C":
        raise WeatherUnavailable(f"Open-Meteo sent units {units}; request mm and °C (the defaults)")
    frame = pd.DataFrame({"date": block["time"], **{ours: block[name] for name, ours in OPEN_METEO_DAILY.items()}})
    frame = frame.loc[:, list(WEATHER_COLUMNS)]
    empty = frame[frame.isna().any(axis=1)]
    if len(empty):
        raise WeatherUnavailable(
            f"Open-Meteo has no values for {len(empty)} day(s), first {empty.iloc[0]['date']} (the archive lags "
            "real time by a few days); request an earlier end date"
        )
    table = validate_daily(frame, source="Open-Meteo archive")
    expected = pd.date_range(start, end, freq="D")
    if len(table) != len(expected) or not (table["date"].to_numpy() == expected.to_numpy()).all():
        raise WeatherUnavailable(
            f"Open-Meteo returned {len(table)} day(s) for {start}..{end} ({len(expected)} expected); the series is "
            "incomplete"
        )
    return table


class NetCdfWeather:
    """Daily weather of the grid cell nearest a point in a local NetCDF file (read with xarray).

    ``variables`` maps our columns (tmin_c, tmax_c, precip_mm) to the file's variable names; the time
    dimension is ``time`` and the coordinates ``lat``/``lon`` (or ``latitude``/``longitude``). Temperatures in
    kelvin (units "K") are converted to deg C.
    """

    def __init__(
        self,
        path: Path | str,
        latitude: float,
        longitude: float,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        _check_place(latitude, longitude)
        self.path, self.latitude, self.longitude = Path(path), latitude, longitude
        self.variables = dict(variables or {c: c for c in WEATHER_COLUMNS[1:]})
        missing = [c for c in WEATHER_COLUMNS[1:] if c not in self.variables]
        if missing:
            raise InvalidInput(f"variables must map {', '.join(missing)} to the file's variable names")

    def daily(self, start: date, end: date) -> pd.DataFrame:
        """Rows from ``start`` to ``end`` inclusive at the nearest grid cell; an error if days are missing."""
        import xarray as xr

        _check_range(start, end)
        if not self.path.is_file():
            raise NotFound(f"weather cube {self.path} does not exist")
        with xr.open_dataset(self.path) as ds:
            absent = [v for v in self.variables.values() if v not in ds.data_vars]
            if absent:
                raise InvalidInput(f"{self.path} has no variable(s) {', '.join(absent)}; have {list(ds.data_vars)}")
            lat = "lat" if "lat" in ds.coords else "latitude"
            lon = "lon" if "lon" in ds.coords else "longitude"
            if lat not in ds.coords or lon not in ds.coords or "time" not in ds.coords:
                raise InvalidInput(f"{self.path} needs coordinates time, lat/latitude and lon/longitude")
            point = ds.sel({lat: self.latitude, lon: self.longitude}, method="nearest")
            point = point.sel(time=slice(pd.Timestamp(start), pd.Timestamp(end)))
            columns: dict[str, Any] = {"date": pd.to_datetime(point["time"].values)}
            for ours, theirs in self.variables.items():
                values = np.asarray(point[theirs].values, dtype="float64")
                if ours != "precip_mm" and point[theirs].attrs.get("units") == "K":
                    values = values - 273.15
                columns[ours] = values
        table = validate_daily(pd.DataFrame(columns), source=str(self.path))
        expected = pd.date_range(start, end, freq="D")
        if len(table) != len(expected):
            raise InvalidInput(
                f"{self.path} holds {len(table)} of the {len(expected)} days {start}..{end}; choose a covered range"
            )
        return table
