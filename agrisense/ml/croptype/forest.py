"""A random forest over monthly features and their temporal statistics, kept as plain arrays (no pickle).

scikit-learn grows the trees; the fitted trees are copied into flat NumPy arrays so that a bundle stores them in
``model.pt`` next to the network weights and loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestClassifier


@dataclass(frozen=True)
class ForestConfig:
    """Number of trees, minimum samples per leaf, share of features tried at a split (``sqrt`` of all)."""

    n_trees: int = 300
    min_samples_leaf: int = 1
    n_jobs: int = 2


def tree_features(x: np.ndarray) -> np.ndarray:
    """``(N, T, C)`` standardised features -> ``(N, T*C + 5*(C-1))``: every month, plus per channel (valid flag
    excluded) its minimum, maximum, mean, standard deviation and month of maximum."""
    body = x[..., :-1]
    stats = [body.min(1), body.max(1), body.mean(1), body.std(1), body.argmax(1).astype(np.float32)]
    return np.concatenate([x.reshape(len(x), -1), *stats], axis=1).astype(np.float32)


@dataclass(frozen=True)
class Forest:
    """All trees' nodes in flat arrays: child indices (-1 at a leaf), split feature and threshold (float64, as
    scikit-learn compares), leaf class shares ``(nodes, K)`` as float16 (3 significant digits; keeps bundles
    small), and the root node of each tree."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray
    roots: np.ndarray

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Mean leaf class shares over the trees, ``(N, K)``, for ``(N, T, C)`` standardised features."""
        flat = tree_features(x).astype(np.float64)
        node = np.broadcast_to(self.roots, (len(flat), len(self.roots))).copy()
        rows = np.arange(len(flat))[:, None]
        while True:
            inner = self.left[node] >= 0
            if not inner.any():
                break
            go_left = flat[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        return self.value[node].astype(np.float64).mean(axis=1)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "left": self.left,
            "right": self.right,
            "feature": self.feature,
            "threshold": self.threshold,
            "value": self.value,
            "roots": self.roots,
        }


def fit_forest(x: np.ndarray, y: np.ndarray, n_classes: int, config: ForestConfig, seed: int) -> Forest:
    """Grow the forest on ``(N, T, C)`` standardised features; deterministic for a seed (any ``n_jobs``)."""
    model = RandomForestClassifier(
        n_estimators=config.n_trees,
        max_features="sqrt",
        min_samples_leaf=config.min_samples_leaf,
        random_state=seed % 2**32,
        n_jobs=config.n_jobs,
    )
    model.fit(tree_features(x), y)
    columns = model.classes_.astype(np.int64)
    lefts, rights, features, thresholds, values, roots = [], [], [], [], [], []
    offset = 0
    for estimator in model.estimators_:
        tree = estimator.tree_
        left = tree.children_left.astype(np.int64)
        right = tree.children_right.astype(np.int64)
        lefts.append(np.where(left >= 0, left + offset, -1).astype(np.int32))
        rights.append(np.where(right >= 0, right + offset, -1).astype(np.int32))
        features.append(np.maximum(tree.feature, 0).astype(np.int32))
        thresholds.append(tree.threshold.astype(np.float64))
        share = np.zeros((tree.node_count, n_classes), dtype=np.float64)
        counts = tree.value[:, 0, :]
        share[:, columns] = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12)
        values.append(share.astype(np.float16))
        roots.append(offset)
        offset += tree.node_count
    return Forest(
        left=np.concatenate(lefts),
        right=np.concatenate(rights),
        feature=np.concatenate(features),
        threshold=np.concatenate(thresholds),
        value=np.concatenate(values),
        roots=np.asarray(roots, dtype=np.int64),
    )
