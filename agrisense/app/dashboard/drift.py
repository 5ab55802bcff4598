"""Model monitoring between two re-score runs: population stability index (PSI) and class mix.

PSI = sum over bins of (current share - baseline share) x ln(current share / baseline share), with bins cut at
the baseline's deciles for a number and one bin per class for a category. Usual reading: < 0.10 stable,
0.10-0.25 moderate shift, > 0.25 significant shift (re-check the model and the policy before lending on it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from agrisense.errors import InvalidInput

PSI_MODERATE = 0.10
PSI_SIGNIFICANT = 0.25
SHARE_FLOOR = 1e-4
"""Smallest share a bin counts with, so an empty bin gives a large but finite PSI."""
MIN_PER_BIN = 5
"""Fewest baseline values per bin: a small run gets fewer, wider bins instead of a PSI made of empty bins."""
MIN_RELIABLE_N = 50
"""Below this many plots in either run, PSI is noisy: the page says so."""

NUMERIC_COLUMNS = ("crop_probability", "pd", "credit_limit")
CATEGORY_COLUMNS = ("crop", "decision")


def _clean(values: Sequence[float] | pd.Series | np.ndarray, name: str) -> np.ndarray:
    array = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    array = array[np.isfinite(array)]
    if array.size == 0:
        raise InvalidInput(f"{name} has no numeric values; PSI needs at least one value in each run")
    return array


def _psi_from_shares(baseline: np.ndarray, current: np.ndarray) -> float:
    b = np.maximum(baseline, SHARE_FLOOR)
    c = np.maximum(current, SHARE_FLOOR)
    return float(np.sum((c - b) * np.log(c / b)))


def psi(
    baseline: Sequence[float] | pd.Series | np.ndarray,
    current: Sequence[float] | pd.Series | np.ndarray,
    *,
    bins: int = 10,
) -> float:
    """PSI of a numeric variable, up to ``bins`` bins at the baseline's quantiles (ties merged, at least
    ``MIN_PER_BIN`` baseline values per bin); NaNs are left out."""
    if bins < 2:
        raise InvalidInput(f"bins={bins}: PSI needs at least 2 bins")
    b = _clean(baseline, "baseline")
    c = _clean(current, "current")
    if np.unique(b).size == 1:  # constant baseline: "the baseline value" against "anything else"
        value = b[0]
        return _psi_from_shares(np.array([1.0, 0.0]), np.array([np.mean(c == value), np.mean(c != value)]))
    n_bins = max(2, min(bins, b.size // MIN_PER_BIN))
    inner = np.unique(np.quantile(b, np.linspace(0, 1, n_bins + 1)[1:-1]))
    edges = np.concatenate([[-np.inf], inner, [np.inf]])
    b_share = np.histogram(b, edges)[0] / b.size
    c_share = np.histogram(c, edges)[0] / c.size
    return _psi_from_shares(b_share, c_share)


def class_mix(baseline: Sequence[object] | pd.Series, current: Sequence[object] | pd.Series) -> pd.DataFrame:
    """Share of each class in both runs: columns class, baseline_share, current_share, change (current - base)."""
    b = pd.Series(baseline, dtype="object").fillna("(none)").astype(str)
    c = pd.Series(current, dtype="object").fillna("(none)").astype(str)
    if b.empty or c.empty:
        raise InvalidInput("class mix needs at least one row in each run")
    table = pd.DataFrame(
        {"baseline_share": b.value_counts(normalize=True), "current_share": c.value_counts(normalize=True)}
    ).fillna(0.0)
    table.index.name = "class"
    table["change"] = table["current_share"] - table["baseline_share"]
    return table.sort_index().reset_index()


def categorical_psi(baseline: Sequence[object] | pd.Series, current: Sequence[object] | pd.Series) -> float:
    """PSI over the classes of a categorical variable (e.g. the verified crop)."""
    mix = class_mix(baseline, current)
    return _psi_from_shares(mix["baseline_share"].to_numpy(), mix["current_share"].to_numpy())


def level(value: float) -> str:
    """stable / moderate / significant, by the usual PSI thresholds."""
    if value < PSI_MODERATE:
        return "stable"
    return "moderate" if value < PSI_SIGNIFICANT else "significant"


def drift_table(
    baseline: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: Sequence[str] = NUMERIC_COLUMNS,
    categorical: Sequence[str] = CATEGORY_COLUMNS,
) -> pd.DataFrame:
    """One row per variable present in both runs: variable, kind, psi, level, baseline/current n and median."""
    rows = []
    for name in numeric:
        if name not in baseline or name not in current:
            continue
        b = pd.to_numeric(baseline[name], errors="coerce").dropna()
        c = pd.to_numeric(current[name], errors="coerce").dropna()
        if b.empty or c.empty:
            continue
        value = psi(b, c)
        rows.append(
            {
                "variable": name,
                "kind": "distribution",
                "psi": value,
                "level": level(value),
                "baseline_n": len(b),
                "current_n": len(c),
                "baseline_median": float(b.median()),
                "current_median": float(c.median()),
            }
        )
    for name in categorical:
        if name not in baseline or name not in current or baseline.empty or current.empty:
            continue
        value = categorical_psi(baseline[name], current[name])
        rows.append(
            {
                "variable": name,
                "kind": "class mix",
                "psi": value,
                "level": level(value),
                "baseline_n": len(baseline),
                "current_n": len(current),
                "baseline_median": np.nan,
                "current_median": np.nan,
            }
        )
    columns = ["variable", "kind", "psi", "level", "baseline_n", "current_n", "baseline_median", "current_median"]
    return pd.DataFrame(rows, columns=columns)
