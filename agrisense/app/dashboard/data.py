"""Cached loaders: the database handle, re-score runs, reference curves, map mosaics and the stress test.

Heavy or file-backed things are cached (``st.cache_resource`` for handles, ``st.cache_data`` for values) with
keys that change when their source does (a file's mtime, the set of financed loans), so a click never
recomputes them. Reads of the lending database are not cached: they are a few milliseconds and must show an
analyst's decision at once.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from agrisense.app.dashboard import charts
from agrisense.app.dashboard.maps import Mosaic, mosaic, padded_bounds
from agrisense.app.dashboard.rescore import RescoreRun, find_runs, read_run
from agrisense.config import Settings
from agrisense.lending.outline_checks import Progress, application_outline_checks
from agrisense.store import Database, open_database
from agrisense.warmup import start_warm_up

if TYPE_CHECKING:
    from agrisense.agronomy.calendar import CropReference
    from agrisense.agronomy.weather import WeatherRisk


@st.cache_resource(show_spinner=False)
def database(url: str, _settings: Settings) -> Database:
    """One Database (engine + pool) per URL for the whole server; migrated to head on first use."""
    return open_database(_settings)


def _first_charts() -> None:
    """Draw each offer chart once on made-up numbers: Matplotlib's first figures load the fonts, the layout engine
    and the artists' code (a second or two that the first Application page would otherwise wait for)."""
    _png(charts.crop_probability_chart({"maize": 0.7, "beans": 0.3}, "maize"))
    _png(
        charts.ndvi_chart(
            {5: 0.4, 6: 0.6},
            season=2026,
            crop="maize",
            expected_mean={5: 0.3, 6: 0.5},
            expected_std={5: 0.1, 6: 0.1},
            earlier={2025: {5: 0.35, 6: 0.55}},
        )
    )
    _png(charts.yield_chart({"p10": 1.0, "p50": 2.0, "p90": 3.0, "unit": "t/ha"}))
    _png(charts.weather_chart({"drought": 0.1, "heat": 0.05, "first_year": 1991, "last_year": 2025}))


@st.cache_resource(show_spinner=False)
def warm_up(models_key: str, _settings: Settings) -> None:
    """Once per dashboard server: load the model (the outline checks of the Application page) and draw the first
    charts in the background while the analyst logs in and reads the queue (``agrisense.warmup``)."""
    start_warm_up(_settings, _first_charts)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@st.cache_data(show_spinner=False, max_entries=16)
def _run(path: str, _stamp: tuple[float, float, float]) -> RescoreRun:
    return read_run(Path(path))


def rescore_runs(root: Path) -> list[RescoreRun]:
    """Every run under ``root``, oldest first (each read once per change of its files)."""
    runs = []
    for path in find_runs(root):
        stamp = tuple(_mtime(path / f) for f in ("plots.parquet", "warnings.parquet", "run.json"))
        runs.append(_run(str(path), stamp))  # type: ignore[arg-type]
    return runs


@st.cache_resource(show_spinner=False)
def expected_curves(region_dir: str, reference_dir: str, model_version: str | None) -> dict[str, Any]:
    """Per-crop expected NDVI curves the offers of this crop model were measured against (the region's plot
    calibration, else its market's reference curves); {} when the region or the reference table is missing."""
    from agrisense.config import settings_with
    from agrisense.errors import NotFound
    from agrisense.region import load_region
    from agrisense.services import expected_curves as scoring_curves

    settings = settings_with(region_dir=region_dir, reference_dir=reference_dir)
    try:
        region = load_region(Path(region_dir)) if (Path(region_dir) / "region.json").is_file() else None
        return dict(scoring_curves(settings, region, model_version))
    except NotFound:
        return {}


@st.cache_data(show_spinner=False, max_entries=64)
def map_background(
    bounds: tuple[float, float, float, float],
    layer: str,
    _settings: Settings,
    settings_key: tuple[str, str],
    max_tiles: int = 16,
) -> Mosaic | None:
    """The imagery mosaic under ``bounds`` from the service's own tiles (None on a cold cache)."""
    from agrisense.imagery.tiles import render_tile

    def fetch(z: int, x: int, y: int) -> bytes | None:
        return render_tile(layer, z, x, y, settings=_settings)  # type: ignore[arg-type]

    return mosaic(bounds, fetch, max_tiles=max_tiles)


def background(
    bounds: tuple[float, float, float, float], settings: Settings, *, layer: str = "truecolor", max_tiles: int = 16
) -> Mosaic | None:
    """``map_background`` keyed by the region and the imagery cache it reads."""
    key = (str(settings.region_dir), str(settings.cache_dir))
    rounded = tuple(round(v, 6) for v in bounds)
    return map_background(rounded, layer, settings, key, max_tiles)  # type: ignore[arg-type]


def stress_weather(weather_csv: Path, crops: Mapping[str, CropReference]) -> dict[str, WeatherRisk]:
    """The weather risk of each crop at the region's station file, as its offers carry it
    (``agronomy.weather.weather_risk``, the scorer's: a crop grown in several seasons a year, double rice, gets the
    revenue-weighted risk of its seasons, year by year)."""
    from agrisense.agronomy.weather import LocalCsvWeather, crop_weather_risks

    return crop_weather_risks(LocalCsvWeather(weather_csv).history(), crops)


@st.cache_data(show_spinner=False, max_entries=32)
def _stress(
    book_key: tuple[tuple[str, float], ...],
    shocks: tuple[float, ...],
    _offers: Sequence[Mapping[str, Any]],
    region_dir: str,
    reference_dir: str,
) -> dict[str, Any]:
    from agrisense.config import settings_with
    from agrisense.credit.stress import portfolio_loans, stress_chart, stress_test
    from agrisense.region import load_region
    from agrisense.services import region_crops

    region = load_region(Path(region_dir))
    crops = region_crops(settings_with(region_dir=region_dir, reference_dir=reference_dir), region)
    decisions = ("approve", "refer")  # a financed loan was approved by the engine or by an analyst
    book_crops = sorted({loan.crop for loan in portfolio_loans(_offers, decisions)} & set(crops))
    weather = stress_weather(region.weather, {c: crops[c] for c in book_crops})
    result = stress_test(_offers, crops, weather, price_shocks=shocks, decisions=decisions)
    with tempfile.TemporaryDirectory() as tmp:
        png = stress_chart(result, Path(tmp) / "stress.png").read_bytes()
    return {
        "summary": result.summary,
        "scenarios": result.scenarios,
        "n_loans": result.n_loans,
        "exposure": result.exposure,
        "booked_expected_loss": result.booked_expected_loss,
        "chart_png": png,
    }


def stress(offers: Sequence[Mapping[str, Any]], shocks: Sequence[float], settings: Settings) -> dict[str, Any]:
    """The portfolio stress test (``agrisense stress``) over the financed offers, once per book and shocks."""
    key = tuple(sorted((str(o["plot_id"]), float(o.get("credit_limit") or 0.0)) for o in offers))
    return _stress(key, tuple(shocks), offers, str(settings.region_dir), str(settings.reference_dir))


def _png(fig: Any) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


_CHARTS: dict[str, Callable[..., Any]] = {
    "crop_probability": charts.crop_probability_chart,
    "ndvi": charts.ndvi_chart,
    "yield": charts.yield_chart,
    "weather": charts.weather_chart,
}


@st.cache_data(show_spinner=False, max_entries=128)
def _map_png(
    features: list[dict[str, Any]],
    colour_by: str | None,
    layer: str,
    title: str,
    max_tiles: int,
    pad: float,
    highlight: tuple[str, ...],
    _settings: Settings,
    settings_key: tuple[str, str],
) -> bytes:
    from agrisense.app.dashboard.views import geo_frame

    frame = geo_frame(features)
    bounds = padded_bounds(tuple(float(v) for v in frame.total_bounds), share=pad)  # type: ignore[arg-type]
    mosaic_ = background(bounds, _settings, layer=layer, max_tiles=max_tiles)
    return _png(charts.plot_map(frame, colour_by=colour_by, background=mosaic_, title=title, highlight=highlight))


def map_png(
    features: Sequence[Mapping[str, Any]],
    settings: Settings,
    *,
    colour_by: str | None = None,
    layer: str = "truecolor",
    title: str = "",
    max_tiles: int = 16,
    pad: float = 0.15,
    highlight: Sequence[str] = (),
) -> bytes:
    """Plots (dicts with ``plot_id``, a GeoJSON ``geometry`` and the ``colour_by`` value) over the imagery tiles, as
    a PNG drawn once per distinct input."""
    key = (str(settings.region_dir), str(settings.cache_dir))
    rows = [dict(f) for f in features]
    return _map_png(rows, colour_by, layer, title, max_tiles, pad, tuple(highlight), settings, key)


def show_plots_map(features: Sequence[Mapping[str, Any]], settings: Settings, colour_by: str, title: str) -> None:
    """A page-wide map of many plots (the queue's, the portfolio's) coloured by ``colour_by``, over the imagery."""
    png = map_png(features, settings, colour_by=colour_by, pad=0.05, max_tiles=16, title=title)
    st.image(png, width="stretch")


@st.cache_data(show_spinner=False, max_entries=256)
def offer_charts_png(
    app_id: int, plot_id: str, offer_version: str, _inputs: Mapping[str, Mapping[str, Any]]
) -> dict[str, bytes]:
    """One plot's offer charts (``views.chart_inputs``: kind -> arguments) as PNGs, drawn once per application,
    plot and offer version (``views.offer_version``, which covers everything the charts show)."""
    return {kind: _png(_CHARTS[kind](**args)) for kind, args in _inputs.items()}


PREFETCH = 5
"""Applications whose outline checks the dashboard computes ahead of the analyst: the queue's first ones at log-in,
the next ones in the queue on each application page."""


@st.cache_resource(show_spinner=False)
def _outline_worker(url: str) -> tuple[ThreadPoolExecutor, dict[int, Future[Any]]]:
    """One background thread per database for outline checks ahead of the analyst (the model is CPU-bound: one
    at a time), and the checks it was given, by application id."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="agrisense-outline-checks"), {}


def prefetch_outline_checks(database_: Database, actor: Any, app_ids: Sequence[int], settings: Settings) -> None:
    """Compute and store, in the background, the outline checks of ``app_ids`` that have none yet (the first
    ``PREFETCH`` of them), so the Application page finds them stored."""
    pool, jobs = _outline_worker(database_.url)
    for app_id in [int(i) for i in app_ids][:PREFETCH]:
        if app_id not in jobs:
            jobs[app_id] = pool.submit(application_outline_checks, database_, actor, app_id, settings=settings)


def outline_checks(
    database_: Database, actor: Any, app_id: int, settings: Settings, progress: Progress | None = None
) -> dict[str, dict[str, Any]]:
    """The application's outline checks (``lending.outline_checks``): joins a background check of it in progress
    instead of running the model a second time (one still queued behind others is cancelled, not waited for),
    then reads them (computing any still missing; ``progress`` is told after each plot computed here)."""
    job = _outline_worker(database_.url)[1].pop(int(app_id), None)
    if job is not None and not job.cancel():  # running or done
        with contextlib.suppress(Exception):  # a failed prefetch: the call below reports it
            job.result()
    return application_outline_checks(database_, actor, int(app_id), settings=settings, progress=progress)


@st.cache_data(show_spinner=False, max_entries=64)
def bars_png(table: Any, by: str, currency: str) -> bytes:
    """Exposure and expected loss per group as PNG (cached on the table's content)."""
    return _png(charts.group_bars(table, by=by, currency=currency))


@st.cache_data(show_spinner=False, max_entries=64)
def distribution_png(baseline: Any, current: Any, name: str, labels: tuple[str, str]) -> bytes:
    """Overlaid histograms of one variable in two runs, as PNG."""
    return _png(charts.distribution_chart(baseline, current, name=name, labels=labels))


@st.cache_data(show_spinner=False, max_entries=64)
def mix_png(mix: Any, name: str, labels: tuple[str, str]) -> bytes:
    """Class shares in two runs, as PNG."""
    return _png(charts.class_mix_chart(mix, name=name, labels=labels))
