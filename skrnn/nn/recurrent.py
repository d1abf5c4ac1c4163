"""The time loop of one recurrent layer direction: masking, direction, backpropagation through time.

Variable lengths work like PyTorch's packed sequences. The rows of a batch are sorted by length,
longest first, so at step ``t`` the active sequences are exactly the first ``n_active[t]`` rows
and every step works on the views ``[:n_active[t]]``. Padded steps are never computed: they
cannot change a state, reach a loss or a gradient, and they cost nothing.

States live in a buffer ``H`` of shape (T+1, B, H) with one extra slot for the initial state:

* forward direction: ``H[0] = h0`` and ``H[t+1] = h_t``; step t reads ``H[t]``, writes ``H[t+1]``.
* reverse direction: ``H[T] = 0`` and ``H[t] = h_t``; step t reads ``H[t+1]``, writes ``H[t]``.

A buffer is zero wherever a sequence has no step, so in the reverse direction a sequence of
length L starts from ``H[L] = 0``: the reverse direction starts at each sequence's own last real
step, from a zero state.
"""

import numpy as np

__all__ = ["project", "direction_forward", "direction_backward", "direction_outputs",
           "final_states"]


def project(X, W_T, b):
    """Input projection for all steps at once: ``X @ W_T + b``.

    X : (T, B, D), W_T : (D, G*H), b : (G*H,). Returns (T, B, G*H).
    A single input feature uses a broadcast multiply: matmul with an inner dimension of 1
    leaves the BLAS path and is an order of magnitude slower.
    """
    T, B, D = X.shape
    if D == 1:
        A = X * W_T[0]
        A += b
        return A
    A = np.matmul(X.reshape(T * B, D), W_T).reshape(T, B, -1)
    A += b
    return A


def _time_steps(T, reverse):
    """(t, i_prev, i_out) in processing order: which state slot step t reads and writes."""
    if reverse:
        return [(t, t + 1, t) for t in range(T - 1, -1, -1)]
    return [(t, t, t + 1) for t in range(T)]


def direction_forward(cell, w, X, n_active, h0, c0=None, reverse=False):
    """Run one direction of one layer over a padded, length-sorted batch.

    Parameters
    ----------
    cell : cell object from :mod:`skrnn.nn.cells`
    w : prepared weights, ``cell.prepare(...)``
    X : ndarray (T, B, D), time-major input, zero at padded steps
    n_active : ndarray (T,) of int, number of rows with a real step at t (non-increasing)
    h0, c0 : ndarray (B, H), initial states (c0 for the LSTM only; both zero if reverse)
    reverse : bool

    Returns
    -------
    bufs : dict of the cell's buffers; ``bufs["H"]`` holds the states, see module docstring.
    """
    A = project(X, w.W_ihT, w.b)
    bufs = cell.allocate(A, h0, c0)
    for t, i_prev, i_out in _time_steps(X.shape[0], reverse):
        n = n_active[t]
        if n:
            cell.step(w, bufs, t, i_prev, i_out, n)
    return bufs


def direction_outputs(H_buf, reverse):
    """Per-step outputs (T, B, H) and the previous states (T, B, H), views into ``H_buf``."""
    if reverse:
        return H_buf[:-1], H_buf[1:]
    return H_buf[1:], H_buf[:-1]


def final_states(bufs, lengths):
    """State after each row's last real step of a forward direction: ``[H[L_b, b] ...]``.

    Rows of length 0 keep their initial state. Returns h (B, H) and c (B, H) or None.
    """
    rows = np.arange(len(lengths))
    h = bufs["H"][lengths, rows]
    c = bufs["C"][lengths, rows] if "C" in bufs else None
    return h, c


def direction_backward(cell, w, bufs, X, dH, n_active, reverse=False, need_dX=True):
    """Backpropagation through time for one direction of one layer.

    Parameters
    ----------
    cell, w, bufs, X, n_active, reverse : as given to / returned by :func:`direction_forward`
    dH : ndarray (T, B, H), gradient of the loss w.r.t. every output h_t (zero where padded)
    need_dX : bool, whether to return the gradient w.r.t. X (not needed for the first layer)

    Returns
    -------
    dX : ndarray (T, B, D) or None
    grads : tuple (d weight_ih, d weight_hh, d bias_ih, d bias_hh) in PyTorch's layout
    """
    T, B, H = dH.shape
    H_out, H_prev = direction_outputs(bufs["H"], reverse)
    bwd = cell.start_backward(bufs, H_out, H_prev)
    dh_next = np.zeros((B, H), dtype=dH.dtype)
    for t, i_prev, _ in reversed(_time_steps(T, reverse)):
        n = n_active[t]
        if n:
            dh = dh_next[:n]
            dh += dH[t, :n]
            cell.step_backward(w, bufs, bwd, t, i_prev, n, dh)
    dZx, dZh = cell.preactivation_grads(bwd)
    return _weight_grads(cell, w, X, H_prev, dZx, dZh, need_dX)


def _weight_grads(cell, w, X, H_prev, dZx, dZh, need_dX):
    """Sum the weight gradients of all steps with one GEMM each, in PyTorch's gate order."""
    T, B, D = X.shape
    GH = dZx.shape[-1]
    dZx2, dZh2 = dZx.reshape(T * B, GH), dZh.reshape(T * B, GH)
    dW_ih = dZx2.T @ X.reshape(T * B, D)
    dW_hh = dZh2.T @ H_prev.reshape(T * B, -1)
    db_ih, db_hh = dZx2.sum(axis=0), dZh2.sum(axis=0)
    dX = (dZx2 @ w.W_ih).reshape(T, B, D) if need_dX else None
    inverse = np.argsort(cell.gate_order(GH // cell.n_gates))
    return dX, tuple(g[inverse] for g in (dW_ih, dW_hh, db_ih, db_hh))
