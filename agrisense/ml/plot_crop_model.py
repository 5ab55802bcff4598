"""The plot crop model: a plot's crop from its mean monthly series, pooled with the land-cover U-Net.

The U-Net sees pixels of one synthetic county; this model sees whole plots (their coverage-weighted mean series,
``agrisense.ml.plot_crop.plot_band_series``) and is trained on the regions' own plots *and* real labelled samples
(``agrisense.ml.training.plot_crop``). It is a multinomial logistic regression over the region's crops on 12
features per month (10 bands, NDVI, NDMI): small, stored as plain JSON (no pickle), a plot in microseconds.

``refine`` keeps the U-Net's cropland share (what it does better: extent) and pools the two crop distributions
given cropland log-linearly with the weight fitted on plots the U-Net never saw.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from agrisense.errors import InvalidInput, ModelUnavailable
from agrisense.ml.plot_crop import ASSETS, crop_given_cropland, pool
from agrisense.ml.registry import NON_CROP

PLOT_CROP_FILE = "plot_crop.json"
FEATURES_PER_MONTH = (*ASSETS, "ndvi", "ndmi")


def month_features(series: np.ndarray) -> np.ndarray:
    """``(N, B, T) -> (N, T, 12)``: the 10 reflectances (``ASSETS`` order, 0-1) plus NDVI and NDMI per month;
    a missing month stays NaN."""
    if series.ndim != 3 or series.shape[1] != len(ASSETS):
        raise InvalidInput(f"plot series {series.shape} must be (plots, {len(ASSETS)} bands, months)")
    s = series.astype(np.float64)
    red, nir, swir = s[:, ASSETS.index("red")], s[:, ASSETS.index("nir")], s[:, ASSETS.index("swir16")]
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = np.clip((nir - red) / (nir + red), -1.0, 1.0)
        ndmi = np.clip((nir - swir) / (nir + swir), -1.0, 1.0)
    return np.concatenate([s, ndvi[:, None], ndmi[:, None]], axis=1).transpose(0, 2, 1)


def feature_matrix(series: np.ndarray, months: Sequence[int], wanted: Sequence[int]) -> np.ndarray:
    """``(N, len(wanted) * 12)``: the features of the ``wanted`` calendar months (NaN where ``months`` lacks one)."""
    per_month = month_features(series)
    out = np.full((series.shape[0], len(wanted), len(FEATURES_PER_MONTH)), np.nan)
    index = {int(m): k for k, m in enumerate(months)}
    for j, month in enumerate(wanted):
        if int(month) in index:
            out[:, j] = per_month[:, index[int(month)]]
    return out.reshape(series.shape[0], -1)


@dataclass(frozen=True)
class PlotCropModel:
    """A fitted plot crop model: imputation, standardisation and the logistic regression, as arrays."""

    name: str
    version: str
    crops: tuple[str, ...]
    months: tuple[int, ...]  # calendar months of the features (the training regions' composite months)
    impute: np.ndarray  # (F,) value of a missing feature (training median)
    mean: np.ndarray  # (F,)
    scale: np.ndarray  # (F,)
    coef: np.ndarray  # (C, F)
    intercept: np.ndarray  # (C,)
    pool_weight: float  # weight of this model against the U-Net's crop given cropland (0: U-Net only)
    trained_on: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``name@version``: how evidence and calibrations name it."""
        return f"{self.name}@{self.version}"

    def predict_proba(self, series: np.ndarray, months: Sequence[int]) -> np.ndarray:
        """``(N, C)`` crop probabilities (given cropland, ``crops`` order) of plot series ``(N, B, T)``."""
        x = feature_matrix(series, months, self.months)
        x = np.where(np.isfinite(x), x, self.impute)
        logits = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return np.asarray(p / p.sum(axis=1, keepdims=True))

    def refine(self, unet: np.ndarray, classes: Sequence[str], series: np.ndarray, months: Sequence[int]) -> np.ndarray:
        """The U-Net's plot class probabilities ``(N, K)`` over ``classes`` (``non_crop`` first or anywhere) with
        the crop distribution given cropland pooled with this model's; the non-crop share is the U-Net's."""
        classes = tuple(classes)
        missing = sorted(set(self.crops) - set(classes))
        if missing or NON_CROP not in classes:
            raise InvalidInput(
                f"the plot crop model {self.label} predicts {', '.join(self.crops)} but the land-cover model has "
                f"{', '.join(classes)}; train it on this region's crops (agrisense train plot-crop)"
            )
        order = [classes.index(c) for c in self.crops]
        crops, p_unet = crop_given_cropland(unet[:, [classes.index(NON_CROP), *order]], (NON_CROP, *self.crops))
        pooled = pool(p_unet, self.predict_proba(series, months), self.pool_weight)
        out = np.zeros_like(unet, dtype=np.float64)
        non_crop = unet[:, classes.index(NON_CROP)].astype(np.float64)
        out[:, classes.index(NON_CROP)] = non_crop
        out[:, order] = pooled * (1.0 - non_crop)[:, None]
        return out

    def refine_pixels(
        self, unet: np.ndarray, classes: Sequence[str], stack: np.ndarray, months: Sequence[int], *, chunk: int = 65536
    ) -> np.ndarray:
        """:meth:`refine` per pixel, for crop maps: U-Net probabilities ``(K, H, W)`` and reflectances
        ``(B, T, H, W)`` (``ASSETS`` order) -> ``(K, H, W)``; each pixel is a one-pixel plot (a month with any band
        missing is missing). Pixels with a NaN U-Net probability stay NaN. In chunks of ``chunk`` pixels."""
        k, h, w = unet.shape
        flat_p = unet.reshape(k, -1).T
        flat_s = stack.reshape(stack.shape[0], stack.shape[1], -1).transpose(2, 0, 1)
        out = np.full((h * w, k), np.nan)
        valid = np.flatnonzero(np.isfinite(flat_p).all(axis=1))
        for lo in range(0, valid.size, chunk):
            idx = valid[lo : lo + chunk]
            series = flat_s[idx].astype(np.float64)
            month_ok = np.asarray(np.isfinite(series).all(axis=1))  # (n, T): every band read
            series = np.where(month_ok[:, None, :], series, np.nan)
            out[idx] = self.refine(flat_p[idx], classes, series, months)
        return out.T.reshape(k, h, w)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("impute", "mean", "scale", "coef", "intercept"):
            data[key] = np.asarray(getattr(self, key)).tolist()
        return {"arch": "plot_logreg", **data}

    def save(self, out_dir: Path) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / PLOT_CROP_FILE
        path.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")
        return path


def model_from_json(data: dict[str, Any]) -> PlotCropModel:
    """A model from its JSON form (``InvalidInput`` naming what is wrong)."""
    try:
        model = PlotCropModel(
            name=str(data["name"]),
            version=str(data["version"]),
            crops=tuple(str(c) for c in data["crops"]),
            months=tuple(int(m) for m in data["months"]),
            impute=np.asarray(data["impute"], dtype=np.float64),
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=np.asarray(data["intercept"], dtype=np.float64),
            pool_weight=float(data["pool_weight"]),
            trained_on=dict(data.get("trained_on", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"plot crop model is incomplete ({exc!r})") from exc
    n_features = len(model.months) * len(FEATURES_PER_MONTH)
    shapes_ok = (
        model.coef.shape == (len(model.crops), n_features)
        and model.intercept.shape == (len(model.crops),)
        and all(a.shape == (n_features,) for a in (model.impute, model.mean, model.scale))
    )
    if not shapes_ok or not 0.0 <= model.pool_weight <= 1.0 or np.any(model.scale <= 0):
        raise InvalidInput(
            f"plot crop model {model.label}: arrays do not match {len(model.crops)} crops x {n_features} features "
            "or pool_weight outside [0, 1]"
        )
    return model


def load_plot_crop_model(models_dir: Path, name: str) -> PlotCropModel:
    """The plot crop model ``models_dir/name/plot_crop.json`` (cached while the file is unchanged)."""
    path = Path(models_dir) / name / PLOT_CROP_FILE
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise ModelUnavailable(
            f"No plot crop model at {path}. Train it with `agrisense train plot-crop --out {path.parent}` "
            "or remove crop_model from region.json to score with the land-cover model alone."
        ) from exc
    return _load(str(path), stamp)


@lru_cache(maxsize=8)
def _load(path: str, stamp: int) -> PlotCropModel:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"{path} is unreadable ({exc}); retrain with `agrisense train plot-crop`") from exc
    try:
        return model_from_json(data)
    except InvalidInput as exc:
        raise ModelUnavailable(f"{path}: {exc}; retrain with `agrisense train plot-crop`") from exc
