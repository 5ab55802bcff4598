"""``agrisense train crop-type``, ``agrisense classify-samples`` (crop-type classifier on sample tables) and
``agrisense evaluate`` (any model against truth).

``agrisense.app.cli.main`` registers them: ``train_app.command("crop-type")(train_croptype_command)`` and
``app.command("classify-samples")(classify_samples_command)`` and ``app.command("evaluate")(evaluate_command)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from agrisense.app.cli.errors import friendly as _friendly
from agrisense.errors import InvalidInput, NotFound


def read_sample_table(path: Path) -> pd.DataFrame:
    """A wide sample table from parquet (or CSV by extension); clear errors for a missing or unreadable file."""
    if not path.is_file():
        raise NotFound(f"sample table {path} does not exist; pass --samples with a .parquet file")
    try:
        return pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read sample table {path} ({exc}); it must be parquet (or .csv)") from exc


#: the model ``classify-samples`` uses by default: the plot crop model that scores East-African plots
#: (``score``, ``rescore``, the API, "tap my field"), so a bank checks on its own samples what decides its loans.
#: It knows the financed crops only; ``--model models/croptype_tcnn`` classifies all land-cover classes.
PRODUCT_CROP_MODEL = "plotcrop_ea"


@_friendly
def train_croptype_command(
    samples: Annotated[
        Path,
        typer.Option(help="Labelled wide sample table (.parquet): sample_id, lon, lat, label, {B02..B12}_m00..m11."),
    ],
    out: Annotated[Path | None, typer.Option(help="Model bundle folder (default: models/croptype_<arch>).")] = None,
    arch: Annotated[
        str, typer.Option(help="tcnn (TempCNN + forest: better on the real table) or presto (encoder + head).")
    ] = "tcnn",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    folds: Annotated[int, typer.Option(help="Spatially grouped cross-validation folds.")] = 5,
    finetune_epochs: Annotated[
        int, typer.Option(help="presto: epochs of fine-tuning encoder + head (0 = frozen encoder).")
    ] = 0,
) -> None:
    """Train the crop-type classifier with spatially grouped CV, calibration and a model card."""
    if arch not in ("presto", "tcnn"):
        raise InvalidInput(f"--arch must be presto or tcnn, got {arch!r}")
    out = out or Path(f"models/croptype_{arch}")
    table = read_sample_table(samples)
    if arch == "tcnn":
        _train_tcnn(table, out, seed, device, folds)
        return
    from agrisense.config import settings_with
    from agrisense.ml.presto import encoder_weights_path, load_encoder
    from agrisense.ml.presto.card import accuracy_at
    from agrisense.ml.presto.fit import PrestoFitConfig
    from agrisense.ml.presto.pipeline import train_presto

    encoder = load_encoder(encoder_weights_path(settings_with().models_dir))
    config = PrestoFitConfig(finetune_epochs=finetune_epochs)
    report = train_presto(table, out, encoder, seed=seed, device=device, n_folds=folds, config=config)
    for name, s in report["cv"]["scores"].items():
        typer.echo(
            f"{name}: OA {s['overall_accuracy']:.3f}  macro-F1 {s['macro_f1']:.3f}  ECE {s['ece']:.3f}  "
            f"accuracy on 80% most confident {accuracy_at(s, 0.8):.3f}  (n={s['n']})"
        )
    typer.echo(f"temperature {report['cv']['calibration']['temperature']:.2f}")
    typer.echo(f"model written to {out} in {report['timing_s']['total']:.0f} s")


def _train_tcnn(table: pd.DataFrame, out: Path, seed: int, device: str, folds: int) -> None:
    from agrisense.ml.croptype.pipeline import train_croptype

    report = train_croptype(table, out, seed=seed, device=device, n_folds=folds)
    for name, scores in report["cv"]["scores"].items():
        blend = scores["blend"]
        typer.echo(
            f"{name}: OA {blend['overall_accuracy']:.3f}  macro-F1 {blend['macro_f1']:.3f}  "
            f"majority {blend['majority_accuracy']:.3f}  (n={blend['n']})"
        )
    cal = report["cv"]["calibration"]
    typer.echo(
        f"temperature {cal['temperature']:.2f}; ECE {cal['ece_before']:.3f} -> {cal['ece_after_cross_fitted']:.3f}"
    )
    typer.echo(f"model written to {out} in {report['timing_s']['total']:.0f} s")


@_friendly
def classify_samples_command(
    samples: Annotated[Path, typer.Option(help="Wide sample table (.parquet); a label column is ignored.")],
    out: Annotated[Path, typer.Option(help="Output CSV: sample_id,label,probability.")],
    model: Annotated[
        Path | None,
        typer.Option(
            help="Crop model folder (default: plotcrop_ea in AGRISENSE_MODELS_DIR, the model that scores plots; "
            "models/croptype_tcnn for every land-cover class)."
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Predict the crop type of each sample; probability = the model's probability of the predicted label (the
    plot crop model: given cropland, among the financed crops)."""
    from agrisense.config import settings_with
    from agrisense.ml.crop_model import load_crop_classifier

    classifier = load_crop_classifier(model or settings_with().models_dir / PRODUCT_CROP_MODEL)
    table = read_sample_table(samples)
    labels, probability = classifier.predict(table, device=device)
    result = pd.DataFrame(
        {"sample_id": table["sample_id"].astype(str).to_numpy(), "label": labels, "probability": probability.round(4)}
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(out, index=False)
    typer.echo(f"{len(result)} samples classified -> {out}")


@_friendly
def evaluate_command(
    model: Annotated[Path, typer.Option(help="Model bundle folder (landcover U-Net, or crop-type with --samples).")],
    out: Annotated[Path, typer.Option(help="Output folder: metrics.json, confusion_matrix.png, map COGs.")],
    region: Annotated[
        Path | None, typer.Option(help="Region folder with truth/landcover.tif and truth/fields.parquet.")
    ] = None,
    samples: Annotated[
        Path | None, typer.Option(help="Labelled wide sample table (.parquet) for a crop-type model.")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    maps: Annotated[bool, typer.Option(help="Also write crop class / probability / cropland COGs.")] = True,
) -> None:
    """Evaluate a model against truth: OA, macro-F1, per-class F1/IoU, ECE before/after temperature, per block."""
    from agrisense.config import settings_with
    from agrisense.ml.region_eval import evaluate_region, evaluate_sample_table

    if (region is None) == (samples is None):
        raise InvalidInput("pass exactly one of --region (landcover U-Net) or --samples (crop-type model)")
    if region is not None:
        cache_dir = settings_with().cache_dir  # the configured cache (AGRISENSE_CACHE_DIR), never the region folder
        result = evaluate_region(
            model, region, out, device=device, write_maps=maps, cache_dir=cache_dir, log=typer.echo
        )
    elif samples is not None:
        result = evaluate_sample_table(model, read_sample_table(samples), out, device=device)
    cal = result["calibration"]
    typer.echo(
        f"{result.get('scope')}: OA {result['overall_accuracy']:.3f}  macro-F1 {result['macro_f1']:.3f}  "
        f"ECE {cal['ece_before']:.3f} -> {cal['ece_after']:.3f} (T {result['temperature']:.2f})"
    )
    for point in result.get("accuracy_coverage", []):
        typer.echo(
            f"  most confident {point['coverage']:4.0%}: accuracy {point['accuracy']:.3f} "
            f"(probability >= {point['threshold']:.2f}, n={point['n']})"
        )
    if result.get("field_accuracy") is not None:
        typer.echo(f"per-field crop accuracy {result['field_accuracy']:.3f} over {result['n_fields']} fields")
    typer.echo(f"metrics -> {out / 'metrics.json'}")
