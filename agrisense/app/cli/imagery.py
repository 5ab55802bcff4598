"""``agrisense imagery …``: Sentinel-2 per-plot time series from any STAC catalog."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import geopandas as gpd
import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agrisense.app.cli.errors import exit_code
from agrisense.errors import AgrisenseError, InvalidInput
from agrisense.geo.plots import PlotError, read_plots
from agrisense.imagery.composite import period_starts
from agrisense.imagery.plot_series import plot_timeseries

imagery_app = typer.Typer(help="Sentinel-2 imagery: per-plot time series.", no_args_is_help=True)
_err = Console(stderr=True)


def _date(text: str, name: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as exc:
        raise InvalidInput(f"--{name} must be a date YYYY-MM-DD, got {text!r}.") from exc


def _invalid_rows(errors: list[PlotError], starts: pd.DatetimeIndex) -> pd.DataFrame:
    """Rejected features stay in the output (status ``invalid_plot``) so no plot silently disappears."""
    rows = [
        {
            "plot_id": e.plot_id or f"feature-{e.index}",
            "period_start": start,
            "clear_fraction": 0.0,
            "n_obs": 0,
            "scene_ids": [],
            "baselines": [],
            "status": "invalid_plot",
            "reason": f"{e.code}: {e.message}",
        }
        for e in errors
        for start in starts
    ]
    return pd.DataFrame(rows)


@imagery_app.command("timeseries")
def timeseries(
    catalog: Annotated[str, typer.Option(help="Static STAC catalog (path or http(s) URL) or STAC API URL.")],
    plots: Annotated[Path, typer.Option(help="GeoJSON FeatureCollection of plots (EPSG:4326, plot_id).")],
    start: Annotated[str, typer.Option(help="First date, YYYY-MM-DD (included).")],
    end: Annotated[str, typer.Option(help="Last date, YYYY-MM-DD (included).")],
    out: Annotated[Path, typer.Option(help="Output Parquet file: one row per plot and period.")],
    period: Annotated[str, typer.Option(help="Composite period (pandas frequency: 1MS, 10D, ...).")] = "1MS",
    cache_dir: Annotated[
        Path | None, typer.Option(help="Composite cache folder (reused across runs and plots).")
    ] = None,
    collection: Annotated[str, typer.Option(help="STAC collection of Sentinel-2 L2A items.")] = "sentinel-2-l2a",
) -> None:
    """Cloud-masked per-period composites, indices and per-plot statistics with provenance, written to
    Parquet. Plots are grouped by tile so each tile is read once; rejected plots are listed, not dropped."""
    try:
        t0, t1 = _date(start, "start"), _date(end, "end")
        if t1 < t0:
            raise InvalidInput(f"--end {t1} is before --start {t0}.")
        if out.suffix.lower() != ".parquet":
            raise InvalidInput(f"--out must be a .parquet file, got {out}.")
        good, bad = read_plots(plots)
        for error in bad:
            _err.print(f"[yellow]skipped plot[/] {error.plot_id or f'feature {error.index}'}: {error.message}")
        starts = period_starts(t0, t1 + timedelta(days=1), period)
        frames = [_invalid_rows(bad, starts)] if bad else []
        if good:
            gdf = gpd.GeoDataFrame(
                {"plot_id": [p.plot_id for p in good]}, geometry=[p.geometry for p in good], crs=4326
            )
            from agrisense.imagery.catalog import open_source

            source = open_source(catalog, collection)
            with Progress(
                TextColumn("tiles"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=_err,
                transient=True,
            ) as bar:
                task = bar.add_task("", total=None)

                def advance(done: int, total: int, tile: str) -> None:
                    bar.update(task, completed=done, total=total, description=tile)

                frames.append(
                    plot_timeseries(source, gdf, t0, t1, period=period, cache_dir=cache_dir, progress=advance)
                )
        table = pd.concat(frames, ignore_index=True) if frames else _invalid_rows([], starts)
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(out, index=False)
    except AgrisenseError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(exit_code(exc)) from exc
    counts = table["status"].value_counts().to_dict() if len(table) else {}
    _err.print(
        f"wrote {len(table)} rows ({len(good)} plots x {len(starts)} periods"
        f"{f', {len(bad)} rejected' if bad else ''}) to {out}; status: {counts}"
    )
