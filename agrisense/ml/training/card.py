"""MODEL_CARD.md for a trained land-cover bundle, written from the bundle and its evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agrisense.ml.registry import ModelBundle
from agrisense.ml.training.evaluate import Evaluation


def write_model_card(path: Path, bundle: ModelBundle, evaluation: Evaluation, run: dict[str, Any]) -> Path:
    """Render the card (data, classes, metrics, calibration, limits, how to retrain) to ``path``."""
    trained_on = bundle.trained_on
    test = evaluation.test
    cal = evaluation.calibration
    per_class = "\n".join(
        f"| {c} | {test.f1[c]:.3f} | {test.iou[c]:.3f} | {int(test.confusion[i].sum())} |"
        for i, c in enumerate(bundle.classes)
    )
    crops = [c for c in bundle.classes if c != "non_crop"]
    field_rows = "\n".join(
        f"| {truth} | " + " | ".join(str(int(v)) for v in row) + " |"
        for truth, row in zip(crops, evaluation.field_confusion, strict=True)
    )
    calibration_rows = "\n".join(
        f"| {split} | "
        + " | ".join(f"{cal[f'{split}_{m}']:.4f}" for m in ("nll_before", "nll_after", "ece_before", "ece_after"))
        + " |"
        for split in ("val", "test")
    )
    synthetic = trained_on.get("synthetic", True)
    data_warning = (
        "**This model was trained and evaluated on a SYNTHETIC region** (simulated Sentinel-2 scenes over "
        "simulated fields, `agrisense sample build`). Its numbers say the pipeline works and how well it "
        "separates the simulated crops; they do **not** transfer to real imagery. Retrain on real labelled "
        "fields before using its crop probabilities for anything that matters."
        if synthetic
        else "Trained on a region whose region.json does not mark it synthetic; check its provenance."
    )
    more_regions = _more_regions(trained_on, evaluation)
    text = f"""# Model card: {bundle.name} {bundle.version}

{data_warning}

## What it does
Per-pixel land cover on the 10 m Sentinel-2 grid, classes `{", ".join(bundle.classes)}`.
Cropland probability = 1 - p(non_crop). Per plot, `agrisense.ml.inference.aggregate_plot` averages
the calibrated pixel probabilities weighted by plot coverage; the plot's crop is the most likely crop class
and its probability is P(crop | cropland).

## Model
- `{bundle.architecture}` (segmentation-models-pytorch `smp.Unet`) with a `{bundle.encoder}` encoder, depth
  {bundle.encoder_depth}, decoder channels {list(bundle.decoder_channels)}, a 1x1 "temporal stem" to
  {bundle.stem_channels} channels, random initialisation (no pretrained weights); {run["n_parameters"]:,}
  parameters, weights stored as fp16 ({run["weights_mb"]} MB).
- Input: {len(bundle.months)} monthly composites (months {list(bundle.months)}) x
  ({len(bundle.bands)} bands + {len(bundle.indices)} indices) = {bundle.in_channels} channels, period-major,
  standardised with the training-block mean/std stored in `bundle.json`. Gaps are interpolated along time per
  pixel; what remains is set to the channel mean.

## Training data
- Region: `{trained_on.get("region")}` (region seed {trained_on.get("region_seed")}, generator
  {trained_on.get("generator_version")}), {trained_on.get("shape")} px, imagery {trained_on.get("imagery")}.
{more_regions}- Truth: `truth/landcover.tif` (0 non-crop, 1.. crops), fields from `truth/fields.parquet`.
- Spatial split: 4x4 blocks, whole blocks to val (3) and test (3); fields straddling blocks belong to the
  block holding most of their pixels (the rest is left out); 2 px left out along block edges.
  Labelled pixels: {trained_on.get("labelled_pixels")}.
- Loss: class-weighted cross-entropy, weights {trained_on.get("class_weights")}.
- Tiles: {trained_on.get("tiles_per_epoch")} random {trained_on.get("tile")} px tiles per epoch, batch
  {trained_on.get("batch_size")}, flips/rot90, input noise σ {trained_on.get("input_noise", 0.0)}, stem channel
  dropout {trained_on.get("stem_dropout", 0.0)}.
- Optimiser: AdamW (weight decay {trained_on.get("weight_decay", 1e-4)}), warm-up + cosine LR,
  seed {trained_on.get("training_seed")}.
- Run: {run["epochs_run"]} epochs of {trained_on.get("epochs_requested")} asked for (fewer only when the
  {trained_on.get("max_minutes")} min budget would be overrun) on `{run["device"]}`; best validation epoch
  {run["best_epoch"]}; {run["fit_seconds"]} s fitting, {run["total_seconds"]} s end to end.
- Final train loss {run["final_train_loss"]} vs best validation loss {run["best_val_loss"]}: a large gap means
  the network memorised the training fields.

## Test metrics (test blocks, pixels)
- Overall accuracy **{test.overall_accuracy:.3f}**, macro-F1 **{test.macro_f1:.3f}**, cropland-vs-non-crop IoU
  **{test.cropland_iou:.3f}** over {test.n_pixels:,} pixels.

| class | F1 | IoU | test pixels |
|---|---|---|---|
{per_class}

Confusion matrix: `confusion_matrix.png`.

Per field (test-block fields, crop = argmax of the coverage-weighted mean probability over the field):
accuracy **{evaluation.field_accuracy:.3f}** over {evaluation.n_fields} fields.

| truth \\ predicted | {" | ".join(crops)} |
|---|{"---|" * len(crops)}
{field_rows}

## Calibration
Temperature scaling fitted on validation pixels: T = **{evaluation.temperature:.3f}**.

| | NLL before | NLL after | ECE before | ECE after |
|---|---|---|---|---|
{calibration_rows}

ECE: top-label expected calibration error, 15 equal-width bins.

## Limits
- Synthetic training data (see the top). One season, one region, one set of crop calendars.
- Class-weighted loss shifts probabilities towards rare classes; temperature scaling fixes confidence, not
  that prior shift.
- The temperature is fitted on 3 validation blocks only; compare the val and test rows above to see whether
  it transfers (it need not: blocks differ).
- Pixels with no clear observation in the whole season get mean-filled features: their predictions are weak.
- Fields smaller than a few pixels are blurred by the encoder's stride-2 stem.

## Retrain
```
agrisense train cropland --region data/sample_county --out models/landcover_unet
# or
agrisense train cropland --region data/sample_county --out models/landcover_unet --seed 0
```
"""
    path.write_text(text)
    return path


def _more_regions(trained_on: dict[str, Any], evaluation: Evaluation) -> str:
    """Card lines for the other training regions (empty for a one-region bundle)."""
    regions = trained_on.get("regions", [])[1:]
    if not regions:
        return ""
    scores = {r["folder"]: r for r in evaluation.regions}
    rows = "\n".join(
        f"  | `{r['folder']}` | {r['region']} | {r['region_seed']} | {r['generator_version']} | {r['shape']} | "
        f"{r['labelled_pixels']} | {scores.get(r['folder'], {}).get('field_accuracy', 'n/a')} | "
        f"{scores.get(r['folder'], {}).get('n_test_fields', 'n/a')} |"
        for r in regions
    )
    return f"""- More training regions (`--region` given again), each with its own 4x4 block split: their training
  blocks add tiles (a region picked in proportion to its labelled training pixels) and enter the normalisation
  statistics, their val blocks join early stopping and the temperature, their test blocks stay unseen:

  | folder | region | seed | generator | px | labelled pixels | test field accuracy | test fields |
  |---|---|---|---|---|---|---|---|
{rows}
"""
