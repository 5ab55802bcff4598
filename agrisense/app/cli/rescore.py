"""``agrisense rescore``: re-score a whole region (county) on Dask, resumable and incremental; in-season monitoring.

``agrisense.app.cli.main`` registers it: ``app.command("rescore")(rescore_command)``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from agrisense.app.cli.errors import friendly
from agrisense.errors import InvalidInput


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"--as-of {text!r} is not a date; write it as YYYY-MM-DD") from exc


@friendly
def rescore_command(
    region: Annotated[Path, typer.Option(help="Region folder (region.json, stac/, plots.geojson, weather/).")],
    out: Annotated[Path, typer.Option(help="Output folder; re-running into it computes only changed tiles.")],
    season: Annotated[int | None, typer.Option(help="Season (year) to score. Default: the region's season.")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of an existing Dask scheduler (tcp://host:8786). Default: local.")
    ] = None,
    workers: Annotated[int, typer.Option(min=0, help="Workers of the local Dask cluster; 0 = in this process.")] = 2,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="In-season run: only imagery up to this date (YYYY-MM-DD).")
    ] = None,
    active_loans: Annotated[
        Path | None,
        typer.Option(help="Accepted offers (JSON list) to monitor when the database has no active loans."),
    ] = None,
    database: Annotated[bool, typer.Option(help="Write rows and warnings to the configured database.")] = False,
) -> None:
    """Re-score every plot of a region tile by tile; writes plots.parquet, maps/, warnings.parquet, report.md."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from agrisense.config import settings_with
    from agrisense.pipelines.rescore_run import rescore_region

    settings = settings_with(region_dir=region)
    when = _date(as_of)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as progress:
        task = progress.add_task("planning tiles", total=None)

        def planned(n_tiles: int, n_todo: int) -> None:
            progress.update(task, total=n_todo, description=f"{n_todo} of {n_tiles} tiles to score")

        run = rescore_region(
            settings,
            out,
            season=season,
            as_of=when,
            scheduler_address=scheduler,
            n_workers=workers,
            active_loans_file=active_loans,
            use_database=database,
            on_plan=planned,
            on_tile=lambda _: progress.advance(task),
            on_dashboard=lambda link: progress.console.print(f"Dask dashboard: {link}"),
        )
    info = run.to_dict()
    typer.echo(
        f"{run.n_plots} plots in {run.n_tiles} tiles ({len(run.tiles_run)} computed, {run.tiles_skipped} unchanged) "
        f"in {info['timings_s']['total_s']:.1f} s; {run.warnings} warnings -> {out}/report.md"
    )
    if run.database:
        typer.echo(f"database: {run.database}")
