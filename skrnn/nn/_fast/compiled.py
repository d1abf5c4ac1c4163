"""The compiled kernels of the fast path: each cell's elementwise step as one numba loop.

A step of the NumPy kernels (:mod:`~skrnn.nn._fast.lstm`, ``gru``, ``rnn``) is a GEMM and a
few ufunc calls, each paying about half a microsecond of call overhead and a pass over memory;
at the sizes users train (H = 16-64, B = 16-32) the calls cost more than the arithmetic. Here
the elementwise part of a step, forward or backward, is one compiled loop over (row, column)
that reads each input once. Everything else is the NumPy kernels' (the classes below subclass
them): the layouts, the GEMMs bound once per call, the loop over time in ``loop.py``. The fused
backward step computes its derivatives from the gates as it goes, so the chunked factor passes
of the NumPy kernels are not needed.

Each step function takes whole per-step slabs (C-contiguous (rows, B) arrays, so that the
inner loop over sequences is unit-stride and vectorises) and the number ``n`` of active
columns; it reads and writes only columns ``:n``.

Accuracy. In float64 the steps call libm's ``tanh``: results agree with the NumPy kernels to
round-off (tested to 1e-12). In float32, ``tanh`` is a rational function (:func:`tanh`),
within 3.3e-7 of tanh everywhere (a few float32 units in the last place; ``np.tanh`` is
within 1.4), because libm's scalar ``tanhf`` does not vectorise.

Each step function is compiled when it is first called, for the dtype it is called with, and
cached on disk by numba (``__pycache__`` beside this module): a process pays numba's import
(about 0.6 s) and, for the functions it runs, either their compilation (about 1.5 s for the
LSTM's two steps in one dtype) or loading them from the cache (about 0.2 s). This module is
imported at the first use of the compiled kernels, never by ``import skrnn``.
"""

import math

import numpy as np

try:
    import numba
    from numba import types
    from numba.extending import overload
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("skrnn's compiled kernels need numba: pip install 'skrnn[fast]', "
                      "or use skrnn.set_config(kernels='numpy')") from exc

from .buffers import bind_gemm_accs, step_slabs, step_views
from .gru import GRUKernel
from .lstm import LSTMKernel
from .rnn import RNNKernel

__all__ = ["CompiledLSTMKernel", "CompiledGRUKernel", "CompiledRNNKernel", "tanh", "softmax_rows"]

# Constants are float32 so that arithmetic stays in the arrays' dtype: float32 * float32 is
# float32 and float32 * float64 is float64 (a Python float would make float32 steps float64).
_HALF, _ONE, _ZERO = np.float32(0.5), np.float32(1.0), np.float32(0.0)

# tanh(x) ~ x P(x^2) / Q(x^2) for |x| <= 9, where float32 tanh is 1 within half a unit: the
# least-squares fit of the relative error on [0, 9] (benchmarks/fit_tanh.py refits it and
# measures its error).
_CLAMP = np.float32(9.0)
_P = [np.float32(v) for v in (0.9999999934021544, 0.13083981485335772, 0.0031039234345366248,
                              1.1153941329111291e-05, -2.0223594144052467e-08,
                              5.2770916014451105e-11, -8.486359138631232e-14)]
_Q = [np.float32(v) for v in (0.4641730859834755, 0.024495050147749654, 0.00025460960776277987)]
_P0, _P1, _P2, _P3, _P4, _P5, _P6 = _P
_Q1, _Q2, _Q3 = _Q

# No "nnan"/"ninf": a NaN or inf that training produces must come out as NaN or inf.
_FASTMATH = {"contract", "arcp", "nsz"}


def tanh(x):
    """tanh of a scalar inside the compiled steps: rational in float32, libm's in float64.

    Parameters
    ----------
    x : float
        The argument.

    Returns
    -------
    float
        tanh(x) (in float32 within 3.3e-7; NaN stays NaN).
    """
    return math.tanh(x)


@overload(tanh)
def _tanh_typed(x):
    if x == types.float32:
        def rational(x):
            # (conditional expressions, not assignments to x: NaN passes both tests unchanged)
            y = _CLAMP if x > _CLAMP else (-_CLAMP if x < -_CLAMP else x)
            s = y * y
            p = (((((_P6 * s + _P5) * s + _P4) * s + _P3) * s + _P2) * s + _P1) * s + _P0
            q = ((_Q3 * s + _Q2) * s + _Q1) * s + _ONE
            r = y * p / q
            # past the clamp tanh is 1 to float32 precision; inside, the fit may round past 1
            return _ONE if x > _CLAMP or r > _ONE else (
                -_ONE if x < -_CLAMP or r < -_ONE else r)
        return rational
    return lambda x: math.tanh(x)


def _compile(function):
    """Compile a step function when it is first called, for the dtype it is called with (a
    process compiles, or loads from numba's cache, only the steps it runs)."""
    return numba.njit(cache=True, nogil=True, fastmath=_FASTMATH, error_model="numpy",
                      boundscheck=False)(function)


# -- the steps, written like the math ----------------------------------------------------------
@_compile
def lstm_forward_step(a, c_prev, c, tanh_c, h, n):
    """One LSTM step after the recurrent GEMM, gates in the order (o, i, f, g).

    a (4H, B): pre-activations, the sigmoid rows halved; overwritten with the gates.
    c_prev (H, B): previous cell state. c, tanh_c, h (H, B): outputs c_t, tanh(c_t), h_t.
    """
    H = h.shape[0]
    for j in range(H):
        for k in range(n):
            o = _HALF * tanh(a[j, k]) + _HALF  # sigmoid(x) = tanh(x/2)/2 + 1/2
            i = _HALF * tanh(a[H + j, k]) + _HALF
            f = _HALF * tanh(a[2 * H + j, k]) + _HALF
            g = tanh(a[3 * H + j, k])
            a[j, k], a[H + j, k], a[2 * H + j, k], a[3 * H + j, k] = o, i, f, g
            c_t = f * c_prev[j, k] + i * g
            tc = tanh(c_t)
            c[j, k], tanh_c[j, k], h[j, k] = c_t, tc, o * tc


@_compile
def lstm_backward_step(a, c_prev, tanh_c, dh, dc, n):
    """One LSTM step backward, before the recurrent GEMM.

    a (4H, B): the gates (o, i, f, g); overwritten with dZ, the gradient w.r.t. their
    pre-activations. c_prev, tanh_c (H, B): that step's c_{t-1} and tanh(c_t). dh (H, B):
    dL/dh_t. dc (H, B): dL/dc_t from later steps, overwritten with dL/dc_{t-1}.
    """
    H = dh.shape[0]
    for j in range(H):
        for k in range(n):
            o, i, f, g = a[j, k], a[H + j, k], a[2 * H + j, k], a[3 * H + j, k]
            tc, d_h = tanh_c[j, k], dh[j, k]
            d_c = dc[j, k] + d_h * o * (_ONE - tc * tc)
            a[j, k] = d_h * tc * o * (_ONE - o)
            a[H + j, k] = d_c * g * i * (_ONE - i)
            a[2 * H + j, k] = d_c * c_prev[j, k] * f * (_ONE - f)
            a[3 * H + j, k] = d_c * i * (_ONE - g * g)
            dc[j, k] = d_c * f


@_compile
def gru_forward_step(a, hn, h_prev, h, n):
    """One GRU step after the recurrent GEMMs, gates in PyTorch's order (r, z, n).

    a (3H, B): input pre-activations (b_hr, b_hz folded in), the r and z rows halved and
    holding their recurrent terms; overwritten with the gates. hn (H, B): W_hn h_prev + b_hn.
    h_prev (H, B): previous state. h (H, B): output.
    """
    H = h.shape[0]
    for j in range(H):
        for k in range(n):
            r = _HALF * tanh(a[j, k]) + _HALF
            z = _HALF * tanh(a[H + j, k]) + _HALF
            n_t = tanh(a[2 * H + j, k] + r * hn[j, k])
            a[j, k], a[H + j, k], a[2 * H + j, k] = r, z, n_t
            h[j, k] = (h_prev[j, k] - n_t) * z + n_t  # (1 - z) n + z h_prev


@_compile
def gru_backward_step(a, hn, h_prev, dh, dGh, dh_prev, n, m):
    """One GRU step backward, before the recurrent GEMM.

    a (3H, B): the gates (r, z, n); the n rows are overwritten with dL/d(W_in x + b_in).
    hn, h_prev (H, B): that step's W_hn h_prev + b_hn and h_{t-1}. dh (H, B): dL/dh_t.
    dGh (3H, B): output, dL/d(W_hr h + b_hr, W_hz h + b_hz, W_hn h + b_hn).
    dh_prev (H, B): dL/dh_{t-1} += dh z, for the m <= n columns with a previous step.
    """
    H = dh.shape[0]
    for j in range(H):
        for k in range(n):
            r, z, n_t, d_h = a[j, k], a[H + j, k], a[2 * H + j, k], dh[j, k]
            dn = d_h * (_ONE - z) * (_ONE - n_t * n_t)
            a[2 * H + j, k] = dn
            dGh[j, k] = dn * hn[j, k] * r * (_ONE - r)
            dGh[H + j, k] = d_h * (h_prev[j, k] - n_t) * z * (_ONE - z)
            dGh[2 * H + j, k] = dn * r
        for k in range(m):
            dh_prev[j, k] += dh[j, k] * a[H + j, k]


@_compile
def rnn_tanh_forward_step(h, n):
    """h (H, B): the pre-activation of a step, overwritten with tanh of it."""
    for j in range(h.shape[0]):
        for k in range(n):
            h[j, k] = tanh(h[j, k])


@_compile
def rnn_relu_forward_step(h, n):
    """h (H, B): the pre-activation of a step, overwritten with max(h, 0) (NaN stays)."""
    for j in range(h.shape[0]):
        for k in range(n):
            if h[j, k] < _ZERO:
                h[j, k] = _ZERO


@_compile
def rnn_tanh_backward_step(dh, h, n):
    """dh (H, B): dL/dh_t, overwritten with dL/d(pre-activation) = dh (1 - h^2)."""
    for j in range(h.shape[0]):
        for k in range(n):
            dh[j, k] *= _ONE - h[j, k] * h[j, k]


@_compile
def rnn_relu_backward_step(dh, h, n):
    """dh (H, B): dL/dh_t, overwritten with dh [h > 0]."""
    for j in range(h.shape[0]):
        for k in range(n):
            dh[j, k] *= _ONE if h[j, k] > _ZERO else _ZERO


@_compile
def softmax_rows(Z):
    """Z (n, K) overwritten with the softmax of each row, its maximum subtracted first (a
    stream's head: one call where NumPy makes five, each reducing a row of a few classes)."""
    for k in range(Z.shape[0]):
        m = Z[k, 0]
        for j in range(1, Z.shape[1]):
            m = max(m, Z[k, j])
        s = Z[k, 0] - Z[k, 0]  # zero in Z's dtype
        for j in range(Z.shape[1]):
            Z[k, j] = math.exp(Z[k, j] - m)
            s += Z[k, j]
        for j in range(Z.shape[1]):
            Z[k, j] /= s


# -- the kernels: the NumPy kernels with these steps -------------------------------------------
class CompiledLSTMKernel(LSTMKernel):
    """:class:`~skrnn.nn._fast.lstm.LSTMKernel` with each step's elementwise work compiled."""

    def forward_args(self, w, bufs, cols, gemms=bind_gemm_accs):
        """Per step: (recurrent GEMM, a, c_prev, c, tanh_c, h, n), slabs of whole columns."""
        t, i_prev, i_out, n = cols
        A, HS, TC = bufs["A"], bufs["HS"], bufs["TC"]
        return zip(
            gemms(step_views(A, t, n), w["W_hh_s"], step_views(HS, i_prev, n)),
            step_slabs(A, t), step_slabs(bufs["C_prev"], t), step_slabs(bufs["C_out"], t),
            step_slabs(TC, t) if len(TC) > 1 else [TC[0]] * len(t),
            step_slabs(HS, i_out), n)

    def forward_steps(self, w, args):
        """Steps in order: ``a += W_hh_s h_prev``, then :func:`lstm_forward_step`."""
        step = lstm_forward_step
        for recurrent, a, c_prev, c, tanh_c, h, n in args:
            recurrent()
            step(a, c_prev, c, tanh_c, h, n)

    def start_backward(self, bufs, dY, chunk, ws):
        """Backward state: dY (T, H, B), dL/dh_t, and dc (H, B), dL/dc_t."""
        T, H, B = dY.shape
        return {"dH": dY, "dc": ws.zeros((H, B), dY.dtype)}

    def factors(self, bufs, bwd, lo, hi, reverse):
        """Nothing: the compiled backward step computes its factors from the gates."""

    def backward_args(self, w, bufs, bwd, cols, lo):
        """Per step: (a, c_prev, tanh_c, dh, dc, n, recurrent GEMM or None)."""
        t, t_prev, n, m = cols
        A, dH = bufs["A"], bwd["dH"]
        return zip(
            step_slabs(A, t), step_slabs(bufs["C_prev"], t), step_slabs(bufs["TC"], t),
            step_slabs(dH, t), [bwd["dc"]] * len(t), n,
            bind_gemm_accs(step_views(dH, t_prev, m), w["W_hhT"], step_views(A, t, m)))

    def backward_steps(self, w, args):
        """Steps in backward order: :func:`lstm_backward_step`, then
        ``dh_prev += W_hh^T dZ`` for the sequences with a previous step."""
        step = lstm_backward_step
        for a, c_prev, tanh_c, dh, dc, n, recurrent in args:
            step(a, c_prev, tanh_c, dh, dc, n)
            if recurrent is not None:
                recurrent()


class CompiledGRUKernel(GRUKernel):
    """:class:`~skrnn.nn._fast.gru.GRUKernel` with each step's elementwise work compiled."""

    def forward_args(self, w, bufs, cols, gemms=bind_gemm_accs):
        """Per step: (recurrent GEMMs rz and n, a, hn, h_prev, h, n), slabs of whole columns."""
        t, i_prev, i_out, n = cols
        A, HS, HN = bufs["A"], bufs["HS"], bufs["HN"]
        H = HS.shape[1]
        h_prev = step_views(HS, i_prev, n)
        return zip(
            gemms(step_views(A[:, : 2 * H], t, n), w["W_hrz_s"], h_prev),
            gemms(step_views(HN, t, n), w["W_hn"], h_prev),
            step_slabs(A, t), step_slabs(HN, t), step_slabs(HS, i_prev), step_slabs(HS, i_out),
            n)

    def forward_steps(self, w, args):
        """Steps in order: ``rz += W_hrz_s h_prev``, ``hn += W_hn h_prev``, then
        :func:`gru_forward_step`."""
        step = gru_forward_step
        for recurrent_rz, recurrent_n, a, hn, h_prev, h, n in args:
            recurrent_rz()
            recurrent_n()
            step(a, hn, h_prev, h, n)

    def start_backward(self, bufs, dY, chunk, ws):
        """Backward state: dY (T, H, B), dL/dh_t, and dGh (T, 3H, B), the gradients w.r.t.
        the recurrent pre-activations."""
        T, H, B = dY.shape
        return {"dH": dY, "dGh": ws.empty((T, 3 * H, B), dY.dtype)}

    def factors(self, bufs, bwd, lo, hi, reverse):
        """Nothing: the compiled backward step computes its factors from the gates."""

    def backward_args(self, w, bufs, bwd, cols, lo):
        """Per step: (a, hn, h_prev, dh, dGh, dh_prev, n, m, recurrent GEMM or None);
        dh_prev is dh itself, unused, for the steps without a previous one (m = 0)."""
        t, t_prev, n, m = cols
        A, dH, dGh = bufs["A"], bwd["dH"], bwd["dGh"]
        dh = step_slabs(dH, t)
        dh_prev = [d if p is None else p for d, p in zip(dh, step_slabs(dH, t_prev))]
        return zip(
            step_slabs(A, t), step_slabs(bufs["HN"], t), step_slabs(bufs["H_prev"], t), dh,
            step_slabs(dGh, t), dh_prev, n, m,
            bind_gemm_accs(step_views(dH, t_prev, m), w["W_hhT"], step_views(dGh, t, m)))

    def backward_steps(self, w, args):
        """Steps in backward order: :func:`gru_backward_step`, then
        ``dh_prev += W_hh^T dGh`` for the sequences with a previous step."""
        step = gru_backward_step
        for a, hn, h_prev, dh, dGh, dh_prev, n, m, recurrent in args:
            step(a, hn, h_prev, dh, dGh, dh_prev, n, m)
            if recurrent is not None:
                recurrent()


class CompiledRNNKernel(RNNKernel):
    """:class:`~skrnn.nn._fast.rnn.RNNKernel` with each step's activation compiled.

    Parameters
    ----------
    activation : {"tanh", "relu"}
        The nonlinearity.
    """

    def __init__(self, activation):
        super().__init__(activation)
        relu = activation == "relu"
        self._forward_step = rnn_relu_forward_step if relu else rnn_tanh_forward_step
        self._backward_step = rnn_relu_backward_step if relu else rnn_tanh_backward_step

    def forward_args(self, w, bufs, cols, gemms=bind_gemm_accs):
        """Per step: (recurrent GEMM, h, n), h the whole slab of the step's output."""
        t, i_prev, i_out, n = cols
        HS = bufs["HS"]
        return zip(gemms(step_views(HS, i_out, n), w["W_hh"], step_views(HS, i_prev, n)),
                   step_slabs(HS, i_out), n)

    def forward_steps(self, w, args):
        """Steps in order: ``h += W_hh h_prev``, then the activation in place."""
        step = self._forward_step
        for recurrent, h, n in args:
            recurrent()
            step(h, n)

    def start_backward(self, bufs, dY, chunk, ws):
        """Backward state: dY (T, H, B), overwritten step by step with dZ."""
        return {"dZ": dY}

    def factors(self, bufs, bwd, lo, hi, reverse):
        """Nothing: the compiled backward step computes the derivative from the outputs."""

    def backward_args(self, w, bufs, bwd, cols, lo):
        """Per step: (dh, h, n, recurrent GEMM or None)."""
        t, t_prev, n, m = cols
        dZ = bwd["dZ"]
        return zip(step_slabs(dZ, t), step_slabs(bufs["H_out"], t), n,
                   bind_gemm_accs(step_views(dZ, t_prev, m), w["W_hhT"], step_views(dZ, t, m)))

    def backward_steps(self, w, args):
        """Steps in backward order: dZ = dh act'(h) in place, then ``dh_prev += W_hh^T dZ``."""
        step = self._backward_step
        for dh, h, n, recurrent in args:
            step(dh, h, n)
            if recurrent is not None:
                recurrent()
