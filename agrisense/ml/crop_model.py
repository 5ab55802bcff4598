"""One entry point for the crop models: ``load_crop_classifier`` picks the plot crop model that scores plots
(``plot_crop.json``), the Presto model or the older TempCNN ensemble (``bundle.json`` ``arch``); all answer
``predict`` / ``predict_proba`` on a wide sample table."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd


class CropClassifier(Protocol):
    """What ``classify-samples`` and ``evaluate --samples`` need from a crop-type model."""

    @property
    def classes(self) -> tuple[str, ...]: ...

    @property
    def temperature(self) -> float: ...

    def predict_proba(self, table: pd.DataFrame, device: str = "auto") -> np.ndarray: ...

    def predict(self, table: pd.DataFrame, device: str = "auto") -> tuple[list[str], np.ndarray]: ...

    def model_labels(self, labels: pd.Series) -> pd.Series: ...


def load_crop_classifier(model_dir: Path) -> CropClassifier:
    """The crop-type model in ``model_dir`` (``ModelUnavailable`` with a retrain hint when missing or broken)."""
    from agrisense.ml.plot_crop_samples import is_plot_crop_bundle, load_plot_crop_samples
    from agrisense.ml.presto.model import bundle_arch, load_presto_model

    if is_plot_crop_bundle(Path(model_dir)):
        return load_plot_crop_samples(Path(model_dir))
    if bundle_arch(Path(model_dir)) == "presto":
        return load_presto_model(Path(model_dir))
    from agrisense.ml.croptype.model import load_model

    return load_model(Path(model_dir))
