"""``agrisense evaluate``: score a model on a region with truth or on a labelled sample table, write the results.

Outputs in ``out_dir``: ``metrics.json``, ``confusion_matrix.png`` and, for a region, the map COGs of
``agrisense.ml.maps`` (crop class, probability, cropland) so the errors can be looked at in QGIS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agrisense.errors import InvalidInput
from agrisense.ml.calibration import scaled_softmax, sigmoid
from agrisense.ml.evaluation import EvaluationResult, evaluate_pixels, evaluate_samples, scoring_mask
from agrisense.ml.fields import FieldThresholds, label_fields, match_fields
from agrisense.ml.inference import predict_logits
from agrisense.ml.maps import class_layers, write_class_maps, write_field_maps
from agrisense.ml.metrics import plot_confusion_matrix
from agrisense.ml.registry import load_model
from agrisense.ml.training.evaluate import field_accuracy
from agrisense.ml.training.region import region_for_bundle


def trained_on_region(trained_on: dict[str, Any], meta: dict[str, Any]) -> bool:
    """Whether the bundle's training facts name this region (same name, seed and generator), as its main region
    or as one of the further training regions (``trained_on["regions"]``, ``agrisense train cropland --region``
    given more than once; each was split with the same training seed)."""
    return any(
        all(facts.get(a) == meta.get(b) for a, b in (("region", "name"), ("region_seed", "seed")))
        and facts.get("generator_version") == meta.get("generator_version")
        for facts in (trained_on, *trained_on.get("regions", ()))
    )


def evaluate_region(
    model_dir: Path,
    region_dir: Path,
    out_dir: Path,
    *,
    device: str = "auto",
    write_maps: bool = True,
    batch_size: int = 4,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Evaluate the land-cover bundle in ``model_dir`` on ``region_dir`` (truth/landcover.tif, truth/fields.parquet).

    The region's composites are cached under ``cache_dir`` (default ``Settings.cache_dir``), never in the region."""
    import rasterio

    start = time.perf_counter()
    model_dir, region_dir, out_dir = Path(model_dir), Path(region_dir), Path(out_dir)
    model = load_model(model_dir.parent, model_dir.name, device=device)
    bundle = model.bundle
    meta, features, truth = region_for_bundle(region_dir, bundle, cache_dir=cache_dir, log=log)
    t0 = time.perf_counter()
    logits = predict_logits(model, features, batch_size=batch_size, boundary=bundle.boundary_head)
    inference_s = time.perf_counter() - t0
    boundary = sigmoid(logits[len(bundle.classes)]) if bundle.boundary_head else None
    logits = logits[: len(bundle.classes)]
    trained_here = trained_on_region(bundle.trained_on, meta)
    seed = int(bundle.trained_on.get("training_seed", 0))
    mask, scope = scoring_mask(
        truth.labels, len(bundle.classes), trained_here=trained_here, split_seed=seed, field_ids=truth.field_ids
    )
    log(f"scoring {int(mask.sum())} pixels: {scope}")
    result = evaluate_pixels(logits, truth.labels, mask, bundle.classes, bundle.temperature, scope=scope)
    probs = scaled_softmax(logits, bundle.temperature, axis=0)
    accuracy, n_fields, field_confusion = field_accuracy(
        probs, np.where(mask, truth.field_ids, 0), truth.field_classes, bundle.classes, bundle.version
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    layers = class_layers(probs, bundle.classes)
    field_labels = None
    fields: dict[str, Any] | None = None
    if boundary is not None:
        field_labels = label_fields(layers.cropland, boundary, FieldThresholds(boundary=bundle.boundary_threshold))
        in_scope = mask if trained_here else np.ones(mask.shape, dtype=bool)
        truth_fields = np.where(in_scope, truth.field_ids, 0)
        fields = {
            "boundary_threshold": bundle.boundary_threshold,
            "with_boundary_head": match_fields(field_labels, truth_fields, scope=in_scope).to_json(),
            "cropland_only": match_fields(label_fields(layers.cropland, None), truth_fields, scope=in_scope).to_json(),
        }
        log(f"fields: F1 {fields['with_boundary_head']['f1']} (cropland patches only {fields['cropland_only']['f1']})")
    maps: dict[str, str] = {}
    if write_maps:
        with rasterio.open(region_dir / "truth" / "landcover.tif") as src:
            transform = src.transform
        written = write_class_maps(layers, out_dir, transform=transform, crs=meta["crs"])
        if boundary is not None and field_labels is not None:
            written.update(write_field_maps(boundary, field_labels, out_dir, transform=transform, crs=meta["crs"]))
        maps = {k: str(v) for k, v in written.items()}
    payload = {
        "model": {"name": bundle.name, "version": bundle.version, "dir": str(model_dir)},
        "region": {"name": meta.get("name"), "dir": str(region_dir), "shape": list(features.shape[1:])},
        "trained_on_this_region": trained_here,
        **_with_fields(result, accuracy, n_fields, field_confusion),
        "field_delineation": fields,
        "maps": maps,
        "timing_s": {"inference": round(inference_s, 1), "total": round(time.perf_counter() - start, 1)},
        "device": str(model.device),
    }
    return _write(payload, result, out_dir, f"{bundle.name} {bundle.version} on {meta.get('name')}")


def evaluate_sample_table(
    model_dir: Path, samples: pd.DataFrame, out_dir: Path, *, device: str = "auto"
) -> dict[str, Any]:
    """Evaluate a crop-type bundle (``agrisense.ml.croptype``) on a labelled sample table; per-region blocks."""
    from agrisense.ml.crop_model import load_crop_classifier
    from agrisense.ml.selective import accuracy_coverage, coverage_table

    if "label" not in samples.columns:
        raise InvalidInput("the sample table needs a 'label' column with the true crop of each sample")
    classifier = load_crop_classifier(Path(model_dir))
    probs = classifier.predict_proba(samples, device=device)
    labels = classifier.model_labels(samples["label"]).tolist()
    result = evaluate_samples(probs, labels, classifier.classes, classifier.temperature)
    index = {c: i for i, c in enumerate(classifier.classes)}
    known = np.array([label in index for label in labels])
    truth = np.array([index[label] for label in np.asarray(labels)[known]], dtype=np.int64)
    correct = probs[known].argmax(axis=1) == truth
    blocks = []
    if "region" in samples.columns:
        for region in sorted(samples["region"].astype(str).unique()):
            rows = (samples["region"].astype(str) == region).to_numpy()
            if not any(label in classifier.classes for label, ok in zip(labels, rows, strict=True) if ok):
                continue
            sub = evaluate_samples(
                probs[rows], [lab for lab, ok in zip(labels, rows, strict=True) if ok], classifier.classes, 1.0
            )
            blocks.append(
                {
                    "region": region,
                    "n_samples": sub.report.n_pixels,
                    "overall_accuracy": round(sub.report.overall_accuracy, 4),
                    "macro_f1": round(sub.report.macro_f1, 4),
                }
            )
    payload = {
        "model": {"dir": str(model_dir), "kind": "croptype"},
        **result.to_json(),
        "blocks": blocks,
        "accuracy_coverage": coverage_table(accuracy_coverage(probs[known].max(axis=1), correct)),
        "device": device,
    }
    payload.pop("n_pixels", None)
    payload["n_samples"] = result.report.n_pixels
    return _write(payload, result, Path(out_dir), f"crop type on {result.scope}")


def _with_fields(result: EvaluationResult, accuracy: float, n_fields: int, confusion: np.ndarray) -> dict[str, Any]:
    out = result.to_json()
    out["field_accuracy"] = None if not n_fields else round(accuracy, 4)
    out["n_fields"] = n_fields
    out["field_confusion"] = confusion.tolist()
    return out


def _write(payload: dict[str, Any], result: EvaluationResult, out_dir: Path, title: str) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_confusion_matrix(result.report.confusion, result.report.classes, out_dir / "confusion_matrix.png", title)
    (out_dir / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n")
    return payload
