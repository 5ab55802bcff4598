"""Map layers and COGs from probabilities; evaluation metrics on pixels and samples."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from agrisense.errors import InvalidInput
from agrisense.ml.evaluation import evaluate_pixels, evaluate_samples, scoring_mask
from agrisense.ml.maps import NODATA_CLASS, class_layers, palette, write_class_maps

CLASSES = ("non_crop", "maize", "beans")


def _probs() -> np.ndarray:
    p = np.zeros((3, 2, 3), dtype=np.float32)
    p[:, 0, 0] = [0.7, 0.2, 0.1]
    p[:, 0, 1] = [0.1, 0.6, 0.3]
    p[:, 0, 2] = [0.2, 0.3, 0.5]
    p[:, 1, :] = [[0.5], [0.25], [0.25]]
    p[:, 1, 2] = np.nan
    return p


def test_class_layers_pick_the_top_class_and_mark_gaps():
    layers = class_layers(_probs(), CLASSES)
    assert layers.crop_class.dtype == np.uint8
    np.testing.assert_array_equal(layers.crop_class, [[0, 1, 2], [0, 0, NODATA_CLASS]])
    np.testing.assert_allclose(layers.probability[0], [0.7, 0.6, 0.5])
    np.testing.assert_allclose(layers.cropland[0], [0.3, 0.9, 0.8], atol=1e-6)
    assert np.isnan(layers.probability[1, 2]) and np.isnan(layers.cropland[1, 2])


def test_class_layers_reject_bad_shapes():
    with pytest.raises(InvalidInput, match="K = 2"):
        class_layers(_probs(), ("non_crop", "maize"))
    with pytest.raises(InvalidInput, match="non_crop"):
        class_layers(_probs(), ("a", "b", "c"))


def test_written_cogs_carry_palette_names_and_georeference(tmp_path):
    probs = np.random.default_rng(0).dirichlet([1, 1, 1], size=(40, 50)).transpose(2, 0, 1).astype(np.float32)
    transform = Affine(10, 0, 500000, 0, -10, 260000)
    paths = write_class_maps(class_layers(probs, CLASSES), tmp_path, transform=transform, crs="EPSG:32636")
    with rasterio.open(paths["crop_class"]) as src:
        assert src.crs.to_epsg() == 32636 and src.transform == transform and src.nodata == NODATA_CLASS
        assert src.colormap(1)[1] == palette(CLASSES)[0][1]
        assert src.tags(1)["class_2"] == "beans"
        np.testing.assert_array_equal(src.read(1), probs.argmax(axis=0))
    with rasterio.open(paths["cropland"]) as src:
        np.testing.assert_allclose(src.read(1), 1 - probs[0], atol=1e-6)


def test_evaluate_pixels_scores_blocks_and_calibration():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, size=(40, 40)).astype(np.uint8)
    logits = rng.normal(0, 1, size=(3, 40, 40)).astype(np.float32)
    logits[labels, np.arange(40)[:, None], np.arange(40)[None, :]] += 3.0  # mostly right, overconfident
    labels[:5] = 255  # no truth
    mask = labels < 3
    result = evaluate_pixels(logits, labels, mask, CLASSES, temperature=1.0, n_blocks=2)
    truth, pred = labels[mask], logits[:, mask].argmax(axis=0)
    assert result.report.overall_accuracy == pytest.approx(float((truth == pred).mean()))
    out = result.to_json()
    assert len(out["blocks"]) == 4 and sum(b["n_pixels"] for b in out["blocks"]) == int(mask.sum())
    assert out["calibration"]["ece_before"] == out["calibration"]["ece_after"]  # T = 1
    with pytest.raises(InvalidInput, match="no labelled pixel"):
        evaluate_pixels(logits, labels, np.zeros_like(mask), CLASSES, 1.0)


def test_scoring_mask_keeps_only_test_blocks_of_a_training_region():
    labels = np.random.default_rng(2).integers(0, 3, size=(64, 64)).astype(np.uint8)
    everything, _ = scoring_mask(labels, 3, trained_here=False)
    test_only, scope = scoring_mask(labels, 3, trained_here=True, split_seed=0)
    assert everything.all() and 0 < test_only.sum() < 0.3 * labels.size and "test blocks" in scope


def test_evaluate_samples_recovers_uncalibrated_ece():
    classes = ("maize", "sorghum")
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    result = evaluate_samples(probs, ["maize", "sorghum", "sorghum", "millet"], classes, temperature=2.0)
    assert result.report.n_pixels == 3 and result.report.overall_accuracy == pytest.approx(2 / 3)
    out = result.to_json()
    assert out["n_unknown_label"] == 1 and out["unknown_labels"] == ["millet"] and "cropland_iou" not in out
    assert out["calibration"]["nll_before"] != out["calibration"]["nll_after"]
    with pytest.raises(InvalidInput, match="no sample label"):
        evaluate_samples(probs[:1], ["millet"], classes, 1.0)
