"""Weights in the form the fast kernels use: gate blocks reordered, sigmoid rows halved.

Every sigmoid of the fast path is computed as ``0.5 * tanh(x / 2) + 0.5`` with the 1/2 folded
into a scaled copy of the gate weights, so one ``np.tanh`` call activates all the sigmoid gates
of a step; reordering the gate blocks makes those gates one contiguous block.
"""

from functools import lru_cache

import numpy as np

__all__ = ["scaled", "with_bias", "joined", "unpermuted", "transposed"]


@lru_cache(maxsize=256)
def _row_runs(rows, order, n_halved):
    """(out row, weight row, rows, halved) of the runs of rows :func:`scaled` copies with one
    call each: rows contiguous in both arrays and halved alike (3 runs for the LSTM)."""
    H = rows // len(order)
    runs = []
    for k, src in enumerate(order):
        m = min(max(n_halved - k * H, 0), H)  # rows of this block to halve
        for lo, hi in ((0, m), (m, H)):
            if hi == lo:
                continue
            dst, start, halved = k * H + lo, src * H + lo, lo < m
            last = runs[-1] if runs else None
            if last and (last[0] + last[2], last[1] + last[2], last[3]) == (dst, start, halved):
                last[2] += hi - lo  # continues the previous run
            else:
                runs.append([dst, start, hi - lo, halved])
    return tuple(map(tuple, runs))


def scaled(weight, n_halved=0, order=None, out=None):
    """``weight`` (G*H, ...) with its gate blocks in ``order`` and its first ``n_halved``
    rows (after reordering) halved.

    One call per run of rows (:func:`_row_runs`): a row gather with ``np.take`` and a separate
    scaling pass took 2.4x as long at H=256. ``out``, if given, receives the result.
    """
    out = np.empty(weight.shape, weight.dtype) if out is None else out
    half = weight.dtype.type(0.5)
    for dst, src, n, halved in _row_runs(weight.shape[0], tuple(order or (0,)), n_halved):
        if halved:
            np.multiply(weight[src : src + n], half, out=out[dst : dst + n])
        else:
            np.copyto(out[dst : dst + n], weight[src : src + n])
    return out


def with_bias(W, b, n_halved=0, order=None, empty=np.empty):
    """``[W | b]`` (G*H, D+1) in the kernel's form (:func:`scaled`): the input weights with the
    bias as a last column, so that the projection of an input whose last row is 1 (the layer
    input ``X1``) adds the bias inside its GEMM."""
    Wb = empty((W.shape[0], W.shape[1] + 1), W.dtype)
    scaled(W, n_halved, order, Wb[:, :-1])
    scaled(b, n_halved, order, Wb[:, -1])
    return Wb


def joined(Wb, W_h):
    """``[W_ih | W_h | b]`` (rows, D+H+1) from ``Wb`` = [W_ih | b] (rows, D+1) and a recurrent
    weight ``W_h`` (rows, H): one GEMV with ``[x; h_prev; 1]`` gives a step's input projection,
    its recurrent term and its bias together (a stepper's step)."""
    return np.hstack([Wb[:, :-1], W_h, Wb[:, -1:]])


def unpermuted(grad, order):
    """A gradient in a kernel's gate order (``order`` as given to :func:`scaled`) back in
    PyTorch's gate order."""
    if order is None:
        return grad
    return scaled(grad, 0, tuple(int(k) for k in np.argsort(order)))


def transposed(weight, order=None, empty=np.empty):
    """A C-contiguous copy of ``weight.T``, gate blocks of ``weight`` in ``order``.

    BLAS reads a weight matrix given with a transpose flag up to 1.6x slower at some per-step
    shapes (OpenBLAS, float32) than the same matrix stored transposed.
    """
    out = empty(weight.shape[::-1], weight.dtype)
    for dst, src, n, _ in _row_runs(weight.shape[0], tuple(order or (0,)), 0):
        np.copyto(out[:, dst : dst + n], weight[src : src + n].T)
    return out
