"""The compiled kernels of the fast path: each cell's loop over the steps as one numba call.

A step of the NumPy kernels (:mod:`~skrnn.nn._fast.lstm`, ``gru``, ``rnn``) is a GEMM and a
few ufunc calls, each paying about half a microsecond of call overhead and a pass over memory,
and the Python loop around them pays again for every step; at the sizes users train (H =
16-64, B = 16-32) the calls cost more than the arithmetic. Here a call runs many steps:

- the step functions (:func:`lstm_forward_step` and the others, written like the math) do a
  step's elementwise work, forward or backward, in one loop over (row, column) that reads each
  input once; the backward step computes its derivatives from the gates as it goes, so the
  chunked factor passes of the NumPy kernels are not needed;
- the loops (:func:`lstm_forward`, :func:`lstm_backward` and the others) run the steps in
  order, each one's recurrent GEMM included, by a direct call to BLAS (:func:`gemm_acc`; on
  OpenBLAS's AVX-512 cores, a product too large for its unpacked small-matrix kernels is cut
  into pieces that fit them, :func:`small_gemm_limit`);
- the kernels (:class:`CompiledLSTMKernel` and the others) subclass the NumPy kernels: the same
  layouts, buffers and loop over chunks of time in ``loop.py``, with ``forward_steps`` and
  ``backward_steps`` one call to a loop.

Step functions take whole per-step slabs (C-contiguous (rows, B) arrays, so that the inner
loop over sequences is unit-stride and vectorises) and the number ``n`` of active columns;
they read and write only columns ``:n``. The loops index whole buffers by step for the same
reason: numba knows the slab of a C-contiguous buffer is contiguous.

Accuracy. In float64 the steps call libm's ``tanh``: results agree with the NumPy kernels to
round-off (tested to 1e-12). In float32, ``tanh`` is a rational function (:func:`tanh`),
within 3.3e-7 of tanh everywhere (a few float32 units in the last place; ``np.tanh`` is
within 1.4), because libm's scalar ``tanhf`` does not vectorise.

Each loop is compiled when it is first called, for the types it is called with, and cached on
disk by numba (``__pycache__`` beside this module, or ``NUMBA_CACHE_DIR``): a process pays
numba's import (about 0.6 s) and, for the loops it runs, either their compilation or loading
them from the cache (the compile cost is measured by ``benchmarks/bench_estimators.py``). This
module is imported at the first use of the compiled kernels, never by ``import skrnn``.
"""

import math

import numpy as np

try:
    import numba
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic, overload
    from numba.np.linalg import ensure_blas, get_blas_kind
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("skrnn's compiled kernels need numba: pip install 'skrnn[fast]', "
                      "or use skrnn.set_config(kernels='numpy')") from exc

from .buffers import _GEMV_FROM, bind_gemm_accs, blas_libraries, no_gemms
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


# The vector width the steps ask LLVM to prefer (:func:`_wide_vectors`); 0 leaves LLVM's choice
# for the CPU. Read when a function is compiled: benchmarks/bench_steps.py compiles copies of the
# steps both ways to compare them side by side.
_PREFER_VECTOR_WIDTH = 512


@intrinsic
def _wide_vectors(typingctx):
    """Let LLVM vectorise the function that calls this with the CPU's widest vectors.

    LLVM tunes code for Intel's AVX-512 cores (Skylake-X to Emerald Rapids) to prefer 256-bit
    vectors, because 512-bit instructions lowered the clock of the first of them. On an Emerald
    Rapids core the float32 LSTM and GRU forward steps took 0.56-0.80 of their 256-bit time
    with 512-bit vectors (benchmarks/README.md); AMD's Zen 4 gets them already. The steps that
    evaluate tanh or many products per element call this; the RNN's backward step (one
    multiply-add per element) measured slower with it at 32 sequences, and it and the ReLU
    steps do not. This sets the function attribute "prefer-vector-width" (clang's
    ``-mprefer-vector-width``) to ``_PREFER_VECTOR_WIDTH``; a CPU without AVX-512 ignores it.
    llvmlite's attribute set accepts only the attributes it knows, hence ``set.add``.
    """
    def codegen(context, builder, signature, args):
        if _PREFER_VECTOR_WIDTH:
            set.add(builder.function.attributes,
                    f'"prefer-vector-width"="{_PREFER_VECTOR_WIDTH}"')
        return context.get_dummy_value()

    return types.none(), codegen


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
    _wide_vectors()
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
    _wide_vectors()
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
    _wide_vectors()
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
    _wide_vectors()
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
    _wide_vectors()
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


# -- the recurrent GEMM, called from compiled code ----------------------------------------------
ensure_blas()  # numba's BLAS is scipy's (scipy.linalg.cython_blas): a core dependency
_ll_char, _ll_voidp = ir.IntType(8), cgutils.voidptr_t


def _blas_args(context, builder, signature, args, kind_of):
    """An intrinsic's arguments as numba's BLAS entry points take them: arrays as data
    pointers, integers as intp, floats as a pointer to a value of the dtype of argument
    ``kind_of``; preceded by the BLAS kind of that dtype ('s', 'd')."""
    dtype = signature.args[kind_of].dtype
    values = [ir.Constant(_ll_char, ord(get_blas_kind(dtype)))]
    for value, ty in zip(args, signature.args):
        if isinstance(ty, types.Array):
            data = context.make_array(ty)(context, builder, value).data
            values.append(builder.bitcast(data, _ll_voidp))
        elif isinstance(ty, types.Float):
            slot = cgutils.alloca_once_value(builder, context.cast(builder, value, ty, dtype))
            values.append(builder.bitcast(slot, _ll_voidp))
        else:
            values.append(context.cast(builder, value, ty, types.intp))
    return values


@intrinsic
def _xxgemm(typingctx, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """``c = alpha a @ b + beta c`` by BLAS's gemm in column-major terms (c (m, n), a (m, k),
    b (k, n), none transposed, leading dimensions lda, ldb, ldc): numba's own entry point to
    scipy's BLAS, the one ``np.dot`` uses inside numba, with our leading dimensions and beta
    instead of the arrays' shapes and 0."""
    sig = types.int32(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        intp = context.get_value_type(types.intp)
        fnty = ir.FunctionType(ir.IntType(32), [_ll_char, _ll_char, _ll_char, intp, intp, intp,
                                                _ll_voidp, _ll_voidp, intp, _ll_voidp, intp,
                                                _ll_voidp, _ll_voidp, intp])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        kind, *rest = _blas_args(context, builder, signature, args, kind_of=9)
        notrans = ir.Constant(_ll_char, ord("n"))
        return builder.call(fn, [kind, notrans, notrans, *rest])

    return sig, codegen


@intrinsic
def _xxgemv(typingctx, m, n, alpha, a, lda, x, beta, y):
    """``y = alpha a^T x + beta y`` by BLAS's gemv in column-major terms (a (m, n), leading
    dimension lda; x (m,) and y (n,) contiguous): numba's entry point, as for :func:`_xxgemm`."""
    sig = types.int32(m, n, alpha, a, lda, x, beta, y)

    def codegen(context, builder, signature, args):
        intp = context.get_value_type(types.intp)
        fnty = ir.FunctionType(ir.IntType(32), [_ll_char, _ll_char, intp, intp, _ll_voidp,
                                                _ll_voidp, intp, _ll_voidp, _ll_voidp,
                                                _ll_voidp])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemv")
        kind, *rest = _blas_args(context, builder, signature, args, kind_of=7)
        return builder.call(fn, [kind, ir.Constant(_ll_char, ord("t")), *rest])

    return sig, codegen


@_compile
def gemm_acc(out, W, x, n, small):
    """``out[:, :n] += W @ x[:, :n]``, by BLAS with beta = 1.

    out (R, B), W (R, K) and x (K, B) are row-major (unit stride along a row, any row stride),
    as the slabs of the kernels' buffers are. In BLAS's column-major terms this is the gemm
    ``out^T[:n] += x^T[:n] @ W^T``: the same memory, nothing transposed or copied. With one
    sequence (B = 1) and a W of at least ``buffers._GEMV_FROM`` entries it is the gemv
    ``out += W x``, which OpenBLAS runs 2-3x faster than the one-row gemm (the NumPy kernels'
    threshold). With ``small`` > 0 (:func:`small_gemm_limit`), a product of more than
    ``small`` = m*n*k multiply-adds is cut into calls of at most ``small``: blocks of rows of
    W (multiples of 32), or where fewer than 32 rows would fit, blocks of its columns (of x's
    rows), each added to ``out`` in turn.
    """
    size = out.itemsize
    if out.strides[1] != size or W.strides[1] != size or x.strides[1] != size:
        raise ValueError("gemm_acc needs rows of unit stride")
    one = out.dtype.type(1)
    R, K = W.shape
    status = 0
    if n == 0:
        pass
    elif n == 1 and out.strides[0] == size and x.strides[0] == size and W.size >= _GEMV_FROM:
        status = _xxgemv(K, R, one, W, W.strides[0] // size, x, one, out)
    else:
        rows, depth = R, K
        if small > 0 and n * R * K > small:
            fit = small // (n * K)  # rows of W per call at full depth
            if fit >= 32:
                rows = fit - fit % 32
            else:
                fit = small // (n * R)  # columns of W per call at every row
                if fit >= 32:
                    depth = fit - fit % 32
        ldw, ldx, ldo = W.strides[0] // size, x.strides[0] // size, out.strides[0] // size
        for r0 in range(0, R, rows):
            r1 = min(r0 + rows, R)
            for k0 in range(0, K, depth):
                k1 = min(k0 + depth, K)
                status |= _xxgemm(n, r1 - r0, k1 - k0, one, x[k0:], ldx, W[r0:r1, k0:], ldw,
                                  one, out[r0:], ldo)
    if status:
        raise RuntimeError("scipy's BLAS could not be called")


# OpenBLAS's AVX-512 cores (SkylakeX and the cores built on it) run a GEMM of m*n*k at most
# 100**3 with kernels that do not pack their operands first; above that, a GEMM packs both,
# the whole weight matrix at every step. For few sequences the packing is a large share of the
# step: at B=32, H=256 the LSTM's (4H x H) by (H x B) product took 185 us in one call and 159
# us in calls of 96 rows (float32, one thread; 414 against 305 us in float64). With many
# sequences one packed call is faster (B=128, H=256: 662 against 744 us in blocks of 128).
_SMALL_GEMM_CORES = ("skylakex", "cooperlake", "sapphirerapids")
_SMALL_GEMM = 100 ** 3
_small_gemm_limit = None


def small_gemm_limit():
    """The m*n*k up to which scipy's BLAS runs a GEMM unpacked, or 0 where not known.

    The ``small`` of :func:`gemm_acc`: 100**3 when every BLAS library in the process is an
    OpenBLAS whose core has such kernels (threadpoolctl names the core), else 0 (one call per
    product). Decided once per process from the libraries, not from timings, so that a fit's
    arithmetic is the same every run.

    Returns
    -------
    int
        The limit, or 0.
    """
    global _small_gemm_limit
    if _small_gemm_limit is None:
        libs = blas_libraries()
        known = bool(libs) and all(
            lib.internal_api == "openblas"
            and str(getattr(lib, "architecture", "")).lower() in _SMALL_GEMM_CORES
            for lib in libs)
        _small_gemm_limit = _SMALL_GEMM if known else 0
    return _small_gemm_limit


# -- the loops over time: each kernel's steps, one call for many -------------------------------
# Step s of a call is step t[s] of the buffers: it reads state slot i_prev[s] (forward) and
# writes slot i_out[s], with n[s] sequences active; backward, it adds to the gradient of step
# t_prev[s] for the m[s] sequences that have one. ``recurrent`` False skips the recurrent GEMMs
# (a stepper's gates already hold the recurrent term); ``small`` is :func:`gemm_acc`'s (the
# kernels pass :func:`small_gemm_limit`).
@_compile
def lstm_forward(W_hh_s, Z, rows, TC, HS, t, i_prev, i_out, n, recurrent, small):
    """LSTM steps in order: ``a += W_hh_s h_prev``, then :func:`lstm_forward_step`.

    Z (K+1, 5H, B) holds the gates a (4H, B) of step t in ``Z[t, g0:g0+4H]`` and the cell
    state it reads in ``Z[t+p, c0:c0+H]`` and writes in ``Z[t+q, c0:c0+H]``, ``rows`` =
    (g0, c0, p, q) (the kernel's layout: whole-buffer slabs, which numba knows are
    contiguous). TC (K or 1, H, B) tanh(c), HS (slots, H, B) states; W_hh_s (4H, H).
    """
    H = W_hh_s.shape[1]
    g0, c0, p, q = rows
    one_tc = TC.shape[0] == 1
    for s in range(t.shape[0]):
        k = t[s]
        a = Z[k, g0 : g0 + 4 * H]
        if recurrent:
            gemm_acc(a, W_hh_s, HS[i_prev[s]], n[s], small)
        lstm_forward_step(a, Z[k + p, c0 : c0 + H], Z[k + q, c0 : c0 + H],
                          TC[0 if one_tc else k], HS[i_out[s]], n[s])


@_compile
def lstm_backward(W_hhT, Z, rows, TC, dH, dc, t, t_prev, n, m, small):
    """LSTM steps in backward order: :func:`lstm_backward_step`, then
    ``dh_prev += W_hh^T dZ`` for the m sequences with a previous step.

    Z and ``rows`` as in :func:`lstm_forward`: the gates, overwritten with dZ, and the cell
    states. TC (T, H, B); dH (T, H, B) dL/dh_t; dc (H, B) dL/dc from later steps; W_hhT
    (H, 4H).
    """
    H = W_hhT.shape[0]
    g0, c0, p, q = rows
    for s in range(t.shape[0]):
        k = t[s]
        a = Z[k, g0 : g0 + 4 * H]
        lstm_backward_step(a, Z[k + p, c0 : c0 + H], TC[k], dH[k], dc, n[s])
        if m[s] > 0:
            gemm_acc(dH[t_prev[s]], W_hhT, a, m[s], small)


@_compile
def gru_forward(W_hrz_s, W_hn, A, HN, HS, t, i_prev, i_out, n, recurrent, small):
    """GRU steps in order: ``rz += W_hrz_s h_prev``, ``hn += W_hn h_prev``, then
    :func:`gru_forward_step`.

    A (T, 3H, B) gates, HN (T, H, B) holding b_hn, HS (slots, H, B) states; W_hrz_s (2H, H),
    W_hn (H, H).
    """
    H = W_hn.shape[0]
    for s in range(t.shape[0]):
        a, hn, h_prev = A[t[s]], HN[t[s]], HS[i_prev[s]]
        if recurrent:
            gemm_acc(a[: 2 * H], W_hrz_s, h_prev, n[s], small)
            gemm_acc(hn, W_hn, h_prev, n[s], small)
        gru_forward_step(a, hn, h_prev, HS[i_out[s]], n[s])


@_compile
def gru_backward(W_hhT, A, HN, H_prev, dH, dGh, t, t_prev, n, m, small):
    """GRU steps in backward order: :func:`gru_backward_step`, then ``dh_prev += W_hh^T dGh``
    for the m sequences with a previous step.

    A (T, 3H, B) gates, HN, H_prev (T, H, B), dH (T, H, B) dL/dh_t, dGh (T, 3H, B) output;
    W_hhT (H, 3H).
    """
    for s in range(t.shape[0]):
        dh = dH[t[s]]
        dh_prev = dH[t_prev[s]] if m[s] > 0 else dh  # (unused without a previous step)
        gru_backward_step(A[t[s]], HN[t[s]], H_prev[t[s]], dh, dGh[t[s]], dh_prev, n[s], m[s])
        if m[s] > 0:
            gemm_acc(dh_prev, W_hhT, dGh[t[s]], m[s], small)


@_compile
def rnn_forward(W_hh, HS, t, i_prev, i_out, n, relu, recurrent, small):
    """Vanilla RNN steps in order: ``h += W_hh h_prev``, then the activation in place.

    HS (slots, H, B) states, the slots steps write holding their input projections; W_hh
    (H, H).
    """
    for s in range(t.shape[0]):
        h = HS[i_out[s]]
        if recurrent:
            gemm_acc(h, W_hh, HS[i_prev[s]], n[s], small)
        if relu:
            rnn_relu_forward_step(h, n[s])
        else:
            rnn_tanh_forward_step(h, n[s])


@_compile
def rnn_backward(W_hhT, H_out, dZ, t, t_prev, n, m, relu, small):
    """Vanilla RNN steps in backward order: dZ = dh act'(h) in place, then
    ``dh_prev += W_hh^T dZ`` for the m sequences with a previous step.

    H_out (T, H, B) outputs; dZ (T, H, B) dL/dh_t, overwritten with dL/d(pre-activation);
    W_hhT (H, H).
    """
    for s in range(t.shape[0]):
        dz = dZ[t[s]]
        if relu:
            rnn_relu_backward_step(dz, H_out[t[s]], n[s])
        else:
            rnn_tanh_backward_step(dz, H_out[t[s]], n[s])
        if m[s] > 0:
            gemm_acc(dZ[t_prev[s]], W_hhT, dz, m[s], small)


# -- the kernels: the NumPy kernels with these loops ---------------------------------------------
class Steps:
    """The steps of one call to a compiled loop: the buffers they index and, per step in
    processing order, the columns of :func:`~skrnn.nn._fast.loop.time_steps` (or of the
    backward steps) as int64 arrays. Slicing takes some of the steps over the same buffers
    (a kept inference ring runs part of its steps).

    Parameters
    ----------
    buffers : tuple
        The arrays the loop reads and writes, in its order.
    cols : list of list of int
        The step columns, in the loop's order.
    """

    def __init__(self, buffers, cols):
        self.buffers = buffers
        self.cols = cols if isinstance(cols, np.ndarray) else np.array(cols, dtype=np.int64)

    def __len__(self):
        return self.cols.shape[1]

    def __getitem__(self, steps):
        return Steps(self.buffers, self.cols[:, steps])

    __iter__ = None  # one call runs all the steps: they are not taken one by one


def _recurrent(gemms):
    """Whether a kernel's ``forward_args`` was asked for the recurrent GEMMs
    (:func:`~skrnn.nn._fast.buffers.no_gemms` skips them)."""
    return gemms is not no_gemms


def _contiguous(a):
    """``a`` C-contiguous (a copy only if not): rows of unit stride for :func:`gemm_acc`, and
    one compiled loop for every call (numba compiles another for another memory layout, and
    vectorises the steps only where it knows the slabs are contiguous)."""
    return np.ascontiguousarray(a)


class CompiledLSTMKernel(LSTMKernel):
    """:class:`~skrnn.nn._fast.lstm.LSTMKernel` with its loops over the steps compiled."""

    def allocate(self, w, T, B, ws, keep, reverse, padded, chunk, slots, HS=None):
        """The buffers of :meth:`LSTMKernel.allocate`, and ``rows``: where the gates and the
        cell states of a step are in ``Z`` (:func:`lstm_forward`)."""
        bufs = super().allocate(w, T, B, ws, keep, reverse, padded, chunk, slots, HS)
        H = w["W_hh_s"].shape[1]
        bufs["rows"] = (H, 0, 1, 0) if reverse else (0, 4 * H, 0, 1)
        return bufs

    def forward_args(self, w, bufs, cols, gemms=bind_gemm_accs):
        """The steps of :func:`lstm_forward` (a :class:`Steps`)."""
        return Steps((w["W_hh_s"], bufs["Z"], bufs["rows"], bufs["TC"], bufs["HS"],
                      _recurrent(gemms)), cols)

    def forward_steps(self, w, args):
        """Run the steps: :func:`lstm_forward`."""
        W_hh_s, Z, rows, TC, HS, recurrent = args.buffers
        lstm_forward(W_hh_s, Z, rows, TC, HS, *args.cols, recurrent, small_gemm_limit())

    def start_backward(self, bufs, dY, chunk, ws):
        """Backward state: dY (T, H, B), dL/dh_t, and dc (H, B), dL/dc_t."""
        T, H, B = dY.shape
        return {"dH": _contiguous(dY), "dc": ws.zeros((H, B), dY.dtype)}

    def factors(self, bufs, bwd, lo, hi, reverse):
        """Nothing: the compiled backward step computes its factors from the gates."""

    def backward_args(self, w, bufs, bwd, cols, lo):
        """The steps of :func:`lstm_backward` (a :class:`Steps`)."""
        return Steps((w["W_hhT"], bufs["Z"], bufs["rows"], bufs["TC"], bwd["dH"], bwd["dc"]),
                     cols)

    def backward_steps(self, w, args):
        """Run the steps: :func:`lstm_backward`."""
        lstm_backward(*args.buffers, *args.cols, small_gemm_limit())


class CompiledGRUKernel(GRUKernel):
    """:class:`~skrnn.nn._fast.gru.GRUKernel` with its loops over the steps compiled."""

    def prepare(self, w, for_backward=True, empty=np.empty):
        """As :meth:`GRUKernel.prepare`, with ``W_hn`` in rows of unit stride."""
        prepared = super().prepare(w, for_backward, empty)
        prepared["W_hn"] = _contiguous(prepared["W_hn"])
        return prepared

    def forward_args(self, w, bufs, cols, gemms=bind_gemm_accs):
        """The steps of :func:`gru_forward` (a :class:`Steps`)."""
        return Steps((w["W_hrz_s"], w["W_hn"], bufs["A"], bufs["HN"], bufs["HS"],
                      _recurrent(gemms)), cols)

    def forward_steps(self, w, args):
        """Run the steps: :func:`gru_forward`."""
        W_hrz_s, W_hn, A, HN, HS, recurrent = args.buffers
        gru_forward(W_hrz_s, W_hn, A, HN, HS, *args.cols, recurrent, small_gemm_limit())

    def start_backward(self, bufs, dY, chunk, ws):
        """Backward state: dY (T, H, B), dL/dh_t, and dGh (T, 3H, B), the gradients w.r.t.
        the recurrent pre-activations."""
        T, H, B = dY.shape
        return {"dH": _contiguous(dY), "dGh": ws.empty((T, 3 * H, B), dY.dtype)}

    def factors(self, bufs, bwd, lo, hi, reverse):
        """Nothing: the compiled backward step computes its factors from the gates."""

    def backward_args(self, w, bufs, bwd, cols, lo):
        """The steps of :func:`gru_backward` (a :class:`Steps`)."""
        return Steps((w["W_hhT"], bufs["A"], bufs["HN"], bufs["H_prev"], bwd["dH"],
                      bwd["dGh"]), cols)

    def backward_steps(self, w, args):
        """Run the steps: :func:`gru_backward`."""
        gru_backward(*args.buffers, *args.cols, small_gemm_limit())


class CompiledRNNKernel(RNNKernel):
    """:class:`~skrnn.nn._fast.rnn.RNNKernel` with its loops over the steps compiled.

    Parameters
    ----------
    activation : {"tanh", "relu"}
        The nonlinearity.
    """

    def forward_args(self, w, bufs, cols, gemms=bind_gemm_accs):
        """The steps of :func:`rnn_forward` (a :class:`Steps`)."""
        return Steps((w["W_hh"], bufs["HS"], _recurrent(gemms)), cols)

    def forward_steps(self, w, args):
        """Run the steps: :func:`rnn_forward`."""
        W_hh, HS, recurrent = args.buffers
        rnn_forward(W_hh, HS, *args.cols, self.activation == "relu", recurrent,
                    small_gemm_limit())

    def start_backward(self, bufs, dY, chunk, ws):
        """Backward state: dY (T, H, B), overwritten step by step with dZ."""
        return {"dZ": _contiguous(dY)}

    def factors(self, bufs, bwd, lo, hi, reverse):
        """Nothing: the compiled backward step computes the derivative from the outputs."""

    def backward_args(self, w, bufs, bwd, cols, lo):
        """The steps of :func:`rnn_backward` (a :class:`Steps`)."""
        return Steps((w["W_hhT"], bufs["H_out"], bwd["dZ"]), cols)

    def backward_steps(self, w, args):
        """Run the steps: :func:`rnn_backward`."""
        rnn_backward(*args.buffers, *args.cols, self.activation == "relu", small_gemm_limit())
