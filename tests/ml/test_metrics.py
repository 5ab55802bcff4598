import numpy as np
import pytest

from agrisense.errors import InvalidInput
from agrisense.ml.metrics import (
    classification_report,
    confusion_matrix,
    expected_calibration_error,
    plot_confusion_matrix,
)


def test_f1_iou_by_hand():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    report = classification_report(y_true, y_pred, ["non_crop", "maize", "beans"])
    # class 0: tp 2, fp 0, fn 1 -> F1 4/5, IoU 2/3; class 1: tp 1, fp 1, fn 1 -> F1 1/2, IoU 1/3
    # class 2: tp 1, fp 1, fn 0 -> F1 2/3, IoU 1/2
    assert report.f1 == pytest.approx({"non_crop": 0.8, "maize": 0.5, "beans": 2 / 3})
    assert report.iou == pytest.approx({"non_crop": 2 / 3, "maize": 1 / 3, "beans": 0.5})
    assert report.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert report.overall_accuracy == pytest.approx(4 / 6)
    # cropland (1 or 2) vs non-crop: truth crop {3,4,5}, predicted crop {2,3,4,5} -> IoU 3/4
    assert report.cropland_iou == pytest.approx(0.75)
    assert report.confusion.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_ece_by_hand():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 1, 0, 1])
    # 15 bins: 0.9 -> bin 13 (acc 0.5, conf 0.9), 0.6 -> bin 9 (acc 1, conf .6),
    # 0.7 -> bin 10 (acc 1, conf .7)
    expected = (2 * 0.4 + 0.4 + 0.3) / 4
    assert expected_calibration_error(probs, labels) == pytest.approx(expected)


def test_bad_labels_and_png(tmp_path):
    with pytest.raises(InvalidInput, match="labels must lie"):
        confusion_matrix(np.array([0, 5]), np.array([0, 1]), 3)
    path = plot_confusion_matrix(np.array([[5, 1], [2, 7]]), ["non_crop", "maize"], tmp_path / "cm.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
