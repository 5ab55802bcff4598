"""``agrisense calibrate-plots``: score a region's plots, compare them with its truth, fit the plot calibration.

The fit (:func:`fit_plot_calibration`) is pure: evidence by plot id and the truth table in, a
:class:`~agrisense.ml.plot_calibration.PlotCalibration` with its cross-fitted report out. :func:`calibrate_region`
does the scoring and the I/O around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agrisense import services
from agrisense.config import Settings
from agrisense.errors import InvalidInput, NotFound
from agrisense.ml.growth import ExpectedCurve, condition_z
from agrisense.ml.plot_calibration import (
    GenuinePlot,
    PlotCalibration,
    ReliabilityBin,
    cross_fitted_condition,
    cross_fitted_probability,
    expected_calibration_error,
    fit_level_map,
    fit_probability_map,
    fit_region_curves,
    region_key,
    reliability,
    save_calibration,
)
from agrisense.pipelines.demo import dask_runner
from agrisense.region import load_region
from agrisense.scoring.evidence import PlotEvidence

POOR_Z = -1.0
"""The condition z at or below which the credit engine reports CROP_CONDITION_POOR (policy ``poor_condition_z``)."""


def labelled_plots(evidence: Mapping[str, PlotEvidence], truth: pd.DataFrame) -> pd.DataFrame:
    """One row per scored plot with truth: plot_id, crop, probability, correct, genuine (kind good, crop right,
    field growing normally), true_crop, kind, status."""
    need = {"plot_id", "true_crop", "kind", "status"}
    if missing := need - set(truth.columns):
        raise InvalidInput(
            f"truth table lacks {', '.join(sorted(missing))}; rebuild the region with agrisense sample build"
        )
    rows = []
    for row in truth.itertuples(index=False):
        ev = evidence.get(str(row.plot_id))
        if ev is None or not ev.imagery_ok or ev.crop is None or ev.crop_probability is None:
            continue
        true_crop = None if pd.isna(row.true_crop) else str(row.true_crop)
        rows.append(
            {
                "plot_id": ev.plot_id,
                "crop": ev.crop,
                "probability": float(ev.crop_probability),
                "correct": ev.crop == true_crop,
                "genuine": row.kind == "good" and ev.crop == true_crop and row.status == "normal",
                "true_crop": true_crop,
                "kind": row.kind,
                "status": row.status,
            }
        )
    return pd.DataFrame(rows)


def fit_plot_calibration(
    evidence: Mapping[str, PlotEvidence],
    truth: pd.DataFrame,
    reference: Mapping[str, ExpectedCurve],
    *,
    region: str,
    folds: int = 5,
) -> PlotCalibration:
    """The crop-probability map (plots whose true crop is known) and the region NDVI curves (genuine plots), with
    a report of reliability and condition z before and after, both cross-fitted over ``folds``."""
    table = labelled_plots(evidence, truth)
    versions = {evidence[p].model_version for p in table["plot_id"]} if len(table) else set()
    if len(versions) != 1 or None in versions:
        raise InvalidInput(f"the evidence must come from one crop model, got versions {sorted(map(str, versions))}")
    cropland = table[table["true_crop"].notna()]
    p, y = cropland["probability"].to_numpy(), cropland["correct"].to_numpy()
    genuine_rows = table[table["genuine"]]
    genuine = [GenuinePlot(r.crop, evidence[r.plot_id].ndvi_by_month) for r in genuine_rows.itertuples()]
    before_z = np.array([_z(g, reference) for g in genuine])
    after_z = cross_fitted_condition(genuine, reference, folds=folds)
    after_p = cross_fitted_probability(p, y, folds=folds)
    report = {
        "fitted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "folds": folds,
        "n_plots": len(cropland),
        "crop_probability": {
            "before": _reliability(p, y),
            "after_cross_fitted": _reliability(after_p, y),
        },
        "condition_z": {
            "n_genuine": len(genuine),
            "before": _condition(genuine_rows["crop"], before_z),
            "after_cross_fitted": _condition(genuine_rows["crop"], after_z),
            "level_map": fit_level_map(genuine, reference).to_dict(),  # for crop-months with few plots
        },
    }
    return PlotCalibration(
        region=region,
        model_version=str(versions.pop()),
        probability=fit_probability_map(p, y),
        curves=fit_region_curves(genuine, reference),
        report=report,
    )


def calibrate_region(settings: Settings, out: Path, *, folds: int = 5) -> PlotCalibration:
    """Score every plot of ``settings.region_dir``, fit the plot calibration against its truth, write it to ``out``."""
    region = load_region(settings.region_dir)
    truth_dir = Path(settings.region_dir) / "truth"
    if not (truth_dir / "plots_truth.parquet").is_file():
        raise NotFound(f"{truth_dir}/plots_truth.parquet is missing: calibration needs a region with truth")
    truth = pd.read_parquet(truth_dir / "plots_truth.parquet")
    fields = pd.read_parquet(truth_dir / "fields.parquet", columns=["field_id", "status"])
    truth = truth.merge(fields, on="field_id", how="left")
    plots, errors = services.read_region_plots(region.plots, settings)
    run = services.score_plots(plots, errors=errors, settings=settings, runner=dask_runner(settings))
    reference = services.credit_inputs(settings, region).reference().curves  # the region's market's curves
    key = region_key(region.name, region.season, region.bbox_lonlat)
    calibration = fit_plot_calibration(run.evidence, truth, reference, region=key, folds=folds)
    save_calibration(out, calibration)
    return calibration


def _z(plot: GenuinePlot, curves: Mapping[str, ExpectedCurve]) -> float:
    z = condition_z(plot.ndvi_by_month, curves[plot.crop]).z if plot.crop in curves else None
    return np.nan if z is None else z


def _reliability(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    bins: tuple[ReliabilityBin, ...] = reliability(p, y)
    return {"ece": round(expected_calibration_error(bins), 4), "bins": [b.to_dict() for b in bins]}


def _condition(crops: pd.Series, z: np.ndarray) -> dict[str, Any]:
    frame = pd.DataFrame({"crop": crops.to_numpy(), "z": z}).dropna()
    by_crop = {
        str(crop): {
            "n": len(g),
            "mean_z": round(float(g["z"].mean()), 3),
            "poor_share": round(float((g["z"] <= POOR_Z).mean()), 3),
        }
        for crop, g in frame.groupby("crop")
    }
    return {
        "mean_z": round(float(frame["z"].mean()), 3),
        "poor_share": round(float((frame["z"] <= POOR_Z).mean()), 3),
        "by_crop": by_crop,
    }


def report_lines(calibration: PlotCalibration) -> list[str]:
    """A calibration's report as Markdown tables: reliability per bin before/after, condition z before/after."""
    report = calibration.report
    prob, cond = report["crop_probability"], report["condition_z"]
    lines = [
        f"model {calibration.model_version}, {report['n_plots']} plots with truth, {report['folds']}-fold cross-fitted",
        "",
        "| probability bin | plots | mean p before | right before | plots after | mean p after | right after |",
        "|---|---|---|---|---|---|---|",
    ]
    after = {(b["lo"], b["hi"]): b for b in prob["after_cross_fitted"]["bins"]}
    edges = sorted({(b["lo"], b["hi"]) for b in prob["before"]["bins"]} | set(after))
    before = {(b["lo"], b["hi"]): b for b in prob["before"]["bins"]}
    for edge in edges:
        b, a = before.get(edge), after.get(edge)
        lines.append(
            f"| {edge[0]:.1f}-{edge[1]:.1f} | {_cell(b, 'n')} | {_cell(b, 'mean_probability')} "
            f"| {_cell(b, 'accuracy')} | {_cell(a, 'n')} | {_cell(a, 'mean_probability')} | {_cell(a, 'accuracy')} |"
        )
    lines += [
        f"ECE {prob['before']['ece']:.3f} before, {prob['after_cross_fitted']['ece']:.3f} after",
        "",
        f"condition z of {cond['n_genuine']} genuine plots (right crop, field growing normally):",
        "| crop | plots | mean z before | poor before | mean z after | poor after |",
        "|---|---|---|---|---|---|",
    ]
    for crop, b in cond["before"]["by_crop"].items():
        a = cond["after_cross_fitted"]["by_crop"].get(crop, {})
        lines.append(
            f"| {crop} | {b['n']} | {b['mean_z']:+.2f} | {b['poor_share']:.0%} | {a.get('mean_z', float('nan')):+.2f} "
            f"| {a.get('poor_share', float('nan')):.0%} |"
        )
    b, a = cond["before"], cond["after_cross_fitted"]
    lines.append(
        f"| all | {cond['n_genuine']} | {b['mean_z']:+.2f} | {b['poor_share']:.0%} "
        f"| {a['mean_z']:+.2f} | {a['poor_share']:.0%} |"
    )
    if level := cond.get("level_map"):
        lines.append(
            f"crop-months with under 5 genuine plots: reference x {level['slope']:.3f} {level['intercept']:+.3f} "
            f"(fitted on {level['crop_months']} crop-months)"
        )
    return lines


def _cell(row: Mapping[str, Any] | None, key: str) -> str:
    if row is None:
        return "-"
    value = row[key]
    return str(value) if isinstance(value, int) else f"{value:.2f}"
