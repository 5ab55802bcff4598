"""Per-pixel crop maps against a region's truth: the land-cover U-Net alone against the U-Net pooled with the plot
crop model applied to each pixel's monthly series (what the re-score's crop maps show).

    .venv/bin/agrisense sample build --seed 7202611 --out /tmp/ea_7202611   # a county neither model trained on
    AGRISENSE_CACHE_DIR=data/cache .venv/bin/python benchmarks/crop_maps.py --region /tmp/ea_7202611

Scores crop-given-cropland on every truth crop pixel (the crops' share of the maps a GIS analyst reads), and per
field the majority of its pixels' classes. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from agrisense.config import settings_with
from agrisense.ml.calibration import scaled_softmax
from agrisense.ml.features import stack_features
from agrisense.ml.inference import predict_logits
from agrisense.ml.plot_crop import ASSETS
from agrisense.ml.plot_crop_model import load_plot_crop_model
from agrisense.ml.registry import NON_CROP, load_model
from agrisense.ml.training.region import load_composites, read_region_meta, read_truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--region", type=Path, required=True)
    parser.add_argument("--crop-model", default=None, help="default: the region's crop_model")
    args = parser.parse_args()
    settings = settings_with(region_dir=args.region)
    meta = read_region_meta(args.region)
    comps = load_composites(args.region, meta, cache_dir=settings.cache_dir, log=lambda _m: None)
    model = load_model(settings.models_dir, meta.get("model", "landcover_unet"), device="cpu")
    bundle = model.bundle
    features = stack_features(comps, bands=bundle.bands, indices=bundle.indices, months=bundle.months)
    t0 = time.perf_counter()
    logits = predict_logits(model, features, batch_size=4, boundary=bundle.boundary_head)[: len(bundle.classes)]
    unet_s = time.perf_counter() - t0
    probs = scaled_softmax(logits, bundle.temperature, axis=0)
    truth = read_truth(args.region, meta, features.shape[1:])
    crop_model = load_plot_crop_model(settings.models_dir, args.crop_model or meta["crop_model"])
    t0 = time.perf_counter()
    stack = np.stack([comps[a].values for a in ASSETS])
    months = tuple(int(str(p)[5:7]) for p in comps["period"].values)
    pooled = crop_model.refine_pixels(probs, bundle.classes, stack, months)
    pooled_s = time.perf_counter() - t0
    classes = tuple(bundle.classes)
    crop_idx = [i for i, c in enumerate(classes) if c != NON_CROP]
    labels = truth.labels
    on_crop = np.isin(labels, crop_idx) & np.isfinite(pooled).all(axis=0)
    out: dict[str, object] = {
        "region": meta.get("name"),
        "seed": meta.get("seed"),
        "crop_pixels": int(on_crop.sum()),
        "seconds": {"unet_forward": round(unet_s, 1), "pixel_refinement": round(pooled_s, 1)},
        "pixels": int(labels.size),
    }
    for name, p in (("unet", probs), ("pooled", pooled)):
        crop = np.asarray(crop_idx)[np.argmax(p[crop_idx], axis=0)]
        right = crop == labels
        per_crop = {classes[i]: round(float(right[on_crop & (labels == i)].mean()), 4) for i in crop_idx}
        fields = truth.field_ids[on_crop]
        votes = np.zeros((int(truth.field_ids.max()) + 1, len(classes)), dtype=np.int64)
        np.add.at(votes, (fields, crop[on_crop]), 1)
        has = votes.sum(axis=1) > 0
        field_ok = votes.argmax(axis=1)[has] == truth.field_classes[has]
        out[name] = {
            "pixel_accuracy": round(float(right[on_crop].mean()), 4),
            "by_crop": per_crop,
            "field_majority_accuracy": round(float(field_ok.mean()), 4),
            "fields": int(has.sum()),
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
