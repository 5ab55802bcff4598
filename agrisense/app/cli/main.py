"""The ``agrisense`` command line: thin wrappers over ``agrisense.services``.

Commands import what they use inside their body on purpose: the scorer pulls in torch, dask and geopandas (about 6 s
on 2 cores), and ``agrisense --help`` or ``agrisense quote`` should not pay for it (1.5 s measured).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from agrisense.app.cli.errors import EXIT_CODES, friendly
from agrisense.config import Settings, settings_with

__all__ = ["EXIT_CODES", "app"]

app = typer.Typer(help="agrisense: satellite-verified seasonal credit for farmers.", no_args_is_help=True)
sample_app = typer.Typer(help="The embedded sample county (synthetic).", no_args_is_help=True)
train_app = typer.Typer(help="Train models.", no_args_is_help=True)
app.add_typer(sample_app, name="sample")
app.add_typer(train_app, name="train")

_friendly = friendly


@app.callback()
def _root(
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            metavar="LEVEL",
            help="DEBUG, INFO, WARNING, ERROR or CRITICAL; logs go to stderr. Default: $AGRISENSE_LOG_LEVEL or INFO.",
        ),
    ] = None,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log JSON lines instead of key=value text.")] = False,
) -> None:
    from agrisense.logs import configure_logging

    try:
        configure_logging(log_level, json=log_json or None)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-level") from exc


def _console() -> Console:
    """A console wide enough for offer tables when output goes to a file or a pipe."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _settings(region: Path | None, catalog: str | None = None, workers: int | None = None) -> Settings:
    return settings_with(region_dir=region, catalog=catalog, dask_workers=workers)


RegionOpt = Annotated[Path | None, typer.Option(help="Region folder (default: the embedded sample county).")]


@app.command()
@_friendly
def demo(
    region: RegionOpt = None,
    out: Annotated[Path, typer.Option(help="Folder for offers, report and map.")] = Path("out/demo"),
    workers: Annotated[int | None, typer.Option(help="Dask LocalCluster workers.")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Address of an existing Dask scheduler.")] = None,
) -> None:
    """Score every plot of the region and write offers, a summary and a report with a map."""
    from agrisense.pipelines.demo import run_demo
    from agrisense.report import print_summary

    settings = _settings(region, workers=workers)
    if scheduler:
        settings = settings.model_copy(update={"dask_scheduler": scheduler})
    result = run_demo(settings, out)
    print_summary(result, _console())


@app.command()
@_friendly
def score(
    plots: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection of plots (EPSG:4326).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the offers as a JSON list.")] = False,
    region: RegionOpt = None,
    catalog: Annotated[str | None, typer.Option(help="STAC catalog path/URL or STAC API URL.")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the offers JSON to this file.")] = None,
) -> None:
    """Offers for the plots in a GeoJSON file: one offer per input feature, in input order."""
    from agrisense import services
    from agrisense.pipelines.demo import dask_runner
    from agrisense.report import print_offers

    settings = _settings(region, catalog)
    run = services.score_file(plots, settings, runner=dask_runner(settings))
    offers = [o.to_dict() for o in run.offers]
    text = json.dumps(offers, ensure_ascii=False, indent=2)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    if as_json:
        sys.stdout.write(text + "\n")
    else:
        print_offers(offers, _console())


@sample_app.command("build")
@_friendly
def sample_build(
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default: the region folder of the settings, AGRISENSE_REGION_DIR)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 20261122,
    size_km: Annotated[
        float | None, typer.Option(help="Side of the square county, km (default: 10, the China county 5).")
    ] = None,
    season: Annotated[int, typer.Option(help="Season (year) of the imagery and plots.")] = 2026,
    n_farmers: Annotated[int | None, typer.Option(help="Number of farmers (default: from the area).")] = None,
    max_scenes: Annotated[int | None, typer.Option(help="Cap on acquisitions (quick builds).")] = None,
    market: Annotated[
        str, typer.Option(help="Market of the region: sample_county (East Africa) or china (with --province).")
    ] = "sample_county",
    province: Annotated[str | None, typer.Option(help="Area of the market, e.g. jiangxi (China).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the region already in the output folder.")] = False,
) -> None:
    """Build a synthetic sample county (imagery, STAC catalog, plots, truth, weather)."""
    from agrisense.errors import InvalidInput
    from agrisense.sample.build import build_region
    from agrisense.sample.profiles import find_profile

    profile = find_profile(market, province)
    out = out if out is not None else settings_with().region_dir
    if (out / "region.json").exists() and not force:
        raise InvalidInput(f"{out} already holds a region; pass --force to replace it, or --out for a new folder.")
    summary = build_region(
        out,
        seed=seed,
        size_km=size_km or profile.default_size_km,
        season=season,
        n_farmers=n_farmers,
        max_scenes=max_scenes,
        profile=profile,
    )
    Console().print(summary)


@sample_app.command("calibrate")
@_friendly
def sample_calibrate(
    real: Annotated[Path | None, typer.Option(help="Real data folder (default: AGRISENSE_REAL_DATA_DIR).")] = None,
    out: Annotated[Path | None, typer.Option(help="Tables folder (default: the checkout's tables).")] = None,
) -> None:
    """Rebuild the sample generator's calibration tables (spectra, field shapes, weather) from the real data."""
    from agrisense.sample.calibrate import write_calibration_tables

    Console().print(f"calibration tables written to {write_calibration_tables(real, out)}")


@train_app.command("curves")
@_friendly
def train_curves(
    samples: Annotated[Path, typer.Option(help="Labelled monthly Sentinel-2 samples (parquet).")],
    out: Annotated[Path, typer.Option(help="Expected NDVI curves table to write.")] = Path(
        "data/reference/ndvi_curves.csv"
    ),
) -> None:
    """Fit each crop's expected NDVI curve from labelled samples (data/reference/ndvi_curves.csv)."""
    import pandas as pd

    from agrisense.ml.growth import expected_curves

    table = expected_curves(pd.read_parquet(samples))
    table.to_csv(out, index=False)
    Console().print(f"{len(table)} rows written to {out}")


@train_app.command("cropland")
@_friendly
def train_cropland(
    region: Annotated[
        list[Path] | None,
        typer.Option(
            help="Region folder with truth/ (default the sample county). Give it again to add training regions "
            "with the same crops: the first is the main one (trained_on, test metrics, boundary head)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Model bundle folder.")] = Path("models/landcover_unet"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    epochs: Annotated[int, typer.Option(help="Most epochs (early stopping on the validation blocks).")] = 30,
    tile: Annotated[int, typer.Option(help="Training tile size, pixels.")] = 128,
    max_minutes: Annotated[float, typer.Option(help="Time budget of the whole run, minutes.")] = 15.0,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Rebuild the composites even if cached.")] = False,
) -> None:
    """Train the U-Net cropland / crop-type model on a region with truth."""
    from agrisense.ml.training import train_landcover

    main, *more = region or [Path("data/sample_county")]
    report = train_landcover(
        main,
        out,
        more_regions=more,
        seed=seed,
        device=device,
        epochs=epochs,
        tile=tile,
        max_minutes=max_minutes,
        use_cache=not no_cache,
    )
    test = report.metrics.get("test", {})
    Console().print(
        f"model {report.model_version} → {report.out_dir} ({report.weights_bytes / 1e6:.1f} MB) on {report.device}: "
        f"{report.epochs_run} epochs in {report.total_seconds:.0f} s; test OA {test.get('overall_accuracy')}, "
        f"macro-F1 {test.get('macro_f1')}, temperature {report.temperature:.2f}"
    )
    fields = report.metrics.get("fields")
    if fields:
        Console().print(_field_summary(fields))


@train_app.command("boundary")
@_friendly
def train_boundary_command(
    region: Annotated[Path, typer.Option(help="The region the model was trained on (with truth/).")] = Path(
        "data/sample_county"
    ),
    model: Annotated[Path, typer.Option(help="Land-cover bundle to add the head to.")] = Path("models/landcover_unet"),
    out: Annotated[Path | None, typer.Option(help="Write the bundle here instead of in place.")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs of the head.")] = 40,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Train the field-boundary head on a frozen land-cover model (class probabilities stay unchanged)."""
    from agrisense.ml.training import train_boundary

    Console().print(_field_summary(train_boundary(model, region, out_dir=out, epochs=epochs, device=device)))


def _field_summary(fields: dict[str, Any]) -> str:
    test, base = fields["test"], fields["test_cropland_only"]
    return (
        f"field boundaries: test fields {test['n_truth']}, F1 {test['f1']} at IoU 0.5 "
        f"(recall {test['recall']}, precision {test['precision']}); cropland patches only: F1 {base['f1']}; "
        f"threshold {fields['boundary_threshold']}"
    )


def _register_area_commands() -> None:
    """Commands that live with their area (agrisense/app/cli/*) join the one ``agrisense`` app."""
    from agrisense.app.cli.agronomy import calibrate_yield_command
    from agrisense.app.cli.calibrate import calibrate_plots_command, published_curves_command
    from agrisense.app.cli.credit import offer_schema_command, quote_command, stress_command
    from agrisense.app.cli.imagery import imagery_app
    from agrisense.app.cli.loans import loans_app
    from agrisense.app.cli.models import classify_samples_command, evaluate_command, train_croptype_command
    from agrisense.app.cli.plot_crop import train_plot_crop_command
    from agrisense.app.cli.rescore import rescore_command
    from agrisense.app.cli.serve import create_user_command, db_seed_command, db_upgrade_command, serve_command

    app.command("quote")(quote_command)
    app.command("offer-schema")(offer_schema_command)
    app.command("stress")(stress_command)
    app.command("calibrate-yield")(calibrate_yield_command)
    app.command("calibrate-plots")(calibrate_plots_command)
    train_app.command("published-curves")(published_curves_command)
    app.add_typer(imagery_app, name="imagery")
    train_app.command("crop-type")(train_croptype_command)
    train_app.command("plot-crop")(train_plot_crop_command)
    app.command("classify-samples")(classify_samples_command)
    app.command("evaluate")(evaluate_command)
    app.command("rescore")(rescore_command)
    app.command("serve")(serve_command)
    db_app = typer.Typer(help="The service database (SQLite by default, PostgreSQL + PostGIS in production).")
    db_app.command("upgrade")(db_upgrade_command)
    db_app.command("seed")(db_seed_command)
    db_app.command("create-user")(create_user_command)
    app.add_typer(db_app, name="db", no_args_is_help=True)
    app.add_typer(loans_app, name="loans")


_register_area_commands()


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
