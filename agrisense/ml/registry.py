"""Model bundles on disk (``models/<name>/model.pt`` + ``bundle.json``) and loading them for inference."""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from agrisense.errors import ModelUnavailable
from agrisense.ml.unet import build_model

BUNDLE_FORMAT = 1
NON_CROP = "non_crop"
RETRAIN_HINT = "run `agrisense train cropland --region DIR --out models/landcover_unet`"


@dataclass(frozen=True)
class ModelBundle:
    """Everything needed to rebuild a trained model and feed it: architecture, features, normalisation."""

    name: str
    version: str
    classes: tuple[str, ...]
    bands: tuple[str, ...]
    indices: tuple[str, ...]
    months: tuple[int, ...]
    channel_mean: tuple[float, ...]
    channel_std: tuple[float, ...]
    temperature: float = 1.0
    architecture: str = "unet"
    encoder: str = "resnet18"
    encoder_depth: int = 4
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16)
    stem_channels: int | None = 32
    boundary_head: bool = False  # a field-boundary head (``agrisense train boundary``); see docs/models.md
    boundary_threshold: float = 0.5  # boundary probability above which a pixel separates fields
    trained_on: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    format: int = BUNDLE_FORMAT

    @property
    def in_channels(self) -> int:
        return len(self.months) * (len(self.bands) + len(self.indices))

    @property
    def crop_classes(self) -> tuple[str, ...]:
        return tuple(c for c in self.classes if c != NON_CROP)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelBundle:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in (
            "classes",
            "bands",
            "indices",
            "months",
            "channel_mean",
            "channel_std",
            "decoder_channels",
        ):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def validate(self) -> None:
        """Raise ModelUnavailable when the bundle is internally inconsistent."""
        problems = []
        if self.format != BUNDLE_FORMAT:
            problems.append(f"bundle format {self.format} (this code reads {BUNDLE_FORMAT})")
        if self.architecture != "unet":
            problems.append(f"architecture {self.architecture!r} (this code builds 'unet')")
        if len(self.channel_mean) != self.in_channels or len(self.channel_std) != self.in_channels:
            problems.append(f"{len(self.channel_mean)} normalisation channels for {self.in_channels} feature channels")
        if NON_CROP not in self.classes or len(self.classes) < 2:
            problems.append(f"classes {self.classes} must include {NON_CROP!r} and at least one crop")
        if not self.temperature > 0:
            problems.append(f"temperature {self.temperature} must be > 0")
        if problems:
            raise ModelUnavailable(f"model bundle {self.name!r} is incompatible: {'; '.join(problems)}; {RETRAIN_HINT}")


@dataclass(frozen=True)
class LoadedModel:
    """A bundle with its network in eval mode on ``device``."""

    bundle: ModelBundle
    module: nn.Module
    device: torch.device


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; otherwise the named device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelUnavailable(f"device {device!r} was asked for but CUDA is not available; use --device cpu")
    return torch.device(device)


def build_module(bundle: ModelBundle) -> nn.Module:
    """The bundle's network with random weights."""
    return build_model(
        bundle.in_channels,
        len(bundle.classes),
        encoder=bundle.encoder,
        encoder_depth=bundle.encoder_depth,
        decoder_channels=bundle.decoder_channels,
        stem_channels=bundle.stem_channels,
        boundary_head=bundle.boundary_head,
    )


def weights_digest(state: Mapping[str, torch.Tensor]) -> str:
    """8 hex digits of SHA-256 over the land-cover network's weights as stored (fp16 floats), in key order; the
    field-boundary head (trained afterwards, on a frozen network) is left out, so the digest names what the crop
    probabilities come from. Part of a trained bundle's version, so two models trained the same day with the same
    seed (say, on other regions, or cut to other epochs by the time budget) never share a version."""
    digest = hashlib.sha256()
    for key in sorted(k for k in state if not k.startswith("boundary_head.")):
        value = state[key].detach().to("cpu")
        value = value.half() if value.is_floating_point() else value
        digest.update(key.encode("utf-8"))
        digest.update(value.contiguous().numpy().tobytes())
    return digest.hexdigest()[:8]


def save_bundle(module: nn.Module, bundle: ModelBundle, out_dir: Path, *, half: bool = True) -> Path:
    """Write ``model.pt`` (state dict, fp16 floats when ``half``) and ``bundle.json`` into ``out_dir``."""
    bundle.validate()
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.detach().to("cpu").half() if half and v.is_floating_point() else v.detach().to("cpu"))
        for k, v in module.state_dict().items()
    }
    torch.save(state, out_dir / "model.pt")
    (out_dir / "bundle.json").write_text(json.dumps(bundle.to_json(), indent=2) + "\n")
    return out_dir


def read_bundle(model_dir: Path) -> ModelBundle:
    """The bundle.json of ``model_dir``; ModelUnavailable if missing or unreadable."""
    path = model_dir / "bundle.json"
    if not path.is_file():
        raise ModelUnavailable(f"no trained model at {model_dir} (bundle.json missing); {RETRAIN_HINT}")
    try:
        bundle = ModelBundle.from_json(json.loads(path.read_text()))
    except (ValueError, TypeError) as exc:
        raise ModelUnavailable(f"{path} is not a valid model bundle ({exc}); {RETRAIN_HINT}") from exc
    bundle.validate()
    return bundle


def load_model(models_dir: Path, name: str = "landcover_unet", device: str = "auto") -> LoadedModel:
    """Load ``models_dir/name`` onto ``device`` in eval mode; ModelUnavailable if missing or incompatible."""
    model_dir = Path(models_dir) / name
    bundle = read_bundle(model_dir)
    weights = model_dir / "model.pt"
    if not weights.is_file():
        raise ModelUnavailable(f"no weights at {weights}; {RETRAIN_HINT}")
    target = resolve_device(device)
    module = build_module(bundle)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        reference = module.state_dict()
        module.load_state_dict({k: v.to(reference[k].dtype) if k in reference else v for k, v in state.items()})
    except (RuntimeError, ValueError, KeyError, OSError, EOFError, pickle.UnpicklingError) as exc:
        raise ModelUnavailable(f"weights {weights} do not match bundle.json ({exc}); {RETRAIN_HINT}") from exc
    module.to(target).eval()
    return LoadedModel(bundle=bundle, module=module, device=target)


@lru_cache(maxsize=4)
def load_model_cached(models_dir: str, name: str = "landcover_unet", device: str = "auto") -> LoadedModel:
    """:func:`load_model`, once per process and arguments: serving processes and batch workers reuse it."""
    return load_model(Path(models_dir), name, device=device)
