"""Crop accuracy on a region's truth: the U-Net as scored now, the real-label crop-type model on each plot's mean
monthly series, and a log-linear blend of the two with a cross-fitted weight (issue #15 step 4).

    .venv/bin/python benchmarks/crop_in_scoring.py --region data/sample_county [--model models/croptype_tcnn]

Uses the scorer's own tiles (``agrisense.scoring``): U-Net evidence per plot from ``score_tile`` and the same
cached composites for the series. Prints accuracy (crop given cropland = truth, plots scored ``ok`` with a true
crop), per-plot inference time (one torch thread unless ``--threads``), and the lowest probability threshold that
keeps >= 93 % accuracy on the plots decided automatically (on the U-Net's cross-fitted calibrated probabilities:
``unet_calibrated``, the scale the policy's ``min_crop_probability`` reads). ``--json PATH`` writes the numbers.
Set ``AGRISENSE_CACHE_DIR=data/cache`` to reuse the imagery cache of ``make demo``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import torch
from shapely import from_wkb
from shapely.geometry import Point

from agrisense import services
from agrisense.config import Settings
from agrisense.imagery.cache import build_composites_keyed
from agrisense.imagery.zonal import plot_coverage
from agrisense.ml.crop_model import load_crop_classifier
from agrisense.ml.plot_calibration import cross_fitted_probability
from agrisense.ml.plot_crop import (
    ASSETS,
    crop_given_cropland,
    cross_fitted_pool,
    monthly_weather,
    plot_band_series,
    region_probabilities,
    series_table,
)
from agrisense.ml.selective import (
    COVERAGES,
    accuracy_coverage,
    lowest_threshold_for_accuracy,
    threshold_for_accuracy,
)
from agrisense.region import load_region
from agrisense.scoring.tasks import plan_tiles
from agrisense.scoring.tile import score_tile

TARGET = 0.93


def collect(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """U-Net class probabilities per plot (scorer's evidence) and the plots' wide series table."""
    region = load_region(settings.region_dir)
    inputs = services.scoring_inputs(settings, region)
    plots, _ = services.read_region_plots(region.plots, settings)
    lonlat = {p.plot_id: p.geometry.representative_point().coords[0] for p in plots}
    unet_rows, ids, series = [], [], []
    months: tuple[int, ...] = ()
    for job in plan_tiles(plots, resolution=region.resolution):
        result = score_tile(job, inputs)
        built, _ = build_composites_keyed(
            inputs.catalog, job.geobox(), inputs.start, inputs.end, cache_dir=inputs.cache_dir
        )
        comp = built.composites
        months = tuple(int(str(p)[5:7]) for p in comp["period"].values)
        stack = np.stack([comp[a].values for a in ASSETS])  # (B, T, H, W)
        by_id = {e.plot_id: e for e in result.evidence}
        for pid, wkb in zip(job.plot_ids, job.plot_wkb, strict=True):
            ev = by_id[pid]
            if not ev.imagery_ok:
                continue
            (ys, xs), weights = plot_coverage(from_wkb(wkb), job.geobox())
            unet_rows.append({"plot_id": pid, **ev.class_probabilities})
            ids.append(pid)
            series.append(plot_band_series(stack[:, :, ys, xs], weights))
    weather = monthly_weather(pd.read_csv(region.weather), region.season)
    table = series_table(ids, np.stack(series), months, lonlat=np.array([lonlat[i] for i in ids]), weather=weather)
    return pd.DataFrame(unet_rows).set_index("plot_id"), table


def curve(p: np.ndarray, correct: np.ndarray) -> dict[str, object]:
    """Accuracy, the accuracy-coverage curve and the threshold for ``TARGET`` on the decided plots."""
    points = accuracy_coverage(p, correct, (*COVERAGES, 0.95, 0.85, 0.75, 0.65))
    chosen = threshold_for_accuracy(points, TARGET)
    lowest = lowest_threshold_for_accuracy(p, correct, TARGET)
    return {
        "lowest_threshold_for_93": None
        if lowest is None
        else {k: round(v, 3) for k, v in zip(("threshold", "coverage", "accuracy"), lowest, strict=True)},
        "accuracy": round(float(correct.mean()), 4),
        "curve": [
            (pt.coverage, round(pt.accuracy, 3), round(pt.threshold, 3))
            for pt in sorted(points, key=lambda q: -q.coverage)
        ],
        "threshold_for_93": None
        if chosen is None
        else {"coverage": chosen.coverage, "threshold": round(chosen.threshold, 3)},
    }


def unet_split(region_dir: Path, plots: dict[str, tuple[float, float]], ids: np.ndarray) -> np.ndarray:
    """Per plot, the U-Net's training split of the 4 x 4 block holding its point (0 train, 1 val, 2 test)."""
    meta = json.loads((region_dir / "region.json").read_text())
    blocks = np.asarray(json.loads(Path("models/landcover_unet/bundle.json").read_text())["trained_on"]["split_blocks"])
    left, bottom, right, top = meta["bbox_utm"]
    xy = gpd.GeoSeries([Point(plots[i]) for i in ids], crs="EPSG:4326").to_crs(meta["crs"])
    n = blocks.shape[0]
    rows = np.clip(((top - xy.y) / (top - bottom) * n).astype(int), 0, n - 1)
    cols = np.clip(((xy.x - left) / (right - left) * n).astype(int), 0, n - 1)
    return np.asarray(blocks[rows, cols])


def compare(
    model_dir: Path, table: pd.DataFrame, labels: dict[str, str], p_unet: np.ndarray, y: np.ndarray
) -> tuple[dict[str, object], np.ndarray]:
    """The real-label model alone and blended with the U-Net (cross-fitted weight), its timing, and whether it
    alone is right on each plot."""
    model = load_crop_classifier(model_dir)
    model.predict_proba(table.iloc[:1], device="cpu")  # warm
    t0 = time.perf_counter()
    raw = model.predict_proba(table, device="cpu")
    batch_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    for i in range(20):
        model.predict_proba(table.iloc[i : i + 1], device="cpu")
    one_ms = (time.perf_counter() - t0) * 1000 / 20
    classes, real = region_probabilities(raw, model.classes, labels)
    _, p_real = crop_given_cropland(real, classes)
    p_blend, weights = cross_fitted_pool(p_unet, p_real, y, folds=5, seed=0)
    numbers: dict[str, object] = {
        "alone": curve(p_real.max(axis=1), p_real.argmax(axis=1) == y),
        "blend": curve(p_blend.max(axis=1), p_blend.argmax(axis=1) == y),
        "blend_weight_per_fold": weights,
        "timing_ms": {"one_plot": round(one_ms, 2), f"all_{len(y)}_plots": round(batch_ms, 1)},
    }
    return numbers, p_real.argmax(axis=1) == y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", type=Path, default=Path("data/sample_county"))
    parser.add_argument("--model", type=Path, nargs="+", default=[Path("models/croptype_tcnn")])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the timing (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = Settings(region_dir=args.region)
    unet, table = collect(settings)
    truth = pd.read_parquet(args.region / "truth" / "plots_truth.parquet").set_index("plot_id")["true_crop"]
    crops_csv = pd.read_csv(Path(settings.reference_dir) / "crops.csv")
    region = load_region(args.region)
    labels = dict(zip(crops_csv["crop"], crops_csv["sample_labels"], strict=True))
    labels = {c: labels[c] for c in region.crops}

    keep = truth.reindex(table["sample_id"]).notna().to_numpy()
    ids = table["sample_id"].to_numpy()[keep]
    crops, p_unet = crop_given_cropland(unet.loc[ids, ["non_crop", *labels]].to_numpy(), ("non_crop", *labels))
    y = np.array([crops.index(truth[i]) for i in ids])
    out: dict[str, object] = {
        "plots": int(len(ids)),
        "crops": crops,
        "unet": curve(p_unet.max(axis=1), p_unet.argmax(axis=1) == y),
    }
    right = p_unet.argmax(axis=1) == y  # the credit layer reads the calibrated probability: its curve, cross-fitted
    out["unet_calibrated"] = curve(cross_fitted_probability(p_unet.max(axis=1), right, folds=5), right)
    split = unet_split(
        args.region, dict(zip(table["sample_id"], zip(table["lon"], table["lat"], strict=True), strict=True)), ids
    )
    test = split == 2  # the U-Net's held-out test blocks: no plot there was seen in training
    out["unet_test_blocks"] = {"plots": int(test.sum()), "accuracy": round(float(right[test].mean()), 4)}
    for model_dir in args.model:
        numbers, alone = compare(model_dir, table[keep], labels, p_unet, y)
        out[model_dir.name] = {**numbers, "alone_test_blocks_accuracy": round(float(alone[test].mean()), 4)}
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
