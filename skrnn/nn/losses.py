"""Output/loss pairs: each returns the weighted loss and its gradient w.r.t. the raw outputs.

Every loss takes raw network outputs ``Z`` (N, K), targets and per-row ``weights`` (N,) that
already sum to one over the whole batch (the caller normalises), and returns
``(loss, dZ)`` with ``loss = sum_i weights_i * loss_i``. Matching output/loss pairs make the
gradient ``weights * (prediction - target)``.

Rows are sequences (many-to-one) or real time steps (many-to-many); padded steps are simply
not passed in.
"""

import numpy as np
from scipy.special import logsumexp

__all__ = ["softmax_cross_entropy", "sigmoid_binary_cross_entropy", "squared_error", "LOSSES",
           "OUTPUT_ACTIVATIONS"]


def softmax_cross_entropy(Z, y, weights):
    """Softmax cross-entropy. Z : (N, K) logits; y : (N,) integer classes in [0, K)."""
    rows = np.arange(len(y))
    Z = Z - Z.max(axis=1, keepdims=True)
    P = np.exp(Z)
    total = P.sum(axis=1)
    loss = np.dot(weights, np.log(total) - Z[rows, y])
    P /= total[:, None]
    P[rows, y] -= 1
    P *= weights[:, None]
    return loss, P


def sigmoid(Z):
    """Logistic function through tanh (vectorised; scipy.special.expit is scalar code)."""
    return 0.5 * np.tanh(0.5 * Z) + 0.5


def sigmoid_binary_cross_entropy(Z, y, weights):
    """Sigmoid binary cross-entropy summed over K independent outputs.

    Z : (N, K) logits; y : (N, K) targets in {0, 1}. ``log(1 + e^z) - y z`` is computed
    without overflow.
    """
    per_row = (np.logaddexp(0, Z) - y * Z).sum(axis=1)
    dZ = sigmoid(Z) - y
    dZ *= weights[:, None]
    return np.dot(weights, per_row), dZ


def squared_error(Z, y, weights):
    """Half the squared error averaged over K outputs: ``0.5 * mean_k (z_k - y_k)^2``.

    Z, y : (N, K).
    """
    K = Z.shape[1]
    diff = Z - y
    per_row = 0.5 * np.einsum("ij,ij->i", diff, diff) / K
    diff *= weights[:, None] / K
    return np.dot(weights, per_row), diff


def _identity(Z):
    return Z


def _softmax(Z):
    return np.exp(Z - logsumexp(Z, axis=-1, keepdims=True))


LOSSES = {
    "softmax": softmax_cross_entropy,
    "logistic": sigmoid_binary_cross_entropy,
    "squared": squared_error,
}

OUTPUT_ACTIVATIONS = {"softmax": _softmax, "logistic": sigmoid, "squared": _identity}
