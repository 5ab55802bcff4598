"""The crop-type classifier: TempCNN ensemble + random forest, averaged log-probabilities, temperature."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.special import log_softmax, softmax

from agrisense.errors import ModelUnavailable
from agrisense.ml.croptype.fit import FitConfig, fit_ensemble, predict_logits, resolve_device
from agrisense.ml.croptype.forest import Forest, fit_forest
from agrisense.ml.croptype.network import NetConfig, TempCNN
from agrisense.ml.croptype.table import CHANNELS, Standardiser, build_features, harmonise_labels, validate_table

BUNDLE_FORMAT = 2
#: floor added to the forest's class shares before the log (a leaf share of 0 is not proof of absence)
FOREST_FLOOR = 1e-4
RETRAIN_HINT = "run `agrisense train crop-type --samples SAMPLES.parquet --out models/croptype_tcnn`"


@dataclass(frozen=True)
class CropTypeModel:
    """A fitted classifier: standardiser, CNN members, random forest, classes and temperature."""

    classes: tuple[str, ...]
    standardiser: Standardiser
    members: tuple[TempCNN, ...]
    forest: Forest
    temperature: float = 1.0
    net: NetConfig = field(default_factory=NetConfig)
    fallback_class: int = 0

    def part_log_probs(self, values: np.ndarray, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
        """``(cnn, forest)`` log-probabilities ``(N, K)`` each, for raw features ``(N, T, C)``."""
        x = self.standardiser.apply(values)
        cnn = predict_logits(list(self.members), x, device)
        share = self.forest.proba(x) + FOREST_FLOOR
        return cnn, np.log(share / share.sum(axis=1, keepdims=True))

    def log_probs(self, values: np.ndarray, device: torch.device) -> np.ndarray:
        """Uncalibrated blended log-probabilities ``(N, K)``: the mean of the two parts' log-probabilities."""
        cnn, forest = self.part_log_probs(values, device)
        return np.asarray(log_softmax(0.5 * (cnn + forest), axis=1))

    def predict_proba(self, table: pd.DataFrame, device: str = "auto") -> np.ndarray:
        """Calibrated ``(N, K)`` probabilities; rows without any clear month get the uniform distribution."""
        validate_table(table, need_label=False)
        features = build_features(table)
        probs = softmax(self.log_probs(features.values, resolve_device(device)) / self.temperature, axis=1)
        probs[features.valid_fraction == 0] = 1.0 / len(self.classes)
        return probs

    def model_labels(self, labels: pd.Series) -> pd.Series:
        """Truth labels in this model's vocabulary (synonyms mapped; rare classes were dropped in training)."""
        return harmonise_labels(labels)

    def predict(self, table: pd.DataFrame, device: str = "auto") -> tuple[list[str], np.ndarray]:
        """Label and its calibrated probability per row; no-evidence rows get the most frequent training class."""
        probs = self.predict_proba(table, device)
        best = probs.argmax(axis=1)
        best[np.ptp(probs, axis=1) == 0] = self.fallback_class
        return [self.classes[i] for i in best], probs[np.arange(len(best)), best]


def fit_model(
    values: np.ndarray, y: np.ndarray, classes: tuple[str, ...], config: FitConfig, seed: int, device: torch.device
) -> CropTypeModel:
    """Fit standardiser, ``config.members`` CNNs and the random forest on ``(values, y)``."""
    standardiser = Standardiser.fit(values)
    x = standardiser.apply(values)
    members = fit_ensemble(x, y, len(classes), config, seed, device)
    forest = fit_forest(x, y, len(classes), config.forest, seed)
    fallback = int(np.bincount(y, minlength=len(classes)).argmax())
    return CropTypeModel(classes, standardiser, tuple(m.cpu() for m in members), forest, 1.0, config.net, fallback)


def save_model(model: CropTypeModel, out_dir: Path, info: dict[str, Any]) -> None:
    """``model.pt`` (fp32 state dicts + the forest's arrays) and ``bundle.json`` (everything else + ``info``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "members": [m.state_dict() for m in model.members],
            "forest": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.forest.arrays().items()},
        },
        out_dir / "model.pt",
    )
    bundle = {
        "format": BUNDLE_FORMAT,
        "name": "croptype_tcnn",
        "classes": list(model.classes),
        "channels": list(CHANNELS),
        "channel_mean": model.standardiser.mean.tolist(),
        "channel_std": model.standardiser.std.tolist(),
        "temperature": model.temperature,
        "net": asdict(model.net),
        "n_members": len(model.members),
        "fallback_class": model.classes[model.fallback_class],
        **info,
    }
    (out_dir / "bundle.json").write_text(json.dumps(bundle, indent=2))


def load_model(model_dir: Path) -> CropTypeModel:
    """Rebuild a saved model; a missing or inconsistent bundle raises ``ModelUnavailable``."""
    bundle_path, weights_path = model_dir / "bundle.json", model_dir / "model.pt"
    if not bundle_path.is_file() or not weights_path.is_file():
        raise ModelUnavailable(f"no crop-type model in {model_dir} (bundle.json + model.pt); {RETRAIN_HINT}")
    try:
        bundle = json.loads(bundle_path.read_text())
        if bundle.get("format") != BUNDLE_FORMAT or bundle.get("channels") != list(CHANNELS):
            raise ValueError("bundle format or feature channels differ from this version of agrisense")
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        net = NetConfig(**{**bundle["net"], "widths": tuple(bundle["net"]["widths"])})
        forest = Forest(**{k: v.numpy() for k, v in state["forest"].items()})
        classes = tuple(bundle["classes"])
        members = []
        for member_state in state["members"]:
            member = TempCNN(len(CHANNELS), len(classes), net)
            member.load_state_dict(member_state)
            members.append(member.eval())
        standardiser = Standardiser(
            mean=np.asarray(bundle["channel_mean"], dtype=np.float32),
            std=np.asarray(bundle["channel_std"], dtype=np.float32),
        )
    except (KeyError, ValueError, RuntimeError, TypeError, json.JSONDecodeError) as exc:
        raise ModelUnavailable(f"the crop-type model in {model_dir} cannot be loaded ({exc}); {RETRAIN_HINT}") from exc
    fallback = classes.index(bundle["fallback_class"]) if bundle.get("fallback_class") in classes else 0
    return CropTypeModel(classes, standardiser, tuple(members), forest, float(bundle["temperature"]), net, fallback)
