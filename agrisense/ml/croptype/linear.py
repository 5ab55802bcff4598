"""A well-regularised multinomial logistic regression on the flattened features (SciPy L-BFGS, no sklearn)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax


@dataclass(frozen=True)
class LinearModel:
    """Weights ``(D, K)`` and bias ``(K,)`` of a softmax regression over flattened ``(T*C)`` features."""

    weights: np.ndarray
    bias: np.ndarray

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), -1).astype(np.float64) @ self.weights + self.bias


def fit_linear(
    x: np.ndarray, y: np.ndarray, n_classes: int, l2: float = 0.01, sample_weight: np.ndarray | None = None
) -> LinearModel:
    """Minimise weighted mean cross-entropy + ``l2 * ||W||^2`` with L-BFGS from zeros (deterministic)."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    n, d = flat.shape
    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    onehot = np.eye(n_classes)[y]

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        w = params[: d * n_classes].reshape(d, n_classes)
        log_p = log_softmax(flat @ w + params[d * n_classes :], axis=1)
        loss = -(weight * log_p[np.arange(n), y]).sum() / n + l2 * float((w**2).sum())
        grad_z = weight[:, None] * (np.exp(log_p) - onehot) / n
        grad = np.concatenate([(flat.T @ grad_z + 2 * l2 * w).ravel(), grad_z.sum(axis=0)])
        return float(loss), grad

    result = minimize(
        objective, np.zeros(d * n_classes + n_classes), jac=True, method="L-BFGS-B", options={"maxiter": 500}
    )
    return LinearModel(weights=result.x[: d * n_classes].reshape(d, n_classes), bias=result.x[d * n_classes :])
