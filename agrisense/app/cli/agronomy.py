"""``agrisense calibrate-yield``: fit and cross-validate the yield model on observed region-year yields.
``agrisense.app.cli.main`` registers it (``app.command("calibrate-yield")(calibrate_yield_command)``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from agrisense.app.cli.errors import friendly as _friendly

MODELS: dict[str, tuple[str, ...]] = {
    "trend": (),
    "trend+loss": ("weather_loss",),
    "trend+indices": ("spi_short", "spi_long", "heat_days", "harvest_rain_mm"),
}


@_friendly
def calibrate_yield_command(
    yields: Annotated[
        Path, typer.Option(help="CSV: region, year, crop, yield_t_ha [+ predictors], or the USDA NASS layout.")
    ],
    region: Annotated[list[str] | None, typer.Option(help="Keep only these regions (repeatable).")] = None,
    crop: Annotated[list[str] | None, typer.Option(help="Keep only these crops (repeatable).")] = None,
    first_year: Annotated[
        int | None, typer.Option(help="First year used (default: each series' last --window years).")
    ] = None,
    last_year: Annotated[int | None, typer.Option(help="Last year used.")] = None,
    weather: Annotated[Path | None, typer.Option(help="Daily weather CSV of one place (date, tmin_c, ...).")] = None,
    weather_region: Annotated[str | None, typer.Option(help="The region of the yield table that --weather is.")] = None,
    crop_map: Annotated[
        list[str] | None,
        typer.Option(help="Yield crop = crops.csv crop whose calendar gives the weather indices, e.g. corn=maize."),
    ] = None,
    window: Annotated[
        int, typer.Option(help="Years per series when --first-year is not given (one trend does not fit 1866-2011).")
    ] = 30,
    predictors: Annotated[
        list[str] | None,
        typer.Option(
            "--predictor",
            help="Predictor column(s) of the yield table or of --predictor-table; shell patterns such as "
            "'precip_mm_m*' (repeatable). Adds the model trend+table.",
        ),
    ] = None,
    predictor_table: Annotated[
        Path | None, typer.Option(help="CSV keyed by region, year with predictor columns (e.g. monthly weather).")
    ] = None,
    scheme: Annotated[str, typer.Option(help="loyo (leave one year out) or blocked.")] = "loyo",
    blocks: Annotated[int, typer.Option(help="Contiguous year blocks for --scheme blocked.")] = 5,
    out: Annotated[Path, typer.Option(help="Folder for cv.csv and fits.json.")] = Path("out/yield_calibration"),
) -> None:
    """Cross-validated RMSE (% of mean yield) of trend-only and trend + season-weather yield models."""
    import pandas as pd
    from rich.console import Console

    from agrisense.agronomy.calendar import load_crop_table
    from agrisense.agronomy.calibration import (
        calibrate,
        season_indices,
        table_predictors,
        usda_yield_table,
        validate_yield_table,
        with_season_indices,
    )
    from agrisense.agronomy.coverage import recent_window
    from agrisense.agronomy.weather import LocalCsvWeather
    from agrisense.config import settings_with
    from agrisense.errors import InvalidInput, NotFound

    if not yields.is_file():
        raise NotFound(f"yield table {yields} does not exist")
    if scheme not in ("loyo", "blocked"):
        raise InvalidInput(f"--scheme must be loyo or blocked, got {scheme!r}")
    head = pd.read_csv(yields, nrows=1)
    if "unit" in head.columns and "state" in head.columns:
        table = usda_yield_table(
            yields, states=region or (), crops=crop or (), first_year=first_year, last_year=last_year
        )
    else:
        table = validate_yield_table(pd.read_csv(yields))
        keep = pd.Series(True, index=table.index)
        if region:
            keep &= table["region"].isin(region)
        if crop:
            keep &= table["crop"].isin(crop)
        if first_year is not None:
            keep &= table["year"] >= first_year
        if last_year is not None:
            keep &= table["year"] <= last_year
        table = table[keep]
    if first_year is None:
        table = recent_window(table, window)
        ends = table.groupby(["region", "crop"])["year"].max()
        last = int(ends.max()) if len(ends) else 0
        Console(width=160).print(
            f"each series' last {window} years ({last - window + 1}-{last} for the {int((ends == last).sum())} of "
            f"{len(ends)} series that end in {last}); pass --first-year to choose others"
        )
    models: dict[str, tuple[str, ...]] = {"trend": ()}
    if predictors or predictor_table is not None:
        if predictor_table is not None and not predictor_table.is_file():
            raise NotFound(f"predictor table {predictor_table} does not exist")
        extra = pd.read_csv(predictor_table) if predictor_table is not None else None
        table, names = table_predictors(table, predictors or ["*"], extra)
        models["trend+table"] = names
    if weather is not None:
        if weather_region is None or not crop_map:
            raise InvalidInput("--weather needs --weather-region and at least one --crop-map such as corn=maize")
        crops = load_crop_table(settings_with().reference_dir / "crops.csv")
        daily = LocalCsvWeather(weather).history()
        for pair in crop_map:
            name, _, ours = pair.partition("=")
            if ours not in crops:
                raise InvalidInput(f"--crop-map {pair}: {ours!r} is not a crop of crops.csv ({', '.join(crops)})")
            table = with_season_indices(table, season_indices(daily, crops[ours]), region=weather_region, crop=name)
        models = {**MODELS, **models}
    result, fits = calibrate(table, models, scheme=scheme, n_blocks=blocks)  # type: ignore[arg-type]
    out.mkdir(parents=True, exist_ok=True)
    result.to_csv(out / "cv.csv", index=False)
    (out / "fits.json").write_text(json.dumps([f.to_dict() for f in fits], indent=2) + "\n", encoding="utf-8")
    pivot = result.pivot_table(index=["crop", "region"], columns="model", values="rmse_pct").round(1)
    Console(width=160).print(f"RMSE, % of mean yield ({scheme}):\n{pivot.to_string()}\noutputs in {out}")
