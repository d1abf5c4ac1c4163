"""Memory and BLAS plumbing of the fast path: reused buffers, bound GEMMs, per-step views.

Nothing here computes a cell; it makes the cells' loops cheap.

- :class:`Workspace`: per-thread free lists of arrays, so successive calls write into memory that
  is already mapped (a fresh page costs a page fault: on the benchmark machine about 350 us per
  MB against 40 us per MB for memory already mapped).
- Kept rings (:func:`kept_rings`): the buffers, weights and per-step arguments of small
  inference passes, kept by the thread for its next call with the same sizes.
- :func:`bind_gemm_accs`: the BLAS arguments of every step's GEMM prepared once per call, so
  that a step pays only the call.
- :func:`step_views`: per-step views of a (T, rows, B) buffer, built by iterating over it once.
- :func:`single_threaded_blas`: the per-step GEMMs run on one BLAS thread
  (:func:`blas_libraries`: the BLAS libraries threadpoolctl finds).
"""

import math
import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from functools import partial

import numpy as np
from scipy.linalg.blas import dgemm, sgemm

__all__ = ["Workspace", "workspace", "clear_workspace", "trim_workspace", "kept_rings",
           "bind_gemm_accs", "no_gemms", "blas_libraries",
           "single_threaded_blas", "step_views", "step_slabs", "cols_per_step", "gate_blocks"]

_GEMM = {np.dtype(np.float32): sgemm, np.dtype(np.float64): dgemm}

# -- per-thread buffers ------------------------------------------------------------------------
ALIGNMENT = 64  # bytes: a cache line, and a whole number of SIMD registers


def aligned_empty(shape, dtype):
    """An uninitialised array whose data starts at a multiple of ``ALIGNMENT`` bytes.

    numpy's allocations start 16 bytes past a 64-byte boundary more often than not, and the
    elementwise calls of a small step run measurably slower (up to tens of percent, varying
    from one allocation to the next) on data that straddles cache lines: aligned buffers make
    the speed of a step the same from call to call.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def _owner(a):
    """The array that owns the memory of ``a`` (itself, or the raw buffer of aligned_empty)."""
    return a.base if a.base is not None and a.base.dtype == np.uint8 else a



class Workspace:
    """Free lists of arrays by (shape, dtype), so that buffers are reused from call to call.

    Only arrays handed out by :meth:`empty` are taken back, and at most ``limit`` bytes are
    kept (the oldest shapes are dropped first). Arrays below ``min_bytes`` come from the
    allocator's heap without page faults, and are neither tracked nor kept.

    Parameters
    ----------
    limit : int, default=2**30
        Most bytes kept for reuse.
    """

    min_bytes = 1 << 17

    def __init__(self, limit=2**30):
        self.limit = limit
        self.nbytes = 0
        self._free = {}  # (shape, dtype) -> [arrays], oldest key first
        self._lent = {}  # id -> weak reference to an array handed out

    def empty(self, shape, dtype):
        """An uninitialised array, reused if one of that shape and dtype was given back.

        Parameters
        ----------
        shape : tuple of int
            Shape.
        dtype : dtype
            Data type.

        Returns
        -------
        ndarray
            The array.
        """
        dtype = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
        if math.prod(shape) * dtype.itemsize < self.min_bytes:
            return aligned_empty(shape, dtype)
        key = (tuple(shape), dtype)
        arrays = self._free.get(key)
        if arrays:
            a = arrays.pop()
            self.nbytes -= a.nbytes
        else:
            a = aligned_empty(shape, dtype)
        if len(self._lent) > 4096:  # forget arrays that were never given back
            self._lent = {k: r for k, r in self._lent.items() if r() is not None}
        self._lent[id(a)] = weakref.ref(a)
        return a

    def zeros(self, shape, dtype):
        """Like :meth:`empty`, filled with zeros.

        Parameters
        ----------
        shape : tuple of int
            Shape.
        dtype : dtype
            Data type.

        Returns
        -------
        ndarray
            The array.
        """
        a = self.empty(shape, dtype)
        a.fill(0)
        return a

    def give(self, *arrays):
        """Take back arrays from :meth:`empty` that nothing uses any more; ignore others.

        Parameters
        ----------
        *arrays : ndarray or None
            Arrays to take back.
        """
        for a in arrays:
            ref = None if a is None else self._lent.pop(id(a), None)
            if ref is None or ref() is not a:
                continue
            if a.nbytes > self.limit // 2:
                continue
            self.trim(self.limit - a.nbytes)
            key = (a.shape, a.dtype)
            self._free[key] = self._free.pop(key, []) + [a]  # most recent key last
            self.nbytes += a.nbytes

    def trim(self, limit):
        """Free the oldest arrays kept for reuse until at most ``limit`` bytes are kept.

        Parameters
        ----------
        limit : int
            Bytes to keep.
        """
        while self.nbytes > limit:
            old = next(iter(self._free))
            self.nbytes -= sum(x.nbytes for x in self._free.pop(old))

    def clear(self):
        """Free every array kept for reuse."""
        self.trim(0)


class Unpooled:
    """Allocation with the interface of :class:`Workspace`, for buffers nobody gives back."""

    empty = staticmethod(aligned_empty)

    @staticmethod
    def zeros(shape, dtype):
        """An aligned array of zeros."""
        a = aligned_empty(shape, dtype)
        a.fill(0)
        return a

    @staticmethod
    def give(*arrays):
        """Nothing to take back."""


_local = threading.local()
KEPT_RINGS = 8  # kept rings per thread (see kept_rings)


def workspace():
    """This thread's :class:`Workspace`.

    Returns
    -------
    Workspace
        The workspace of the calling thread.
    """
    ws = getattr(_local, "workspace", None)
    if ws is None:
        ws = _local.workspace = Workspace()
    return ws


def kept_rings():
    """This thread's kept inference rings, least recently used first.

    Returns
    -------
    collections.OrderedDict
        Key -> kept ring; callers keep it at most ``KEPT_RINGS`` long.
    """
    rings = getattr(_local, "rings", None)
    if rings is None:
        rings = _local.rings = OrderedDict()
    return rings


KEEP_AFTER_CALL = 1 << 26  # bytes of reusable buffers kept after an estimator's call


def trim_workspace(limit=KEEP_AFTER_CALL):
    """Keep at most ``limit`` bytes of this thread's reusable buffers, the most recent ones.

    The estimators call this after ``fit`` and after every prediction: the next call with
    the same sizes then writes into memory that is already mapped, and a thread never holds
    more than ``limit`` bytes (plus its kept rings) between calls.

    Parameters
    ----------
    limit : int, default=KEEP_AFTER_CALL
        Bytes to keep.
    """
    workspace().trim(limit)


def clear_workspace(rings=True):
    """Free the buffers this thread keeps for reuse.

    Parameters
    ----------
    rings : bool, default=True
        Also free the kept inference rings (at most ``KEPT_RINGS`` small buffers per thread,
        which make repeated predictions on batches of the same sizes faster).

    Examples
    --------
    >>> from skrnn.nn import clear_workspace
    >>> clear_workspace()  # e.g. after predicting on a large batch, to give the memory back
    """
    workspace().clear()
    if rings:
        kept_rings().clear()


# -- BLAS --------------------------------------------------------------------------------------
_blas_pools = None
_BLAS_THREADS_MIN_SIZE = 65536 * 4


def blas_libraries():
    """threadpoolctl's controllers of the BLAS libraries in the process, found at the first call.

    numpy and scipy may each bring their own BLAS. Each controller names its library
    (``internal_api``, e.g. "openblas"), its core where it has one (``architecture``) and
    sets its threads. Without threadpoolctl, or if it fails, the list is empty.

    Returns
    -------
    list
        The controllers (``threadpoolctl.LibController``).
    """
    global _blas_pools
    if _blas_pools is None:
        try:
            from threadpoolctl import ThreadpoolController

            _blas_pools = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:  # threadpoolctl missing or failing: no library known
            _blas_pools = []
    return _blas_pools


@contextmanager
def single_threaded_blas(gemm_size=None):
    """Context in which BLAS runs on one thread (the time loops' per-step GEMMs).

    A per-step GEMM is too small to gain much from a second thread, and waiting for a thread
    that another process occupies can cost milliseconds per call. The GEMMs outside the loops
    keep the caller's thread settings. numpy and scipy may each bring their own BLAS, so every
    BLAS library found by threadpoolctl is limited; without threadpoolctl this does nothing.
    GEMMs of ``gemm_size`` = m*n*k below OpenBLAS's threshold for threads (65536 * 4) run on
    one thread anyway: then nothing needs to change.

    Parameters
    ----------
    gemm_size : int or None, default=None
        m*n*k of the per-step GEMMs, if known.

    Yields
    ------
    None
        Inside the context, BLAS runs on one thread.
    """
    if gemm_size is not None and gemm_size < _BLAS_THREADS_MIN_SIZE:
        yield
        return
    saved = [(lib, lib.num_threads) for lib in blas_libraries()]
    saved = [(lib, n) for lib, n in saved if n != 1]
    for lib, _ in saved:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in saved:
            lib.set_num_threads(n)


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
    """Per step k, a callable without arguments doing ``outs[k] += a_k @ b_k`` in place.

    Operands are read at each call. For a C-contiguous float32/float64 output the call is one
    BLAS gemm with beta = 1, its arguments prepared here once. (scipy's gemm works on
    Fortran-ordered arrays, so it computes the transposed product ``out.T += b.T @ a.T``, which
    reads and writes the same memory; a weight matrix is passed with a transpose flag rather
    than copied.) Other outputs fall back to ``out += a @ b``.

    Parameters
    ----------
    outs : list of ndarray or None
        Per step, the (m, n) output, or None (no call for that step).
    a : ndarray or list of ndarray
        One (m, k) matrix used by every step, or one per step.
    b : ndarray or list of ndarray
        One (k, n) matrix used by every step, or one per step.

    Returns
    -------
    list
        Per step, the callable, or None where ``outs[k]`` is None.

    Examples
    --------
    >>> import numpy as np
    >>> out, a, b = np.zeros((2, 2)), np.eye(2), np.ones((2, 2))
    >>> [accumulate] = bind_gemm_accs([out], a, b)
    >>> a[0, 0] = 3.0  # operands are read when the call runs
    >>> _ = accumulate()
    >>> out
    array([[3., 3.],
           [1., 1.]])
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
    if isinstance(a, list):  # per-step left operands, one matrix on the right
        b_t, trans_b = _blas_operand(b.T)
        for o, x in zip(outs, a):
            bound.append(None if o is None else
                         partial(gemm, 1.0, b_t, x.T, 1.0, o.T, trans_b, 0, 1)
                         if o.flags.c_contiguous else partial(_add_product, o, x, b))
    elif isinstance(b, list):  # one matrix on the left, per-step right operands
        a_t, trans_a = _blas_operand(a.T)
        for o, y in zip(outs, b):
            bound.append(None if o is None else
                         partial(gemm, 1.0, y.T, a_t, 1.0, o.T, 0, trans_a, 1)
                         if _bind(o, a) else partial(_add_product, o, a, y))
    else:
        b_t, trans_b = _blas_operand(b.T)
        a_t, trans_a = _blas_operand(a.T)
        for o in outs:
            bound.append(None if o is None else
                         partial(gemm, 1.0, b_t, a_t, 1.0, o.T, trans_b, trans_a, 1)
                         if _bind(o, a) else partial(_add_product, o, a, b))
    return bound


# A product of one column by a matrix of at least this many entries goes through NumPy's
# matrix-vector product: the transposed gemm bound above computes it as a one-row gemm, which
# OpenBLAS runs 2-3x slower than a gemv once the matrix is about 128 x 128 (measured, float32,
# one thread: 104 us against 36 at 1024 x 256; at 64 x 16 the bound gemm is faster, 1.1 us
# against 5.3).
_GEMV_FROM = 1 << 14


def _bind(out, a):
    """Whether ``out += a @ y`` is bound to a BLAS gemm (else it is NumPy's product)."""
    return out.flags.c_contiguous and (out.shape[1] > 1 or a.size < _GEMV_FROM)


# -- per-step views ----------------------------------------------------------------------------
def _skip():
    pass


def no_gemms(outs, a, b):
    """A kernel's ``forward_args`` binding for steps whose recurrent term is already in their
    gates (a stepper's joined GEMV, :func:`~skrnn.nn._fast.weights.joined`): per step, a
    callable that does nothing, in place of :func:`bind_gemm_accs`."""
    return [_skip] * len(outs)


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


def step_views(a, index, ns):
    """Per-step views ``a[t][..., :n]`` for t, n in zip(index, ns); None where n = 0.

    Parameters
    ----------
    a : ndarray of shape (T, ..., B)
        A buffer with one slab per step, sequences in the last axis.
    index : list of int
        Consecutive steps, forward or backward.
    ns : list of int
        Active sequences at each of those steps (monotonic: sequences sorted by length).

    Returns
    -------
    list of ndarray or None
        The views.
    """
    full = a.shape[-1]
    if ns and min(ns[0], ns[-1]) == full:
        return _steps(a, index)
    return [v if n == full else v[..., :n] if n else None
            for v, n in zip(_steps(a, index), ns)]


def step_slabs(a, index):
    """Per-step slabs ``a[t]``, every column, for t in index; None where t is out of range.

    The compiled kernels take whole slabs (C-contiguous whenever ``a`` is) and the number of
    active columns, rather than views of the active columns.
    """
    return _steps(a, index)


def gate_blocks(a, k):
    """View of ``a`` (K, k*H, B) as (K, k, H, B): k gate blocks per step."""
    K, kH, B = a.shape
    return a.reshape(K, k, kH // k, B)


def cols_per_step(a, ns):
    """``a[..., :n]`` for every n in ``ns``: one scratch array for every step.

    Parameters
    ----------
    a : ndarray of shape (..., B)
        The scratch array.
    ns : list of int
        Active sequences at each step (monotonic).

    Returns
    -------
    list of ndarray
        The views (``a`` itself where n = B).
    """
    full = a.shape[-1]
    if ns and min(ns[0], ns[-1]) == full:
        return [a] * len(ns)
    return [a if n == full else a[..., :n] for n in ns]
