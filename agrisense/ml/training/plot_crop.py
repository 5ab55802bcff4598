"""Train the plot crop model (``agrisense.ml.plot_crop_model``) on the regions' own plots and real samples.

Collection runs the scorer itself (``score_tile`` with the land-cover model alone) over every plot of a region
with a true crop, so the model sees exactly the series and U-Net probabilities it will see when scoring. Real
labelled samples (``dev_samples.parquet``) whose label is one of the region's crops (``crops.csv``
``sample_labels``) join the training rows; they never judge the model here.

Choices made by measurement, never by hand: the regularisation ``C`` by leave-one-region-out log-likelihood, and
the pooling weight against the U-Net on out-of-region predictions of plots of regions the U-Net did not train on.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from shapely import from_wkb

from agrisense import services
from agrisense.config import Settings
from agrisense.errors import InvalidInput
from agrisense.imagery.cache import build_composites_keyed
from agrisense.imagery.zonal import plot_coverage
from agrisense.ml.plot_crop import ASSETS, best_weight, crop_given_cropland, plot_band_series, pool, table_series
from agrisense.ml.plot_crop_model import PlotCropModel, feature_matrix
from agrisense.ml.region_eval import trained_on_region
from agrisense.ml.registry import NON_CROP
from agrisense.region import load_region
from agrisense.scoring.tasks import plan_tiles
from agrisense.scoring.tile import score_tile

C_GRID = (0.1, 0.5, 2.0, 5.0)
WEIGHT_GRID = tuple(float(w) for w in np.round(np.linspace(0, 1, 21), 2))


@dataclass(frozen=True)
class LabelledSeries:
    """Plots or samples with their mean monthly series and true crop (and, for region plots, U-Net evidence)."""

    source: str  # region name (with its seed) or the sample table's name
    ids: tuple[str, ...]
    series: np.ndarray  # (N, B, T) reflectance 0-1, bands in ASSETS order
    months: tuple[int, ...]  # (T,) calendar months
    crops: tuple[str, ...]  # (N,) true crop
    unet: np.ndarray | None = None  # (N, 1 + C) U-Net plot probabilities over (non_crop, *model crops)
    unet_trained_here: bool = True  # whether the U-Net trained on this region (its probabilities are optimistic)
    lonlat: np.ndarray | None = None  # (N, 2) WGS84 degrees of samples (spatially grouped cross-validation)


def collect_region_plots(settings: Settings, crops: Sequence[str]) -> LabelledSeries:
    """Every plot of the region with a true crop among ``crops`` and a clear enough view: its series and the
    U-Net's plot probabilities (the scorer's evidence with the land-cover model alone)."""
    region = load_region(settings.region_dir)
    truth_path = region.truth / "plots_truth.parquet"
    if not truth_path.is_file():
        raise InvalidInput(f"{truth_path} is missing: plot crop training needs a region with truth (sample build)")
    truth = pd.read_parquet(truth_path).set_index("plot_id")["true_crop"]
    inputs = dataclasses.replace(services.scoring_inputs(settings, region), crop_model=None)
    plots, _ = services.read_region_plots(region.plots, settings)
    ids, series, unet, labels = [], [], [], []
    months: tuple[int, ...] = ()
    for job in plan_tiles(plots, resolution=region.resolution):
        result = score_tile(job, inputs)
        evidence = {e.plot_id: e for e in result.evidence}
        if not any(e.imagery_ok for e in evidence.values()):
            continue
        built, _ = build_composites_keyed(
            inputs.catalog, job.geobox(), inputs.start, inputs.end, cache_dir=inputs.cache_dir
        )
        comp = built.composites
        months = tuple(int(str(p)[5:7]) for p in comp["period"].values)
        stack = np.stack([comp[a].values for a in ASSETS])
        for pid, wkb in zip(job.plot_ids, job.plot_wkb, strict=True):
            ev, crop = evidence[pid], truth.get(pid)
            if not ev.imagery_ok or crop not in crops:
                continue
            (ys, xs), weights = plot_coverage(from_wkb(wkb), job.geobox())
            ids.append(pid)
            labels.append(str(crop))
            series.append(plot_band_series(stack[:, :, ys, xs], weights))
            unet.append([ev.class_probabilities.get(c, 0.0) for c in (NON_CROP, *crops)])
    if not ids:
        raise InvalidInput(f"no plot of {region.root} has a clear view and a true crop among {', '.join(crops)}")
    meta = json.loads((region.root / "region.json").read_text(encoding="utf-8"))
    bundle = json.loads((Path(settings.models_dir) / region.model / "bundle.json").read_text(encoding="utf-8"))
    return LabelledSeries(
        source=f"{region.name}/seed {meta.get('seed')}",
        ids=tuple(ids),
        series=np.stack(series),
        months=months,
        crops=tuple(labels),
        unet=np.asarray(unet, dtype=np.float64),
        unet_trained_here=trained_on_region(bundle.get("trained_on", {}), meta),
    )


def sample_rows(table: pd.DataFrame, crop_labels: Mapping[str, str], *, regions: Sequence[str] = ()) -> LabelledSeries:
    """The rows of a wide real sample table whose label is one of the region crops (``crop_labels``: region crop ->
    sample label), optionally of the sample ``regions`` only, as series over the table's 12 months."""
    by_label = {label: crop for crop, label in crop_labels.items()}
    keep = table["label"].isin(list(by_label))
    if regions:
        keep &= table["region"].isin(list(regions))
    rows = table[keep]
    if rows.empty:
        raise InvalidInput(f"the sample table has no row labelled {', '.join(sorted(by_label))}")
    series, months = table_series(rows)
    return LabelledSeries(
        source="samples",
        ids=tuple(str(i) for i in rows["sample_id"]),
        series=series,
        months=months,
        crops=tuple(by_label[str(label)] for label in rows["label"]),
        lonlat=rows[["lon", "lat"]].to_numpy(dtype=np.float64) if {"lon", "lat"} <= set(rows.columns) else None,
    )


def feature_rows(
    parts: Sequence[LabelledSeries], months: Sequence[int], crops: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix over calendar ``months`` and crop indices (``crops`` order) of all ``parts``' rows."""
    x = np.concatenate([feature_matrix(p.series, p.months, months) for p in parts])
    y = np.concatenate([[crops.index(c) for c in p.crops] for p in parts]).astype(int)
    return x, y


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float, seed: int) -> Any:
    """The model's sklearn pipeline (median imputation, standardisation, logistic regression at ``c``), fitted."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=c, max_iter=5000, random_state=seed),
    )
    return model.fit(x, y)


def class_probabilities(model: Any, x: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities over all ``n_classes`` (a class missing from a fold's training rows gets 0)."""
    out = np.zeros((len(x), n_classes))
    out[:, model.classes_] = model.predict_proba(x)
    return out


def fit_plot_crop(
    regions: Sequence[LabelledSeries],
    samples: LabelledSeries | None,
    crops: Sequence[str],
    *,
    name: str,
    seed: int = 0,
    sample_labels: Mapping[str, str] | None = None,
) -> tuple[PlotCropModel, dict[str, Any]]:
    """The plot crop model over ``crops`` and its report (per held-out region: U-Net, model and pooled accuracy).
    ``sample_labels`` (crop -> sample-table label) is kept with the model, so it reads sample tables too."""
    crops = tuple(crops)
    if not regions:
        raise InvalidInput("plot crop training needs at least one region with truth (--region)")
    months = tuple(sorted({m for r in regions for m in r.months}))
    extra = [samples] if samples is not None else []
    held_out: dict[float, list[np.ndarray]] = {c: [] for c in C_GRID}
    for k, region in enumerate(regions if len(regions) > 1 else ()):
        x_tr, y_tr = feature_rows([r for j, r in enumerate(regions) if j != k] + extra, months, crops)
        x_te, _ = feature_rows([region], months, crops)
        for c in C_GRID:
            held_out[c].append(class_probabilities(fit_logistic(x_tr, y_tr, c, seed), x_te, len(crops)))
    truth = [np.array([crops.index(c) for c in r.crops]) for r in regions]
    report: dict[str, Any] = {"crops": crops, "months": months, "regions": {}}
    if len(regions) > 1:
        loglik = {c: _mean_loglik(held_out[c], truth) for c in C_GRID}
        chosen_c = max(C_GRID, key=lambda c: loglik[c])
        report["leave_one_region_out_loglik"] = {str(c): round(v, 4) for c, v in loglik.items()}
        weight, fitted_on = _pool_weight(regions, held_out[chosen_c], truth, crops)
    else:
        chosen_c, weight, fitted_on = 1.0, 0.5, "default (one region: no out-of-region predictions)"
    report.update({"C": chosen_c, "pool_weight": weight, "pool_weight_fitted_on": fitted_on})
    for k, region in enumerate(regions if len(regions) > 1 else ()):
        p_unet = _unet_crops(region, crops)
        p_model, y = held_out[chosen_c][k], truth[k]
        report["regions"][region.source] = {
            "plots": int(len(y)),
            "unet_trained_here": region.unet_trained_here,
            "unet_accuracy": round(float(np.mean(p_unet.argmax(1) == y)), 4),
            "model_accuracy": round(float(np.mean(p_model.argmax(1) == y)), 4),
            "pooled_accuracy": round(float(np.mean(pool(p_unet, p_model, weight).argmax(1) == y)), 4),
        }
    x, y = feature_rows(list(regions) + extra, months, crops)
    fitted = fit_logistic(x, y, chosen_c, seed)
    imputer, scaler, logreg = fitted.steps[0][1], fitted.steps[1][1], fitted.steps[2][1]
    coef, intercept = np.zeros((len(crops), x.shape[1])), np.full(len(crops), -30.0)
    coef[logreg.classes_], intercept[logreg.classes_] = _softmax_rows(logreg)
    trained_on = {
        "regions": [r.source for r in regions],
        "region_plots": int(sum(len(r.ids) for r in regions)),
        "samples": 0 if samples is None else len(samples.ids),
        "sample_labels": dict(sample_labels or {}),
        "seed": seed,
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    model = PlotCropModel(
        name=name,
        version=datetime.now(UTC).strftime("%Y%m%d%H%M%S"),
        crops=crops,
        months=months,
        impute=np.asarray(imputer.statistics_, dtype=np.float64),
        mean=np.asarray(scaler.mean_, dtype=np.float64),
        scale=np.asarray(scaler.scale_, dtype=np.float64),
        coef=coef,
        intercept=intercept,
        pool_weight=weight,
        trained_on=trained_on,
    )
    return model, {**report, "trained_on": trained_on}


def _softmax_rows(logreg: Any) -> tuple[np.ndarray, np.ndarray]:
    """One coefficient row and intercept per fitted class, as a softmax reads them. With two classes sklearn keeps
    a single row (P(second) = sigmoid(row)), which is the softmax of logits (0, row)."""
    if logreg.coef_.shape[0] == 1:
        return np.vstack([np.zeros_like(logreg.coef_[0]), logreg.coef_[0]]), np.array([0.0, logreg.intercept_[0]])
    return logreg.coef_, logreg.intercept_


def _mean_loglik(probs: Sequence[np.ndarray], truth: Sequence[np.ndarray]) -> float:
    """Mean log-probability of the true classes over the regions' held-out predictions."""
    rows = [np.log(np.maximum(p[np.arange(len(y)), y], 1e-12)) for p, y in zip(probs, truth, strict=True)]
    return float(np.mean(np.concatenate(rows)))


def _pool_weight(
    regions: Sequence[LabelledSeries], held_out: Sequence[np.ndarray], truth: Sequence[np.ndarray], crops: Sequence[str]
) -> tuple[float, str]:
    """The pooling weight fitted on the out-of-region predictions of regions the U-Net did not train on (all
    regions when it trained on every one: then its probabilities are optimistic and the weight a lower bound)."""
    honest = [k for k, r in enumerate(regions) if not r.unet_trained_here] or list(range(len(regions)))
    p_unet = np.concatenate([_unet_crops(regions[k], crops) for k in honest])
    p_model = np.concatenate([held_out[k] for k in honest])
    y = np.concatenate([truth[k] for k in honest])
    names = ", ".join(regions[k].source for k in honest)
    return best_weight(p_unet, p_model, y, WEIGHT_GRID), f"out-of-region predictions on {names}"


def _unet_crops(region: LabelledSeries, crops: Sequence[str]) -> np.ndarray:
    """The U-Net's crop probabilities given cropland ``(N, C)`` of a region's plots."""
    if region.unet is None:
        raise InvalidInput(f"{region.source} has no U-Net evidence (collect it with collect_region_plots)")
    return crop_given_cropland(region.unet, (NON_CROP, *crops))[1]
