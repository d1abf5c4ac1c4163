"""One time step of each recurrent cell, and its backward step: the engine's math.

This module is where to read how a vanilla RNN, an LSTM and a GRU compute a step and how the
gradient flows back through it (backpropagation through time is the backward step applied from
the last step to the first, see :mod:`skrnn.nn.recurrent`). The equations are PyTorch's, with
PyTorch's weight names, shapes and gate order, so weights travel between the two unchanged.

Shapes. A step works on ``n`` sequences at once, one per column, so the code reads like the
equations written for a column vector::

    x        (D, n)      the inputs of the step
    h, c     (H, n)      hidden state (and the LSTM's cell state)
    W_ih     (G*H, D)    input-to-hidden weights, the G gate blocks stacked
    W_hh     (G*H, H)    hidden-to-hidden weights
    b_ih     (G*H,)      input bias
    b_hh     (G*H,)      hidden bias

with G = 1 (RNN), 4 (LSTM, gates i, f, g, o) or 3 (GRU, gates r, z, n).

Every cell has the same two methods:

- ``step(w, x, state)`` returns the new state and a cache of what the backward step needs;
- ``step_backward(w, cache, dstate, grads)`` takes the gradient of the loss with respect to the
  new state, adds this step's contribution to the weight gradients ``grads`` (shared weights
  collect a term from every step, hence ``+=``) and returns the gradients with respect to the
  step's input and previous state.

Derivatives are written from the forward values: ``tanh'(a) = 1 - tanh(a)**2`` and
``sigmoid'(a) = s * (1 - s)`` with ``s = sigmoid(a)``.

This is the reference implementation: plain NumPy, one step at a time. The engine's fast path
(``skrnn.nn._fast``) computes the same functions with the speed tricks of
``benchmarks/README.md`` and is tested against this module to 1e-12 in float64.
"""

from typing import NamedTuple

import numpy as np

__all__ = ["Weights", "RNNCell", "LSTMCell", "GRUCell", "get_cell", "sigmoid"]


class Weights(NamedTuple):
    """The four parameters of one layer and direction, named and shaped as in PyTorch.

    Parameters
    ----------
    W_ih : ndarray of shape (G*H, D)
        Input-to-hidden weights (PyTorch's ``weight_ih_l{k}``).
    W_hh : ndarray of shape (G*H, H)
        Hidden-to-hidden weights (``weight_hh_l{k}``).
    b_ih : ndarray of shape (G*H,)
        Input bias (``bias_ih_l{k}``).
    b_hh : ndarray of shape (G*H,)
        Hidden bias (``bias_hh_l{k}``).

    Examples
    --------
    >>> import numpy as np
    >>> H, D = 3, 2
    >>> w = Weights(np.zeros((4 * H, D)), np.zeros((4 * H, H)), np.zeros(4 * H), np.zeros(4 * H))
    >>> w.W_hh.shape  # an LSTM's: four gate blocks
    (12, 3)
    """

    W_ih: np.ndarray
    W_hh: np.ndarray
    b_ih: np.ndarray
    b_hh: np.ndarray


def sigmoid(a):
    """The logistic function ``1 / (1 + exp(-a))``, computed as ``tanh(a / 2) / 2 + 1 / 2``.

    The two are equal; the second never overflows.

    Parameters
    ----------
    a : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        ``sigmoid(a)``, elementwise.

    Examples
    --------
    >>> import numpy as np
    >>> sigmoid(np.array([-800.0, 0.0, 800.0]))
    array([0. , 0.5, 1. ])
    """
    return 0.5 * np.tanh(0.5 * a) + 0.5


def _affine_backward(w, grads, x, h_prev, da_x, da_h):
    """Backward step of ``a = W_ih x + b_ih + W_hh h_prev + b_hh``, shared by every cell.

    ``da_x`` and ``da_h`` (G*H, n) are the gradients with respect to the input part
    ``W_ih x + b_ih`` and the recurrent part ``W_hh h_prev + b_hh`` (equal except in the GRU's
    n gate). Adds to the weight gradients and returns ``dx`` (D, n) and ``dh_prev`` (H, n).
    """
    grads.W_ih[...] += da_x @ x.T
    grads.b_ih[...] += da_x.sum(axis=1)
    grads.W_hh[...] += da_h @ h_prev.T
    grads.b_hh[...] += da_h.sum(axis=1)
    return w.W_ih.T @ da_x, w.W_hh.T @ da_h


class RNNCell:
    """Elman recurrent cell, PyTorch's ``nn.RNN``.

    ::

        h = act(W_ih x + b_ih + W_hh h_prev + b_hh)

    with ``act`` = tanh or relu.

    Parameters
    ----------
    activation : {"tanh", "relu"}, default="tanh"
        The nonlinearity.

    Examples
    --------
    >>> import numpy as np
    >>> cell = RNNCell()
    >>> w = Weights(np.eye(2), np.zeros((2, 2)), np.zeros(2), np.zeros(2))
    >>> (h,), cache = cell.step(w, np.array([[0.5], [-0.5]]), (np.zeros((2, 1)),))
    >>> h.ravel().round(4)
    array([ 0.4621, -0.4621])
    """

    name = "rnn"
    n_gates = 1
    state_names = ("h",)
    gate_names = ()  # no gates

    def __init__(self, activation="tanh"):
        if activation not in ("tanh", "relu"):
            raise ValueError(f"activation must be 'tanh' or 'relu', got {activation!r}")
        self.activation = activation

    def step(self, w, x, state):
        """One step forward.

        Parameters
        ----------
        w : Weights
            Parameters, ``W_ih`` (H, D), ``W_hh`` (H, H), ``b_ih`` and ``b_hh`` (H,).
        x : ndarray of shape (D, n)
            Inputs.
        state : tuple of ndarray
            ``(h_prev,)``, of shape (H, n).

        Returns
        -------
        state : tuple of ndarray
            ``(h,)``, of shape (H, n).
        cache : tuple
            What :meth:`step_backward` needs.
        """
        (h_prev,) = state
        a = w.W_ih @ x + w.b_ih[:, None] + w.W_hh @ h_prev + w.b_hh[:, None]
        h = np.tanh(a) if self.activation == "tanh" else np.maximum(a, 0)
        return (h,), (x, h_prev, h)

    def step_backward(self, w, cache, dstate, grads):
        """One step backward.

        Parameters
        ----------
        w : Weights
            Parameters, as given to :meth:`step`.
        cache : tuple
            The cache :meth:`step` returned.
        dstate : tuple of ndarray
            ``(dh,)``: the gradient of the loss with respect to the step's output ``h``
            (H, n).
        grads : Weights
            Weight gradients, added to in place.

        Returns
        -------
        dx : ndarray of shape (D, n)
            Gradient with respect to the input.
        dstate_prev : tuple of ndarray
            ``(dh_prev,)``, the gradient with respect to ``h_prev`` (H, n).
        """
        x, h_prev, h = cache
        (dh,) = dstate
        if self.activation == "tanh":
            da = dh * (1 - h * h)  # backprop through tanh
        else:
            da = dh * (h > 0)  # backprop through relu
        dx, dh_prev = _affine_backward(w, grads, x, h_prev, da, da)
        return dx, (dh_prev,)


class LSTMCell:
    """Long short-term memory cell, PyTorch's ``nn.LSTM``.

    ::

        i = sigmoid(W_ii x + b_ii + W_hi h_prev + b_hi)      input gate
        f = sigmoid(W_if x + b_if + W_hf h_prev + b_hf)      forget gate
        g = tanh(W_ig x + b_ig + W_hg h_prev + b_hg)         candidate
        o = sigmoid(W_io x + b_io + W_ho h_prev + b_ho)      output gate
        c = f * c_prev + i * g
        h = o * tanh(c)

    The gate blocks are stacked in the order (i, f, g, o) in ``W_ih`` (4H, D), ``W_hh``
    (4H, H), ``b_ih`` and ``b_hh`` (4H,).

    Examples
    --------
    >>> import numpy as np
    >>> cell = LSTMCell()
    >>> H, D, n = 3, 2, 4
    >>> rng = np.random.default_rng(0)
    >>> w = Weights(rng.normal(size=(4 * H, D)), rng.normal(size=(4 * H, H)),
    ...             np.zeros(4 * H), np.zeros(4 * H))
    >>> (h, c), cache = cell.step(w, rng.normal(size=(D, n)), (np.zeros((H, n)),) * 2)
    >>> h.shape, c.shape
    ((3, 4), (3, 4))
    """

    name = "lstm"
    n_gates = 4
    state_names = ("h", "c")
    gate_names = ("i", "f", "g", "o", "c")

    def step(self, w, x, state):
        """One step forward.

        Parameters
        ----------
        w : Weights
            Parameters, ``W_ih`` (4H, D), ``W_hh`` (4H, H), ``b_ih`` and ``b_hh`` (4H,).
        x : ndarray of shape (D, n)
            Inputs.
        state : tuple of ndarray
            ``(h_prev, c_prev)``, each of shape (H, n).

        Returns
        -------
        state : tuple of ndarray
            ``(h, c)``, each of shape (H, n).
        cache : tuple
            What :meth:`step_backward` needs.
        """
        h_prev, c_prev = state
        a = w.W_ih @ x + w.b_ih[:, None] + w.W_hh @ h_prev + w.b_hh[:, None]
        a_i, a_f, a_g, a_o = np.split(a, 4)
        i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
        c = f * c_prev + i * g
        tanh_c = np.tanh(c)
        h = o * tanh_c
        return (h, c), (x, h_prev, c_prev, i, f, g, o, tanh_c)

    def gates(self, cache):
        """The gate activations of a step and the cell state it wrote, for inspection.

        Parameters
        ----------
        cache : tuple
            The cache :meth:`step` returned.

        Returns
        -------
        dict of str to ndarray of shape (H, n)
            ``i``, ``f``, ``g``, ``o`` and the new cell state ``c``.
        """
        _, _, c_prev, i, f, g, o, _ = cache
        return {"i": i, "f": f, "g": g, "o": o, "c": f * c_prev + i * g}

    def step_backward(self, w, cache, dstate, grads):
        """One step backward.

        Parameters
        ----------
        w : Weights
            Parameters, as given to :meth:`step`.
        cache : tuple
            The cache :meth:`step` returned.
        dstate : tuple of ndarray
            ``(dh, dc)``: the gradients of the loss with respect to the step's outputs ``h``
            and ``c`` (H, n), coming from the loss and from the next step.
        grads : Weights
            Weight gradients, added to in place.

        Returns
        -------
        dx : ndarray of shape (D, n)
            Gradient with respect to the input.
        dstate_prev : tuple of ndarray
            ``(dh_prev, dc_prev)``, the gradients with respect to ``h_prev`` and ``c_prev``.
        """
        x, h_prev, c_prev, i, f, g, o, tanh_c = cache
        dh, dc = dstate
        do = dh * tanh_c  # backprop through h = o * tanh(c)
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        di, df, dg = dc * g, dc * c_prev, dc * i  # backprop through c = f * c_prev + i * g
        dc_prev = dc * f
        da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g),
                             do * o * (1 - o)])  # through the gate nonlinearities
        dx, dh_prev = _affine_backward(w, grads, x, h_prev, da, da)
        return dx, (dh_prev, dc_prev)


class GRUCell:
    """Gated recurrent unit, PyTorch's ``nn.GRU``.

    ::

        r = sigmoid(W_ir x + b_ir + W_hr h_prev + b_hr)          reset gate
        z = sigmoid(W_iz x + b_iz + W_hz h_prev + b_hz)          update gate
        n = tanh(W_in x + b_in + r * (W_hn h_prev + b_hn))       candidate
        h = (1 - z) * n + z * h_prev

    The gate blocks are stacked in the order (r, z, n) in ``W_ih`` (3H, D), ``W_hh`` (3H, H),
    ``b_ih`` and ``b_hh`` (3H,). The reset gate multiplies the recurrent term of the candidate
    after its bias is added, as in PyTorch (and ONNX's ``linear_before_reset=1``).

    Examples
    --------
    >>> import numpy as np
    >>> cell = GRUCell()
    >>> H, D, n = 3, 2, 4
    >>> rng = np.random.default_rng(0)
    >>> w = Weights(rng.normal(size=(3 * H, D)), rng.normal(size=(3 * H, H)),
    ...             np.zeros(3 * H), np.zeros(3 * H))
    >>> (h,), cache = cell.step(w, rng.normal(size=(D, n)), (np.zeros((H, n)),))
    >>> h.shape
    (3, 4)
    """

    name = "gru"
    n_gates = 3
    state_names = ("h",)
    gate_names = ("r", "z", "n")

    def step(self, w, x, state):
        """One step forward.

        Parameters
        ----------
        w : Weights
            Parameters, ``W_ih`` (3H, D), ``W_hh`` (3H, H), ``b_ih`` and ``b_hh`` (3H,).
        x : ndarray of shape (D, n)
            Inputs.
        state : tuple of ndarray
            ``(h_prev,)``, of shape (H, n).

        Returns
        -------
        state : tuple of ndarray
            ``(h,)``, of shape (H, n).
        cache : tuple
            What :meth:`step_backward` needs.
        """
        (h_prev,) = state
        a_x = w.W_ih @ x + w.b_ih[:, None]  # input part of the pre-activations (3H, n)
        a_h = w.W_hh @ h_prev + w.b_hh[:, None]  # recurrent part (3H, n)
        ax_r, ax_z, ax_n = np.split(a_x, 3)
        ah_r, ah_z, ah_n = np.split(a_h, 3)
        r, z = sigmoid(ax_r + ah_r), sigmoid(ax_z + ah_z)
        n = np.tanh(ax_n + r * ah_n)
        h = (1 - z) * n + z * h_prev
        return (h,), (x, h_prev, r, z, n, ah_n)

    def gates(self, cache):
        """The gate activations of a step, for inspection.

        Parameters
        ----------
        cache : tuple
            The cache :meth:`step` returned.

        Returns
        -------
        dict of str to ndarray of shape (H, n)
            The reset gate ``r``, the update gate ``z`` and the candidate ``n``.
        """
        _, _, r, z, n, _ = cache
        return {"r": r, "z": z, "n": n}

    def step_backward(self, w, cache, dstate, grads):
        """One step backward.

        Parameters
        ----------
        w : Weights
            Parameters, as given to :meth:`step`.
        cache : tuple
            The cache :meth:`step` returned.
        dstate : tuple of ndarray
            ``(dh,)``: the gradient of the loss with respect to the step's output ``h``
            (H, n).
        grads : Weights
            Weight gradients, added to in place.

        Returns
        -------
        dx : ndarray of shape (D, n)
            Gradient with respect to the input.
        dstate_prev : tuple of ndarray
            ``(dh_prev,)``, the gradient with respect to ``h_prev`` (H, n).
        """
        x, h_prev, r, z, n, ah_n = cache
        (dh,) = dstate
        dn, dz = dh * (1 - z), dh * (h_prev - n)  # backprop through h = (1-z) n + z h_prev
        da_n = dn * (1 - n * n)  # through n = tanh(ax_n + r * ah_n)
        dr, dah_n = da_n * ah_n, da_n * r
        da_r, da_z = dr * r * (1 - r), dz * z * (1 - z)
        da_x = np.concatenate([da_r, da_z, da_n])  # w.r.t. the input part W_ih x + b_ih
        da_h = np.concatenate([da_r, da_z, dah_n])  # w.r.t. the recurrent part W_hh h + b_hh
        dx, dh_prev = _affine_backward(w, grads, x, h_prev, da_x, da_h)
        return dx, (dh_prev + dh * z,)


def get_cell(cell, activation="tanh"):
    """The cell object for a cell name.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
        The kind of cell.
    activation : {"tanh", "relu"}, default="tanh"
        Nonlinearity of the vanilla RNN; the gated cells ignore it.

    Returns
    -------
    RNNCell, LSTMCell or GRUCell
        A new cell object (cells hold no state besides their configuration).

    Raises
    ------
    ValueError
        If ``cell`` or ``activation`` is not one of the names above.

    Examples
    --------
    >>> get_cell("lstm").n_gates
    4
    """
    if cell not in ("rnn", "lstm", "gru"):
        raise ValueError(f"cell must be 'rnn', 'lstm' or 'gru', got {cell!r}")
    if cell == "rnn":
        return RNNCell(activation)
    if activation not in ("tanh", "relu"):
        raise ValueError(f"activation must be 'tanh' or 'relu', got {activation!r}")
    return LSTMCell() if cell == "lstm" else GRUCell()
