"""Early-warning benchmark: precision and recall of the in-season warnings against the sample county's truth.

Every plot matched to a truth field (``truth/plots_truth.parquet``, ``field_id`` not null) is monitored as if
financed for its field's true crop (one tranche of the whole limit on the crop's typical sowing date), with its
monthly NDVI (``imagery.ndvi_by_month`` of the scored offers, default ``out/demo/offers.json`` from ``make demo``)
through ``agrisense.monitoring.season.monitor_plot``, at a few as-of dates, exactly as ``agrisense rescore --as-of``.
Warnings are compared with the field's truth ``status``:

* ``failed`` -> a failure warning is expected (``NO_EMERGENCE``, ``CROP_FAILURE``; ``EARLY_HARVEST`` counts too);
* ``late`` -> ``LATE_EMERGENCE``;
* ``normal`` -> none of these.

Per code: precision = share of plots given the code whose field has the code's status; recall = share of plots of
that status given the code. "failure (any)" pools the failure codes; "overall" pools every crop warning (failure
codes and ``LATE_EMERGENCE``) against the failed and late fields together (a failed field given a late warning
counts as found). Weather (drought) and imagery warnings are
counted but not scored: truth has no status for them.

Note: the NDVI is the whole-season monthly composite; a month's value is used from its 15th (as the re-score does),
so a month seen on an as-of date in that month includes its later scenes.

    python benchmarks/warnings.py [--region data/sample_county] [--offers out/demo/offers.json]
        [--as-of 2026-07-15 --as-of 2026-08-15 ...] [--kind good] [--ceiling] [--scenes] [--json OUT]

``--scenes`` gives ``monitor_plot`` every clear scene of each plot as well
(``agrisense.monitoring.scene_reader.read_plot_scenes`` over the region's STAC catalog, the season's imagery
dates): emergence and late emergence are then read from the per-scene NDVI medians
(``agrisense.monitoring.season.scene_stand``), as ``agrisense rescore --as-of`` does when it reads scenes.

``--ceiling`` adds, per as-of date, the precision a gradient-boosted classifier trained on the truth (5-fold
cross-validated) reaches at recall 0.9 and 0.5 on the same monthly NDVI: how far learning could take this evidence.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from agrisense.agronomy.calendar import load_crop_table
from agrisense.config import Settings
from agrisense.credit.policy import load_policy
from agrisense.errors import NotFound
from agrisense.ml.growth import load_expected_curves
from agrisense.monitoring.scene_reader import read_plot_scenes
from agrisense.monitoring.scenes import PlotScenes
from agrisense.monitoring.season import loan_from_record, monitor_plot

FAILURE_CODES = ("NO_EMERGENCE", "CROP_FAILURE", "EARLY_HARVEST")
EXPECTED = {"NO_EMERGENCE": "failed", "CROP_FAILURE": "failed", "EARLY_HARVEST": "failed", "LATE_EMERGENCE": "late"}
DEFAULT_AS_OF = ("2026-07-15", "2026-08-15", "2026-09-15", "2026-10-15")


def _pr(flagged: set[str], positives: set[str]) -> dict[str, Any]:
    tp = len(flagged & positives)
    return {
        "flagged": len(flagged),
        "positives": len(positives),
        "true_positives": tp,
        "precision": round(tp / len(flagged), 3) if flagged else None,
        "recall": round(tp / len(positives), 3) if positives else None,
    }


def ceiling(plots: pd.DataFrame, ndvi: dict[str, dict[int, float]], as_of: date, *, seed: int = 0) -> dict[str, Any]:
    """A learned reference for the rule: a gradient-boosted classifier *trained on the truth* (5-fold
    cross-validated) on each plot's monthly NDVI up to ``as_of``, its rise and its crop, separating failed from
    normal fields: its average precision and best precision at recall >= 0.9 / 0.5. Not a strict bound (with a
    handful of failed plots per fold it can do worse than a hand rule), but a rule far above it is suspect."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import average_precision_score, precision_recall_curve
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    sub = plots[plots["status"].isin(["normal", "failed"])]
    months = list(range(1, as_of.month + 1))
    rows = []
    for row in sub.itertuples():
        series = ndvi[str(row.plot_id)]
        values = np.array([series.get(m, np.nan) for m in months], dtype=float)
        finite = values[np.isfinite(values)]
        rise = float(finite.max() - finite.min()) if finite.size else np.nan
        rows.append([*values, rise, *(row.crop == c for c in ("maize", "sorghum", "groundnut", "beans"))])
    y = (sub["status"] == "failed").to_numpy()
    folds = min(5, int(y.sum()))
    if folds < 2:
        return {"note": "fewer than two failed plots"}
    x = np.array(rows, dtype=float)
    x = x[:, np.isfinite(x).any(axis=0)]  # months before the imagery starts have no value anywhere
    p = cross_val_predict(
        HistGradientBoostingClassifier(max_iter=200, random_state=seed),
        x,
        y,
        cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
        method="predict_proba",
    )[:, 1]
    precision, recall, _ = precision_recall_curve(y, p)
    return {
        "average_precision": round(float(average_precision_score(y, p)), 3),
        "best_precision_at_recall_0.9": round(float(precision[recall >= 0.9].max()), 3),
        "best_precision_at_recall_0.5": round(float(precision[recall >= 0.5].max()), 3),
        "base_rate": round(float(y.mean()), 3),
    }


def evaluate(
    region: Path,
    offers_path: Path,
    as_of_dates: list[date],
    kinds: tuple[str, ...] | None = None,
    *,
    with_ceiling: bool = False,
    with_scenes: bool = False,
) -> dict[str, Any]:
    settings = Settings(region_dir=region)
    if not offers_path.is_file():
        raise NotFound(f"{offers_path} is missing: run `make demo` (agrisense demo) to score the sample county first")
    ndvi = {
        str(o["plot_id"]): {int(k): float(v) for k, v in ((o.get("imagery") or {}).get("ndvi_by_month") or {}).items()}
        for o in json.loads(offers_path.read_text(encoding="utf-8"))
    }
    fields = pd.read_parquet(region / "truth" / "fields.parquet", columns=["field_id", "crop", "status"])
    matched = pd.read_parquet(region / "truth" / "plots_truth.parquet").dropna(subset=["field_id"])
    plots = matched.merge(fields, on="field_id", how="inner")
    plots = plots[plots["plot_id"].isin(ndvi.keys())]
    if kinds:
        plots = plots[plots["kind"].isin(kinds)]
    crops = load_crop_table(settings.reference_dir / "crops.csv")
    policy = load_policy(settings.policy_file)
    curves = load_expected_curves(settings.reference_dir / "ndvi_curves.csv")
    region_meta = json.loads((region / "region.json").read_text(encoding="utf-8"))
    season = int(region_meta["season"])
    weather = region / "weather" / "daily.csv"
    rain = pd.read_csv(weather, usecols=["date", "precip_mm"]) if weather.is_file() else None
    status = dict(zip(plots["plot_id"], plots["status"], strict=True))
    by_status = {s: {p for p, v in status.items() if v == s} for s in ("normal", "late", "failed")}
    results: dict[str, Any] = {}
    start = time.perf_counter()
    scenes: dict[str, PlotScenes] = {}
    if with_scenes:
        outlines = gpd.read_file(region / "plots.geojson")
        scenes = read_plot_scenes(
            str(region / "stac" / "catalog.json"),
            outlines[outlines["plot_id"].isin(set(plots["plot_id"]))],
            date.fromisoformat(region_meta["imagery_start"]),
            date.fromisoformat(region_meta["imagery_end"]),
        )
    read_seconds = time.perf_counter() - start
    for as_of in as_of_dates:
        codes: dict[str, set[str]] = {}
        for row in plots.itertuples():
            active = loan_from_record(
                {"loan_id": row.plot_id, "plot_ids": [row.plot_id], "crop": row.crop, "limit": 1000, "area_ha": 1.0},
                crops,
                season=season,
            )
            _, warnings = monitor_plot(
                active,
                ndvi[str(row.plot_id)],
                season=season,
                as_of=as_of,
                crops=crops,
                curves=curves,
                policy=policy,
                rain=rain,
                run_id="benchmark",
                scenes=scenes.get(str(row.plot_id)),
            )
            for w in warnings:
                codes.setdefault(str(w["code"]), set()).add(str(row.plot_id))
        scored = {code: _pr(codes.get(code, set()), by_status[want]) for code, want in EXPECTED.items()}
        failure = set().union(*(codes.get(c, set()) for c in FAILURE_CODES))
        scored["failure (any)"] = _pr(failure, by_status["failed"])
        any_crop = failure | codes.get("LATE_EMERGENCE", set())
        scored["overall (failure or late)"] = _pr(any_crop, by_status["failed"] | by_status["late"])
        scored["normal without crop warnings"] = {
            "share": round(len(by_status["normal"] - any_crop) / max(1, len(by_status["normal"])), 3)
        }
        if with_ceiling:
            scored["ceiling (classifier trained on truth)"] = ceiling(plots, ndvi, as_of)
        results[as_of.isoformat()] = {
            "scored": scored,
            "all_codes": dict(sorted(Counter({c: len(p) for c, p in codes.items()}).items())),
        }
    return {
        "plots": len(plots),
        "by_status": {s: len(p) for s, p in by_status.items()},
        "by_kind": dict(Counter(plots["kind"])),
        "as_of": results,
        "evidence": "every clear scene" if with_scenes else "monthly composites",
        "scene_read_seconds": round(read_seconds, 1),
        "seconds": round(time.perf_counter() - start, 1),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "date": date.today().isoformat(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", type=Path, default=Path("data/sample_county"))
    parser.add_argument("--offers", type=Path, default=Path("out/demo/offers.json"))
    parser.add_argument("--as-of", action="append", default=None, help="as-of date (repeat); default four")
    parser.add_argument("--kind", action="append", default=None, help="only plots of this truth kind (e.g. good)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--ceiling", action="store_true", help="also what a classifier trained on the truth reaches (scikit-learn)"
    )
    parser.add_argument(
        "--scenes", action="store_true", help="also every clear scene of each plot (reads the region's STAC scenes)"
    )
    args = parser.parse_args()
    dates = [date.fromisoformat(d) for d in (args.as_of or DEFAULT_AS_OF)]
    report = evaluate(
        args.region,
        args.offers,
        dates,
        tuple(args.kind) if args.kind else None,
        with_ceiling=args.ceiling,
        with_scenes=args.scenes,
    )
    print(f"{report['plots']} plots matched to truth fields {report['by_status']}; kinds {report['by_kind']}")
    for day, res in report["as_of"].items():
        print(f"as of {day}: all codes {res['all_codes']}")
        for code, m in res["scored"].items():
            print(f"    {code:28s} {m}")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
