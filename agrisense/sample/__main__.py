"""``python -m agrisense.sample --out DIR [--seed N] [--size-km X]``: build the synthetic region."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agrisense.errors import AgrisenseError
from agrisense.sample.build import build_region
from agrisense.sample.inputs import REPO_ROOT


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build, print a one-screen summary; exit code 2 on bad input."""
    ap = argparse.ArgumentParser(prog="python -m agrisense.sample", description=__doc__)
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "sample_county", help="region folder")
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--size-km", type=float, default=10.0)
    ap.add_argument("--season", type=int, default=2026)
    ap.add_argument("--n-farmers", type=int, default=None)
    ap.add_argument("--max-scenes", type=int, default=None, help="cap on acquisitions (quick builds)")
    args = ap.parse_args(argv)
    try:
        s = build_region(
            args.out,
            seed=args.seed,
            size_km=args.size_km,
            season=args.season,
            n_farmers=args.n_farmers,
            max_scenes=args.max_scenes,
        )
    except AgrisenseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"built {s.out_dir} in {s.seconds} s: {s.n_fields} fields, {s.n_farmers} farmers, {s.n_plots} plots, "
        f"{s.n_scenes} scenes ({s.n_cloudy_scenes} cloudy > 50 %)"
    )
    print(f"crop shares (fields): {s.crop_field_shares}")
    print(f"landcover shares (pixels): {s.landcover_shares}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
