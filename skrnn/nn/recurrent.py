"""The time loop of one recurrent layer direction: masking, direction, backpropagation through time.

Variable lengths work like PyTorch's packed sequences. The rows of a batch are sorted by length,
longest first, so at step ``t`` the active sequences are exactly the first ``n_active[t]`` rows
and every step works on the views of its first ``n_active[t]`` rows. Padded steps are never
computed: they cannot change a state, reach a loss or a gradient, and they cost nothing.

States live in a buffer ``H`` of shape (T+1, B, H) with one extra slot for the initial state:

* forward direction: ``H[0] = h0`` and ``H[t+1] = h_t``; step t reads ``H[t]``, writes ``H[t+1]``.
* reverse direction: ``H[T] = 0`` and ``H[t] = h_t``; step t reads ``H[t+1]``, writes ``H[t]``.

A buffer is zero wherever a sequence has no step, so in the reverse direction a sequence of
length L starts from ``H[L] = 0``: the reverse direction starts at each sequence's own last real
step, from a zero state.

A cell keeps its per-step arrays either time-major, (n, H) (layout "BH"), or transposed, (H, n)
(layout "HB", see :mod:`skrnn.nn.cells`); the returned ``H`` is time-major in both cases.

Work outside the loop is done for many steps at once: the input projection of every step is one
(batched) GEMM before the loop, the weight gradients are one GEMM over all steps after it (over
groups of steps for large sizes, the bias gradients as GEMVs), and the elementwise factors of
the backward steps are computed for chunks of steps small enough to stay in cache.

Inference needs neither the gates of every step nor, when only the final states are read, the
states of every step. A cell that supports it (the LSTM) then projects the input of a chunk of
steps at a time into a buffer that stays in cache, and keeps the states of a chunk in a ring of
chunk+1 slots; every chunk then runs through the same per-step views, built once and kept by the
thread for its next call with the same sizes (see :func:`_ring_sizes`, :func:`_kept_ring`,
:func:`skrnn.nn.cells.last_slot`).

Buffers of 128 KiB and more come from a per-thread :class:`Workspace` and go back to it when a
call is done with them, so successive calls write into memory that is already mapped.
"""

import math
import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np

from .cells import init_states, last_slot

__all__ = ["project", "direction_forward", "direction_backward", "direction_outputs",
           "final_states", "Workspace", "workspace", "clear_workspace"]

# Elements of backward factors computed at once (a chunk of steps): about 512 KB in float32.
_CHUNK_ELEMENTS = 1 << 17
# Gates projected at once during inference (:func:`_ring_sizes`): about 512 KB in float32,
# and at least this many steps.
_RING_ELEMENTS = 1 << 17
_MIN_CHUNK_STEPS = 4
# Elements of gate gradients summed into the weight gradients at once: about 8 MB in float32.
_GROUP_ELEMENTS = 1 << 21

_blas_pools = None
_BLAS_THREADS_MIN_SIZE = 65536 * 4


@contextmanager
def single_threaded_blas(gemm_size=None):
    """Context: BLAS runs on one thread inside (the time loops' per-step GEMMs).

    A per-step GEMM is too small to gain much from a second thread, and waiting for a thread
    that another process occupies can cost milliseconds per call. The GEMMs outside the loops
    (input projection, weight gradients) keep the caller's thread settings. numpy and scipy may
    each bring their own BLAS, so every BLAS library found by threadpoolctl is limited; without
    threadpoolctl this does nothing. GEMMs of ``gemm_size`` = m*n*k below OpenBLAS's threshold
    for using threads (65536 * 4) run on one thread anyway: then nothing needs to change.
    """
    global _blas_pools
    if gemm_size is not None and gemm_size < _BLAS_THREADS_MIN_SIZE:
        yield
        return
    if _blas_pools is None:
        try:
            from threadpoolctl import ThreadpoolController

            _blas_pools = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:  # threadpoolctl missing or failing: leave the threads alone
            _blas_pools = []
    saved = [(lib, lib.num_threads) for lib in _blas_pools]
    saved = [(lib, n) for lib, n in saved if n != 1]
    for lib, _ in saved:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in saved:
            lib.set_num_threads(n)


class Workspace:
    """Free lists of arrays by (shape, dtype), so that buffers are reused from call to call.

    Writing to freshly allocated memory costs a page fault per page, several times the cost of
    a pass over memory that is already mapped (on the benchmark machine about 350 us per MB
    against 40 us per MB). Successive training steps allocate buffers of the same shapes, so
    the private buffers of the time loops are taken from here and given back when a call is
    done with them. Only arrays handed out by :meth:`empty` are taken back, and at most
    ``limit`` bytes are kept (the oldest shapes are dropped first): during training that is
    about the memory one step needs anyway; :func:`clear_workspace` frees it afterwards.
    Arrays below ``min_bytes`` come from the allocator's heap without page faults, and are
    neither tracked nor kept.
    """

    min_bytes = 1 << 17

    def __init__(self, limit=2**30):
        self.limit = limit
        self.nbytes = 0
        self._free = {}  # (shape, dtype) -> [arrays], oldest key first
        self._lent = {}  # id -> weak reference to an array handed out

    def empty(self, shape, dtype):
        dtype = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
        if math.prod(shape) * dtype.itemsize < self.min_bytes:
            return np.empty(shape, dtype)
        key = (tuple(shape), dtype)
        arrays = self._free.get(key)
        if arrays:
            a = arrays.pop()
            self.nbytes -= a.nbytes
        else:
            a = np.empty(shape, dtype)
        if len(self._lent) > 4096:  # forget arrays that were never given back
            self._lent = {k: r for k, r in self._lent.items() if r() is not None}
        self._lent[id(a)] = weakref.ref(a)
        return a

    def zeros(self, shape, dtype):
        a = self.empty(shape, dtype)
        a.fill(0)
        return a

    def give(self, *arrays):
        """Take back arrays from :meth:`empty` that nothing uses any more; ignore others."""
        for a in arrays:
            ref = None if a is None else self._lent.pop(id(a), None)
            if ref is None or ref() is not a:
                continue
            if a.nbytes > self.limit // 2:
                continue
            while self.nbytes + a.nbytes > self.limit:
                old = next(iter(self._free))
                self.nbytes -= sum(x.nbytes for x in self._free.pop(old))
            key = (a.shape, a.dtype)
            self._free[key] = self._free.pop(key, []) + [a]  # most recent key last
            self.nbytes += a.nbytes

    def clear(self):
        self._free.clear()
        self.nbytes = 0


_local = threading.local()


def workspace():
    """This thread's :class:`Workspace`."""
    ws = getattr(_local, "workspace", None)
    if ws is None:
        ws = _local.workspace = Workspace()
    return ws


def clear_workspace():
    """Free the buffers this thread keeps for reuse (:class:`Workspace`, :func:`_kept_ring`)."""
    workspace().clear()
    _rings().clear()


class _Unpooled:
    """Allocation with the interface of :class:`Workspace`, for buffers that nobody gives back
    (those of a kept ring, :func:`_kept_ring`)."""

    empty = staticmethod(np.empty)
    zeros = staticmethod(np.zeros)


def _rings():
    """This thread's kept rings (:func:`_kept_ring`), most recently used last."""
    rings = getattr(_local, "rings", None)
    if rings is None:
        rings = _local.rings = OrderedDict()
    return rings


_KEPT_RINGS = 8


def _kept_ring(cell, w, T, h0, c0, reverse, chunk):
    """Buffers, weights and per-step arguments of an unpadded inference ring
    (:func:`_ring_sizes`), kept by this thread for its next call with the same sizes.

    Building the per-step views and bound GEMMs of a ring costs about 1.8 us per step of the
    ring at B=32, H=16, a third of what the step itself costs, and a call over a short
    sequence builds them for every step to use them once. A kept ring owns its buffers and a
    copy of the weights, which its arguments are bound to, so that a later call only copies
    the weights in and sets the initial states. Its states stay valid until this thread's next
    call with the same sizes. At most ``_KEPT_RINGS`` are kept, the least recently used go.
    Returns (bufs, weights, per-step arguments), ``bufs`` a dict the caller may change.
    """
    rings = _rings()
    shapes = tuple((k, v.shape) for k, v in vars(w).items() if isinstance(v, np.ndarray))
    key = (cell.name, chunk, h0.shape, h0.dtype, reverse, shapes)
    kept = rings.pop(key, None)
    if kept is None:
        w_own = SimpleNamespace(**{k: v.copy() if isinstance(v, np.ndarray) else v
                                   for k, v in vars(w).items()})
        bufs = cell.allocate(w_own, T, h0, c0, _Unpooled, False, reverse, False, chunk,
                             chunk + 1)
        steps = _time_steps([h0.shape[0]] * chunk, reverse)
        kept = (w_own, bufs, list(cell.forward_args(w_own, bufs, steps)))
    else:
        w_own, bufs, _ = kept
        for k, v in vars(w).items():
            if isinstance(v, np.ndarray):
                np.copyto(getattr(w_own, k), v)
        for name, s0 in zip(cell.states, (h0, c0)):
            init_states(bufs[name], T, s0, reverse, False)
    rings[key] = kept
    while len(rings) > _KEPT_RINGS:
        rings.popitem(last=False)
    return dict(kept[1]), w_own, kept[2]


def project(X, W, b, layout, out=None, ws=None, real=None):
    """Input projection for all steps at once, bias included.

    X : (T, B, D) time-major input; W : (G*H, D); b : (G*H,). real : None, or a (T, B) mask of
    the real steps, where the bias is added (the projection of a padded step is then zero).
    Returns ``X W^T + b`` as (T, B, G*H) for layout "BH", or per step ``W x_t^T + b`` as
    (T, G*H, B) for layout "HB"; written into ``out`` if given.

    The bias is one more input feature that is always 1 (``real``), so that the GEMM adds it: a
    separate pass over the result costs about as much as the GEMM itself when D is small. This
    also keeps a single input feature (D = 1) on the BLAS path, which matmul with an inner
    dimension of 1 leaves (an order of magnitude slower).
    """
    return _project(X, _with_bias(W, b), layout, out, ws, real)


def _with_bias(W, b):
    """``[W | b]`` (G*H, D+1): the weights of the input projection with the bias as a column."""
    Wb = np.empty((W.shape[0], W.shape[1] + 1), W.dtype)
    Wb[:, :-1], Wb[:, -1] = W, b
    return Wb


def _project(X, Wb, layout, out, ws, real):
    """:func:`project` with the bias already a column of ``Wb`` (:func:`_with_bias`)."""
    T, B, D = X.shape
    GH = Wb.shape[0]
    new = np.empty if ws is None else ws.empty
    if layout == "BH":
        A = np.empty((T, B, GH), X.dtype) if out is None else out
        X1 = new((T * B, D + 1), X.dtype)
        np.copyto(X1.reshape(T, B, D + 1)[:, :, :D], X)  # X may be a strided view
        X1[:, D] = 1 if real is None else real.reshape(T * B)
        np.matmul(X1, Wb.T, out=A.reshape(T * B, GH))
    else:
        A = np.empty((T, GH, B), X.dtype) if out is None else out
        X1 = new((T, D + 1, B), X.dtype)
        np.copyto(X1[:, :D], X.transpose(0, 2, 1))
        X1[:, D] = 1 if real is None else real
        np.matmul(Wb, X1, out=A)
    if ws is not None:
        ws.give(X1)
    return A


def _time_steps(n, reverse):
    """Columns (t, i_prev, i_out, n) of the steps that have an active row, in processing
    order: step t reads state slot i_prev, writes slot i_out, and n rows are active.
    ``n`` lists the active rows of every step."""
    T = len(n) - n.count(0)  # n is non-increasing: the active steps come first
    if reverse:
        t = list(range(T - 1, -1, -1))
        return t, list(range(T, 0, -1)), t, n[T - 1 :: -1] if T else []
    t = list(range(T))
    return t, t, list(range(1, T + 1)), n[:T]


def _ring_sizes(cell, T, B, H, keep, outputs):
    """(chunk, slots, ring): how many steps are projected at once, how many state slots are
    kept, and whether the states live in a ring.

    Training keeps everything: the projection of all T steps (the gates the backward pass
    needs) and T+1 state slots. Inference with a cell that supports it (``cell.chunked``)
    projects ``chunk`` steps at a time into a buffer small enough to stay in cache, instead of
    writing the projection of all steps to memory before the loop. When only the final states
    are read (``outputs=False``), the states of a chunk live in ``chunk + 1`` slots too: the
    steps of every chunk work on the same buffers through the same per-step views, and the
    state after a chunk is copied to the slot the next chunk starts from (a sequence of at
    most ``chunk`` steps has a ring that never wraps; its buffers are kept all the same, see
    :func:`_kept_ring`).
    """
    if keep or not getattr(cell, "chunked", False) or T == 0:
        return T, T + 1, False
    chunk = min(T, max(_MIN_CHUNK_STEPS, _RING_ELEMENTS // (B * H * cell.n_gates)))
    return chunk, (chunk + 1 if not outputs else T + 1), not outputs


def _chunks(steps, chunk, reverse):
    """The columns of ``steps`` (:func:`_time_steps`) split into the steps of each aligned
    chunk [lo, lo + chunk), in processing order. Yields (lo, block)."""
    t = steps[0]
    i, total = 0, len(t)
    while i < total:
        lo = t[i] // chunk * chunk
        j = min(total, i + (t[i] - lo + 1 if reverse else lo + chunk - t[i]))
        yield lo, [c[i:j] for c in steps]
        i = j


def _slot_columns(cols, lo, s):
    """Step columns (t, i_prev, i_out, n) as slots of buffers starting at step ``lo`` (the
    projection) and state ``s`` (the states: 0 unless they live in a ring)."""
    if not lo:
        return cols
    t, i_prev, i_out, n = cols
    return [i - lo for i in t], [i - s for i in i_prev], [i - s for i in i_out], n


def direction_forward(cell, w, X, n_active, h0, c0=None, reverse=False, keep=True,
                      outputs=True):
    """Run one direction of one layer over a padded, length-sorted batch.

    Parameters
    ----------
    cell : cell object from :mod:`skrnn.nn.cells`
    w : prepared weights, ``cell.prepare(...)``
    X : ndarray (T, B, D), time-major input, zero at padded steps
    n_active : ndarray (T,) of int, number of rows with a real step at t (non-increasing)
    h0, c0 : ndarray (B, H), initial states (c0 for the LSTM only; both zero if reverse)
    reverse : bool
    keep : bool, whether to keep what :func:`direction_backward` needs (False: inference)
    outputs : bool, whether the states of every step are needed; if False (inference only),
        only :func:`final_states` and the reverse direction's ``H[0]`` may be read.

    Returns
    -------
    bufs : dict of the cell's buffers; ``bufs["H"]`` (T+1, B, H) holds the states, see the
        module docstring, and ``bufs["C"]`` the LSTM's cell states likewise. Without
        ``outputs`` they may have fewer slots (:func:`_ring_sizes`, :func:`final_states`),
        and for an unpadded batch they are this thread's kept ring (:func:`_kept_ring`):
        read them before the next call with the same sizes.
    """
    ws = workspace()
    T = X.shape[0]
    n_active = n_active.tolist()
    B, H = h0.shape
    padded = T > 0 and min(n_active) < B
    chunk, slots, ring = _ring_sizes(cell, T, B, H, keep, outputs)
    Wb = _with_bias(*((w.W_ih, w.b) if cell.layout == "BH" else (w.W_ih_s, w.b_s)))
    ring_args = None
    if ring and not padded:  # every chunk runs the steps of one full chunk, or a part of them
        bufs, w, ring_args = _kept_ring(cell, w, T, h0, c0, reverse, chunk)
    else:
        bufs = cell.allocate(w, T, h0, c0, ws, keep, reverse, padded, chunk, slots)
    proj = bufs.pop("proj")
    real = (np.arange(B) < np.array(n_active)[:, None]) if padded else None
    steps = _time_steps(n_active, reverse)
    with single_threaded_blas(B * H * H * cell.n_gates):
        for k, (lo, cols) in enumerate(_chunks(steps, chunk, reverse)):
            hi = min(lo + chunk, T)
            _project(X[lo:hi], Wb, cell.layout, proj[: hi - lo], ws,
                     None if real is None else real[lo:hi])
            if k:  # carry the states of a ring over to the slot this chunk starts from
                for S in (bufs[name] for name in cell.states):
                    if len(S) <= T:
                        S[chunk if reverse else 0] = S[0 if reverse else chunk]
            if ring_args is not None:
                m = len(cols[0])  # steps in this chunk: all of a full chunk's, or some
                args = ring_args[chunk - m:] if reverse else ring_args[:m]
            else:
                args = cell.forward_args(w, bufs, _slot_columns(cols, lo, lo if ring else 0))
            cell.forward_steps(w, args)
    cell.finish_forward(bufs, ws, keep, outputs)
    if not keep:
        ws.give(*(bufs.pop(name) for name in cell.inference_scratch))
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
    h, c = (bufs[name][last_slot(lengths, len(bufs[name])), rows] if name in bufs else None
            for name in ("H", "C"))  # slot L, or its slot in a ring (_ring_sizes)
    return h, c


def _backward_steps(n_active, reverse):
    """Columns (t, t_prev, n, m) of all T steps, in backward order.

    ``t_prev`` is the step whose output is step t's previous state (t-1, or t+1 in reverse),
    ``n`` the rows active at t and ``m`` how many of them have a real previous step (the
    others start from the initial state, whose gradient is not needed).
    """
    n = n_active.tolist()
    T = len(n)
    if reverse:
        return list(range(T)), list(range(1, T + 1)), n, n[1:] + [0]
    n_back = n[::-1]
    return list(range(T - 1, -1, -1)), list(range(T - 2, -2, -1)), n_back, n_back[:-1] + [0]


def _active_block(steps, start, stop):
    """The columns of ``steps`` at positions start..stop-1, without the steps where no row is
    active."""
    block = [c[start:stop] for c in steps]
    n = block[2]
    if n and min(n) == 0:
        keep = [i for i, k in enumerate(n) if k]
        block = [[c[i] for i in keep] for c in block]
    return block


def direction_backward(cell, w, bufs, X, dH, n_active, reverse=False, need_dX=True):
    """Backpropagation through time for one direction of one layer.

    Parameters
    ----------
    cell, w, bufs, X, n_active, reverse : as given to / returned by :func:`direction_forward`
    dH : ndarray (T, B, H), gradient of the loss w.r.t. every output h_t (zero where padded).
        Used as workspace: its contents are overwritten.
    need_dX : bool, whether to return the gradient w.r.t. X (not needed for the first layer)

    Returns
    -------
    dX : ndarray (T, B, D) or None
    grads : tuple (d weight_ih, d weight_hh, d bias_ih, d bias_hh) in PyTorch's layout

    The steps run in groups; after each group, the weight gradients of its steps are summed
    with one GEMM each over all (step, row) pairs of the group. A group is all T steps unless
    its gate gradients exceed ``_GROUP_ELEMENTS``: then the GEMMs read them while they are
    still in cache, from a small buffer, instead of from a copy of all steps.

    Afterwards the direction's buffers, ``bufs["H"]`` included, go back to the workspace for
    reuse: the layers above have run their backward pass already, and nothing reads them again.
    """
    T, B, H = dH.shape
    ws = workspace()
    chunk = max(1, min(T, _CHUNK_ELEMENTS // (B * H * (cell.n_gates + 1))))
    group = chunk * max(1, _GROUP_ELEMENTS // (B * H * cell.n_gates * chunk))
    bwd = cell.start_backward(bufs, dH, chunk, ws)
    steps = _backward_steps(n_active, reverse)
    t_order = steps[0]
    n_active = n_active.tolist()
    H_prev = direction_outputs(bufs["H"], reverse)[1]
    grads = _WeightGrads(cell, w, X, H_prev, need_dX, ws)
    for first in range(0, T, group):
        with single_threaded_blas(B * H * H * cell.n_gates):
            for start in range(first, min(first + group, T), chunk):
                stop = min(start + chunk, first + group, T)
                lo = min(t_order[start], t_order[stop - 1])
                cell.factors(bufs, bwd, lo, lo + stop - start, reverse)
                block = _active_block(steps, start, stop)
                cell.backward_steps(w, cell.backward_args(w, bufs, bwd, block, lo))
        last = min(first + group, T) - 1
        lo, hi = min(t_order[first], t_order[last]), max(t_order[first], t_order[last]) + 1
        cell.clear_padding(bufs, bwd, n_active, lo, hi)
        Zx, Zh, scratch = cell.preactivation_grads(bufs, bwd, ws, lo, hi)
        grads.add(Zx, Zh, lo, hi)
        ws.give(*scratch)
    # Done with this direction's buffers (the layer above has run its backward pass already):
    # back to the workspace for the next call.
    ws.give(*(bufs.pop(name) for name in cell.private), *bwd.values(), bufs.pop("H"),
            bufs.pop("C", None), dH)
    return grads.result()


class _WeightGrads:
    """Weight gradients summed over groups of steps, one GEMM per group, in PyTorch's gate
    order; and dX (T, B, D) from ``ws`` (the layer below gives it back when done with it)."""

    def __init__(self, cell, w, X, H_prev, need_dX, ws):
        self.cell, self.w, self.X, self.H_prev = cell, w, X, H_prev
        self.dX = ws.empty(X.shape, X.dtype) if need_dX else None
        self.sums = None

    def add(self, Zx, Zh, lo, hi):
        """Zx, Zh : (G*H, (hi-lo)*B), gradients w.r.t. the input and the recurrent
        pre-activations of steps lo..hi-1 (internal gate order), zero at padded steps."""
        X, H_prev = self.X[lo:hi], self.H_prev[lo:hi]
        N, D = X.shape[0] * X.shape[1], X.shape[2]
        ones = np.ones(N, Zx.dtype)  # sums as GEMVs: numpy sums a transposed Zx row by row
        db_ih = Zx @ ones
        sums = (Zx @ X.reshape(N, D), Zh @ H_prev.reshape(N, -1), db_ih,
                db_ih.copy() if Zh is Zx else Zh @ ones)
        if self.sums is None:
            self.sums = sums
        else:
            for total, part in zip(self.sums, sums):
                total += part
        if self.dX is not None:
            np.matmul(Zx.T, self.w.W_ih, out=self.dX[lo:hi].reshape(N, D))

    def result(self):
        GH = self.sums[0].shape[0]
        inverse = np.argsort(self.cell.gate_order(GH // self.cell.n_gates))
        return self.dX, tuple(g[inverse] for g in self.sums)
