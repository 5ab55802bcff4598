"""Synthetic wide sample tables: classes with distinct green-up months, fields scattered over several sites."""

from __future__ import annotations

import numpy as np
import pandas as pd

from agrisense.ml.croptype.table import BANDS, N_MONTHS

PEAKS = {"maize": 3, "sorghum": 7, "trees_mixed": None}


def synthetic_table(n_per_class: int = 24, seed: int = 0, with_label: bool = True) -> pd.DataFrame:
    """Rows of reflectance x 10000 whose NIR/red follow a class-specific season; ~10 % months missing."""
    rng = np.random.default_rng(seed)
    rows = []
    months = np.arange(N_MONTHS)
    for label, peak in PEAKS.items():
        for i in range(n_per_class):
            green = np.full(N_MONTHS, 0.5) if peak is None else np.exp(-0.5 * ((months - peak) / 1.5) ** 2)
            green = np.clip(green + rng.normal(0, 0.05, N_MONTHS), 0, 1)
            row: dict[str, object] = {
                "sample_id": f"{label}-{i}",
                "lon": 33.5 + 0.05 * (i % 8) + rng.normal(0, 0.001),
                "lat": 3.0 + 0.05 * (i // 8) + rng.normal(0, 0.001),
                "region": "east_africa_2017",
                "season_start": "2016-12-01",
            }
            for j, band in enumerate(BANDS):
                base = 0.05 + 0.01 * j
                value = base + (0.35 * green if band in ("B07", "B08", "B8A") else -0.03 * green)
                value = value * 10000 + rng.normal(0, 50, N_MONTHS)
                value[rng.random(N_MONTHS) < 0.1] = np.nan
                for t in months:
                    row[f"{band}_m{t:02d}"] = np.float32(value[t])
            if with_label:
                row["label"] = label
            rows.append(row)
    return pd.DataFrame(rows)
