"""Recurrent cells: vanilla RNN, LSTM and GRU with PyTorch's equations and weight layout.

Each cell owns four parameters per layer and direction, stored exactly as PyTorch stores them::

    weight_ih  (G*H, D)   input-to-hidden weights, the G gate blocks stacked
    weight_hh  (G*H, H)   hidden-to-hidden weights
    bias_ih    (G*H,)
    bias_hh    (G*H,)

with G = 1 (RNN), 4 (LSTM, gates i, f, g, o) or 3 (GRU, gates r, z, n).

A cell is a few pure functions over one time step of ``n`` active sequences:

* ``prepare(weight_ih, weight_hh, bias_ih, bias_hh, for_backward=True)`` returns the weights
  in the form the step functions use (inference skips those only the backward pass needs).
  Every sigmoid is computed as ``0.5 * tanh(x / 2) + 0.5`` with the 1/2 folded into a scaled
  copy of the gate weights, so one ``np.tanh`` call activates all sigmoid gates of a step (the
  LSTM keeps its gates in the order (o, i, f, g) so that they are one block).
* ``forward_steps(w, steps)`` advances the state step by step, writing into given output
  arrays; each item of ``steps`` holds the arguments of one step. Its recurrent GEMM comes bound
  (:func:`bind_gemm_accs`): the BLAS arguments of every step are prepared once per sequence,
  and the step only makes the call. (The loop over the steps is inside the cell: a Python call
  per step costs about as much as one of a small step's ufunc calls.)
* ``backward_factors(...)`` computes, for a chunk of steps at once, the elementwise factors the
  backward steps multiply by (vectorised over time instead of recomputed at every step).
* ``backward_steps(w, steps)`` propagates the gradient step by step and writes the gradient
  with respect to the gate pre-activations, from which the weight gradients are summed after
  the loop with one GEMM over all steps (see :mod:`skrnn.nn.recurrent`).

Layouts. The vanilla RNN keeps the time-major layout of the network: per step, arrays are
(n, H) ("BH"). The LSTM and GRU keep their per-step arrays transposed, (H, n) and (G*H, n)
("HB"): every gate block of a step is then one contiguous array, and the elementwise calls on
gate blocks run on contiguous memory (on (n, G*H) arrays a gate block is a strided view, which
numpy processes several times slower). The recurrent GEMMs are the same in both layouts.

Ufuncs in the step functions get their output array positionally (``np.multiply(a, b, out)``):
at small sizes a step is a few dozen calls on tiny arrays, and parsing an ``out=`` keyword is a
measurable part of each call. Scalars are numpy scalars of the computation's dtype for the same
reason (a Python float is converted at every call).

Below the step functions, each cell has a few adapters that own the buffers of one direction
over T steps and hand the step functions their per-step views and bound GEMMs, built once per
call by iterating over the buffers (cheaper than slicing inside every step). The time
loop, masking, direction and stacking live in :mod:`skrnn.nn.recurrent`; nothing here knows
about them. Shapes use ``n`` for active sequences, ``H`` for the hidden size, ``D`` for the
input size, ``K`` for a chunk of steps.
"""

from functools import lru_cache, partial
from types import SimpleNamespace

import numpy as np
from scipy.linalg.blas import dgemm, sgemm

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "get_cell", "bind_gemm_acc", "bind_gemm_accs"]

_GEMM = {np.dtype(np.float32): sgemm, np.dtype(np.float64): dgemm}
# Per-step products (n, H) @ (H, H) of at least this many multiply-adds go through numpy's
# matmul (see RNNCell._bind).
_MATMUL_MIN_SIZE = 1 << 21


def _blas_operand(x):
    """``(y, trans)`` such that BLAS reads ``op(y) = x`` (y transposed if ``trans``) without a
    copy when x is C- or Fortran-contiguous (scipy copies other operands at every call)."""
    if x.flags.f_contiguous:
        return x, 0
    if x.flags.c_contiguous:
        return x.T, 1
    return x, 0


def _add_product(out, a, b):
    out += a @ b


def bind_gemm_accs(outs, a, b):
    """Per step k, a callable without arguments doing ``outs[k] += a_k @ b_k`` in place, its
    operands read at each call; None where ``outs[k]`` is None.

    outs : list of (m, n) arrays or None. a, b : one (m, k) / (k, n) array used by every step,
    or a list with one per step.

    For a C-contiguous float32/float64 output the call is one BLAS gemm with beta = 1, its
    arguments prepared here once: a time loop binds the GEMMs of all its steps before the
    loop and pays only the BLAS calls inside it. (scipy's gemm works on Fortran-ordered arrays,
    so it computes the transposed product ``out.T += b.T @ a.T``, which reads and writes the
    same memory; a weight matrix is passed with a transpose flag rather than copied, and scipy
    copies per-step operands that are not contiguous.) Other outputs fall back to
    ``out += a @ b``.
    """
    n = len(outs)
    a_list = a if isinstance(a, list) else [a] * n
    b_list = b if isinstance(b, list) else [b] * n
    dtype = next((o.dtype for o in outs if o is not None), None)
    gemm = _GEMM.get(dtype)
    if gemm is None:
        return [None if o is None else partial(_add_product, o, x, y)
                for o, x, y in zip(outs, a_list, b_list)]
    bound = []
    if isinstance(a, list):  # per-step left operands, one weight matrix on the right
        b_t, trans_b = _blas_operand(b.T)
        for o, x in zip(outs, a):
            bound.append(None if o is None else
                         partial(gemm, 1.0, b_t, x.T, 1.0, o.T, trans_b, 0, 1)
                         if o.flags.c_contiguous else partial(_add_product, o, x, b))
    elif isinstance(b, list):  # one weight matrix on the left, per-step right operands
        a_t, trans_a = _blas_operand(a.T)
        for o, y in zip(outs, b):
            bound.append(None if o is None else
                         partial(gemm, 1.0, y.T, a_t, 1.0, o.T, 0, trans_a, 1)
                         if o.flags.c_contiguous else partial(_add_product, o, a, y))
    else:
        b_t, trans_b = _blas_operand(b.T)
        a_t, trans_a = _blas_operand(a.T)
        for o in outs:
            bound.append(None if o is None else
                         partial(gemm, 1.0, b_t, a_t, 1.0, o.T, trans_b, trans_a, 1)
                         if o.flags.c_contiguous else partial(_add_product, o, a, b))
    return bound


def _matmul_add(out, a, b, tmp):
    np.matmul(a, b, out=tmp)
    np.add(out, tmp, out)


def bind_matmul_adds(outs, a, b, scratch):
    """Like :func:`bind_gemm_accs` for per-step left operands ``a`` and one matrix ``b``, as
    numpy's matmul into ``scratch`` followed by an addition: one call more per step, but on
    the benchmark machine numpy's BLAS computes (32 x 256) @ (256 x 256) in 50 us where
    scipy's gemm with beta = 1 takes 58 us. ``scratch`` has at least as many rows as any output.
    """
    return [None if o is None else partial(_matmul_add, o, x, b, scratch[: len(o)])
            for o, x in zip(outs, a)]


def bind_gemm_acc(out, a, b):
    """A callable without arguments doing ``out += a @ b`` in place (:func:`bind_gemm_accs`).

    Examples
    --------
    >>> import numpy as np
    >>> out, a, b = np.zeros((2, 2)), np.eye(2), np.ones((2, 2))
    >>> accumulate = bind_gemm_acc(out, a, b)
    >>> a[0, 0] = 3.0  # operands are read when the call runs
    >>> _ = accumulate()
    >>> out
    array([[3., 3.],
           [1., 1.]])
    """
    return bind_gemm_accs([out], a, b)[0]


def _gate_permutation(order, H):
    """Row indices that reorder G stacked gate blocks of height H into ``order``."""
    return np.concatenate([np.arange(k * H, (k + 1) * H) for k in order])


def _scaled(weight, n_sigmoid_rows, order=None, empty=np.empty):
    """``weight`` (G*H, D) with its G gate blocks reordered into ``order`` (if given) and its
    first ``n_sigmoid_rows`` rows (the sigmoid gates) halved, in a buffer from
    ``empty(shape, dtype)``.

    One pass over the weights, one call per run of rows (:func:`_row_runs`): a row gather with
    ``np.take`` and a separate scaling pass took 2.4x as long at H=256.
    """
    out = empty(weight.shape, weight.dtype)
    half = weight.dtype.type(0.5)
    for dst, src, n, halved in _row_runs(weight.shape[0], tuple(order or (0,)), n_sigmoid_rows):
        if halved:
            np.multiply(weight[src : src + n], half, out=out[dst : dst + n])
        else:
            np.copyto(out[dst : dst + n], weight[src : src + n])
    return out


@lru_cache(maxsize=256)
def _row_runs(rows, order, n_halved):
    """(out row, weight row, rows, halved) of the runs of rows that :func:`_scaled` copies with
    one call each: rows contiguous in both arrays and halved alike (3 runs for the LSTM)."""
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


def _permuted(weight, order, empty):
    """``weight`` (G*H, D) with its gate blocks reordered into ``order``, in a buffer from
    ``empty(shape, dtype)``."""
    return _scaled(weight, 0, order, empty)


def _transposed(weight, empty, order=None):
    """A C-contiguous copy of ``weight.T`` in a buffer from ``empty(shape, dtype)``, with the
    gate blocks of ``weight`` (G*H, D) reordered into ``order`` if given.

    BLAS reads a weight matrix given with a transpose flag up to 1.6x slower at some per-step
    shapes (OpenBLAS, float32) than the same matrix stored transposed.
    """
    out = empty(weight.shape[::-1], weight.dtype)
    for dst, src, n, _ in _row_runs(weight.shape[0], tuple(order or (0,)), 0):
        np.copyto(out[:, dst : dst + n], weight[src : src + n].T)
    return out


def _constants(dtype):
    """Scalars of the computation's dtype (a Python float is converted at every call)."""
    return {"zero": dtype.type(0), "half": dtype.type(0.5)}


def last_slot(L, slots):
    """The state slot a sequence of length L >= 1 ends in, out of ``slots``: L when there
    are T+1 slots, one per step; else the states move through a ring of ``slots - 1`` steps
    at a time (see :mod:`skrnn.nn.recurrent`) and the step L-1 writes slot (L-1) % (slots-1)+1.
    A reverse direction over T steps starts from this slot for L = T."""
    return (L - 1) % (slots - 1) + 1


def _states(T, s0, ws, reverse, padded, slots=None):
    """State buffer (slots, H, B), by default T+1 slots, from ``ws``, set up by
    :func:`init_states`."""
    B, H = s0.shape
    slots = T + 1 if slots is None else slots
    return init_states(ws.empty((slots, H, B), s0.dtype), T, s0, reverse, padded)


def init_states(S, T, s0, reverse, padded):
    """Writes the initial state s0 (B, H) into slot 0 of the state buffer S (slots, H, B) and
    zeros wherever no step writes: everywhere but slot 0 if some sequences are padded, the slot
    a reverse direction starts from (:func:`last_slot`), else nowhere (every step writes every
    column). Returns S."""
    if padded:
        S[...] = 0
    if s0.any():
        S[0] = s0.T
    else:  # states most often start at zero, and a transposing copy is slow (~1 ns/element)
        S[0] = 0
    if reverse and not padded and T:
        S[last_slot(T, len(S))] = 0
    return S


def _gate_blocks(a, k):
    """View of ``a`` (K, k*H, B) as (K, k, H, B): k gate blocks per step."""
    K, kH, B = a.shape
    return a.reshape(K, k, kH // k, B)


def _time_major(S, ws):
    """The states S (T+1, H, B) copied to a (T+1, B, H) array from ``ws``."""
    shape = (S.shape[0], S.shape[2], S.shape[1])
    out = ws.empty(shape, S.dtype)
    np.copyto(out, S.transpose(0, 2, 1))
    return out


def _step_major(dH, ws):
    """The gradients dH (T, B, H) copied to a (T, H, B) array from ``ws`` ("HB" layout)."""
    T, B, H = dH.shape
    out = ws.empty((T, H, B), dH.dtype)
    np.copyto(out, dH.transpose(0, 2, 1))
    return out


def _cols(a, n):
    """The first n columns of an "HB" array (``a`` itself when that is all of them)."""
    return a if a.shape[-1] == n else a[..., :n]


def _cols_per_step(a, ns):
    """``[_cols(a, n) for n in ns]``: one scratch array for every step, its first n columns.
    ``ns`` is monotonic (sequences sorted by length)."""
    if ns and min(ns[0], ns[-1]) == a.shape[-1]:
        return [a] * len(ns)
    return [_cols(a, n) for n in ns]


def _steps(a, index):
    """``a[t]`` for t in index (None where t is out of range), made by iterating over the part
    of ``a`` the index spans. ``index`` lists consecutive steps, forward or backward."""
    if not index:
        return []
    first, last = index[0], index[-1]
    lo, hi = min(first, last), max(first, last) + 1
    if 0 <= lo and hi <= len(a):
        views = list(a[lo:hi])
        if first > last:
            views.reverse()
        return views
    views = list(a[max(lo, 0) : min(hi, len(a))])
    lo = max(lo, 0)
    return [views[t - lo] if 0 <= t - lo < len(views) else None for t in index]


def _hb_views(a, index, ns):
    """Per-step views ``a[t][..., :n]`` for t, n in zip(index, ns) ("HB"); None where n = 0.
    ``ns`` is monotonic (sequences sorted by length)."""
    full = a.shape[-1]
    if ns and min(ns[0], ns[-1]) == full:
        return _steps(a, index)
    return [v if n == full else v[..., :n] if n else None
            for v, n in zip(_steps(a, index), ns)]


def _bh_views(a, index, ns):
    """Per-step views ``a[t, :n]`` for t, n in zip(index, ns) ("BH"); None where n = 0.
    ``ns`` is monotonic (sequences sorted by length)."""
    full = a.shape[1]
    if ns and min(ns[0], ns[-1]) == full:
        return _steps(a, index)
    return [v if n == full else v[:n] if n else None for v, n in zip(_steps(a, index), ns)]


class RNNCell:
    """Elman RNN cell: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)`` with act = tanh or relu.

    Layout "BH": per step, arrays are (n, H). The input projection is written into the state
    buffer itself, where each step adds the recurrent term and activates in place.

    Parameters
    ----------
    activation : {"tanh", "relu"}
    """

    n_gates = 1
    has_cell_state = False
    layout = "BH"
    private = ()  # buffers that are free once the backward pass is done
    inference_scratch = ()  # buffers that are free after an inference forward pass

    def __init__(self, activation="tanh"):
        if activation not in ("tanh", "relu"):
            raise ValueError(f"activation must be 'tanh' or 'relu', got {activation!r}")
        self.activation = activation
        self.name = f"rnn_{activation}"

    def prepare(self, weight_ih, weight_hh, bias_ih, bias_hh, for_backward=True,
                empty=np.empty):
        """Weights for the step functions: ``W_ih`` (H, D), ``b`` (H,) for the input projection,
        ``W_hhT`` (H, H) = W_hh^T (a copy in a buffer from ``empty(shape, dtype)``) for the
        forward steps, ``W_hh`` (H, H) for the backward steps."""
        return SimpleNamespace(W_ih=weight_ih, b=bias_ih + bias_hh, W_hh=weight_hh,
                               W_hhT=_transposed(weight_hh, empty),
                               **_constants(weight_ih.dtype))

    def gate_order(self, H):
        return np.arange(H)

    def forward_steps(self, w, steps):
        """Steps in order; each item of ``steps`` is one step's ``(recurrent, h)``.

        h : (n, H) holds the input projection; ``recurrent()`` adds ``h_prev W_hh^T``
        (:func:`bind_gemm_acc`), h_prev (n, H) being the previous state, and h is overwritten
        with its activation act(h).
        """
        if self.activation == "tanh":
            tanh = np.tanh
            for recurrent, h in steps:
                recurrent()
                tanh(h, h)
        else:
            maximum, zero = np.maximum, w.zero
            for recurrent, h in steps:
                recurrent()
                maximum(h, zero, out=h)  # (np.maximum deprecates a positional out)

    def backward_factors(self, h, D):
        """For a chunk of steps: D = d act / d pre-activation, from the outputs h (K, B, H)."""
        if self.activation == "tanh":
            np.multiply(h, h, out=D)
            np.subtract(1, D, out=D)
        else:
            np.greater(h, 0, out=D)

    def backward_steps(self, w, steps):
        """Backward steps in order; each item of ``steps`` is one step's ``(dh, D, recurrent)``.

        dh : (n, H) gradient w.r.t. h_t; overwritten with dZ = dh * act', the gradient w.r.t.
        the pre-activation. recurrent : None, or a callable doing ``dh_prev += dZ[:m] W_hh``
        (:func:`bind_gemm_acc`), dh_prev (m, H) being the gradient w.r.t. h_{t-1} of the
        m <= n sequences that have a previous step.
        """
        multiply = np.multiply
        for dh, D, recurrent in steps:
            multiply(dh, D, dh)
            if recurrent is not None:
                recurrent()

    # -- sequence adapters: the buffers of one direction over T steps ---------------------------
    # ``ws`` is the workspace (:class:`skrnn.nn.recurrent.Workspace`) buffers come from (the
    # states ``H`` too: the backward pass gives them back at its end, the network after an
    # inference pass), ``keep`` says whether a backward pass follows, ``padded`` whether some
    # sequence is shorter than T. A cell with ``chunked = True`` is also given ``chunk``, the
    # number of steps its projection buffer holds, and ``slots``, the number of slots of its
    # state buffers ``states`` (T and T+1 unless inference asks for fewer, see
    # skrnn.nn.recurrent._ring_sizes); the columns of ``steps`` then index those slots.
    # ``outputs`` says whether the network reads the states of every step or only the final
    # ones.
    # ``steps`` holds the columns (t, i_prev, i_out, n) forward and (t, t_prev, n, m)
    # backward, see :mod:`skrnn.nn.recurrent`.
    def allocate(self, w, T, h0, c0, ws, keep, reverse, padded, chunk=None, slots=None):
        """Buffers for T steps: ``H`` (T+1, B, H) holds the states (one slot for h0). The input
        projection (``proj``, zero at padded steps) goes into the T slots the steps write, so
        ``H`` is zero wherever no step writes."""
        H = ws.empty((T + 1,) + h0.shape, h0.dtype)
        if reverse:
            H[T] = 0
            return {"H": H, "proj": H[:T]}
        H[0] = h0
        return {"H": H, "proj": H[1:]}

    def forward_args(self, w, bufs, steps):
        t, i_prev, i_out, n = steps
        H = bufs["H"]
        h = _bh_views(H, i_out, n)
        return zip(self._bind(h, _bh_views(H, i_prev, n), w.W_hhT, bufs), h)

    @staticmethod
    def _bind(outs, a, W, bufs):
        """Per step, ``outs[k] += a[k] @ W`` (n, H) += (n, H) @ (H, H): one BLAS call, or for
        large products numpy's faster matmul and an addition (:func:`bind_matmul_adds`)."""
        B, H = bufs["H"].shape[1:]
        if B * H * H < _MATMUL_MIN_SIZE:
            return bind_gemm_accs(outs, a, W)
        if "scratch" not in bufs:
            bufs["scratch"] = np.empty((B, H), W.dtype)
        return bind_matmul_adds(outs, a, W, bufs["scratch"])

    def finish_forward(self, bufs, ws, keep, outputs=True):
        pass

    def start_backward(self, bufs, dH, chunk, ws):
        """Backward state. ``dH`` (T, B, H) is taken over: it accumulates the gradient w.r.t.
        each h_t and is overwritten, step by step, with dZ (zero where padded)."""
        B, H = dH.shape[1:]
        return {"dZ": dH, "D": ws.empty((chunk, B, H), dH.dtype)}

    def factors(self, bufs, bwd, lo, hi, reverse):
        H_out = bufs["H"][lo:hi] if reverse else bufs["H"][lo + 1 : hi + 1]
        self.backward_factors(H_out, bwd["D"][: hi - lo])

    def backward_args(self, w, bufs, bwd, steps, lo):
        t, t_prev, n, m = steps
        dZ = _bh_views(bwd["dZ"], t, n)
        recurrent = self._bind(_bh_views(bwd["dZ"], t_prev, m), _bh_views(bwd["dZ"], t, m),
                               w.W_hh, bufs)
        return zip(dZ, _bh_views(bwd["D"], [k - lo for k in t], n), recurrent)

    def clear_padding(self, bufs, bwd, n_active, lo, hi):
        pass  # dZ is dH, zero where padded, and steps write only their active rows

    def preactivation_grads(self, bufs, bwd, ws, lo, hi):
        """Gradients w.r.t. the input and the recurrent pre-activations of steps lo..hi-1,
        (G*H, (hi-lo)*B) each, and the scratch arrays to give back to ``ws`` after use."""
        dZ = bwd["dZ"][lo:hi]
        Z = dZ.reshape(-1, dZ.shape[2]).T
        return Z, Z, ()


class LSTMCell:
    """Long short-term memory cell, with PyTorch's equations.

    ::

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)
        f = sigmoid(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)
        o = sigmoid(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g
        h' = o * tanh(c')

    Layout "HB": per step, states are (H, n) and gates (4H, n), in the internal order
    (o, i, f, g): the sigmoid gates (o, i, f) are one block for the forward step, and the gates
    whose gradient is a multiple of dc (i, f, g) are one block for the backward step.

    The cell states live next to the gates, in one buffer ``Z`` of rows (5H, B): the forward
    direction's rows are (o, i, f, g, c) and the reverse direction's (c, o, i, f, g), with row t
    holding the gates of step t and cell-state slot t. Either way the g gate of a step is
    followed in memory by the cell state that step reads, so that the forward step computes
    ``f * c_prev`` and ``i * g`` as one product of the adjacent blocks [i; f] and [g; c_prev],
    one ufunc call fewer per step.
    """

    name = "lstm"
    n_gates = 4
    has_cell_state = True
    layout = "HB"
    chunked = True  # supports a projection of a few steps at a time and a ring of states
    states = ("HS", "CS")
    private = ("Z", "TC", "pair")  # "A" and "CS" are views of Z
    inference_scratch = ("TC", "pair")  # not Z: the cell states "C" are a view of it
    _order = (3, 0, 1, 2)  # PyTorch (i, f, g, o) -> internal (o, i, f, g)

    def gate_order(self, H):
        """Row permutation from PyTorch's gate order to the internal (o, i, f, g) order."""
        return _gate_permutation(self._order, H)

    def prepare(self, weight_ih, weight_hh, bias_ih, bias_hh, for_backward=True,
                empty=np.empty):
        """Internal weights: gates reordered to (o, i, f, g), sigmoid rows scaled by 1/2.

        ``W_ih_s`` (4H, D), ``b_s`` (4H,) and ``W_hh_s`` (4H, H) are scaled, for the forward
        pass; ``W_ih`` (4H, D) and ``W_hhT`` (H, 4H) = W_hh^T are unscaled, for the backward
        pass (only if ``for_backward``). Matrices are written into buffers from
        ``empty(shape, dtype)``.
        """
        H = weight_hh.shape[1]
        perm = self.gate_order(H)
        b_s = (bias_ih + bias_hh)[perm]
        b_s[: 3 * H] *= b_s.dtype.type(0.5)
        w = SimpleNamespace(W_ih_s=_scaled(weight_ih, 3 * H, self._order, empty), b_s=b_s,
                            W_hh_s=_scaled(weight_hh, 3 * H, self._order, empty),
                            **_constants(weight_ih.dtype))
        if for_backward:
            w.W_ih = _permuted(weight_ih, self._order, empty)
            w.W_hhT = _transposed(weight_hh, empty, self._order)
        return w

    def forward_steps(self, w, steps):
        """Steps over n sequences (columns), in order; each item of ``steps`` is one step's
        ``(recurrent, a, sig, o, i_f, g_c, pair, ig, fc, c, tanh_c, h)``:

        recurrent : callable doing ``a += W_hh_s h_prev`` (:func:`bind_gemm_acc`), h_prev
        (H, n) being the previous state.
        a : (4H, n) scaled input projection; overwritten with the activated gates.
        sig, o, i_f : views of a: its sigmoid rows ``a[:3H]``, its o block (H, n) and its
        [i; f] blocks (2H, n).
        g_c : (2H, n), the g block of a followed by the previous cell state c_prev.
        pair : (2H, n) scratch for [i * g; f * c_prev]; ig, fc : (H, n) its halves.
        c, tanh_c, h : (H, n) outputs.
        """
        tanh, multiply, add, half = np.tanh, np.multiply, np.add, w.half
        for recurrent, a, sig, o, i_f, g_c, pair, ig, fc, c, tanh_c, h in steps:
            recurrent()
            tanh(a, a)
            multiply(sig, half, sig)  # sigmoid(x) = tanh(x/2)/2 + 1/2, x/2 from the weights
            add(sig, half, sig)
            multiply(i_f, g_c, pair)
            add(fc, ig, c)  # c = f * c_prev + i * g
            tanh(c, tanh_c)
            multiply(o, tanh_c, h)

    def backward_factors(self, gates, c_prev, tanh_c, P, F):
        """For a chunk of steps, from the activated gates (K, 4H, B) and c_prev, tanh_c
        (K, H, B), writes the factors of the gate gradients::

            P (K, 4H, B) = (tanh_c o(1-o), g i(1-i), c_prev f(1-f), i (1-g^2))
            F (K, 2H, B) = (o (1 - tanh_c^2), f)

        so that dZ = (dh P_o, dc P_i, dc P_f, dc P_g) and dc_t = dc_{t+1} f_{t+1} + dh F_o.
        (f is copied because the gradients overwrite the gates.)
        """
        H = tanh_c.shape[1]
        o, i, g = gates[:, :H], gates[:, H : 2 * H], gates[:, 3 * H :]
        s, P_s = gates[:, : 3 * H], P[:, : 3 * H]
        np.subtract(1, s, out=P_s)
        P_s *= s
        P[:, :H] *= tanh_c
        P[:, H : 2 * H] *= g
        P[:, 2 * H : 3 * H] *= c_prev
        P_g = P[:, 3 * H :]
        np.multiply(g, g, out=P_g)
        np.subtract(1, P_g, out=P_g)
        P_g *= i
        F_o = F[:, :H]
        np.multiply(tanh_c, tanh_c, out=F_o)
        np.subtract(1, F_o, out=F_o)
        F_o *= o
        F[:, H:] = gates[:, 2 * H : 3 * H]

    def backward_steps(self, w, steps):
        """Backward steps over n sequences (columns), in order; each item of ``steps`` is one
        step's ``(dh, dc, f, P_o, P_ifg, F_o, dZ_o, dZ_ifg, recurrent, tmp)``:

        dh : (H, n) gradient w.r.t. h_t. dc : (H, n) gradient w.r.t. c_t from later steps;
        overwritten in place with the gradient w.r.t. c_{t-1}. f : (H, n) forget gate.
        P_o (H, n), P_ifg (3, H, n), F_o (H, n): factors (:meth:`backward_factors`).
        dZ_o (H, n), dZ_ifg (3, H, n): outputs, the gradient w.r.t. the gate pre-activations
        (o and i, f, g: the blocks of one (4H, n) array dZ).
        recurrent : None, or a callable doing ``dh_prev += (W_hh^T dZ)[:, :m]``
        (:func:`bind_gemm_acc`), dh_prev (H, m) being the gradient w.r.t. h_{t-1} of the
        m <= n sequences that have a previous step.
        tmp : (H, n) scratch.
        """
        multiply, add = np.multiply, np.add
        for dh, dc, f, P_o, P_ifg, F_o, dZ_o, dZ_ifg, recurrent, tmp in steps:
            multiply(dh, F_o, tmp)
            add(dc, tmp, dc)  # dc_t = dc_{t+1} f_{t+1} + dh o tanh'(c)
            multiply(dh, P_o, dZ_o)
            multiply(dc, P_ifg, dZ_ifg)
            multiply(dc, f, dc)  # dc_{t-1}
            if recurrent is not None:
                recurrent()

    # -- sequence adapters --------------------------------------------------------------------
    def allocate(self, w, T, h0, c0, ws, keep, reverse, padded, chunk=None, slots=None):
        """Buffers: ``Z`` (chunk+1, 5H, B) holds the gates ``A`` (chunk, 4H, B), which receive
        the input projection (``proj``) and become the activated gates, and the cell states
        ``CS`` (chunk+1, H, B), a ring unless chunk = T (see the class docstring); ``G_C``
        (chunk, 2H, B) views the g gate of each step with the cell state it reads and ``C_out``
        (chunk, H, B) the slot each step writes. ``HS`` (slots, H, B) holds the states and
        ``TC`` (T, H, B) tanh(c) (one step's worth unless ``keep``). State buffers are zero
        wherever no step writes. By default chunk = T and slots = T+1."""
        B, H = h0.shape
        dt = h0.dtype
        chunk, slots = T if chunk is None else chunk, T + 1 if slots is None else slots
        Z = ws.empty((chunk + 1, 5 * H, B), dt)
        g0, c_row = (H, 0) if reverse else (0, 4 * H)  # first rows of the gates, of c
        A, CS = Z[:, g0 : g0 + 4 * H], Z[:, c_row : c_row + H]
        init_states(CS, T, c0, reverse, padded)
        g = g0 + 3 * H  # [g; c_prev] of step t: rows g..g+2H of Z[t] and what follows it
        G_C = Z.reshape(-1, B)[g : g + chunk * 5 * H].reshape(chunk, 5 * H, B)[:, : 2 * H]
        TC = ws.zeros((T, H, B), dt) if keep and padded else ws.empty((T if keep else 1, H, B),
                                                                       dt)
        return {"Z": Z, "A": A[:chunk], "CS": CS, "G_C": G_C,
                "C_out": CS[:chunk] if reverse else CS[1:],
                "HS": _states(T, h0, ws, reverse, padded, slots), "TC": TC, "proj": A[:chunk],
                "pair": ws.empty((2 * H, B), dt)}

    def forward_args(self, w, bufs, steps):
        t, i_prev, i_out, n = steps
        A, HS, TC, pair = bufs["A"], bufs["HS"], bufs["TC"], bufs["pair"]
        H = HS.shape[1]
        a = _hb_views(A, t, n)
        recurrent = bind_gemm_accs(a, w.W_hh_s, _hb_views(HS, i_prev, n))
        tc = _hb_views(TC, t, n) if len(TC) > 1 else _cols_per_step(TC[0], n)
        ig, fc = pair[:H], pair[H:]
        return zip(recurrent, a, _hb_views(A[:, : 3 * H], t, n), _hb_views(A[:, :H], t, n),
                   _hb_views(A[:, H : 3 * H], t, n), _hb_views(bufs["G_C"], t, n),
                   _cols_per_step(pair, n), _cols_per_step(ig, n),
                   _cols_per_step(fc, n), _hb_views(bufs["C_out"], t, n), tc,
                   _hb_views(HS, i_out, n))

    def finish_forward(self, bufs, ws, keep, outputs=True):
        """Time-major states for the network: ``H`` (T+1, B, H) a copy, ``C`` a view; without
        ``outputs``, both are views (of which only the final states are read)."""
        bufs["C"] = bufs["CS"].transpose(0, 2, 1)
        if not outputs:
            bufs["H"] = bufs["HS"].transpose(0, 2, 1)  # "HS" stays, to be given back with bufs
            return
        HS = bufs.pop("HS")
        bufs["H"] = _time_major(HS, ws)
        ws.give(HS)

    def start_backward(self, bufs, dH, chunk, ws):
        """Backward state; the gradients dZ overwrite the gates ``A`` step by step."""
        T, B, H = dH.shape
        dt = dH.dtype
        return {"dH": _step_major(dH, ws), "P": ws.empty((chunk, 4 * H, B), dt),
                "F": ws.empty((chunk, 2 * H, B), dt), "dc": ws.zeros((H, B), dt),
                "tmp": ws.empty((H, B), dt)}

    def factors(self, bufs, bwd, lo, hi, reverse):
        CS = bufs["CS"]
        c_prev = CS[lo + 1 : hi + 1] if reverse else CS[lo:hi]
        self.backward_factors(bufs["A"][lo:hi], c_prev, bufs["TC"][lo:hi],
                              bwd["P"][: hi - lo], bwd["F"][: hi - lo])

    def backward_args(self, w, bufs, bwd, steps, lo):
        t, t_prev, n, m = steps
        k = [i - lo for i in t]
        A, dH, F, P = bufs["A"], bwd["dH"], bwd["F"], bwd["P"]
        H = dH.shape[1]
        recurrent = bind_gemm_accs(_hb_views(dH, t_prev, m), w.W_hhT, _hb_views(A, t, m))
        return zip(_hb_views(dH, t, n), _cols_per_step(bwd["dc"], n),
                   _hb_views(F[:, H:], k, n), _hb_views(P[:, :H], k, n),
                   _hb_views(_gate_blocks(P[:, H:], 3), k, n), _hb_views(F[:, :H], k, n),
                   _hb_views(A[:, :H], t, n), _hb_views(_gate_blocks(A[:, H:], 3), t, n),
                   recurrent, _cols_per_step(bwd["tmp"], n))

    def clear_padding(self, bufs, bwd, n_active, lo, hi):
        """Zero gradients at padded steps (where the gates of A were never overwritten)."""
        A = bufs["A"]
        for t in range(lo, hi):
            if n_active[t] < A.shape[2]:
                A[t, :, n_active[t] :] = 0

    def preactivation_grads(self, bufs, bwd, ws, lo, hi):
        """Gradients w.r.t. the input and the recurrent pre-activations of steps lo..hi-1,
        (4H, (hi-lo)*B) each (a copy in ``ws``, returned as scratch too)."""
        A = bufs["A"][lo:hi]
        K, H4, B = A.shape
        Z = ws.empty((H4, K, B), A.dtype)
        np.copyto(Z, A.transpose(1, 0, 2))
        Zm = Z.reshape(H4, K * B)
        return Zm, Zm, (Z,)


class GRUCell:
    """Gated recurrent unit, with PyTorch's equations.

    ::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    Layout "HB": per step, states are (H, n) and gates (3H, n) in the order (r, z, n).
    """

    name = "gru"
    n_gates = 3
    has_cell_state = False
    layout = "HB"
    private = ("A", "HS", "HN", "tmp")
    inference_scratch = private

    def gate_order(self, H):
        return np.arange(3 * H)

    def prepare(self, weight_ih, weight_hh, bias_ih, bias_hh, for_backward=True,
                empty=np.empty):
        """Internal weights: r and z rows scaled by 1/2; b_hr, b_hz folded into the input bias.

        ``W_ih_s`` (3H, D), ``b_s`` (3H,), ``W_hrz_s`` (2H, H) scaled, ``W_hn`` (H, H) and
        ``b_hn`` (H,) (it sits inside ``r * (W_hn h + b_hn)``) for the forward pass;
        ``W_ih`` (3H, D) and ``W_hhT`` (H, 3H) = W_hh^T, unscaled, for the backward pass (only if
        ``for_backward``). Copies are written into buffers from ``empty(shape, dtype)``.
        """
        H = weight_hh.shape[1]
        b_s = bias_ih.copy()
        b_s[: 2 * H] += bias_hh[: 2 * H]
        b_s[: 2 * H] *= b_s.dtype.type(0.5)
        w = SimpleNamespace(
            W_ih_s=_scaled(weight_ih, 2 * H, empty=empty), b_s=b_s,
            W_hrz_s=_scaled(weight_hh[: 2 * H], 2 * H, empty=empty),
            W_hn=weight_hh[2 * H :],
            b_hn=bias_hh[2 * H :],
            **_constants(weight_ih.dtype),
        )
        if for_backward:
            w.W_ih, w.W_hhT = weight_ih, _transposed(weight_hh, empty)
        return w

    def forward_steps(self, w, steps):
        """Steps over n sequences (columns), in order; each item of ``steps`` is one step's
        ``(recurrent_rz, recurrent_n, rz, r, z, n, h_prev, hn, h, tmp)``:

        recurrent_rz, recurrent_n : callables doing ``rz += W_hrz_s h_prev`` and
        ``hn += W_hn h_prev`` (:func:`bind_gemm_acc`).
        rz : (2H, n) and n : (H, n), the blocks of the scaled input projection a (3H, n),
        overwritten with the activated gates; r, z : (H, n) the blocks of rz.
        h_prev : (H, n) previous state.
        hn : (H, n) holds b_hn on entry; overwritten with W_hn h_prev + b_hn (kept for the
        backward pass). h : (H, n) output. tmp : (H, n) scratch.
        """
        tanh, multiply, add, subtract, half = np.tanh, np.multiply, np.add, np.subtract, w.half
        for recurrent_rz, recurrent_n, rz, r, z, n, h_prev, hn, h, tmp in steps:
            recurrent_rz()
            recurrent_n()
            tanh(rz, rz)
            multiply(rz, half, rz)  # sigmoid(x) = tanh(x/2)/2 + 1/2, x/2 from the weights
            add(rz, half, rz)
            multiply(r, hn, tmp)
            add(n, tmp, n)
            tanh(n, n)
            subtract(h_prev, n, h)
            multiply(h, z, h)
            add(h, n, h)

    def backward_factors(self, gates, hn, h_prev, Q, F_n):
        """For a chunk of steps, from the activated gates (K, 3H, B), hn and h_prev (K, H, B),
        writes the factors of the gate gradients::

            F_n (K, H, B) = (1 - z)(1 - n^2)                 d n-preactivation = dh F_n
            Q (K, 3H, B) = (F_n hn r(1-r), (h_prev - n) z(1-z), F_n r)

        so that the gradient w.r.t. (W_hr h + b_hr, W_hz h + b_hz, W_hn h + b_hn) is dh Q.
        """
        H = hn.shape[1]
        r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
        rz, Q_rz = gates[:, : 2 * H], Q[:, : 2 * H]
        Q_r, Q_z, Q_n = Q[:, :H], Q[:, H : 2 * H], Q[:, 2 * H :]
        np.subtract(1, rz, out=Q_rz)
        Q_rz *= rz
        np.multiply(n, n, out=F_n)
        np.subtract(1, F_n, out=F_n)
        np.subtract(1, z, out=Q_n)  # Q_n as scratch
        F_n *= Q_n
        Q_r *= hn
        Q_r *= F_n
        np.subtract(h_prev, n, out=Q_n)
        Q_z *= Q_n
        np.multiply(F_n, r, out=Q_n)

    def backward_steps(self, w, steps):
        """Backward steps over n sequences (columns), in order; each item of ``steps`` is one
        step's ``(dh, Q, F_n, dGh, dZn, dh_m, z_m, dh_prev, recurrent, tmp)``:

        dh : (H, n) gradient w.r.t. h_t. Q : (3, H, n) and F_n : (H, n) factors
        (:meth:`backward_factors`).
        dGh : (3, H, n) output, gradient w.r.t. (W_hr h + b_hr, W_hz h + b_hz, W_hn h + b_hn).
        dZn : (H, n) output, gradient w.r.t. the n gate's input pre-activation W_in x + b_in.
        dh_m, z_m : (H, m), the columns of dh and of the update gate of the m <= n sequences
        that have a previous step; dh_prev : (H, m) their gradient w.r.t. h_{t-1}, or None
        (m = 0). ``dh_prev += dh z + W_hh^T dGh``, the GEMM by ``recurrent()``
        (:func:`bind_gemm_acc`). tmp : (H, m) scratch.
        """
        multiply, add = np.multiply, np.add
        for dh, Q, F_n, dGh, dZn, dh_m, z_m, dh_prev, recurrent, tmp in steps:
            multiply(dh, F_n, dZn)
            multiply(dh, Q, dGh)
            if dh_prev is not None:
                multiply(dh_m, z_m, tmp)
                add(dh_prev, tmp, dh_prev)
                recurrent()

    # -- sequence adapters --------------------------------------------------------------------
    def allocate(self, w, T, h0, c0, ws, keep, reverse, padded, chunk=None, slots=None):
        """Buffers: ``A`` (T, 3H, B) receives the input projection (``proj``) and becomes the
        activated gates (r, z, n); ``HS`` (T+1, H, B) the states (zero wherever no step
        writes); ``HN`` (T, H, B) = W_hn h + b_hn."""
        B, H = h0.shape
        dt = h0.dtype
        A = ws.empty((T, 3 * H, B), dt)
        HS = _states(T, h0, ws, reverse, padded)
        HN = ws.empty((T, H, B), dt)
        HN[...] = w.b_hn[:, None]
        return {"A": A, "HS": HS, "HN": HN, "proj": A, "tmp": ws.empty((H, B), dt)}

    def forward_args(self, w, bufs, steps):
        t, i_prev, i_out, n = steps
        A, HS, tmp = bufs["A"], bufs["HS"], bufs["tmp"]
        H = HS.shape[1]
        rz, h_prev, hn = _hb_views(A[:, : 2 * H], t, n), _hb_views(HS, i_prev, n), \
            _hb_views(bufs["HN"], t, n)
        recurrent_rz = bind_gemm_accs(rz, w.W_hrz_s, h_prev)
        recurrent_n = bind_gemm_accs(hn, w.W_hn, h_prev)
        gates = [_hb_views(A[:, k * H : (k + 1) * H], t, n) for k in range(3)]
        return zip(recurrent_rz, recurrent_n, rz, *gates, h_prev, hn, _hb_views(HS, i_out, n),
                   _cols_per_step(tmp, n))

    def finish_forward(self, bufs, ws, keep, outputs=True):
        """Time-major states for the network: ``H`` (T+1, B, H), a copy."""
        bufs["H"] = _time_major(bufs["HS"], ws)

    def start_backward(self, bufs, dH, chunk, ws):
        """Backward state; dZn overwrites the n gate of ``A`` step by step."""
        T, B, H = dH.shape
        dt = dH.dtype
        return {"dH": _step_major(dH, ws), "dGh": ws.empty((T, 3 * H, B), dt),
                "Q": ws.empty((chunk, 3 * H, B), dt), "F_n": ws.empty((chunk, H, B), dt),
                "tmp": ws.empty((H, B), dt)}

    def factors(self, bufs, bwd, lo, hi, reverse):
        HS = bufs["HS"]
        h_prev = HS[lo + 1 : hi + 1] if reverse else HS[lo:hi]
        self.backward_factors(bufs["A"][lo:hi], bufs["HN"][lo:hi], h_prev,
                              bwd["Q"][: hi - lo], bwd["F_n"][: hi - lo])

    def backward_args(self, w, bufs, bwd, steps, lo):
        t, t_prev, n, m = steps
        k = [i - lo for i in t]
        A, dH, dGh = bufs["A"], bwd["dH"], bwd["dGh"]
        H = dH.shape[1]
        dh_prev = _hb_views(dH, t_prev, m)
        recurrent = bind_gemm_accs(dh_prev, w.W_hhT, _hb_views(dGh, t, m))
        return zip(_hb_views(dH, t, n), _hb_views(_gate_blocks(bwd["Q"], 3), k, n),
                   _hb_views(bwd["F_n"], k, n), _hb_views(_gate_blocks(dGh, 3), t, n),
                   _hb_views(A[:, 2 * H :], t, n), _hb_views(dH, t, m),
                   _hb_views(A[:, H : 2 * H], t, m), dh_prev, recurrent,
                   _cols_per_step(bwd["tmp"], m))

    def clear_padding(self, bufs, bwd, n_active, lo, hi):
        """Zero gradients at padded steps (never written by a step)."""
        A, dGh = bufs["A"], bwd["dGh"]
        H = dGh.shape[1] // 3
        for t in range(lo, hi):
            n = n_active[t]
            if n < A.shape[2]:
                dGh[t, :, n:] = 0
                A[t, 2 * H :, n:] = 0

    def preactivation_grads(self, bufs, bwd, ws, lo, hi):
        """Gradients w.r.t. the input and the recurrent pre-activations of steps lo..hi-1,
        (3H, (hi-lo)*B) each (copies in ``ws``, returned as scratch too).

        They differ only in the n block: dZn for the input, dh Q_n for the recurrent part.
        """
        dGh, A = bwd["dGh"][lo:hi], bufs["A"][lo:hi]
        K, H3, B = dGh.shape
        H = H3 // 3
        Zh, Zx = ws.empty((H3, K, B), dGh.dtype), ws.empty((H3, K, B), dGh.dtype)
        np.copyto(Zh, dGh.transpose(1, 0, 2))
        Zx[: 2 * H] = Zh[: 2 * H]
        np.copyto(Zx[2 * H :], A[:, 2 * H :].transpose(1, 0, 2))
        return Zx.reshape(H3, K * B), Zh.reshape(H3, K * B), (Zx, Zh)


def get_cell(cell, activation="tanh"):
    """The cell object for ``cell`` in {"rnn", "lstm", "gru"} (cells hold no state: one object
    per kind is shared)."""
    if cell not in ("rnn", "lstm", "gru"):
        raise ValueError(f"cell must be 'rnn', 'lstm' or 'gru', got {cell!r}")
    if cell == "rnn" and activation not in ("tanh", "relu"):
        raise ValueError(f"activation must be 'tanh' or 'relu', got {activation!r}")
    return _shared_cell(cell, activation if cell == "rnn" else "tanh")


@lru_cache(maxsize=None)
def _shared_cell(cell, activation):
    return {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}[cell](
        *((activation,) if cell == "rnn" else ()))
