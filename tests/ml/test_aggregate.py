import numpy as np
import pytest

from agrisense.errors import InvalidInput
from agrisense.ml.inference import aggregate_plot

from .helpers import CLASSES


def test_weighted_mean_composition_and_conditional_crop():
    probs = np.zeros((5, 1, 3), dtype=np.float32)
    probs[:, 0, 0] = [0.1, 0.6, 0.2, 0.1, 0.0]  # full coverage
    probs[:, 0, 1] = [0.5, 0.1, 0.3, 0.1, 0.0]  # half coverage
    probs[:, 0, 2] = [1.0, 0.0, 0.0, 0.0, 0.0]  # outside the plot
    weights = np.array([[1.0, 0.5, 0.0]])
    out = aggregate_plot(probs, weights, CLASSES, model_version="v1")
    mean = (np.array([0.1, 0.6, 0.2, 0.1, 0.0]) + 0.5 * np.array([0.5, 0.1, 0.3, 0.1, 0.0])) / 1.5
    assert out.class_probabilities == pytest.approx(dict(zip(CLASSES, mean, strict=True)))
    assert out.cropland_fraction == pytest.approx(1 - mean[0])
    assert out.crop == "maize"
    assert out.crop_probability == pytest.approx(mean[1] / mean[1:].sum())
    assert out.n_pixels == pytest.approx(1.5)
    assert out.model_version == "v1"


def test_nan_pixels_are_skipped_and_empty_plots_rejected():
    probs = np.full((5, 1, 2), np.nan, dtype=np.float32)
    probs[:, 0, 1] = [0.2, 0.0, 0.0, 0.0, 0.8]
    out = aggregate_plot(probs, np.ones((1, 2)), CLASSES)
    assert out.crop == "beans" and out.crop_probability == pytest.approx(1.0)
    assert out.cropland_fraction == pytest.approx(0.8)
    with pytest.raises(InvalidInput, match="no pixel"):
        aggregate_plot(probs, np.array([[1.0, 0.0]]), CLASSES)
    with pytest.raises(InvalidInput, match="must be"):
        aggregate_plot(probs, np.ones((2, 2)), CLASSES)
    with pytest.raises(InvalidInput, match="non_crop"):
        aggregate_plot(probs, np.ones((1, 2)), ("a", "b", "c", "d", "e"))
