"""Spatially grouped cross-validation: location clusters, group-stratified folds, out-of-fold logits."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from agrisense.errors import InvalidInput

EARTH_RADIUS_M = 6_371_000.0


def spatial_groups(lon: np.ndarray, lat: np.ndarray, distance_m: float = 1500.0) -> np.ndarray:
    """Single-linkage clusters: samples closer than ``distance_m`` (chained) share a group id.

    Any two samples nearer than ``distance_m`` are in one group, so they never fall on both sides of a fold
    (this also keeps the 30 m duplicate pairs together). Distances on a local equirectangular projection.
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if lon.shape != lat.shape or not np.isfinite(lon).all() or not np.isfinite(lat).all():
        raise InvalidInput("columns 'lon' and 'lat' must be finite WGS84 degrees, one pair per sample")
    xy = np.stack(
        [np.radians(lon) * np.cos(np.radians(lat)) * EARTH_RADIUS_M, np.radians(lat) * EARTH_RADIUS_M], axis=1
    )
    pairs = cKDTree(xy).query_pairs(distance_m, output_type="ndarray")
    n = len(lon)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else None
    if graph is None:
        return np.arange(n)
    return connected_components(graph, directed=False)[1]


def grouped_folds(y: np.ndarray, groups: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold id per sample; whole groups go to folds, greedily balancing each class across folds.

    Groups are visited largest first (ties shuffled by ``seed``); each goes to the fold where the squared
    deviation of class counts from the ideal per-fold share grows least (StratifiedGroupKFold's heuristic).
    """
    if n_folds < 2:
        raise InvalidInput(f"cross-validation needs at least 2 folds, got {n_folds}")
    uniq, inverse = np.unique(groups, return_inverse=True)
    if len(uniq) < n_folds:
        raise InvalidInput(f"only {len(uniq)} spatial groups for {n_folds} folds; use fewer folds")
    n_classes = int(y.max()) + 1
    counts = np.zeros((len(uniq), n_classes))
    np.add.at(counts, (inverse, y), 1)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    order = order[np.argsort(-counts[order].sum(axis=1), kind="stable")]
    target = counts.sum(axis=0) / n_folds
    per_class = np.maximum(target, 1e-9)
    fold_counts = np.zeros((n_folds, n_classes))
    group_fold = np.zeros(len(uniq), dtype=np.int64)
    for g in order:
        trial = fold_counts + counts[g]
        cost = (((trial - target) / per_class) ** 2).sum(axis=1) - (((fold_counts - target) / per_class) ** 2).sum(
            axis=1
        )
        cost += 1e-6 * fold_counts.sum(axis=1)  # tie-break towards smaller folds
        best = int(np.argmin(cost))
        group_fold[g] = best
        fold_counts[best] += counts[g]
    return group_fold[inverse]


def out_of_fold_logits(
    folds: np.ndarray, n_classes: int, fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Logits ``(N, K)`` where row i comes from a model that never saw i's fold.

    ``fit_predict(train_index, test_index)`` fits on the first and returns logits for the second.
    """
    out = np.zeros((len(folds), n_classes))
    for fold in np.unique(folds):
        test = np.flatnonzero(folds == fold)
        train = np.flatnonzero(folds != fold)
        out[test] = fit_predict(train, test)
    return out
