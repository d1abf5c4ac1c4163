"""Recurrent cells: vanilla RNN, LSTM and GRU with PyTorch's equations and weight layout.

Each cell owns four parameters per layer and direction, stored exactly as PyTorch stores them::

    weight_ih  (G*H, D)   input-to-hidden weights, the G gate blocks stacked
    weight_hh  (G*H, H)   hidden-to-hidden weights
    bias_ih    (G*H,)
    bias_hh    (G*H,)

with G = 1 (RNN), 4 (LSTM, gates i, f, g, o) or 3 (GRU, gates r, z, n).

A cell is a few pure functions over one time step of ``n`` active sequences (rows):

* ``prepare(weight_ih, weight_hh, bias_ih, bias_hh)`` returns the weights in the form the step
  functions use. Internally the LSTM keeps its gates in the order (i, f, o, g) so that the three
  sigmoid gates are one contiguous block, and every sigmoid is computed as
  ``0.5 * tanh(x / 2) + 0.5`` with the 1/2 folded into a scaled copy of the gate weights: one
  ``np.tanh`` call then activates all gates of a step.
* ``forward_step(w, ...)`` advances the state by one step, writing into given output arrays.
* ``backward_factors(...)`` computes, for all steps at once, the elementwise derivative factors
  the backward steps need (vectorised over time instead of recomputed at every step).
* ``backward_step(w, ...)`` propagates the gradient of one step and writes the gradient with
  respect to the gate pre-activations, from which the weight gradients are summed after the loop
  with one GEMM over all steps (see :mod:`skrnn.nn.recurrent`).

The time loop, masking, direction and stacking live in :mod:`skrnn.nn.recurrent`; nothing here
knows about them. Shapes below use ``n`` for active rows, ``H`` for the hidden size, ``D`` for
the input size.
"""

from types import SimpleNamespace

import numpy as np

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "get_cell"]


def _gate_permutation(order, H):
    """Row indices that reorder G stacked gate blocks of height H into ``order``."""
    return np.concatenate([np.arange(k * H, (k + 1) * H) for k in order])


def _state_buffer(T, h0):
    """(T+1, B, H) zeros with h0 in the slot a direction starts from (see recurrent.py)."""
    buf = np.zeros((T + 1,) + h0.shape, dtype=h0.dtype)
    buf[0] = h0
    return buf


def _sigmoid_from_tanh(a):
    """In place: ``a`` holds tanh(x/2); afterwards it holds sigmoid(x)."""
    a *= 0.5
    a += 0.5


class RNNCell:
    """Elman RNN cell: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)`` with act = tanh or relu.

    Parameters
    ----------
    activation : {"tanh", "relu"}
    """

    n_gates = 1
    has_cell_state = False

    def __init__(self, activation="tanh"):
        if activation not in ("tanh", "relu"):
            raise ValueError(f"activation must be 'tanh' or 'relu', got {activation!r}")
        self.activation = activation
        self.name = f"rnn_{activation}"

    def prepare(self, weight_ih, weight_hh, bias_ih, bias_hh):
        """Weights for the step functions: ``W_ihT`` (D, H), ``W_hhT`` (H, H), ``b`` (H,)."""
        return SimpleNamespace(
            W_ihT=np.ascontiguousarray(weight_ih.T),
            W_hhT=np.ascontiguousarray(weight_hh.T),
            b=bias_ih + bias_hh,
            W_ih=weight_ih,
            W_hh=weight_hh,
        )

    def gate_order(self, H):
        return np.arange(H)

    def forward_step(self, w, a, h_prev, h):
        """One step. a: (n, H) input projection; h_prev: (n, H); writes h: (n, H)."""
        np.matmul(h_prev, w.W_hhT, out=h)
        h += a
        if self.activation == "tanh":
            np.tanh(h, out=h)
        else:
            np.maximum(h, 0, out=h)

    def backward_factors(self, H_out):
        """d act / d pre-activation for all steps, from the outputs H_out (T, B, H)."""
        if self.activation == "tanh":
            return 1 - H_out * H_out
        return (H_out > 0).astype(H_out.dtype)

    def backward_step(self, w, dh, D_t, dZ_t, dh_prev):
        """dh: (n, H) gradient w.r.t. h_t; writes dZ_t = dh * act' and dh_prev = dZ_t @ W_hh."""
        np.multiply(dh, D_t, out=dZ_t)
        np.matmul(dZ_t, w.W_hh, out=dh_prev)

    # -- sequence adapters: the buffers of one direction over T steps ---------------------------
    def allocate(self, A, h0, c0):
        """Buffers for T steps. ``H`` (T+1, B, H) holds the states (one slot for h0)."""
        T, B, _ = A.shape
        return {"A": A, "H": _state_buffer(T, h0)}

    def step(self, w, bufs, t, i_prev, i_out, n):
        H = bufs["H"]
        self.forward_step(w, bufs["A"][t, :n], H[i_prev, :n], H[i_out, :n])

    def start_backward(self, bufs, H_out, H_prev):
        return {"D": self.backward_factors(H_out), "dZ": np.zeros_like(bufs["A"])}

    def step_backward(self, w, bufs, bwd, t, i_prev, n, dh):
        self.backward_step(w, dh, bwd["D"][t, :n], bwd["dZ"][t, :n], dh)

    def preactivation_grads(self, bwd):
        """Gradients w.r.t. the input and the recurrent pre-activations, (T, B, G*H) each."""
        return bwd["dZ"], bwd["dZ"]


class LSTMCell:
    """Long short-term memory cell (PyTorch's equations)::

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)
        f = sigmoid(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)
        o = sigmoid(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g
        h' = o * tanh(c')
    """

    name = "lstm"
    n_gates = 4
    has_cell_state = True
    _order = (0, 1, 3, 2)  # PyTorch (i, f, g, o) -> internal (i, f, o, g)

    def gate_order(self, H):
        """Row permutation from PyTorch's gate order to the internal (i, f, o, g) order."""
        return _gate_permutation(self._order, H)

    def prepare(self, weight_ih, weight_hh, bias_ih, bias_hh):
        """Internal weights: gates reordered to (i, f, o, g), sigmoid rows scaled by 1/2.

        ``W_ihT`` (D, 4H) and ``W_hhT`` (H, 4H) are scaled for the forward pass; ``W_ih``
        (4H, D) and ``W_hh`` (4H, H) are the unscaled, reordered weights for the backward pass.
        """
        H = weight_hh.shape[1]
        perm = self.gate_order(H)
        scale = np.ones(4 * H, dtype=weight_ih.dtype)
        scale[: 3 * H] = 0.5
        W_ih, W_hh = weight_ih[perm], weight_hh[perm]
        return SimpleNamespace(
            W_ihT=np.ascontiguousarray((W_ih * scale[:, None]).T),
            W_hhT=np.ascontiguousarray((W_hh * scale[:, None]).T),
            b=(bias_ih + bias_hh)[perm] * scale,
            W_ih=W_ih,
            W_hh=W_hh,
        )

    def forward_step(self, w, a, h_prev, c_prev, c, tanh_c, h, tmp):
        """One step over n rows.

        a : (n, 4H) scaled input projection; overwritten with the activated gates (i, f, o, g).
        h_prev, c_prev : (n, H) previous state.
        c, tanh_c, h : (n, H) outputs. tmp : (n, 4H) scratch.
        """
        H = h.shape[1]
        np.matmul(h_prev, w.W_hhT, out=tmp)
        a += tmp
        np.tanh(a, out=a)
        _sigmoid_from_tanh(a[:, : 3 * H])
        i, f, o, g = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        np.multiply(f, c_prev, out=c)
        ig = tmp[:, :H]
        np.multiply(i, g, out=ig)
        c += ig
        np.tanh(c, out=tanh_c)
        np.multiply(o, tanh_c, out=h)

    def backward_factors(self, gates, tanh_c):
        """For all steps: ``D`` (T, B, 4H), the derivative of each activated gate w.r.t. its
        pre-activation (s(1-s) or 1-g^2), and ``F_o`` (T, B, H) = o * (1 - tanh(c)^2)."""
        H = tanh_c.shape[-1]
        D = np.empty_like(gates)
        s = gates[..., : 3 * H]
        np.subtract(1, s, out=D[..., : 3 * H])
        D[..., : 3 * H] *= s
        g = gates[..., 3 * H :]
        np.multiply(g, g, out=D[..., 3 * H :])
        np.subtract(1, D[..., 3 * H :], out=D[..., 3 * H :])
        F_o = tanh_c * tanh_c
        np.subtract(1, F_o, out=F_o)
        F_o *= gates[..., 2 * H : 3 * H]
        return D, F_o

    def backward_step(self, w, dh, dc, gates_t, c_prev, tanh_c, F_o, D_t, dZ_t, dh_prev, tmp):
        """One backward step over n rows.

        dh : (n, H) gradient w.r.t. h_t. dc : (n, H) gradient w.r.t. c_t from later steps;
        overwritten in place with the gradient w.r.t. c_{t-1}.
        dZ_t : (n, 4H) output, gradient w.r.t. the gate pre-activations (i, f, o, g).
        dh_prev : (n, H) output, gradient w.r.t. h_{t-1} through W_hh (may alias dh).
        """
        H = dh.shape[1]
        i, f, g = gates_t[:, :H], gates_t[:, H : 2 * H], gates_t[:, 3 * H :]
        np.multiply(dh, F_o, out=tmp)
        dc += tmp  # dc_t = dc_next + dh * o * tanh'(c)
        np.multiply(dh, tanh_c, out=dZ_t[:, 2 * H : 3 * H])  # d o
        np.multiply(dc, g, out=dZ_t[:, :H])  # d i
        np.multiply(dc, c_prev, out=dZ_t[:, H : 2 * H])  # d f
        np.multiply(dc, i, out=dZ_t[:, 3 * H :])  # d g
        dZ_t *= D_t
        dc *= f  # dc_{t-1}
        np.matmul(dZ_t, w.W_hh, out=dh_prev)

    # -- sequence adapters --------------------------------------------------------------------
    def allocate(self, A, h0, c0):
        """Buffers: ``A`` becomes the activated gates; ``H``, ``C`` (T+1, B, H) the states."""
        T, B, H4 = A.shape
        H = H4 // 4
        return {
            "A": A,
            "H": _state_buffer(T, h0),
            "C": _state_buffer(T, c0),
            "TC": np.zeros((T, B, H), dtype=A.dtype),
            "tmp": np.empty((B, H4), dtype=A.dtype),
        }

    def step(self, w, bufs, t, i_prev, i_out, n):
        H, C = bufs["H"], bufs["C"]
        self.forward_step(w, bufs["A"][t, :n], H[i_prev, :n], C[i_prev, :n], C[i_out, :n],
                          bufs["TC"][t, :n], H[i_out, :n], bufs["tmp"][:n])

    def start_backward(self, bufs, H_out, H_prev):
        D, F_o = self.backward_factors(bufs["A"], bufs["TC"])
        B, H = bufs["TC"].shape[1:]
        return {"D": D, "F_o": F_o, "dZ": np.zeros_like(bufs["A"]),
                "dc": np.zeros((B, H), dtype=D.dtype), "tmp": np.empty((B, H), dtype=D.dtype)}

    def step_backward(self, w, bufs, bwd, t, i_prev, n, dh):
        self.backward_step(w, dh, bwd["dc"][:n], bufs["A"][t, :n], bufs["C"][i_prev, :n],
                           bufs["TC"][t, :n], bwd["F_o"][t, :n], bwd["D"][t, :n],
                           bwd["dZ"][t, :n], dh, bwd["tmp"][:n])

    def preactivation_grads(self, bwd):
        return bwd["dZ"], bwd["dZ"]


class GRUCell:
    """Gated recurrent unit (PyTorch's equations)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h
    """

    name = "gru"
    n_gates = 3
    has_cell_state = False

    def gate_order(self, H):
        return np.arange(3 * H)

    def prepare(self, weight_ih, weight_hh, bias_ih, bias_hh):
        """Internal weights: r and z rows scaled by 1/2; b_hr, b_hz folded into the input bias.

        ``b_hn`` (H,) stays apart because it sits inside ``r * (W_hn h + b_hn)``.
        """
        H = weight_hh.shape[1]
        scale = np.ones(3 * H, dtype=weight_ih.dtype)
        scale[: 2 * H] = 0.5
        b = bias_ih.copy()
        b[: 2 * H] += bias_hh[: 2 * H]
        return SimpleNamespace(
            W_ihT=np.ascontiguousarray((weight_ih * scale[:, None]).T),
            W_hhT=np.ascontiguousarray((weight_hh * scale[:, None]).T),
            b=b * scale,
            b_hn=bias_hh[2 * H :],
            W_ih=weight_ih,
            W_hh=weight_hh,
        )

    def forward_step(self, w, a, h_prev, hn, h, tmp):
        """One step over n rows.

        a : (n, 3H) scaled input projection; overwritten with the activated gates (r, z, n).
        hn : (n, H) output, W_hn h_prev + b_hn (kept for the backward pass).
        h : (n, H) output. tmp : (n, 3H) scratch.
        """
        H = h.shape[1]
        np.matmul(h_prev, w.W_hhT, out=tmp)
        rz = a[:, : 2 * H]
        rz += tmp[:, : 2 * H]
        np.tanh(rz, out=rz)
        _sigmoid_from_tanh(rz)
        r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
        np.add(tmp[:, 2 * H :], w.b_hn, out=hn)
        r_hn = tmp[:, :H]
        np.multiply(r, hn, out=r_hn)
        n += r_hn
        np.tanh(n, out=n)
        np.subtract(h_prev, n, out=h)
        h *= z
        h += n

    def backward_factors(self, gates, hn, H_prev):
        """For all steps, (T, B, H) each: ``F_r`` = hn r(1-r), ``F_z`` = (h_prev - n) z(1-z),
        ``F_n`` = (1 - z)(1 - n^2)."""
        H = hn.shape[-1]
        r, z, n = gates[..., :H], gates[..., H : 2 * H], gates[..., 2 * H :]
        F_r = (1 - r) * r
        F_r *= hn
        F_z = (1 - z) * z
        F_z *= H_prev - n
        F_n = n * n
        np.subtract(1, F_n, out=F_n)
        F_n *= 1 - z
        return F_r, F_z, F_n

    def backward_step(self, w, dh, gates_t, F_r, F_z, F_n, dGh_t, dZn_t, dh_prev, tmp):
        """One backward step over n rows.

        dGh_t : (n, 3H) output, gradient w.r.t. (W_hr h + b_hr, W_hz h + b_hz, W_hn h + b_hn).
        dZn_t : (n, H) output, gradient w.r.t. the n gate's pre-activation.
        dh_prev : (n, H) output (may alias dh). tmp : (n, H) scratch.
        """
        H = dh.shape[1]
        r, z = gates_t[:, :H], gates_t[:, H : 2 * H]
        np.multiply(dh, F_n, out=dZn_t)
        np.multiply(dh, F_z, out=dGh_t[:, H : 2 * H])
        np.multiply(dZn_t, F_r, out=dGh_t[:, :H])
        np.multiply(dZn_t, r, out=dGh_t[:, 2 * H :])
        np.multiply(dh, z, out=tmp)
        np.matmul(dGh_t, w.W_hh, out=dh_prev)
        dh_prev += tmp

    # -- sequence adapters --------------------------------------------------------------------
    def allocate(self, A, h0, c0):
        """Buffers: ``A`` becomes the activated gates (r, z, n); ``HN`` (T, B, H) = W_hn h + b_hn."""
        T, B, H3 = A.shape
        return {
            "A": A,
            "H": _state_buffer(T, h0),
            "HN": np.zeros((T, B, H3 // 3), dtype=A.dtype),
            "tmp": np.empty((B, H3), dtype=A.dtype),
        }

    def step(self, w, bufs, t, i_prev, i_out, n):
        H = bufs["H"]
        self.forward_step(w, bufs["A"][t, :n], H[i_prev, :n], bufs["HN"][t, :n], H[i_out, :n],
                          bufs["tmp"][:n])

    def start_backward(self, bufs, H_out, H_prev):
        F_r, F_z, F_n = self.backward_factors(bufs["A"], bufs["HN"], H_prev)
        B, H = H_out.shape[1:]
        return {"F_r": F_r, "F_z": F_z, "F_n": F_n, "dGh": np.zeros_like(bufs["A"]),
                "dZn": np.zeros_like(H_out), "tmp": np.empty((B, H), dtype=H_out.dtype)}

    def step_backward(self, w, bufs, bwd, t, i_prev, n, dh):
        self.backward_step(w, dh, bufs["A"][t, :n], bwd["F_r"][t, :n], bwd["F_z"][t, :n],
                           bwd["F_n"][t, :n], bwd["dGh"][t, :n], bwd["dZn"][t, :n], dh,
                           bwd["tmp"][:n])

    def preactivation_grads(self, bwd):
        """The input pre-activation gradient equals dGh except in the n block (dZn)."""
        dGh = bwd["dGh"]
        H = bwd["dZn"].shape[-1]
        dZx = dGh.copy()
        dZx[..., 2 * H :] = bwd["dZn"]
        return dZx, dGh


def get_cell(cell, activation="tanh"):
    """The cell object for ``cell`` in {"rnn", "lstm", "gru"}."""
    if cell == "rnn":
        return RNNCell(activation)
    if cell == "lstm":
        return LSTMCell()
    if cell == "gru":
        return GRUCell()
    raise ValueError(f"cell must be 'rnn', 'lstm' or 'gru', got {cell!r}")
