from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrisense.agronomy.weather_providers import NetCdfWeather, OpenMeteoArchive, parse_open_meteo
from agrisense.errors import InvalidInput, WeatherUnavailable

FIXTURES = Path(__file__).parent / "fixtures"
START, END = date(2019, 6, 1), date(2019, 6, 10)


class Recorded:
    """A transport replaying recorded (status, body) answers in order; records the URLs asked for."""

    def __init__(self, *answers: tuple[int, bytes] | Exception) -> None:
        self.answers, self.urls = list(answers), []

    def __call__(self, url: str, timeout_s: float) -> tuple[int, bytes]:
        self.urls.append(url)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok_body() -> bytes:
    return (FIXTURES / "open_meteo_archive_2019-06-01_10.json").read_bytes()


def provider(transport: Recorded, **kw) -> OpenMeteoArchive:
    sleeps: list[float] = []
    p = OpenMeteoArchive(0.52, 34.28, transport=transport, sleep=sleeps.append, **kw)
    p.sleeps = sleeps  # type: ignore[attr-defined]
    return p


def test_open_meteo_parses_recorded_response():
    transport = Recorded((200, ok_body()))
    frame = provider(transport).daily(START, END)
    assert list(frame.columns) == ["date", "tmin_c", "tmax_c", "precip_mm"] and len(frame) == 10
    assert frame["tmax_c"].iloc[0] == 27.4 and frame["tmin_c"].iloc[0] == 16.2
    assert frame["precip_mm"].sum() == pytest.approx(45.3)
    url = transport.urls[0]
    assert url.startswith("https://archive-api.open-meteo.com/v1/archive?")
    assert "start_date=2019-06-01" in url and "end_date=2019-06-10" in url
    assert "daily=temperature_2m_max,temperature_2m_min,precipitation_sum" in url and "timezone=auto" in url


def test_open_meteo_retries_then_succeeds():
    transport = Recorded(OSError("connection reset"), (503, b"busy"), (200, ok_body()))
    p = provider(transport, backoff_s=0.5)
    assert len(p.daily(START, END)) == 10
    assert p.sleeps == [0.5, 1.0]  # type: ignore[attr-defined]


def test_open_meteo_gives_up_with_clear_error():
    p = provider(Recorded(*[(429, b'{"error": true, "reason": "Too many requests"}')] * 3), retries=2)
    with pytest.raises(WeatherUnavailable, match="after 3 attempt.*Too many requests"):
        p.daily(START, END)


def test_open_meteo_bad_request_is_not_retried():
    transport = Recorded((400, (FIXTURES / "open_meteo_error_400.json").read_bytes()))
    with pytest.raises(WeatherUnavailable, match="HTTP 400.*out of allowed range"):
        provider(transport).daily(START, END)
    assert len(transport.urls) == 1


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["daily"]["precipitation_sum"].__setitem__(9, None), "no values for 1 day"),
        (lambda d: d["daily"].pop("temperature_2m_min"), "lacks daily temperature_2m_min"),
        (lambda d: d.pop("daily"), "no 'daily' block"),
        (lambda d: d["daily_units"].__setitem__("precipitation_sum", "inch"), "units"),
        (lambda d: [d["daily"][k].pop() for k in d["daily"]], "incomplete"),
    ],
)
def test_open_meteo_rejects_broken_payloads(edit, message):
    payload = json.loads(ok_body())
    edit(payload)
    with pytest.raises(WeatherUnavailable, match=message):
        parse_open_meteo(payload, START, END)


def test_open_meteo_input_checks():
    with pytest.raises(InvalidInput, match="not a place"):
        OpenMeteoArchive(134.0, 0.5)
    with pytest.raises(InvalidInput, match="before start"):
        provider(Recorded()).daily(END, START)


def test_netcdf_weather_nearest_cell(tmp_path: Path):
    xr = pytest.importorskip("xarray")
    time = pd.date_range("2000-01-01", "2000-01-31", freq="D")
    lat, lon = np.array([0.0, 1.0]), np.array([34.0, 35.0])
    shape = (len(time), 2, 2)
    tmax = np.full(shape, 300.15)
    tmax[:, 1, 0] = 303.15  # the cell at lat 1, lon 34 is warmer
    ds = xr.Dataset(
        {
            "t2max": (("time", "lat", "lon"), tmax, {"units": "K"}),
            "t2min": (("time", "lat", "lon"), np.full(shape, 290.15), {"units": "K"}),
            "rain": (("time", "lat", "lon"), np.ones(shape), {"units": "mm"}),
        },
        coords={"time": time, "lat": lat, "lon": lon},
    )
    path = tmp_path / "cube.nc"
    ds.to_netcdf(path, engine="scipy")
    source = NetCdfWeather(path, 0.9, 34.1, {"tmax_c": "t2max", "tmin_c": "t2min", "precip_mm": "rain"})
    frame = source.daily(date(2000, 1, 5), date(2000, 1, 14))
    assert (
        len(frame) == 10
        and frame["tmax_c"].iloc[0] == pytest.approx(30.0)
        and frame["tmin_c"].iloc[0] == pytest.approx(17.0)
    )
    with pytest.raises(InvalidInput, match="holds"):
        source.daily(date(2000, 1, 20), date(2000, 2, 5))
    with pytest.raises(InvalidInput, match="no variable"):
        NetCdfWeather(path, 0.0, 34.0).daily(date(2000, 1, 1), date(2000, 1, 2))
