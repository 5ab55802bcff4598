"""``python -m agrisense.ml.training --region DIR --out DIR``: train the land-cover U-Net on a region."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from agrisense.errors import AgrisenseError
from agrisense.ml.training.pipeline import train_landcover


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agrisense.ml.training", description=__doc__)
    parser.add_argument("--region", type=Path, required=True, help="region folder with region.json, stac/, truth/")
    parser.add_argument("--out", type=Path, required=True, help="bundle folder to write, e.g. models/landcover_unet")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--max-minutes", type=float, default=15.0, help="time budget of the whole run")
    parser.add_argument("--no-cache", action="store_true", help="rebuild the composites even if cached")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        report = train_landcover(
            args.region,
            args.out,
            seed=args.seed,
            epochs=args.epochs,
            tile=args.tile,
            device=args.device,
            max_minutes=args.max_minutes,
            use_cache=not args.no_cache,
        )
    except AgrisenseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    test = report.metrics["test"]
    print(
        f"{report.out_dir}: OA {test['overall_accuracy']}, macro-F1 {test['macro_f1']}, "
        f"field accuracy {report.metrics['field_accuracy']}, T {report.temperature:.3f}, "
        f"{report.epochs_run} epochs, {report.total_seconds:.0f} s, "
        f"weights {report.weights_bytes / 1e6:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
