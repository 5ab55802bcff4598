"""The plot crop model on wide sample tables: what ``classify-samples`` and ``evaluate --samples`` need
(:class:`agrisense.ml.crop_model.CropClassifier`), so the model that scores plots also answers for samples.

A sample row is read as a one-pixel plot: its monthly bands are the plot's mean series (``table_series``), and
the model's crop probabilities are *given cropland*: the model knows only the region's financed crops, so a
sample of another crop or of non-crop land is still called one of them (``evaluate`` leaves such rows out of its
scores; the land-cover model decides cropland when a plot is scored). Labels are the sample table's vocabulary
(``crops.csv`` ``sample_labels``, kept with the model when it was trained: groundnut -> other_oilseeds).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from agrisense.ml.croptype.table import harmonise_labels, validate_table
from agrisense.ml.plot_crop import table_series
from agrisense.ml.plot_crop_model import PLOT_CROP_FILE, PlotCropModel, load_plot_crop_model


@dataclass(frozen=True)
class PlotCropSampleClassifier:
    """A :class:`PlotCropModel` answering ``predict`` / ``predict_proba`` on a wide sample table."""

    model: PlotCropModel

    @property
    def classes(self) -> tuple[str, ...]:
        """The model's crops in the sample tables' label vocabulary."""
        labels = self.model.trained_on.get("sample_labels", {})
        return tuple(str(labels.get(crop, crop)) for crop in self.model.crops)

    @property
    def temperature(self) -> float:
        return 1.0  # a logistic regression fitted by likelihood: no temperature on top

    def predict_proba(self, table: pd.DataFrame, device: str = "auto") -> np.ndarray:
        """``(N, C)`` crop probabilities given cropland (``classes`` order); ``device`` is ignored (CPU, numpy)."""
        validate_table(table, need_label=False)
        series, months = table_series(table)
        return self.model.predict_proba(series, months)

    def predict(self, table: pd.DataFrame, device: str = "auto") -> tuple[list[str], np.ndarray]:
        """Label and probability per row (a row without any clear month is read as the training-median series)."""
        probs = self.predict_proba(table, device)
        best = probs.argmax(axis=1)
        return [self.classes[i] for i in best], probs[np.arange(len(best)), best]

    def model_labels(self, labels: pd.Series) -> pd.Series:
        """Truth labels in the sample vocabulary (synonyms mapped, e.g. groundnuts -> other_oilseeds)."""
        return harmonise_labels(labels)


def is_plot_crop_bundle(model_dir: Path) -> bool:
    """Whether ``model_dir`` holds a plot crop model (``plot_crop.json``)."""
    return (Path(model_dir) / PLOT_CROP_FILE).is_file()


def load_plot_crop_samples(model_dir: Path) -> PlotCropSampleClassifier:
    """The plot crop model in ``model_dir`` for sample tables (``ModelUnavailable`` with a retrain hint)."""
    model_dir = Path(model_dir)
    return PlotCropSampleClassifier(load_plot_crop_model(model_dir.parent, model_dir.name))
