"""Temperature scaling (Guo et al., 2017): one scalar T so that ``softmax(logits / T)`` is calibrated."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_softmax, softmax

from agrisense.errors import InvalidInput

T_MIN, T_MAX = 0.05, 20.0


def scaled_softmax(logits: np.ndarray, temperature: float, axis: int = -1) -> np.ndarray:
    """``softmax(logits / temperature)`` along ``axis`` as float32."""
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=axis).astype(np.float32)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-logits))`` as float32 (a binary head's probability)."""
    return expit(np.asarray(logits, dtype=np.float64)).astype(np.float32)


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean NLL of ``labels`` (N,) under ``softmax(logits / T)`` with logits (N, K)."""
    _check(logits, labels)
    log_p = log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)
    return float(-log_p[np.arange(labels.size), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T in [0.05, 20] minimising validation NLL (bounded search on log T; deterministic)."""
    _check(logits, labels)
    if labels.size == 0:
        raise InvalidInput("cannot fit a temperature on zero validation pixels; check the validation split")
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, labels, float(np.exp(log_t))),
        bounds=(np.log(T_MIN), np.log(T_MAX)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(result.x))


def _check(logits: np.ndarray, labels: np.ndarray) -> None:
    if logits.ndim != 2 or labels.ndim != 1 or logits.shape[0] != labels.shape[0]:
        raise InvalidInput(f"logits must be (N, K) and labels (N,), got {logits.shape} and {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise InvalidInput(f"labels must lie in 0..{logits.shape[1] - 1}")
