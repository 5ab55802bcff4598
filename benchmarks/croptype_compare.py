"""Crop-type variants on the same labels and the same spatial folds: Presto heads, the TempCNN + forest, ensembles.

Labels: synonyms + the Presto model's rare-class merge (9 classes, all rows); folds: 5, whole 300 m groups, seed
``--seed``; every score out-of-fold, probabilities calibrated by a temperature fitted on the other folds. Prints OA,
macro-F1, ECE and the accuracy on the 80 % most confident, pooled and per region, and the wall time of each variant
(docs/croptype.md, *Presto: results*). The variants are fixed in advance (no search over a split):

- ``presto_head``: frozen encoder + logistic head, C = 0.1 (the shipped recipe);
- ``presto_no_weather``: the same with precipitation and temperature masked (weather mostly encodes *where*);
- ``presto_balanced``: the same head with balanced class weights;
- ``presto_tta``: ``presto_head`` with test-time augmentation: logits averaged over the series and 8 copies that
  each miss one random clear month;
- ``presto_finetune``: encoder + head fine-tuned (8 epochs at most, encoder lr 3e-5) with early stopping on a
  stratified 20 % of each training fold (the epoch with the lowest held-out loss, the frozen start included);
- ``tcnn_forest``: the ``croptype_tcnn`` recipe (``croptype.model.fit_model``, default ``FitConfig``);
- ``ensemble``: the mean of the log-probabilities of ``tcnn_forest`` and ``presto_head`` (equal weights);
- ``ensemble_no_weather``: the same with ``presto_no_weather``.

``--variants`` runs a subset (the ensembles need their two members).

    .venv/bin/python benchmarks/croptype_compare.py --samples ../shared/data/real/crop_samples/dev_samples.parquet
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.special import log_softmax

from agrisense.ml.croptype.cv import grouped_folds, out_of_fold_logits, spatial_groups
from agrisense.ml.croptype.fit import FitConfig
from agrisense.ml.croptype.model import fit_model
from agrisense.ml.croptype.table import build_features
from agrisense.ml.presto import encoder_weights_path, load_encoder, presto_inputs, series_from_table
from agrisense.ml.presto.fit import PrestoFitConfig, fit_presto
from agrisense.ml.presto.inputs import PrestoInputs
from agrisense.ml.presto.labels import encode, merge_rare
from agrisense.ml.presto.model import PrestoCropModel
from agrisense.ml.presto.pipeline import GROUP_DISTANCE_M, MIN_CLASS_COUNT, cross_fitted_probs, evaluation
from agrisense.ml.presto.reconstruction import hide_months

REPO = Path(__file__).resolve().parent.parent
CPU = torch.device("cpu")
FitPredict = Callable[[np.ndarray, np.ndarray], np.ndarray]
TTA_COPIES = 8
FINETUNE = PrestoFitConfig(finetune_epochs=8, encoder_lr=3e-5, validation_share=0.2)
ENSEMBLES = {"ensemble": ("tcnn_forest", "presto_head"), "ensemble_no_weather": ("tcnn_forest", "presto_no_weather")}


def _take(inputs: PrestoInputs, index: np.ndarray) -> PrestoInputs:
    return PrestoInputs(
        inputs.x[index], inputs.mask[index], inputs.dynamic_world[index], inputs.latlon[index], inputs.month[index]
    )


def presto_variant(
    inputs: PrestoInputs, y: np.ndarray, n_classes: int, config: PrestoFitConfig, seed: int, tta: int = 0
) -> FitPredict:
    """Fit a Presto head on the training rows; logits of the test rows (averaged over ``tta`` month-drop copies)."""
    encoder = load_encoder(encoder_weights_path(REPO / "models"))
    classes = tuple(str(k) for k in range(n_classes))

    def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        enc, head = fit_presto(encoder, _take(inputs, train).to_batch(), y[train], n_classes, config, seed, CPU)
        model = PrestoCropModel(classes, enc, head)
        views = [_take(inputs, test)] + [hide_months(_take(inputs, test), 0.1, seed + k).inputs for k in range(tta)]
        return np.mean([log_softmax(model.logits(v.to_batch(), CPU), axis=1) for v in views], axis=0)

    return fit_predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", nargs="+", help="run only these (default: all)")
    parser.add_argument("--oof", type=Path, help="also write every variant's out-of-fold log-probabilities (.npz)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    table = pd.read_parquet(args.samples)
    labels, _ = merge_rare(table["label"], MIN_CLASS_COUNT)
    y, classes = encode(labels)
    k = len(classes)
    groups = spatial_groups(table["lon"].to_numpy(), table["lat"].to_numpy(), GROUP_DISTANCE_M)
    folds = grouped_folds(y, groups, 5, args.seed)
    features = build_features(table).values
    series = series_from_table(table)
    inputs = presto_inputs(series)
    dry = presto_inputs(replace(series, precip_mm=None, tmean_c=None))
    base = PrestoFitConfig()

    def tcnn(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        model = fit_model(features[train], y[train], classes, FitConfig(), args.seed, CPU)
        return model.log_probs(features[test], CPU)

    variants: dict[str, FitPredict] = {
        "presto_head": presto_variant(inputs, y, k, base, args.seed),
        "presto_no_weather": presto_variant(dry, y, k, base, args.seed),
        "presto_balanced": presto_variant(inputs, y, k, replace(base, class_weight="balanced"), args.seed),
        "presto_tta": presto_variant(inputs, y, k, base, args.seed, tta=TTA_COPIES),
        "presto_finetune": presto_variant(inputs, y, k, FINETUNE, args.seed),
        "tcnn_forest": tcnn,
    }
    unknown = set(args.variants or []) - set(variants) - set(ENSEMBLES)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {[*variants, *ENSEMBLES]}")
    wanted = set(args.variants or [*variants, *ENSEMBLES])
    wanted |= {member for name in wanted & set(ENSEMBLES) for member in ENSEMBLES[name]}
    variants = {name: fit for name, fit in variants.items() if name in wanted}
    oof: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for name, fit_predict in variants.items():
        start = time.perf_counter()
        oof[name] = log_softmax(out_of_fold_logits(folds, k, fit_predict), axis=1)
        seconds[name] = round(time.perf_counter() - start, 1)
    for name, members in ENSEMBLES.items():
        if name in wanted:
            oof[name] = np.mean([oof[m] for m in members], axis=0)
    if args.oof:
        args.oof.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.oof, y=y, folds=folds, **oof)
    regions = table["region"].astype(str).to_numpy()
    report: dict[str, dict[str, object]] = {}
    for name, logits in oof.items():
        probs = cross_fitted_probs(logits, y, folds)
        report[name] = {"wall_s": seconds.get(name, 0.0)}
        for scope in ["pooled", *sorted(set(regions))]:
            mask = np.ones(len(y), bool) if scope == "pooled" else regions == scope
            e = evaluation(probs[mask], y[mask], classes)
            report[name][scope] = {
                "overall_accuracy": e["overall_accuracy"],
                "macro_f1": e["macro_f1"],
                "ece": e["ece"],
                "accuracy_at_80": e["accuracy_coverage"][2]["accuracy"],
            }
        if name in ("presto_head", "ensemble", "tcnn_forest"):
            report[name]["per_class_f1_pooled"] = evaluation(probs, y, classes)["f1"]
        print(json.dumps({name: report[name]}), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
