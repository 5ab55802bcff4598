import numpy as np
import pytest

from agrisense.errors import InvalidInput
from agrisense.ml.calibration import fit_temperature, negative_log_likelihood, scaled_softmax


def test_temperature_undoes_overconfidence():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 1.5, size=(4000, 4))
    probs = scaled_softmax(true_logits, 1.0)
    labels = np.array([rng.choice(4, p=p / p.sum()) for p in probs.astype(np.float64)])
    overconfident = 3.0 * true_logits
    t = fit_temperature(overconfident, labels)
    assert t == pytest.approx(3.0, rel=0.15)
    assert negative_log_likelihood(overconfident, labels, t) < negative_log_likelihood(overconfident, labels) - 0.1


def test_bad_shapes():
    with pytest.raises(InvalidInput):
        fit_temperature(np.zeros((3, 2)), np.zeros(4, dtype=int))
    with pytest.raises(InvalidInput):
        fit_temperature(np.zeros((0, 2)), np.zeros(0, dtype=int))
