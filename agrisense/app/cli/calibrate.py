"""``agrisense calibrate-plots``: fit the plot crop-probability calibration and the region NDVI curves on a
region's truth. ``agrisense.app.cli.main`` registers it (``app.command("calibrate-plots")(calibrate_plots_command)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agrisense.app.cli.errors import friendly as _friendly


@_friendly
def calibrate_plots_command(
    region: Annotated[
        Path, typer.Option(help="Region folder with truth/ (plots_truth.parquet, fields.parquet).")
    ] = Path("data/sample_county"),
    out: Annotated[
        Path | None, typer.Option(help="Calibration file to update (default: the reference folder's).")
    ] = None,
    folds: Annotated[int, typer.Option(min=2, help="Cross-fitting folds of the reported reliability.")] = 5,
    workers: Annotated[int | None, typer.Option(help="Dask LocalCluster workers.")] = None,
) -> None:
    """Score the region's plots, fit crop probability (isotonic) and NDVI curves against its truth, report both."""
    from rich.console import Console

    from agrisense.config import settings_with
    from agrisense.ml.plot_calibration import PLOT_CALIBRATION_FILE
    from agrisense.pipelines.calibrate_plots import calibrate_region, report_lines

    settings = settings_with(region_dir=region, dask_workers=workers)
    target = out or Path(settings.reference_dir) / PLOT_CALIBRATION_FILE
    calibration = calibrate_region(settings, target, folds=folds)
    Console(width=120).print("\n".join([*report_lines(calibration), f"written to {target}"]))


@_friendly
def published_curves_command(
    market: Annotated[str, typer.Option(help="Market whose crops get curves (a file of data/reference/markets/).")],
    out: Annotated[Path, typer.Option(help="Expected NDVI curves table to write (the market's ndvi_curves_csv).")],
    season: Annotated[int, typer.Option(help="Harvest year the calendars are placed in.")] = 2026,
) -> None:
    """Expected NDVI curves of a market's crops from the published stage curves (no real samples: for crops such as
    the Chinese ones); the spread adds the real samples' between-field spread (ndvi_curves.csv)."""
    from rich.console import Console

    from agrisense.config import get_settings
    from agrisense.market import market_named
    from agrisense.ml.growth import load_expected_curves
    from agrisense.sample.expected_curves import field_spread, published_curves

    reference = Path(get_settings().reference_dir)
    crops = market_named(reference, market).crop_table()
    spread = field_spread(load_expected_curves(reference / "ndvi_curves.csv"))
    table = published_curves(crops, season, spread)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    Console().print(f"{len(table)} rows ({table['crop'].nunique()} crops, field spread {spread:.4f}) written to {out}")
