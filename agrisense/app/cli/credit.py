"""``agrisense quote`` and ``agrisense stress``: a what-if offer from explicit inputs, and the portfolio stress
test over an offers.json. ``agrisense.app.cli.main`` registers them (``app.command("quote")(quote_command)``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from agrisense.app.cli.errors import friendly as _friendly


def _region_weather(region: Path) -> Path:
    from agrisense.errors import NotFound

    if not region.is_dir():
        raise NotFound(
            f"region folder {region} does not exist; build it with `agrisense sample build` or pass --region"
        )
    return region / "weather" / "daily.csv"


@_friendly
def quote_command(
    crop: Annotated[str, typer.Option(help="Crop name as in data/reference/crops.csv (e.g. maize).")],
    area_ha: Annotated[float, typer.Option(help="Plot area, hectares.")],
    season: Annotated[int, typer.Option(help="Season (year) to finance.")],
    region: Annotated[
        Path | None, typer.Option(help="Region folder; weather risk from its weather/daily.csv (default: settings).")
    ] = None,
    declared_area_ha: Annotated[float | None, typer.Option(help="Area the farmer declared, hectares.")] = None,
    crop_probability: Annotated[float, typer.Option(help="Confidence that the crop is right (0-1).")] = 1.0,
    ndvi_anomaly: Annotated[float | None, typer.Option(help="NDVI-integral z-score of the crop's condition.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the offer JSON.")] = False,
) -> None:
    """A what-if offer (limit, PD, EL, price, APR, decision, reasons, schedule) from explicit inputs; no imagery."""
    from agrisense.agronomy.calendar import load_crop_table
    from agrisense.agronomy.weather import LocalCsvWeather, weather_risk
    from agrisense.config import settings_with
    from agrisense.credit.engine import quote
    from agrisense.credit.policy import load_policy

    settings = settings_with(region_dir=region)
    crops = load_crop_table(settings.reference_dir / "crops.csv")
    policy = load_policy(settings.policy_file)
    # an explicit --region must exist; without one, a missing default region just means no weather history
    weather_csv = (
        _region_weather(settings.region_dir) if region is not None else settings.region_dir / "weather" / "daily.csv"
    )
    risk = None
    if crop in crops and weather_csv.is_file():
        risk = weather_risk(LocalCsvWeather(weather_csv).history(), crops[crop], crop)
    offer = quote(
        crop,
        area_ha,
        season=season,
        crops=crops,
        policy=policy,
        weather=risk,
        declared_area_ha=declared_area_ha,
        crop_probability=crop_probability,
        ndvi_anomaly=ndvi_anomaly,
    ).to_dict()
    if as_json:
        sys.stdout.write(json.dumps(offer, ensure_ascii=False, indent=2) + "\n")
        return
    from rich.console import Console

    console = Console(width=160)
    head = f"[bold]{offer['decision'].upper()}[/] {crop} {area_ha} ha, season {season}"
    if offer["pd"] is not None:
        head += (
            f": limit {offer['credit_limit']:,.2f} {offer['currency']}, PD {offer['pd']:.1%}, "
            f"rate {offer['annual_rate'] or 0:.2%}, APR {offer['apr'] or 0:.2%}"
        )
    console.print(head)
    for reason in offer["reasons"]:
        console.print(f"  {reason['kind']:<8} {reason['code']}: {reason['message_en']}")


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
            help="Stress the booked loans of the configured database (their accepted offers, overrides "
            "included) instead of an offers file."
        ),
    ] = False,
) -> None:
    """Replay every historical weather year and price shocks over the approved offers: losses and NPL rates."""
    from rich.console import Console
    from rich.table import Table

    from agrisense.agronomy.calendar import load_crop_table
    from agrisense.agronomy.weather import LocalCsvWeather, weather_risk
    from agrisense.config import settings_with
    from agrisense.credit.offer import read_offers
    from agrisense.credit.stress import portfolio_loans, stress_chart, stress_test
    from agrisense.errors import NotFound

    book = ledger_book() if database else [o.to_dict() for o in read_offers(offers)]
    weather_csv = _region_weather(region)
    if not weather_csv.is_file():
        raise NotFound(f"{weather_csv} does not exist; the stress test replays the region's weather history")
    settings = settings_with(region_dir=region)
    crops = load_crop_table(settings.reference_dir / "crops.csv")
    decisions = ("approve", "refer") if include_refer else ("approve",)
    history = LocalCsvWeather(weather_csv).history()
    book_crops = sorted({loan.crop for loan in portfolio_loans(book, decisions)} & set(crops))
    weather = {c: weather_risk(history, crops[c], c) for c in book_crops}
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
    replay = result.summary.iloc[0]
    console.print(
        f"booked EL (scorecard) {result.booked_expected_loss:,.0f} beside the weather-replay EL "
        f"{replay.expected_loss:,.0f} (price shock {replay.price_shock:+.0%}); outputs in {out}"
    )


def ledger_book() -> list[dict[str, Any]]:
    """The offers of the database's booked loans (accepted applications not repaid), as stored: an analyst's
    override re-priced them, so the limits are the booked ones. Every one is a loan, whatever the engine said."""
    from agrisense.config import settings_with
    from agrisense.lending import active_loans
    from agrisense.store import open_database

    book = []
    for loan in active_loans(open_database(settings_with())):
        for plot in loan["plots"]:
            offer = plot.get("offer")
            if offer and float(offer.get("credit_limit") or 0) > 0:
                book.append({**offer, "decision": "approve"})
    return book


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
