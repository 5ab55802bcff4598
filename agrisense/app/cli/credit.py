"""``agrisense quote`` and ``agrisense stress``: a what-if offer from explicit inputs, and the portfolio stress
test over an offers.json. ``agrisense.app.cli.main`` registers them (``app.command("quote")(quote_command)``)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from agrisense.app.cli.errors import friendly as _friendly


def _region_weather(region: Path) -> Path:
    """The weather file of a region folder that must exist (the stress test replays it)."""
    from agrisense.errors import NotFound

    if not region.is_dir():
        raise NotFound(
            f"region folder {region} does not exist; build it with `agrisense sample build` or pass --region"
        )
    return region / "weather" / "daily.csv"


def _area_ha(area_ha: float | None, area_mu: float | None) -> float:
    from agrisense.errors import InvalidInput
    from agrisense.geo.area import MU_PER_HA

    if (area_ha is None) == (area_mu is None):
        raise InvalidInput("give the plot area once: --area-ha (hectares) or --area-mu (亩; 15 亩 = 1 ha)")
    return area_ha if area_ha is not None else float(area_mu or 0) / MU_PER_HA


@_friendly
def quote_command(
    crop: Annotated[str, typer.Option(help="Crop code of the location's market (e.g. rice, wheat, maize).")],
    area_ha: Annotated[float | None, typer.Option(help="Plot area, hectares.")] = None,
    area_mu: Annotated[float | None, typer.Option(help="Plot area, 亩 (15 亩 = 1 ha).")] = None,
    season: Annotated[
        int | None, typer.Option(help="Season (year of sowing) to finance; default: the next one still to sow.")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            help="Where: a region folder (weather from its weather/daily.csv) or a market area (jiangxi, 江西, "
            "henan, ...). Default: the configured region."
        ),
    ] = None,
    lon: Annotated[float | None, typer.Option(help="Where: longitude of the plot, decimal degrees (WGS84).")] = None,
    lat: Annotated[float | None, typer.Option(help="Where: latitude of the plot, decimal degrees (WGS84).")] = None,
    declared_area_ha: Annotated[float | None, typer.Option(help="Area the farmer declared, hectares.")] = None,
    crop_probability: Annotated[float, typer.Option(help="Confidence that the crop is right (0-1).")] = 1.0,
    ndvi_anomaly: Annotated[float | None, typer.Option(help="NDVI-integral z-score of the crop's condition.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the offer JSON.")] = False,
) -> None:
    """A what-if offer (limit, PD, EL, price, APR, decision, reasons, schedule) from explicit inputs; no imagery.
    The location picks the market (crops, prices, policy) and the weather."""
    from agrisense.config import settings_with
    from agrisense.quotes import QuoteInputs, quote_at, resolve

    settings = settings_with()
    where = resolve(settings, region=region, lon=lon, lat=lat)
    inputs = QuoteInputs(
        crop=crop,
        area_ha=_area_ha(area_ha, area_mu),
        season=season,
        declared_area_ha=declared_area_ha,
        crop_probability=crop_probability,
        ndvi_anomaly=ndvi_anomaly,
    )
    offer = quote_at(settings, where, inputs).to_dict()
    if as_json:
        sys.stdout.write(json.dumps(offer, ensure_ascii=False, indent=2) + "\n")
        return
    _print_quote(offer)


def _print_quote(offer: dict[str, Any]) -> None:
    from rich.console import Console

    console = Console(width=160)
    place = offer["location"]
    head = (
        f"[bold]{offer['decision'].upper()}[/] {offer['assessed_crop']} {offer['area_mu']:,.1f} 亩 "
        f"({offer['area_ha']:,.2f} ha), season {offer['finance_season']}, {place['area_en']} ({place['market']})"
    )
    if offer["pd"] is not None:
        head += (
            f": limit {offer['credit_limit']:,.2f} {offer['currency']}, PD {offer['pd']:.1%}, "
            f"rate {offer['annual_rate'] or 0:.2%}, APR {offer['apr'] or 0:.2%}"
        )
    console.print(head)
    for instalment in offer["schedule"]:
        console.print(f"  repay    {instalment['date']}: {instalment['total']:,.2f} {offer['currency']}")
    for reason in offer["reasons"]:
        console.print(f"  {reason['kind']:<8} {reason['code']}: {reason['message_en']}")
    explanation = offer["explanation"]
    console.print(f"  main:    {explanation['main_zh']} / {explanation['main_en']}")
    if explanation["change"]:
        console.print(f"  change:  {explanation['change']['message_zh']} / {explanation['change']['message_en']}")
    console.print(f"  weather: {place['weather_source']}")


@_friendly
def stress_command(
    offers: Annotated[Path, typer.Option(help="Offers JSON written by `agrisense demo` / `score --out`.")] = Path(
        "out/demo/offers.json"
    ),
    region: Annotated[Path, typer.Option(help="Region folder; weather from its weather/daily.csv.")] = Path(
        "data/sample_county"
    ),
    price_shock: Annotated[
        list[float] | None, typer.Option(help="Price shock, a fraction (repeatable); -0.3 = prices 30% lower.")
    ] = None,
    include_refer: Annotated[bool, typer.Option(help="Also stress referred offers that carry a limit.")] = False,
    repayment_capacity: Annotated[
        float, typer.Option(help="Share of the harvest value available to repay (1 = all of it).")
    ] = 1.0,
    out: Annotated[Path, typer.Option(help="Folder for scenarios.csv, summary.csv, stress.json, stress.png.")] = Path(
        "out/stress"
    ),
    database: Annotated[
        bool,
        typer.Option(
            help="Stress the booked loans of the configured database, sized by the ledger (outstanding "
            "principal + committed tranches, repayments booked; overrides included) instead of an offers file."
        ),
    ] = False,
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="With --database: the ledger's date (default: today)."),
    ] = None,
) -> None:
    """Replay every historical weather year and price shocks over the approved offers: losses and NPL rates."""
    from rich.console import Console
    from rich.table import Table

    from agrisense.agronomy.weather import LocalCsvWeather, crop_weather_risks
    from agrisense.config import settings_with
    from agrisense.credit.offer import read_offers
    from agrisense.credit.stress import portfolio_loans, stress_chart, stress_test
    from agrisense.errors import NotFound
    from agrisense.region import load_region
    from agrisense.services import region_crops

    book = ledger_book(as_of.date() if as_of else None) if database else [o.to_dict() for o in read_offers(offers)]
    weather_csv = _region_weather(region)
    if not weather_csv.is_file():
        raise NotFound(f"{weather_csv} does not exist; the stress test replays the region's weather history")
    settings = settings_with(region_dir=region)
    has_meta = (Path(settings.region_dir) / "region.json").is_file()  # a folder of weather only: the sample market
    crops = region_crops(settings, load_region(Path(settings.region_dir)) if has_meta else None)
    decisions = ("approve", "refer") if include_refer else ("approve",)
    history = LocalCsvWeather(weather_csv).history()
    book_crops = sorted({loan.crop for loan in portfolio_loans(book, decisions)} & set(crops))
    weather = crop_weather_risks(history, {c: crops[c] for c in book_crops})
    shocks = tuple(price_shock) if price_shock else (-0.3,)
    result = stress_test(
        book, crops, weather, price_shocks=shocks, decisions=decisions, repayment_capacity=repayment_capacity
    )
    out.mkdir(parents=True, exist_ok=True)
    result.scenarios.to_csv(out / "scenarios.csv", index=False)
    result.summary.to_csv(out / "summary.csv", index=False)
    stress_chart(result, out / "stress.png")
    summary = {
        "offers": "database" if database else str(offers),
        "ledger_as_of": (as_of.date().isoformat() if as_of else "today") if database else None,
        "decisions": list(decisions),
        "repayment_capacity": repayment_capacity,
        "n_loans": result.n_loans,
        "exposure": round(result.exposure, 2),
        "booked_expected_loss": round(result.booked_expected_loss, 2),
        "by_price_shock": json.loads(result.summary.round(6).to_json(orient="records")),
    }
    (out / "stress.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    table = Table(title=f"Stress test: {result.n_loans} loans, exposure {result.exposure:,.0f}")
    for col in ("price shock", "years", "EL", "EL %", "p95", "p99", "worst year", "worst", "NPL mean", "NPL worst"):
        table.add_column(col, justify="right")
    for row in result.summary.itertuples():
        table.add_row(
            f"{row.price_shock:+.0%}",
            str(row.years),
            f"{row.expected_loss:,.0f}",
            f"{row.expected_loss_rate:.2%}",
            f"{row.loss_p95:,.0f}",
            f"{row.loss_p99:,.0f}",
            str(row.worst_year),
            f"{row.worst_loss:,.0f}",
            f"{row.npl_rate_mean:.2%}",
            f"{row.npl_rate_worst:.2%}",
        )
    console = Console(width=160)
    console.print(table)
    console.print(
        f"assumptions: repayment capacity {repayment_capacity:.0%} of the harvest value, price shocks "
        f"{', '.join(f'{s:+.0%}' for s in shocks)}, decisions {', '.join(decisions)}"
    )
    if database:
        console.print(
            f"exposure from the ledger on {as_of.date() if as_of else 'today'}: outstanding principal + committed "
            "(not frozen) tranches; due: the remaining schedule after the repayments booked"
        )
    replay = result.summary.iloc[0]
    console.print(
        f"booked EL (scorecard) {result.booked_expected_loss:,.0f} beside the weather-replay EL "
        f"{replay.expected_loss:,.0f} (price shock {replay.price_shock:+.0%}); outputs in {out}"
    )


def ledger_book(as_of: dt.date | None) -> list[dict[str, Any]]:
    """The database's booked loans sized by the ledger (``loans.exposure.ledger_book``): outstanding principal and
    committed tranches, repayments booked, each plot's stored offer (an override's re-priced one)."""
    from agrisense.config import settings_with
    from agrisense.loans.exposure import ledger_book as book_of
    from agrisense.store import open_database

    return book_of(open_database(settings_with()), on=as_of)


@_friendly
def offer_schema_command(
    out: Annotated[Path | None, typer.Option(help="Write the schema here (default: print it).")] = None,
) -> None:
    """The JSON Schema of the offer (docs/offer.schema.json is generated by this command)."""
    from agrisense.credit.offer import offer_json_schema

    text = json.dumps(offer_json_schema(), ensure_ascii=False, indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
