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
