"""``agrisense serve`` (API + farmer app) and ``agrisense db upgrade|seed|create-user``.

``agrisense.app.cli.main`` registers them::

    from agrisense.app.cli.serve import create_user_command, db_seed_command, db_upgrade_command, serve_command
    app.command("serve")(serve_command)
    db_app = typer.Typer(help="The service database.", no_args_is_help=True)
    app.add_typer(db_app, name="db")
    db_app.command("upgrade")(db_upgrade_command)
    db_app.command("seed")(db_seed_command)
    db_app.command("create-user")(create_user_command)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from agrisense.app.cli.errors import friendly

DEFAULT_OFFERS = Path("out/demo/offers.json")


def _settings(region: Path | None = None, database_url: str | None = None, state_dir: Path | None = None) -> Any:
    from agrisense.config import settings_with

    return settings_with(region_dir=region, database_url=database_url, state_dir=state_dir)


def read_offers(path: Path) -> list[dict[str, Any]]:
    """Offers (their JSON form) from an offers file (``agrisense demo`` writes ``out/demo/offers.json``)."""
    from agrisense.credit.offer import read_offers as read_offer_file

    return [o.to_dict() for o in read_offer_file(path)]


def seed(settings: Any, offers_path: Path, *, allow_demo_accounts: bool = False) -> dict[str, Any]:
    """Seed the demo county, refused (``Conflict``) unless the database is empty and local (or explicitly allowed)."""
    from agrisense.errors import Conflict
    from agrisense.lending import seed_sample_county
    from agrisense.lending.seed import demo_seed_refusal
    from agrisense.store import open_database

    offers = read_offers(offers_path)
    db = open_database(settings)
    try:
        refusal = demo_seed_refusal(db, settings, offers, allow_demo_accounts=allow_demo_accounts)
        if refusal is not None:
            raise Conflict(refusal)
        return seed_sample_county(db, settings, offers)
    finally:
        db.dispose()


RegionOpt = Annotated[Path | None, typer.Option(help="Region folder (default: the embedded sample county).")]
DbOpt = Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL (default: SQLite in state_dir).")]
StateOpt = Annotated[Path | None, typer.Option(help="Service state folder (database, signing key).")]
AllowDemoOpt = Annotated[
    bool,
    typer.Option(
        "--allow-demo-accounts",
        help="Seed the demo accounts (published passwords) into an empty database that is not the local SQLite file.",
    ),
]


@friendly
def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    region: RegionOpt = None,
    database_url: DbOpt = None,
    state_dir: StateOpt = None,
    seed_sample: Annotated[
        bool, typer.Option("--seed-sample", help="First fill the database from --offers (demo accounts).")
    ] = False,
    offers: Annotated[Path, typer.Option(help="Offers JSON used by --seed-sample.")] = DEFAULT_OFFERS,
    allow_demo_accounts: AllowDemoOpt = False,
) -> None:
    """Start the API (/api/v1, docs at /docs) and the farmer web app (/)."""
    import uvicorn

    from agrisense.app.api.main import create_app
    from agrisense.app.api.web import check_web_assets
    from agrisense.logs import configure_logging, configured

    check_web_assets()  # fail fast: without Leaflet/Geoman the farmer app would be a blank map of 500s
    if not configured():  # `agrisense --log-level … serve` has configured it already
        configure_logging()
    settings = _settings(region, database_url, state_dir)
    if seed_sample:
        summary = seed(settings, offers, allow_demo_accounts=allow_demo_accounts)
        typer.echo(f"seeded {summary['farmers']} farmers, {summary['applications']} applications (demo accounts)")
    dialect = settings.database_url_or_default.split(":", 1)[0]
    typer.echo(f"agrisense API on http://{host}:{port}  (docs: /docs, database: {dialect})")
    # keep-alive longer than a phone's pause between requests, so a reused connection is not closed under it;
    # uvicorn's own loggers go through agrisense.logs (log_config=None) and its access log is off: the request-log
    # middleware writes one line per request, with the request id
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_keep_alive=75,
    )


@friendly
def db_upgrade_command(database_url: DbOpt = None, state_dir: StateOpt = None) -> None:
    """Create or migrate the service database to the newest schema (Alembic)."""
    from agrisense.store import open_database

    db = open_database(_settings(database_url=database_url, state_dir=state_dir))
    typer.echo(f"database at revision {db.current_revision()}")
    db.dispose()


@friendly
def db_seed_command(
    offers: Annotated[Path, typer.Option(help="Offers JSON (out/demo/offers.json from `make demo`).")] = DEFAULT_OFFERS,
    region: RegionOpt = None,
    database_url: DbOpt = None,
    state_dir: StateOpt = None,
    allow_demo_accounts: AllowDemoOpt = False,
) -> None:
    """Fill the database with the sample county's farmers, plots, consents and applications (DEMO accounts only;
    refused unless the database is empty and the local SQLite file, or --allow-demo-accounts)."""
    summary = seed(_settings(region, database_url, state_dir), offers, allow_demo_accounts=allow_demo_accounts)
    typer.echo(json.dumps(summary, indent=2))


@friendly
def create_user_command(
    phone: Annotated[str, typer.Option(help="Mobile number (the login name).")],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[str, typer.Option(help="farmer, analyst or admin.")] = "analyst",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Password (prompted).")
    ] = "",
    database_url: DbOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Create an account, e.g. the first admin (admins then add analysts through the API)."""
    from agrisense.lending import register_user
    from agrisense.store import open_database

    db = open_database(_settings(database_url=database_url, state_dir=state_dir))
    actor = register_user(db, phone=phone, password=password, name=name, role=role)
    db.dispose()
    typer.echo(f"created {actor.role} {actor.name} (id {actor.user_id})")
