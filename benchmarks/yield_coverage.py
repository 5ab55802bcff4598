"""Yield interval coverage: leave-years-out p10-p90 coverage on the real USDA NASS state yield series, per crop.

For each state with the full window (default: each series' last 30 years, 1982-2011) every year is held out in
turn; a linear trend is fitted on the other years, and the interval is trend x lognormal(mean 1, CV) quantiles
(``agrisense.agronomy.coverage``). Three spreads per crop:

* ``calibrated``: the CV of the training years' trend residuals, widened for a new year (target 80 % +- 5);
* ``crops.csv``: the product's ``yield_cv`` of the matching crop (corn = maize, soybean, sorghum, wheat, rice,
  cotton where the table has them), "would the product's spread have held?";
* ``calibrated, all years``: the calibrated CV on each state's whole series with one trend (1866-2011 for corn),
  which is what ``calibrate-yield`` did before it got a default window.

    python benchmarks/yield_coverage.py [--yields PATH] [--window 30] [--json OUT]

PATH defaults to ``yields/usda_nass_state_yields.csv`` under ``../shared/data/real`` or ``AGRISENSE_REAL_DATA_DIR``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from agrisense.agronomy.calendar import load_crop_table
from agrisense.agronomy.calibration import usda_yield_table
from agrisense.agronomy.coverage import Coverage, crop_coverage, recent_window
from agrisense.config import Settings
from agrisense.sample.inputs import real_data_dir

SHARED = Path("../shared/data/real")
"""The shared real data next to the checkout, used when ``AGRISENSE_REAL_DATA_DIR`` is not set."""
PRODUCT_CROP = {"corn": "maize", "sorghum": "sorghum", "soybean": "soybean", "wheat": "wheat", "rice": "rice"}
PRODUCT_CROP |= {"cotton": "cotton", "barley": "barley"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--yields", type=Path, default=None, help="USDA NASS state yields CSV")
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    path = args.yields or real_data_dir(SHARED if SHARED.is_dir() else None) / "yields" / "usda_nass_state_yields.csv"
    t0 = time.perf_counter()
    table = usda_yield_table(path)
    recent = recent_window(table, args.window)
    crops = load_crop_table(Settings().reference_dir / "crops.csv")
    rows: list[tuple[str, Coverage, Coverage | None, Coverage]] = []
    for crop in sorted(table["crop"].unique()):
        ours = crops.get(PRODUCT_CROP.get(crop, crop))
        product = crop_coverage(recent, crop, cv=ours.yield_cv, min_years=args.window) if ours else None
        rows.append(
            (
                crop,
                crop_coverage(recent, crop, min_years=args.window),
                product,
                crop_coverage(table, crop, min_years=args.window),
            )
        )
    seconds = time.perf_counter() - t0
    print(
        f"{platform.node()} {platform.processor() or platform.machine()}, {seconds:.1f} s, window {args.window} years"
    )
    print("| crop | states | state-years | calibrated CV | coverage | crops.csv CV | coverage | all years, one trend |")
    print("|---|---|---|---|---|---|---|---|")
    for crop, cal, product, whole in rows:
        prod = f"{product.mean_cv:.2f} | {product.coverage:.1%}" if product else "- | -"
        print(
            f"| {crop} | {cal.regions} | {cal.region_years} | {cal.mean_cv:.3f} | {cal.coverage:.1%} | {prod} "
            f"| {whole.coverage:.1%} |"
        )
    if args.json:
        body = [
            {"calibrated": c.to_dict(), "crops_csv": p.to_dict() if p else None, "all_years": w.to_dict()}
            for _, c, p, w in rows
        ]
        args.json.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
