"""Tap-my-field benchmark: how often a tap inside a truth field gives its outline, how well it fits, how fast.

Taps the representative point of ``--n`` truth fields of a region (seeded sample) through
``agrisense.outline.suggest_outline``, exactly as the API does, and reports the share outlined, the IoU of each
outline with its truth field, the area error and the latency (first call includes loading the model and, on a
cold cache, building the tile's composites).

    python benchmarks/outline.py [--region data/sample_county] [--n 100] [--seed 0] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
from shapely.geometry import shape

from agrisense.config import Settings
from agrisense.errors import NotFound
from agrisense.outline import suggest_outline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", type=Path, default=Path("data/sample_county"))
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    settings = Settings(region_dir=args.region)
    fields = gpd.read_parquet(args.region / "truth" / "fields.parquet")
    sample = fields.sample(n=min(args.n, len(fields)), random_state=args.seed)
    truth_ll = sample.geometry.to_crs(4326)
    taps = truth_ll.representative_point()
    ious, area_err, seconds, missing = [], [], [], 0
    for tap, truth, truth_ha in zip(taps, truth_ll, sample["area_ha"], strict=True):
        t0 = time.perf_counter()
        try:
            suggestion = suggest_outline(tap.x, tap.y, settings=settings)
        except NotFound:
            missing += 1
            seconds.append(time.perf_counter() - t0)
            continue
        seconds.append(time.perf_counter() - t0)
        outline = shape(suggestion.geometry)
        ious.append(outline.intersection(truth).area / outline.union(truth).area)
        area_err.append(suggestion.area_ha / float(truth_ha) - 1.0)
    iou = np.array(ious)
    report = {
        "region": str(args.region),
        "taps": len(sample),
        "outlined": len(ious),
        "no_field_found": missing,
        "iou_median": round(float(np.median(iou)), 3) if iou.size else None,
        "share_iou_over_0_5_of_taps": round(float((iou > 0.5).sum() / len(sample)), 3),
        "area_error_median_abs": round(float(np.median(np.abs(area_err))), 3) if area_err else None,
        "first_call_s": round(seconds[0], 2),
        "latency_s_p50": round(float(np.percentile(seconds[1:], 50)), 3),
        "latency_s_p95": round(float(np.percentile(seconds[1:], 95)), 3),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
