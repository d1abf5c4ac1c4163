"""The loop over time of one layer and direction: masking, direction and backpropagation.

This module is the reading path of the time loop; the steps themselves are in
:mod:`skrnn.nn.cells`, and stacking, bidirectional layers and truncated backpropagation
through time in :mod:`skrnn.nn.network`.

Layout. A batch of B sequences is stored step by step, one column per sequence::

    X1       (T, D+1, B)   inputs; row D is 1 at real steps and 0 at padded steps
    Y        (T, H, B)     outputs h_t of every step, zero at padded steps
    state    (H, B)        h (and the LSTM's c) of every sequence

Masking. Sequences have different lengths and are sorted longest first, so at step t the
sequences that have a real step are exactly the first ``n_active[t]`` columns (the layout of
PyTorch's packed sequences). Step t updates those columns only: a padded step is never
computed, so it cannot change a state, reach a loss or carry a gradient.

Direction. The forward direction runs t = 0, 1, ..., T-1; the reverse direction runs
t = T-1, ..., 0, and each sequence joins when t reaches its own last real step, starting from
the initial state. A sequence's final state is its state after its last step in the order of
the direction: after step L-1 forward, after step 0 in reverse.

Backpropagation through time runs the steps in the opposite order and applies each cell's
``step_backward``; the gradient with respect to a state collects the gradient of the loss
with respect to that step's output (``dY[t]``) and the gradient flowing back from the step
after it (``dstate``).

This module is the reference implementation of the engine's interface (``prepare``,
``forward``, ``backward``, ``release``), one step at a time in plain NumPy. The fast path
(``skrnn.nn._fast``) has the same interface and is tested against it.
"""

from typing import NamedTuple

import numpy as np

from .cells import Weights

__all__ = ["Direction", "prepare", "forward", "backward", "release", "Stepper"]


class Direction(NamedTuple):
    """What a forward pass over one layer and direction returns.

    Parameters
    ----------
    Y : ndarray of shape (T, H, B) or None
        The output of every step, zero at padded steps (None when the caller asked for the
        final states only).
    final : tuple of ndarray
        The final state of every sequence, ``(h_n,)`` or ``(h_n, c_n)``, each of shape (H, B).
    cache : object
        What :func:`backward` needs; opaque to the caller.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.nn.cells import GRUCell, Weights
    >>> H, D, T, B = 2, 1, 3, 2
    >>> w = Weights(np.ones((3 * H, D)), np.zeros((3 * H, H)), np.zeros(3 * H), np.zeros(3 * H))
    >>> X1 = np.ones((T, D + 1, B))
    >>> out = forward(GRUCell(), w, X1, [B] * T, (np.zeros((H, B)),))
    >>> out.Y.shape, [h.shape for h in out.final]
    ((3, 2, 2), [(2, 2)])
    """

    Y: np.ndarray
    final: tuple
    cache: object


def prepare(cell, weights, for_backward=True):
    """The weights in the form :func:`forward` and :func:`backward` use.

    Parameters
    ----------
    cell : RNNCell, LSTMCell or GRUCell
        The cell.
    weights : Weights
        Parameters of one layer and direction, in PyTorch's layout and the batch's dtype.
    for_backward : bool, default=True
        Whether a backward pass will follow (the reference ignores it).

    Returns
    -------
    Weights
        ``weights`` itself: the reference computes with PyTorch's layout directly.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.nn.cells import RNNCell, Weights
    >>> w = Weights(np.eye(2), np.eye(2), np.zeros(2), np.zeros(2))
    >>> prepare(RNNCell(), w) is w
    True
    """
    return weights


def forward(cell, w, X1, n_active, state0, reverse=False, keep=True, outputs=True):
    """Run one layer and direction over a batch, step by step.

    Parameters
    ----------
    cell : RNNCell, LSTMCell or GRUCell
        The cell.
    w : Weights
        Prepared weights (:func:`prepare`).
    X1 : ndarray of shape (T, D+1, B)
        Inputs, columns sorted by length (longest first), row D the real-step indicator.
    n_active : sequence of int, of length T
        Number of sequences with a real step t (non-increasing).
    state0 : tuple of ndarray
        Initial state ``(h0,)`` or ``(h0, c0)``, each of shape (H, B).
    reverse : bool, default=False
        Run from the last step to the first.
    keep : bool, default=True
        Whether :func:`backward` will be called (the reference always keeps its cache).
    outputs : bool, default=True
        Whether the caller reads ``Y`` (the reference always returns it).

    Returns
    -------
    Direction
        The outputs, the final states and the cache for :func:`backward`.

    Examples
    --------
    Two sequences of lengths 3 and 1 through a vanilla RNN that adds its input to its state
    (identity weights, relu): the second sequence stops after its first step.

    >>> import numpy as np
    >>> from skrnn.nn.cells import RNNCell, Weights
    >>> w = Weights(np.eye(1), np.eye(1), np.zeros(1), np.zeros(1))
    >>> X1 = np.array([[[1.0, 5.0], [1, 1]], [[1, 0], [1, 0]], [[1, 0], [1, 0]]])  # (3, 2, 2)
    >>> out = forward(RNNCell("relu"), w, X1, [2, 1, 1], (np.zeros((1, 2)),))
    >>> out.Y[:, 0]  # (T, B) of the single hidden unit
    array([[1., 5.],
           [2., 0.],
           [3., 0.]])
    >>> out.final[0]  # each sequence after its last real step
    array([[3., 5.]])
    """
    T, D = X1.shape[0], X1.shape[1] - 1
    state = tuple(s.copy() for s in state0)
    Y = np.zeros((T,) + state[0].shape, state[0].dtype)
    caches = [None] * T
    for t in range(T - 1, -1, -1) if reverse else range(T):
        n = n_active[t]  # masking: the first n sequences have a step t
        if n == 0:
            continue
        x = X1[t, :D, :n]
        prev = tuple(s[:, :n].copy() for s in state)  # copies: the step's cache keeps them
        new, caches[t] = cell.step(w, x, prev)
        for s, s_new in zip(state, new):
            s[:, :n] = s_new
        Y[t, :, :n] = new[0]  # the output of a step is its hidden state h
    return Direction(Y, state, (X1, caches, len(state)))


def backward(cell, w, cache, dY, n_active, reverse=False, need_dX=True, dh_out=None):
    """Backpropagation through time over one layer and direction.

    Parameters
    ----------
    cell : RNNCell, LSTMCell or GRUCell
        The cell, as given to :func:`forward`.
    w : Weights
        Prepared weights, as given to :func:`forward`.
    cache : object
        ``Direction.cache`` of the forward pass.
    dY : ndarray of shape (T, H, B)
        Gradient of the loss with respect to every output (zero at padded steps).
    n_active : sequence of int, of length T
        As given to :func:`forward`.
    reverse : bool, default=False
        As given to :func:`forward`.
    need_dX : bool, default=True
        Whether to compute the gradient with respect to the inputs.
    dh_out : ndarray of shape (T, H, B) or None, default=None
        If given, receives the gradient of the loss with respect to every state h_t,
        through the outputs and every later step (zero at padded steps).

    Returns
    -------
    dX : ndarray of shape (T, D, B) or None
        Gradient with respect to the inputs (None unless ``need_dX``).
    grads : Weights
        Gradients with respect to the four parameters, in PyTorch's layout.

    Examples
    --------
    The running sum of the inputs (an RNN with identity weights and relu); the loss is the
    sum of its last output, so every input of a sequence gets the gradient 1.

    >>> import numpy as np
    >>> from skrnn.nn.cells import RNNCell, Weights
    >>> cell, w = RNNCell("relu"), Weights(np.eye(1), np.eye(1), np.zeros(1), np.zeros(1))
    >>> X1 = np.ones((3, 2, 1))  # T=3 steps of one input, one sequence
    >>> out = forward(cell, w, X1, [1, 1, 1], (np.zeros((1, 1)),))
    >>> dY = np.zeros((3, 1, 1))
    >>> dY[-1] = 1.0
    >>> dX, grads = backward(cell, w, out.cache, dY, [1, 1, 1])
    >>> dX.ravel(), grads.W_ih
    (array([1., 1., 1.]), array([[3.]]))
    """
    X1, caches, n_states = cache
    T, D, B = X1.shape[0], X1.shape[1] - 1, X1.shape[2]
    grads = Weights(*(np.zeros_like(p) for p in w))
    dstate = [np.zeros(dY.shape[1:], dY.dtype) for _ in range(n_states)]
    dX = np.zeros((T, D, B), dY.dtype) if need_dX else None
    for t in range(T) if reverse else range(T - 1, -1, -1):  # the steps in opposite order
        n = n_active[t]
        if n == 0:
            continue
        dstate[0][:, :n] += dY[t, :, :n]  # h_t is both the output of step t and a state
        if dh_out is not None:
            dh_out[t, :, :n] = dstate[0][:, :n]  # dL/dh_t, whole
        dx, dprev = cell.step_backward(w, caches[t], tuple(d[:, :n] for d in dstate), grads)
        for d, d_prev in zip(dstate, dprev):
            d[:, :n] = d_prev
        if need_dX:
            dX[t, :, :n] = dx
    return dX, grads


def release(direction):
    """Give back the buffers of a forward pass that nobody reads any more.

    Parameters
    ----------
    direction : Direction
        A forward pass of this module (the reference holds no reusable buffers).

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.nn.cells import RNNCell, Weights
    >>> w = Weights(np.eye(1), np.eye(1), np.zeros(1), np.zeros(1))
    >>> out = forward(RNNCell(), w, np.ones((2, 2, 1)), [1, 1], (np.zeros((1, 1)),))
    >>> release(out)  # nothing to give back; the fast path's release frees its buffers
    """


class Stepper:
    """One layer run one step at a time, for streaming.

    The cell's step, and the state it carries from one call to the next.

    Parameters
    ----------
    cell : RNNCell, LSTMCell or GRUCell
        The cell.
    w : Weights
        Parameters of the layer, in PyTorch's layout (the stepper keeps a reference).
    n : int
        Number of sequences stepped side by side.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.nn.cells import RNNCell, Weights
    >>> stepper = Stepper(RNNCell("relu"), Weights(np.eye(1), np.eye(1), np.zeros(1),
    ...                                            np.zeros(1)), n=1)
    >>> [float(stepper.step(np.ones((1, 1)))[0, 0]) for _ in range(3)]  # a running sum
    [1.0, 2.0, 3.0]
    """

    def __init__(self, cell, w, n):
        self.cell, self.w = cell, w
        H, dtype = w.W_hh.shape[1], w.W_hh.dtype
        self.state = tuple(np.zeros((H, n), dtype) for _ in cell.state_names)

    def step(self, x):
        """Advance every sequence by one step.

        Parameters
        ----------
        x : ndarray of shape (D, n)
            The inputs of this step.

        Returns
        -------
        ndarray of shape (H, n)
            The new hidden state h, the layer's output.
        """
        self.state, _ = self.cell.step(self.w, x, self.state)
        return self.state[0]

    def get_state(self):
        """The current state, ``(h,)`` or ``(h, c)``, copies of shape (H, n).

        Returns
        -------
        tuple of ndarray
            The state.
        """
        return tuple(s.copy() for s in self.state)

    def set_state(self, state):
        """Continue from ``state``, ``(h,)`` or ``(h, c)``, each of shape (H, n).

        Parameters
        ----------
        state : tuple of ndarray
            The state.
        """
        self.state = tuple(np.array(s, self.w.W_hh.dtype) for s in state)

