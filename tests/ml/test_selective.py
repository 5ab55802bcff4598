"""The refer threshold read off the accuracy-coverage curve."""

from __future__ import annotations

import numpy as np
import pytest

from agrisense.errors import InvalidInput
from agrisense.ml.selective import lowest_threshold_for_accuracy


def test_lowest_threshold_keeps_ties_together() -> None:
    confidence = np.array([0.9, 0.8, 0.8, 0.8, 0.6, 0.5])
    correct = np.array([True, True, True, False, True, False])
    # p >= 0.8: 3 of 4 right (0.75); p >= 0.6: 4 of 5 (0.8); p >= 0.9: 1 of 1
    assert lowest_threshold_for_accuracy(confidence, correct, 0.8) == pytest.approx((0.6, 5 / 6, 0.8))
    assert lowest_threshold_for_accuracy(confidence, correct, 0.75) == pytest.approx((0.6, 5 / 6, 0.8))
    assert lowest_threshold_for_accuracy(confidence, correct, 0.9) == pytest.approx((0.9, 1 / 6, 1.0))
    assert lowest_threshold_for_accuracy(confidence, ~correct & False, 0.5) is None


def test_lowest_threshold_matches_a_brute_force_scan() -> None:
    rng = np.random.default_rng(3)
    confidence = np.round(rng.uniform(0.3, 1.0, 400), 2)
    correct = rng.uniform(size=400) < confidence
    threshold, coverage, accuracy = lowest_threshold_for_accuracy(confidence, correct, 0.9) or (np.nan,) * 3
    scan = [t for t in np.unique(confidence) if correct[confidence >= t].mean() >= 0.9]
    assert threshold == pytest.approx(min(scan))
    assert coverage == pytest.approx((confidence >= threshold).mean())
    assert accuracy == pytest.approx(correct[confidence >= threshold].mean())


def test_lowest_threshold_rejects_mismatched_input() -> None:
    with pytest.raises(InvalidInput, match="one correct flag per prediction"):
        lowest_threshold_for_accuracy(np.array([0.5, 0.6]), np.array([True]), 0.9)
