"""Crop condition: a plot's NDVI curve against the expected curve of its crop.

The expected curves (``data/reference/ndvi_curves.csv``) are per-crop, per-calendar-month NDVI mean and spread,
computed from the real labelled Sentinel-2 samples (WorldCereal, East Africa 2017) by ``expected_curves``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from agrisense.errors import InvalidInput, NotFound

SAMPLE_LABELS = {
    "maize": "maize",
    "sorghum": "sorghum",
    "groundnut": "other_oilseeds",
    "beans": "dry_pulses_legumes",
}
"""Product crop name → label of the real sample table whose spectra define the crop."""

MIN_STD = 0.05
"""Floor on the expected spread so a tight sample class does not make every plot an outlier."""


@dataclass(frozen=True)
class ExpectedCurve:
    """Expected NDVI per calendar month (1..12) for one crop."""

    crop: str
    mean: Mapping[int, float]
    std: Mapping[int, float]

    def growing_months(self, share: float = 0.5) -> list[int]:
        """Months whose expected NDVI is in the upper ``share`` of the crop's seasonal amplitude."""
        values = np.array([self.mean[m] for m in range(1, 13)])
        threshold = values.min() + share * (values.max() - values.min())
        return [m for m in range(1, 13) if self.mean[m] >= threshold]


@dataclass(frozen=True)
class Condition:
    """A plot's condition: mean z-score of NDVI in the crop's growing months, and the months it rests on."""

    z: float | None
    months_used: tuple[int, ...]
    reason: str | None = None


def expected_curves(samples: pd.DataFrame, *, region: str = "east_africa_2017") -> pd.DataFrame:
    """Per-crop monthly NDVI mean/std/n from a wide sample table (``B04_mXX``, ``B08_mXX``, ``season_start``)."""
    rows = []
    subset = samples[samples["region"] == region]
    if subset.empty:
        raise InvalidInput(f"No samples of region {region!r} in the sample table.")
    start_month = pd.Timestamp(subset["season_start"].iloc[0]).month
    for crop, label in SAMPLE_LABELS.items():
        group = subset[subset["label"] == label]
        for m in range(12):
            red, nir = group[f"B04_m{m:02d}"], group[f"B08_m{m:02d}"]
            ndvi = ((nir - red) / (nir + red)).dropna()
            month = (start_month - 1 + m) % 12 + 1
            rows.append(
                {
                    "crop": crop,
                    "month": month,
                    "ndvi_mean": round(float(ndvi.mean()), 4),
                    "ndvi_std": round(float(ndvi.std(ddof=1)), 4),
                    "n": int(ndvi.size),
                }
            )
    return pd.DataFrame(rows).sort_values(["crop", "month"]).reset_index(drop=True)


def load_expected_curves(path: Path) -> dict[str, ExpectedCurve]:
    """Read ``ndvi_curves.csv`` into one ``ExpectedCurve`` per crop."""
    if not path.exists():
        raise NotFound(f"{path} is missing; rebuild it with `python -m agrisense.ml.growth --out {path}`.")
    table = pd.read_csv(path)
    curves = {}
    for crop, group in table.groupby("crop"):
        mean = {int(r.month): float(r.ndvi_mean) for r in group.itertuples()}
        std = {int(r.month): max(MIN_STD, float(r.ndvi_std)) for r in group.itertuples()}
        if sorted(mean) != list(range(1, 13)):
            raise InvalidInput(f"{path}: crop {crop!r} needs NDVI for all 12 months.")
        curves[str(crop)] = ExpectedCurve(str(crop), mean, std)
    return curves


def condition_z(
    ndvi_by_month: Mapping[int, float], curve: ExpectedCurve, *, min_months: int = 2
) -> Condition:
    """Mean z-score of the plot's NDVI against ``curve`` over the crop's growing months that have a value."""
    months = [m for m in curve.growing_months() if m in ndvi_by_month and np.isfinite(ndvi_by_month[m])]
    if len(months) < min_months:
        return Condition(None, tuple(months), f"only {len(months)} clear month(s) in the growing season")
    z = [(ndvi_by_month[m] - curve.mean[m]) / curve.std[m] for m in months]
    return Condition(float(np.clip(np.mean(z), -5.0, 5.0)), tuple(months))


def main() -> None:  # pragma: no cover - maintenance script
    import argparse

    parser = argparse.ArgumentParser(
        description="Build data/reference/ndvi_curves.csv from the real samples."
    )
    parser.add_argument(
        "--samples", type=Path, default=Path("../shared/data/real/crop_samples/dev_samples.parquet")
    )
    parser.add_argument("--out", type=Path, default=Path("data/reference/ndvi_curves.csv"))
    args = parser.parse_args()
    expected_curves(pd.read_parquet(args.samples)).to_csv(args.out, index=False)


if __name__ == "__main__":  # pragma: no cover
    main()
