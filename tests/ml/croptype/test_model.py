from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import softmax

from agrisense.ml.calibration import fit_temperature, negative_log_likelihood
from agrisense.ml.croptype.cv import grouped_folds, spatial_groups
from agrisense.ml.croptype.fit import FitConfig, fit_member
from agrisense.ml.croptype.forest import ForestConfig, fit_forest, tree_features
from agrisense.ml.croptype.network import AugmentConfig, NetConfig, TempCNN, augment
from agrisense.ml.croptype.table import CHANNELS
from agrisense.ml.metrics import expected_calibration_error

FAST = FitConfig(epochs=10, max_steps=10, members=1)


def test_forward_shape() -> None:
    model = TempCNN(len(CHANNELS), 5).eval()
    assert model(torch.zeros(7, 12, len(CHANNELS))).shape == (7, 5)


def test_flatten_head_sees_month_position() -> None:
    x = torch.zeros(1, 12, len(CHANNELS))
    x[0, 2, 0] = 3.0
    shifted = torch.roll(x, 5, dims=1)
    torch.manual_seed(0)
    flat = TempCNN(len(CHANNELS), 3, NetConfig(dropout=0.0)).eval()
    assert not torch.allclose(flat(x), flat(shifted))
    assert TempCNN(len(CHANNELS), 3, NetConfig(head="pool")).eval()(x).shape == (1, 3)
    with pytest.raises(ValueError, match="head"):
        TempCNN(3, 2, NetConfig(head="attention"))


def test_forest_arrays_predict_exactly_like_scikit_learn() -> None:
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 12, 4)).astype(np.float32)
    y = rng.choice([0, 2], 60)  # class 1 absent from training: share 0
    forest = fit_forest(x, y, 3, ForestConfig(n_trees=15, n_jobs=1), seed=7)
    reference = RandomForestClassifier(15, max_features="sqrt", random_state=7).fit(tree_features(x), y)
    test = rng.normal(size=(25, 12, 4)).astype(np.float32)
    probs = forest.proba(test)
    np.testing.assert_allclose(probs[:, [0, 2]], reference.predict_proba(tree_features(test)), atol=1e-3)
    assert (probs[:, 1] == 0).all()


def test_augment_keeps_shape_and_blanks_whole_months() -> None:
    x = torch.ones(4, 12, 3)
    out = augment(x, AugmentConfig(max_shift=1, noise=0.0, mask_prob=0.5), torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    month_max = out.amax(dim=2)
    assert set(month_max.unique().tolist()) <= {0.0, 1.0}
    assert (out == 0).all(dim=2).eq(month_max == 0).all()


def test_fit_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 12, len(CHANNELS))).astype(np.float32)
    y = rng.integers(0, 3, 40)
    a = fit_member(x, y, 3, FAST, seed=5, device=torch.device("cpu"))
    b = fit_member(x, y, 3, FAST, seed=5, device=torch.device("cpu"))
    c = fit_member(x, y, 3, FAST, seed=6, device=torch.device("cpu"))
    for (_, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.head[-1].weight, c.head[-1].weight)


def test_temperature_reduces_nll_and_ece_of_overconfident_logits() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 500)
    logits = rng.normal(size=(500, 3))
    logits[np.arange(500), y] += 1.0
    logits *= 5  # overconfident
    t = fit_temperature(logits, y)
    assert t > 1
    assert negative_log_likelihood(logits, y, t) < negative_log_likelihood(logits, y)
    assert expected_calibration_error(softmax(logits / t, axis=1), y) < expected_calibration_error(
        softmax(logits, axis=1), y
    )


def test_groups_never_straddle_folds() -> None:
    rng = np.random.default_rng(2)
    centres = rng.uniform([33.0, 2.0], [34.0, 4.0], size=(30, 2))
    pts = np.repeat(centres, 5, axis=0) + rng.normal(0, 0.002, size=(150, 2))  # ~200 m scatter per site
    groups = spatial_groups(pts[:, 0], pts[:, 1], distance_m=1500)
    site = np.repeat(np.arange(30), 5)
    for s in range(30):
        assert len(set(groups[site == s])) == 1  # a site's fields are one group
    y = rng.integers(0, 3, 150)
    folds = grouped_folds(y, groups, 5, seed=0)
    for g in np.unique(groups):
        assert len(set(folds[groups == g])) == 1
    assert len(set(folds)) == 5
    # a pair 30 m apart is one group even at a tiny distance threshold
    assert len(set(spatial_groups(np.array([33.0, 33.00027]), np.array([3.0, 3.0]), distance_m=50))) == 1
