"""Crop accuracy of the plot crop model on a region's truth: the U-Net alone, the plot crop model alone, and the two
pooled as the scorer pools them, with the accuracy-coverage curve of the pooled probability (issue #15).

    AGRISENSE_CACHE_DIR=data/cache .venv/bin/python benchmarks/plot_crop.py --region /tmp/ea_7202611 \
        [--model plotcrop_ea] [--json out.json]

Give a region the model did not train on (``agrisense sample build --seed 7202611 --out /tmp/ea_7202611``) for an
out-of-sample figure; plots scored ``ok`` with a true crop among the region's crops count. Also the warm time of
one plot's refinement (mean series -> pooled probabilities), one thread.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from agrisense.config import Settings
from agrisense.ml.plot_crop import crop_given_cropland, pool
from agrisense.ml.plot_crop_model import load_plot_crop_model
from agrisense.ml.registry import NON_CROP
from agrisense.ml.selective import COVERAGES, accuracy_coverage
from agrisense.ml.training.plot_crop import collect_region_plots
from agrisense.region import load_region


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", type=Path, required=True)
    parser.add_argument("--model", default=None, help="plot crop model folder of the models dir (default: region's)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings(region_dir=args.region)
    region = load_region(args.region)
    name = args.model or region.crop_model or "plotcrop_ea"
    model = load_plot_crop_model(Path(settings.models_dir), name)
    plots = collect_region_plots(settings, model.crops)
    y = np.array([model.crops.index(c) for c in plots.crops])
    _, p_unet = crop_given_cropland(plots.unet, (NON_CROP, *model.crops))  # type: ignore[arg-type]
    p_model = model.predict_proba(plots.series, plots.months)
    p_pooled = pool(p_unet, p_model, model.pool_weight)
    one = plots.series[:1]
    unet_one = plots.unet[:1]  # type: ignore[index]
    model.refine(unet_one, (NON_CROP, *model.crops), one, plots.months)  # warm
    t0 = time.perf_counter()
    for _ in range(200):
        model.refine(unet_one, (NON_CROP, *model.crops), one, plots.months)
    one_ms = (time.perf_counter() - t0) * 1000 / 200
    right = p_pooled.argmax(1) == y
    out = {
        "region": plots.source,
        "model": model.label,
        "trained_on": model.trained_on,
        "plots": int(len(y)),
        "accuracy": {
            "unet": round(float(np.mean(p_unet.argmax(1) == y)), 4),
            "plot_crop_model": round(float(np.mean(p_model.argmax(1) == y)), 4),
            "pooled": round(float(right.mean()), 4),
        },
        "per_crop_pooled": {
            c: round(float(right[y == k].mean()), 4) if (y == k).any() else None for k, c in enumerate(model.crops)
        },
        "pooled_accuracy_coverage": [
            (pt.coverage, round(pt.accuracy, 3), round(pt.threshold, 3))
            for pt in accuracy_coverage(p_pooled.max(1), right, COVERAGES)
        ],
        "refine_one_plot_ms": round(one_ms, 3),
    }
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
