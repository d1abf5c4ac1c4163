"""Output/loss pairs: each returns the weighted loss and its gradient w.r.t. the raw outputs.

Every loss takes raw network outputs ``Z`` (N, K), targets and per-row ``weights`` (N,) that
already sum to one over the whole batch (the caller normalises), and returns
``(loss, dZ)`` with ``loss = sum_i weights_i * loss_i``. With ``overwrite=True`` the gradient
is written over ``Z`` (a language model's outputs over a vocabulary of 10,000 words are the
largest arrays of a fit: no copies of them). Matching output/loss pairs make the
gradient ``weights * (prediction - target)``.

Rows are sequences (many-to-one) or real time steps (many-to-many); padded steps are simply
not passed in.
"""

import numpy as np

__all__ = ["softmax_cross_entropy", "sigmoid_binary_cross_entropy", "squared_error", "LOSSES"]


def softmax_cross_entropy(Z, y, weights, overwrite=False):
    """Softmax cross-entropy of logits against integer classes.

    Parameters
    ----------
    Z : ndarray of shape (N, K)
        Logits.
    y : ndarray of shape (N,)
        Integer classes in [0, K).
    weights : ndarray of shape (N,)
        Row weights, summing to one over the batch.
    overwrite : bool, default=False
        Write the gradient over ``Z`` instead of a new array.

    Returns
    -------
    loss : float
        ``sum_i weights_i * (logsumexp(Z_i) - Z_i[y_i])``.
    dZ : ndarray of shape (N, K)
        Its gradient, ``weights * (softmax(Z) - onehot(y))``.

    Examples
    --------
    >>> import numpy as np
    >>> loss, dZ = softmax_cross_entropy(np.zeros((1, 2)), np.array([1]), np.ones(1))
    >>> round(float(loss), 4), dZ
    (0.6931, array([[ 0.5, -0.5]]))
    """
    rows = np.arange(len(y))
    Z = np.subtract(Z, Z.max(axis=1, keepdims=True), out=Z if overwrite else None)
    picked = Z[rows, y]
    P = np.exp(Z, out=Z)
    total = P.sum(axis=1)
    loss = np.dot(weights, np.log(total) - picked)
    P *= (weights / total).astype(P.dtype)[:, None]  # softmax(Z) times the weights
    P[rows, y] -= weights.astype(P.dtype)
    return loss, P


def sigmoid_binary_cross_entropy(Z, y, weights, overwrite=False):
    """Sigmoid binary cross-entropy, summed over K independent outputs.

    ``log(1 + e^z) - y z`` is computed without overflow.

    Parameters
    ----------
    Z : ndarray of shape (N, K)
        Logits.
    y : ndarray of shape (N, K)
        Targets in {0, 1}.
    weights : ndarray of shape (N,)
        Row weights, summing to one over the batch.
    overwrite : bool, default=False
        Write the gradient over ``Z`` instead of a new array.

    Returns
    -------
    loss : float
        The weighted loss.
    dZ : ndarray of shape (N, K)
        Its gradient, ``weights * (sigmoid(Z) - y)``.

    Examples
    --------
    >>> import numpy as np
    >>> loss, dZ = sigmoid_binary_cross_entropy(np.zeros((1, 1)), np.ones((1, 1)), np.ones(1))
    >>> round(float(loss), 4), dZ
    (0.6931, array([[-0.5]]))
    """
    per_row = (np.logaddexp(0, Z) - y * Z).sum(axis=1)
    dZ = np.multiply(Z, 0.5, out=Z if overwrite else None)
    np.tanh(dZ, out=dZ)
    dZ *= 0.5
    dZ += 0.5
    dZ -= y  # sigmoid(Z) - y
    dZ *= weights[:, None]
    return np.dot(weights, per_row), dZ


def squared_error(Z, y, weights, overwrite=False):
    """Half the squared error, averaged over K outputs: ``0.5 * mean_k (z_k - y_k)^2``.

    Parameters
    ----------
    Z : ndarray of shape (N, K)
        Predictions.
    y : ndarray of shape (N, K)
        Targets.
    weights : ndarray of shape (N,)
        Row weights, summing to one over the batch.
    overwrite : bool, default=False
        Write the gradient over ``Z`` instead of a new array.

    Returns
    -------
    loss : float
        The weighted loss.
    dZ : ndarray of shape (N, K)
        Its gradient, ``weights * (Z - y) / K``.

    Examples
    --------
    >>> import numpy as np
    >>> squared_error(np.array([[3.0]]), np.array([[1.0]]), np.ones(1))
    (np.float64(2.0), array([[2.]]))
    """
    K = Z.shape[1]
    diff = np.subtract(Z, y, out=Z if overwrite else None)
    per_row = 0.5 * np.einsum("ij,ij->i", diff, diff) / K
    diff *= weights[:, None] / K
    return np.dot(weights, per_row), diff


LOSSES = {
    "softmax": softmax_cross_entropy,
    "logistic": sigmoid_binary_cross_entropy,
    "squared": squared_error,
}
