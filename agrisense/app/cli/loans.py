"""``agrisense loans``: servicing of the booked loans (the overdue / default rule), over the configured database."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer

from agrisense.app.cli.errors import friendly
from agrisense.app.cli.serve import DbOpt, StateOpt

loans_app = typer.Typer(help="Booked loans: servicing over the configured database.", no_args_is_help=True)


@loans_app.command("delinquency")
@friendly
def delinquency_command(
    as_of: Annotated[
        dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="Apply the rule as of this date (YYYY-MM-DD).")
    ],
    database_url: DbOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Mark paid-out loans overdue when an instalment is past due on --as-of, defaulted after the policy's
    loans.default_after_days, and cured (disbursed again) when nothing is past due; audited. Prints what changed."""
    from agrisense.config import settings_with
    from agrisense.loans.servicing import mark_delinquent
    from agrisense.store import open_database

    settings = settings_with(database_url=database_url, state_dir=state_dir)
    db = open_database(settings)
    try:
        summary = mark_delinquent(db, as_of=as_of.date(), settings=settings)
    finally:
        db.dispose()
    typer.echo(json.dumps(summary, indent=2))
