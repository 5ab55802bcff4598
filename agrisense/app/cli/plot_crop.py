"""``agrisense train plot-crop``: the plot crop model from regions with truth and real labelled samples.

``agrisense.app.cli.main`` registers it: ``train_app.command("plot-crop")(train_plot_crop_command)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from agrisense.app.cli.errors import friendly
from agrisense.errors import InvalidInput


@friendly
def train_plot_crop_command(
    region: Annotated[
        list[Path],
        typer.Option(help="Region folder with truth/ (repeat for more; the first names the crops)."),
    ],
    out: Annotated[Path, typer.Option(help="Model folder (plot_crop.json and report.json are written there).")],
    samples: Annotated[
        Path | None,
        typer.Option(help="Real labelled sample table (.parquet, e.g. dev_samples.parquet) joining the training rows."),
    ] = None,
    sample_region: Annotated[
        list[str] | None, typer.Option(help="Use only sample rows of this table region (repeatable).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train the plot crop model that refines the land-cover model's crops when a plot is scored."""
    from agrisense.app.cli.models import read_sample_table
    from agrisense.config import settings_with
    from agrisense.ml.training.plot_crop import collect_region_plots, fit_plot_crop, sample_rows
    from agrisense.region import load_region

    settings = settings_with(region_dir=region[0])
    crops = load_region(region[0]).crops
    regions = []
    for folder in region:
        if load_region(folder).crops != crops:
            raise InvalidInput(f"{folder} grows {load_region(folder).crops}, not {crops}: train one model per market")
        typer.echo(f"collecting plots of {folder} ...")
        regions.append(collect_region_plots(settings_with(region_dir=folder), crops))
    real, crop_labels = None, None
    if samples is not None:
        crops_csv = pd.read_csv(Path(settings.reference_dir) / "crops.csv")
        labels = dict(zip(crops_csv["crop"], crops_csv["sample_labels"], strict=True))
        crop_labels = {c: labels[c] for c in crops if c in labels}
        real = sample_rows(read_sample_table(samples), crop_labels, regions=sample_region or ())
    model, report = fit_plot_crop(regions, real, crops, name=out.name, seed=seed, sample_labels=crop_labels)
    if real is not None and real.lonlat is not None:
        from agrisense.ml.training.plot_crop_cv import real_sample_cv

        typer.echo("cross-validating on the real samples (300 m spatial groups) ...")
        report["real_samples_cv"] = real_sample_cv(regions, real, crops, months=model.months, c=report["C"], seed=seed)
    model.save(out)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    for source, numbers in report["regions"].items():
        typer.echo(
            f"{source} (held out, {numbers['plots']} plots): U-Net {numbers['unet_accuracy']:.3f}, "
            f"model {numbers['model_accuracy']:.3f}, pooled {numbers['pooled_accuracy']:.3f}"
        )
    for variant, s in report.get("real_samples_cv", {}).get("scores", {}).items():
        typer.echo(
            f"real samples, {variant} (spatial CV, {s['n']}): OA {s['overall_accuracy']:.3f} "
            f"(majority {s['majority_accuracy']:.3f}), macro-F1 {s['macro_f1']:.3f}, ECE {s['ece']:.3f}, "
            f"accuracy on the 80 % most confident {s['accuracy_at_80']:.3f}"
        )
    typer.echo(f"C {report['C']}, pool weight {report['pool_weight']} ({report['pool_weight_fitted_on']})")
    typer.echo(f"model {model.label} written to {out}")
