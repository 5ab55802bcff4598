"""``PrestoCropModel``: the Presto encoder (pretrained, optionally fine-tuned) + a linear head + a temperature.

Saved as a bundle folder: ``bundle.json`` (classes, temperature, training report) and ``model.pt`` (the encoder's
and the head's state dicts, fp32), so a bundle is self-contained.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.special import softmax
from torch import nn

from agrisense.errors import ModelUnavailable
from agrisense.ml.croptype.fit import resolve_device
from agrisense.ml.croptype.table import harmonise_labels, validate_table
from agrisense.ml.presto.encoder import CHANNELS, EMBED_DIM, PrestoBatch, PrestoEncoder
from agrisense.ml.presto.inputs import PrestoInputs, presto_inputs, series_from_table

BUNDLE_FORMAT = 1
NAME = "croptype_presto"
RETRAIN_HINT = "run `agrisense train crop-type --arch presto --samples SAMPLES.parquet --out models/croptype_presto`"
_S2 = [CHANNELS.index(b) for b in ("B2", "B3", "B4", "B8")]


def autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on CUDA (the transformer's matmuls), a no-op elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass
class PrestoCropModel:
    """Classes, encoder, head (128 -> K), temperature and the class given when a pixel has no clear month."""

    classes: tuple[str, ...]
    encoder: PrestoEncoder
    head: nn.Linear
    temperature: float = 1.0
    fallback_class: int = 0
    merged: dict[str, str] = field(default_factory=dict)

    def to(self, device: torch.device) -> PrestoCropModel:
        self.encoder.to(device).eval()
        self.head.to(device).eval()
        return self

    def _batches(self, batch: PrestoBatch, device: torch.device, size: int) -> Iterator[torch.Tensor]:
        for start in range(0, len(batch), size):
            part = batch[start : start + size].to(device)
            with autocast(device):
                yield self.head(self.encoder(part)).float()

    @torch.inference_mode()
    def logits(self, batch: PrestoBatch, device: torch.device | None = None, batch_size: int = 4096) -> np.ndarray:
        """Uncalibrated logits ``(N, K)`` float64."""
        device = device or next(self.head.parameters()).device
        self.to(device)
        out = [chunk.cpu().numpy() for chunk in self._batches(batch, device, batch_size)]
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, len(self.classes)))

    def predict_proba_inputs(self, inputs: PrestoInputs, device: torch.device | None = None) -> np.ndarray:
        """Calibrated ``(N, K)`` probabilities; pixels without any clear Sentinel-2 month get 1/K (no evidence)."""
        probs = np.asarray(softmax(self.logits(inputs.to_batch(), device) / self.temperature, axis=1))
        no_s2 = inputs.mask[..., _S2].all(axis=(1, 2))
        probs[no_s2] = 1.0 / len(self.classes)
        return probs

    def predict_proba(self, table: pd.DataFrame, device: str = "auto") -> np.ndarray:
        """Calibrated probabilities for the rows of a wide sample table."""
        validate_table(table, need_label=False)
        return self.predict_proba_inputs(presto_inputs(series_from_table(table)), resolve_device(device))

    def model_labels(self, labels: pd.Series) -> pd.Series:
        """Truth labels in this model's vocabulary: synonyms mapped, rare classes merged as in training."""
        return harmonise_labels(labels).map(lambda name: self.merged.get(name, name))

    def predict(self, table: pd.DataFrame, device: str = "auto") -> tuple[list[str], np.ndarray]:
        """Label and its calibrated probability per row; no-evidence rows get the most frequent training class."""
        probs = self.predict_proba(table, device)
        best = probs.argmax(axis=1)
        best[np.ptp(probs, axis=1) == 0] = self.fallback_class
        return [self.classes[i] for i in best], probs[np.arange(len(best)), best]


def save_presto_model(model: PrestoCropModel, out_dir: Path, info: dict[str, Any]) -> None:
    """``model.pt`` (encoder + head state dicts) and ``bundle.json`` (classes, temperature, ``info``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cpu = {k: v.detach().cpu() for k, v in model.encoder.state_dict().items()}
    head = {k: v.detach().cpu() for k, v in model.head.state_dict().items()}
    torch.save({"encoder": cpu, "head": head}, out_dir / "model.pt")
    bundle = {
        "format": BUNDLE_FORMAT,
        "name": NAME,
        "arch": "presto",
        "classes": list(model.classes),
        "temperature": model.temperature,
        "fallback_class": model.classes[model.fallback_class],
        "merged_labels": model.merged,
        **info,
    }
    (out_dir / "bundle.json").write_text(json.dumps(bundle, indent=2))


def load_presto_model(model_dir: Path) -> PrestoCropModel:
    """Rebuild a saved model (CPU, eval mode); a missing or inconsistent bundle raises ``ModelUnavailable``."""
    bundle_path, weights_path = model_dir / "bundle.json", model_dir / "model.pt"
    if not bundle_path.is_file() or not weights_path.is_file():
        raise ModelUnavailable(f"no Presto crop model in {model_dir} (bundle.json + model.pt); {RETRAIN_HINT}")
    try:
        bundle = json.loads(bundle_path.read_text())
        if bundle.get("format") != BUNDLE_FORMAT or bundle.get("arch") != "presto":
            raise ValueError("bundle format or architecture differ from this version of agrisense")
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        classes = tuple(bundle["classes"])
        encoder = PrestoEncoder()
        encoder.load_state_dict(state["encoder"], strict=True)
        head = nn.Linear(EMBED_DIM, len(classes))
        head.load_state_dict(state["head"], strict=True)
    except (KeyError, ValueError, RuntimeError, TypeError, json.JSONDecodeError) as exc:
        raise ModelUnavailable(
            f"the Presto crop model in {model_dir} cannot be loaded ({exc}); {RETRAIN_HINT}"
        ) from exc
    fallback = classes.index(bundle["fallback_class"]) if bundle.get("fallback_class") in classes else 0
    merged = {str(k): str(v) for k, v in bundle.get("merged_labels", {}).items()}
    return PrestoCropModel(classes, encoder.eval(), head.eval(), float(bundle["temperature"]), fallback, merged)


def bundle_arch(model_dir: Path) -> str:
    """``presto`` or ``tcnn`` (the older bundles have no ``arch``) from a crop bundle's ``bundle.json``."""
    try:
        return str(json.loads((model_dir / "bundle.json").read_text()).get("arch", "tcnn"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelUnavailable(f"no crop-type model in {model_dir} (bundle.json unreadable: {exc})") from exc
