"""Presto + logistic head against the TempCNN + forest on the same labels and the same spatial folds.

Labels: synonyms + the Presto model's rare-class merge (9 classes, all rows); folds: 5, whole 300 m groups, seed
``--seed``; probabilities calibrated by a temperature fitted on the other folds. Prints OA, macro-F1, ECE and the
accuracy on the 80 % most confident, pooled and per region (docs/croptype.md, *Presto: results*).

    .venv/bin/python benchmarks/croptype_compare.py --samples ../shared/data/real/crop_samples/dev_samples.parquet
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from agrisense.ml.croptype.cv import grouped_folds, out_of_fold_logits, spatial_groups
from agrisense.ml.croptype.fit import FitConfig
from agrisense.ml.croptype.model import fit_model
from agrisense.ml.croptype.table import build_features
from agrisense.ml.presto import encoder_weights_path, load_encoder, presto_inputs, series_from_table
from agrisense.ml.presto.fit import PrestoFitConfig, fit_presto
from agrisense.ml.presto.labels import encode, merge_rare
from agrisense.ml.presto.model import PrestoCropModel
from agrisense.ml.presto.pipeline import GROUP_DISTANCE_M, MIN_CLASS_COUNT, cross_fitted_probs, evaluation

REPO = Path(__file__).resolve().parent.parent
CPU = torch.device("cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    table = pd.read_parquet(args.samples)
    labels, _ = merge_rare(table["label"], MIN_CLASS_COUNT)
    y, classes = encode(labels)
    groups = spatial_groups(table["lon"].to_numpy(), table["lat"].to_numpy(), GROUP_DISTANCE_M)
    folds = grouped_folds(y, groups, 5, args.seed)
    features = build_features(table).values
    batch = presto_inputs(series_from_table(table)).to_batch()
    encoder = load_encoder(encoder_weights_path(REPO / "models"))

    def tcnn(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        model = fit_model(features[train], y[train], classes, FitConfig(), args.seed, CPU)
        return model.log_probs(features[test], CPU)

    def presto(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        enc, head = fit_presto(
            encoder, batch[torch.from_numpy(train)], y[train], len(classes), PrestoFitConfig(), args.seed, CPU
        )
        return PrestoCropModel(classes, enc, head).logits(batch[torch.from_numpy(test)], CPU)

    models: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {"presto_head": presto, "tcnn_forest": tcnn}
    regions = table["region"].astype(str).to_numpy()
    report: dict[str, dict[str, dict[str, float]]] = {}
    for name, fit_predict in models.items():
        probs = cross_fitted_probs(out_of_fold_logits(folds, len(classes), fit_predict), y, folds)
        report[name] = {}
        for scope in ["pooled", *sorted(set(regions))]:
            mask = np.ones(len(y), bool) if scope == "pooled" else regions == scope
            e = evaluation(probs[mask], y[mask], classes)
            report[name][scope] = {
                "overall_accuracy": e["overall_accuracy"],
                "macro_f1": e["macro_f1"],
                "ece": e["ece"],
                "accuracy_at_80": e["accuracy_coverage"][2]["accuracy"],
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
