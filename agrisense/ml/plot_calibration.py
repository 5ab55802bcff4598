"""Plot-level calibration against a region's truth: crop probability (isotonic) and the expected NDVI curves.

The crop model's plot probability (``PlotEvidence.crop_probability``: the top crop's share of the plot's cropland
probability) is calibrated on plots, not pixels: an isotonic map ``p -> P(top crop is the true crop)`` fitted on the
plots of a region with truth. It only looks at the probability, so it works for any crop model and is keyed by the
model's fingerprint (``bundle.json`` ``version``); re-fit it for a new model with ``agrisense calibrate-plots``.

The expected NDVI curve a plot's condition z is measured against is, by default, the curve of the real labelled
point samples (``data/reference/ndvi_curves.csv``). A plot's NDVI is a coverage-weighted mean over its outline
(edge pixels, mixed pixels, the region's own sowing dates), so that curve sits above genuine plots; the region
curves here are the per-month mean and spread of the region's own genuine, correctly classified, normally growing
plots. Where a crop-month has too few of them (a crop with few plots, a month outside the imagery window, such as
the winter months of rapeseed) the reference goes through the region's pooled level map (:class:`LevelMap`); the
growing months a condition is read over stay those of the reference curve.

Everything is cross-fitted when it is reported: each plot's calibrated value comes from a fit on the other folds.
One JSON file holds the fits of several regions and models (:func:`save_calibration`, :func:`find_calibration`).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agrisense.errors import InvalidInput
from agrisense.ml.growth import MIN_STD, ExpectedCurve, condition_z

PLOT_CALIBRATION_FILE = "plot_calibration.json"
"""The calibration file's name in the reference folder (``data/reference/plot_calibration.json``)."""
FORMAT = "agrisense.plot_calibration"
FORMAT_VERSION = 1
RELIABILITY_EDGES = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
"""Bins of the reliability table (the top probability of a crop model with four crops is at least 0.25)."""
MIN_PLOTS = 30
"""Fewer labelled plots than this give an isotonic map that is mostly noise: refuse."""
MIN_CURVE_PLOTS = 5
"""A crop-month with fewer genuine plots than this keeps the reference curve's value."""


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability table: plots whose probability fell in [lo, hi)."""

    lo: float
    hi: float
    n: int
    mean_probability: float
    accuracy: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "lo": self.lo,
            "hi": self.hi,
            "n": self.n,
            "mean_probability": round(self.mean_probability, 4),
            "accuracy": round(self.accuracy, 4),
        }


def reliability(
    probability: Sequence[float] | np.ndarray,
    correct: Sequence[bool] | np.ndarray,
    edges: Sequence[float] = RELIABILITY_EDGES,
) -> tuple[ReliabilityBin, ...]:
    """Per-bin mean probability and share correct (empty bins left out; the last bin includes 1.0)."""
    p, y = _checked(probability, correct)
    index = np.clip(np.searchsorted(np.asarray(edges), p, side="right") - 1, 0, len(edges) - 2)
    bins = []
    for k in range(len(edges) - 1):
        sel = index == k
        if sel.any():
            bins.append(
                ReliabilityBin(edges[k], edges[k + 1], int(sel.sum()), float(p[sel].mean()), float(y[sel].mean()))
            )
    return tuple(bins)


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float:
    """ECE: the plot-weighted mean of |accuracy - mean probability| over the bins."""
    total = sum(b.n for b in bins)
    if total == 0:
        raise InvalidInput("no plots in the reliability table; nothing to measure")
    return float(sum(b.n * abs(b.accuracy - b.mean_probability) for b in bins) / total)


@dataclass(frozen=True)
class ProbabilityMap:
    """A monotone piecewise-linear map of the top crop probability (isotonic fit: knots ``x`` -> ``y``)."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, probability: float) -> float:
        """Calibrated probability; values beyond the knots take the end values."""
        if not np.isfinite(probability):
            raise InvalidInput(f"crop probability {probability} is not a number")
        return float(np.interp(probability, self.x, self.y))

    def apply(self, probability: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(probability, dtype=float), self.x, self.y)


def fit_probability_map(
    probability: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray
) -> ProbabilityMap:
    """Isotonic regression of ``correct`` on ``probability`` (increasing, clipped to [0, 1])."""
    p, y = _checked(probability, correct)
    if p.size < MIN_PLOTS:
        raise InvalidInput(f"{p.size} labelled plots are too few to calibrate on; need at least {MIN_PLOTS}")
    from sklearn.isotonic import IsotonicRegression  # scikit-learn only where a fit happens, not when scoring

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(p, y)
    return ProbabilityMap(tuple(float(v) for v in iso.X_thresholds_), tuple(float(v) for v in iso.y_thresholds_))


def cross_fitted_probability(
    probability: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray, *, folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Each plot's calibrated probability from an isotonic map fitted on the other ``folds - 1`` folds."""
    p, y = _checked(probability, correct)
    out = np.empty_like(p)
    for train, test in _folds(p.size, folds, seed):
        out[test] = fit_probability_map(p[train], y[train]).apply(p[test])
    return out


@dataclass(frozen=True)
class GenuinePlot:
    """What the curve fit needs of one genuine plot: its crop and NDVI per calendar month."""

    crop: str
    ndvi_by_month: Mapping[int, float]


@dataclass(frozen=True)
class LevelMap:
    """The region's plot NDVI against the reference curves, pooled over crops: ``plot = intercept + slope * ref``,
    fitted on the crop-months (reference growing months) with at least ``MIN_CURVE_PLOTS`` genuine plots."""

    intercept: float
    slope: float
    crop_months: int

    def __call__(self, ndvi: float) -> float:
        return self.intercept + self.slope * ndvi

    def to_dict(self) -> dict[str, float | int]:
        return {"intercept": round(self.intercept, 4), "slope": round(self.slope, 4), "crop_months": self.crop_months}


IDENTITY = LevelMap(0.0, 1.0, 0)
MIN_LEVEL_POINTS = 4
"""Fewer well-covered crop-months than this fit no level map: sparse crop-months keep the reference as it is."""


def _month_values(plots: Sequence[GenuinePlot], crop: str) -> dict[int, np.ndarray]:
    own = [p.ndvi_by_month for p in plots if p.crop == crop]
    return {m: np.array([v[m] for v in own if m in v and np.isfinite(v[m])]) for m in range(1, 13)}


def fit_level_map(plots: Sequence[GenuinePlot], reference: Mapping[str, ExpectedCurve]) -> LevelMap:
    """Weighted least squares of the genuine plots' mean NDVI on the reference NDVI over every crop's growing
    months with at least ``MIN_CURVE_PLOTS`` plots (weights: plot counts). The identity when too few."""
    ref, own, weight = [], [], []
    for crop, curve in reference.items():
        values = _month_values(plots, crop)
        for month in curve.growing_months():
            if values[month].size >= MIN_CURVE_PLOTS:
                ref.append(curve.mean[month])
                own.append(float(values[month].mean()))
                weight.append(values[month].size)
    if len(ref) < MIN_LEVEL_POINTS or np.ptp(ref) < 0.05:
        return IDENTITY
    slope, intercept = np.polyfit(ref, own, 1, w=np.sqrt(weight))
    return LevelMap(float(intercept), float(slope), len(ref))


def fit_region_curves(plots: Sequence[GenuinePlot], reference: Mapping[str, ExpectedCurve]) -> dict[str, ExpectedCurve]:
    """Per crop and month, mean and spread (floored at ``MIN_STD``) of the genuine plots' NDVI. A crop-month with
    fewer than ``MIN_CURVE_PLOTS`` values (a crop with few plots, a month outside the imagery) takes the reference
    through the region's pooled :class:`LevelMap` (the offset of plot NDVI from the reference that every crop of
    the region shares: mixed edge pixels, patchy growth) and keeps the reference's spread. Each curve keeps the
    reference's growing months, so a crop's condition is always read over the same part of its season."""
    level = fit_level_map(plots, reference)
    curves = {}
    for crop, ref in reference.items():
        values = _month_values(plots, crop)
        mean = {m: level(ref.mean[m]) for m in range(1, 13)}
        std = dict(ref.std)
        for month in range(1, 13):
            if values[month].size >= MIN_CURVE_PLOTS:
                mean[month] = float(values[month].mean())
                std[month] = max(MIN_STD, float(values[month].std(ddof=1)))
        curves[crop] = ExpectedCurve(crop, mean, std, tuple(ref.growing_months()))
    return curves


def cross_fitted_condition(
    plots: Sequence[GenuinePlot], reference: Mapping[str, ExpectedCurve], *, folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Each genuine plot's condition z against region curves fitted on the other folds (NaN: too few months).

    The folds are stratified by crop, so each crop's curve is fitted on (folds - 1) / folds of its plots, as the
    committed fit uses all of them (unstratified folds can leave a small crop's training share under
    ``MIN_CURVE_PLOTS`` and measure it against another curve than the one the product uses)."""
    out = np.full(len(plots), np.nan)
    for train, test in _folds(len(plots), folds, seed, strata=[p.crop for p in plots]):
        curves = fit_region_curves([plots[i] for i in train], reference)
        for i in test:
            z = condition_z(plots[i].ndvi_by_month, curves[plots[i].crop]).z if plots[i].crop in curves else None
            out[i] = np.nan if z is None else z
    return out


@dataclass(frozen=True)
class PlotCalibration:
    """The calibration of one region and one crop model, as stored in the calibration file."""

    region: str
    model_version: str
    probability: ProbabilityMap
    curves: Mapping[str, ExpectedCurve]
    report: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "model_version": self.model_version,
            "crop_probability": {
                "x": [round(v, 6) for v in self.probability.x],
                "y": [round(v, 6) for v in self.probability.y],
            },
            "ndvi_curves": {
                crop: {str(m): [round(c.mean[m], 4), round(c.std[m], 4)] for m in range(1, 13)}
                for crop, c in sorted(self.curves.items())
            },
            "growing_months": {crop: list(c.growing) for crop, c in sorted(self.curves.items()) if c.growing},
            "report": dict(self.report),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlotCalibration:
        try:
            prob = data["crop_probability"]
            growing = data.get("growing_months", {})  # entries fitted before it was stored: read off the curve
            curves = {
                crop: ExpectedCurve(
                    crop,
                    {int(m): float(v[0]) for m, v in months.items()},
                    {int(m): float(v[1]) for m, v in months.items()},
                    tuple(int(m) for m in growing.get(crop, ())),
                )
                for crop, months in data["ndvi_curves"].items()
            }
            mapping = ProbabilityMap(tuple(float(v) for v in prob["x"]), tuple(float(v) for v in prob["y"]))
            result = cls(str(data["region"]), str(data["model_version"]), mapping, curves, data.get("report", {}))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InvalidInput(
                f"plot calibration entry is malformed ({exc!r}); re-fit it with agrisense calibrate-plots"
            ) from exc
        if len(mapping.x) < 1 or len(mapping.x) != len(mapping.y) or np.any(np.diff(mapping.x) < 0):
            raise InvalidInput("plot calibration: crop_probability x must be increasing and match y; re-fit it")
        return result


def region_key(name: str, season: int, bbox_lonlat: Sequence[float]) -> str:
    """The key a calibration is stored under: region name, season and extent (a rebuilt region of another size or
    seed at the same name does not pick up the wrong calibration)."""
    return f"{name} | season {season} | bbox {', '.join(f'{v:.4f}' for v in bbox_lonlat)}"


def read_calibrations(path: Path) -> list[PlotCalibration]:
    """Every calibration in ``path`` (none when the file does not exist)."""
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} is not JSON ({exc}); re-fit it with agrisense calibrate-plots") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != FORMAT_VERSION:
        raise InvalidInput(
            f"{path} is not a version {FORMAT_VERSION} {FORMAT} file; re-fit it with agrisense calibrate-plots"
        )
    return [PlotCalibration.from_dict(entry) for entry in data.get("entries", [])]


def find_calibration(path: Path, region: str, model_version: str) -> PlotCalibration | None:
    """The calibration of ``region`` and ``model_version`` in ``path``, or None (no fit for this model yet)."""
    return next((c for c in read_calibrations(path) if c.region == region and c.model_version == model_version), None)


def save_calibration(path: Path, calibration: PlotCalibration) -> Path:
    """Write ``calibration`` into ``path``, replacing the entry of the same region and model and keeping the rest."""
    kept = [
        c
        for c in read_calibrations(path)
        if (c.region, c.model_version) != (calibration.region, calibration.model_version)
    ]
    entries = sorted([*kept, calibration], key=lambda c: (c.region, c.model_version))
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"format": FORMAT, "version": FORMAT_VERSION, "entries": [c.to_dict() for c in entries]}
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _checked(
    probability: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probability, dtype=float)
    y = np.asarray(correct, dtype=float)
    if p.ndim != 1 or p.shape != y.shape:
        raise InvalidInput(f"probabilities {p.shape} and outcomes {y.shape} must be two 1-D arrays of one length")
    if p.size and (not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1):
        raise InvalidInput("crop probabilities must be numbers in [0, 1]")
    if p.size and not np.all(np.isin(y, (0.0, 1.0))):
        raise InvalidInput("outcomes must be true/false (the plot's top crop is its true crop)")
    return p, y


def _folds(n: int, folds: int, seed: int, strata: Sequence[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    if not 2 <= folds <= n:
        raise InvalidInput(f"folds={folds} must be between 2 and the number of plots ({n})")
    from sklearn.model_selection import KFold, StratifiedKFold

    index = np.arange(n)
    if strata is None:
        return list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(index))
    with warnings.catch_warnings():  # a crop with fewer plots than folds is expected: its plots fill some folds
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(index, np.asarray(strata)))
