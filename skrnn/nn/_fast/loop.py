"""The fast path's loop over time of one layer and direction.

Same interface and results as :mod:`skrnn.nn.recurrent` (the reference, one step at a time);
what it adds is how the work is arranged:

- The input projection of many steps is one batched GEMM (``Wb @ X1``, the bias as the last
  column of ``Wb`` against the last row of ``X1``, which is 1 at real steps and 0 at padded
  ones, so padded projections are zero).
- Each kernel runs its own loop over the steps on views built once per call
  (:mod:`skrnn.nn._fast.lstm`, ``gru``, ``rnn``).
- Inference with the LSTM projects a chunk of steps at a time into a buffer that stays in
  cache, and when only the final states are read, keeps the states of a chunk in a ring of
  chunk+1 slots: every chunk then runs through the same per-step views, kept by the thread for
  its next call with the same sizes (:func:`ring_sizes`, :func:`kept_ring`).
- The backward pass computes the elementwise factors of a chunk of steps at once, and the
  weight gradients of a group of steps with one GEMM each over all (step, sequence) pairs.

State buffers have T+1 slots (``slots`` in a ring): forward, slot 0 holds the initial state and
step t reads slot t and writes slot t+1; reverse, step t reads slot t+1 and writes slot t, and
the initial state is in slot T. A buffer is zero wherever no step writes, so a reverse sequence
of length L starts from the zero state in slot L.
"""

import numpy as np

from ..cells import Weights
from ..recurrent import Direction
from .buffers import (KEPT_RINGS, Unpooled, kept_rings, no_gemms, single_threaded_blas,
                      workspace)
from .weights import unpermuted

__all__ = ["forward", "backward", "last_slot"]

# Elements of backward factors computed at once (a chunk of steps): about 512 KB in float32.
_CHUNK_ELEMENTS = 1 << 17
# Gates projected at once during inference (ring_sizes): about 512 KB in float32, and at least
# this many steps.
_RING_ELEMENTS = 1 << 17
_MIN_CHUNK_STEPS = 4
# Elements of gate gradients summed into the weight gradients at once (the kernel's
# ``group_elements``, by default about 8 MB in float32).
_GROUP_ELEMENTS = 1 << 21


def last_slot(L, slots):
    """The state slot a forward sequence of length L >= 1 ends in, out of ``slots``.

    L with T+1 slots; in a ring of ``slots - 1`` steps the step L-1 writes slot
    (L-1) % (slots-1) + 1. A reverse direction over T steps starts from this slot for L = T.
    """
    return (L - 1) % (slots - 1) + 1


def init_states(S, T, s0, reverse, padded):
    """Write the initial state s0 (H, B) into the state buffer S (slots, H, B), and zeros
    wherever no step writes: everywhere else if some sequences are padded, else nowhere (every
    step writes every column). A reverse direction starts in slot ``last_slot(T, slots)``;
    over a padded batch, where each sequence starts at its own last step, from zero only (the
    network runs other starts forward over reversed sequences)."""
    if padded:
        S[...] = 0
    if reverse:
        if padded and s0.any():
            raise ValueError("the fast path starts a reverse direction over a padded batch "
                             "from the zero state only")
        if not padded and T:
            S[last_slot(T, len(S))] = s0
    else:
        S[0] = s0


def ring_sizes(kernel, T, B, H, keep, outputs):
    """(chunk, slots, ring): how many steps are projected at once, how many state slots are
    kept, and whether the states live in a ring.

    Training keeps everything: the projection of all T steps (the gates the backward pass
    needs) and T+1 state slots. Inference with a kernel that supports it (``chunked``)
    projects ``chunk`` steps at a time into a buffer small enough to stay in cache. When only
    the final states are read (``outputs=False``), the states of a chunk live in ``chunk + 1``
    slots too: the steps of every chunk work on the same buffers through the same per-step
    views, and the state after a chunk is copied to the slot the next chunk starts from.
    """
    if keep or not kernel.chunked or T == 0:
        return T, T + 1, False
    chunk = min(T, max(_MIN_CHUNK_STEPS, _RING_ELEMENTS // (B * H * kernel.n_gates)))
    return chunk, (chunk + 1 if not outputs else T + 1), not outputs


def kept_ring(kernel, w, T, B, state0, reverse, chunk):
    """Buffers, weights and per-step arguments of an unpadded inference ring, kept by this
    thread for its next call with the same sizes.

    Building the per-step views and bound GEMMs of a ring costs about 1.8 us per step of the
    ring at B=32, H=16, a third of what the step itself costs, and a call over a short sequence
    builds them for every step to use them once. A kept ring owns its buffers and a copy of the
    weights, which its arguments are bound to, so that a later call only copies the weights in
    and sets the initial states. Its states stay valid until this thread's next call with the
    same sizes. At most ``KEPT_RINGS`` are kept per thread, the least recently used go.
    Returns (bufs, weights, per-step arguments), ``bufs`` a dict the caller may change.
    """
    rings = kept_rings()
    arrays = {k: v for k, v in w.items() if isinstance(v, np.ndarray)}
    key = (type(kernel), kernel.name, chunk, B, state0[0].shape, state0[0].dtype, reverse,
           tuple((k, v.shape) for k, v in arrays.items()))
    kept = rings.pop(key, None)
    if kept is None:
        w_own = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in w.items()}
        bufs = kernel.allocate(w_own, T, B, Unpooled, False, reverse, False, chunk, chunk + 1)
        args = reusable(kernel.forward_args(w_own, bufs, time_steps([B] * chunk, reverse)))
        kept = (w_own, bufs, args)
    else:
        w_own = kept[0]
        for k, v in arrays.items():
            np.copyto(w_own[k], v)
    for name, s0 in zip(kernel.states, state0):
        init_states(kept[1][name], T, s0, reverse, False)
    rings[key] = kept
    while len(rings) > KEPT_RINGS:
        rings.popitem(last=False)
    return dict(kept[1]), kept[0], kept[2]


def reusable(args):
    """A kernel's per-step arguments in a form that runs again and slices: the NumPy kernels'
    (an iterator) as a list, the compiled kernels' (:class:`~.compiled.Steps`) as they are."""
    return args if hasattr(args, "__getitem__") else list(args)


def time_steps(n, reverse):
    """Columns (t, i_prev, i_out, n) of the steps that have an active sequence, in processing
    order: step t reads state slot i_prev, writes slot i_out, and n sequences are active.
    ``n`` lists the active sequences of every step."""
    T = len(n) - n.count(0)  # n is non-increasing: the active steps come first
    if reverse:
        t = list(range(T - 1, -1, -1))
        return t, list(range(T, 0, -1)), t, n[T - 1 :: -1] if T else []
    t = list(range(T))
    return t, t, list(range(1, T + 1)), n[:T]


def _chunks(cols, chunk, reverse):
    """The columns of :func:`time_steps` split into the steps of each aligned chunk
    [lo, lo + chunk), in processing order. Yields (lo, block)."""
    t = cols[0]
    i, total = 0, len(t)
    while i < total:
        lo = t[i] // chunk * chunk
        j = min(total, i + (t[i] - lo + 1 if reverse else lo + chunk - t[i]))
        yield lo, [c[i:j] for c in cols]
        i = j


def _slot_columns(cols, lo, s):
    """Step columns (t, i_prev, i_out, n) as slots of buffers starting at step ``lo`` (the
    projection) and state ``s`` (the states: 0 unless they live in a ring)."""
    if not lo:
        return cols
    t, i_prev, i_out, n = cols
    return [i - lo for i in t], [i - s for i in i_prev], [i - s for i in i_out], n


def forward(kernel, w, X1, n_active, state0, reverse=False, keep=True, outputs=True):
    """Run one layer and direction over a batch: see :func:`skrnn.nn.recurrent.forward`.

    Without ``keep`` (inference), only the outputs and final states are kept; without
    ``outputs``, only the final states (``Direction.Y`` is None), and for an unpadded batch
    they are views of this thread's kept ring until its next call with the same sizes (the
    final states returned here are copies).
    """
    ws = workspace()
    T, B = X1.shape[0], X1.shape[2]
    H = state0[0].shape[0]
    n_active = n_active if isinstance(n_active, list) else n_active.tolist()
    padded = T > 0 and n_active[-1] < B
    chunk, slots, ring = ring_sizes(kernel, T, B, H, keep, outputs)
    ring_args = None
    if ring and not padded:  # every chunk runs the steps of one full chunk, or a part of them
        bufs, w, ring_args = kept_ring(kernel, w, T, B, state0, reverse, chunk)
    else:
        bufs = kernel.allocate(w, T, B, ws, keep, reverse, padded, chunk, slots)
        for name, s0 in zip(kernel.states, state0):
            init_states(bufs[name], T, s0, reverse, padded)
    proj = bufs.pop("proj")
    cols = time_steps(n_active, reverse)
    with single_threaded_blas(B * H * H * kernel.n_gates):
        for k, (lo, block) in enumerate(_chunks(cols, chunk, reverse)):
            hi = min(lo + chunk, T)
            # the columns longest first: no step of the chunk reads past n_active[lo]
            nb = n_active[lo] if padded else B
            np.matmul(w["Wb"], X1[lo:hi, :, :nb], out=proj[: hi - lo, :, :nb])
            if k:  # carry the states of a ring over to the slot this chunk starts from
                for S in (bufs[name] for name in kernel.states):
                    if len(S) <= T:
                        S[chunk if reverse else 0] = S[0 if reverse else chunk]
            if ring_args is not None:
                m = len(block[0])  # steps in this chunk: all of a full chunk's, or some
                args = ring_args[chunk - m :] if reverse else ring_args[:m]
            else:
                args = kernel.forward_args(w, bufs, _slot_columns(block, lo, lo if ring else 0))
            kernel.forward_steps(w, args)
    final = _final_states(kernel, bufs, n_active, state0, reverse, padded)
    HS = bufs["HS"]
    Y = None if ring else (HS[:T] if reverse else HS[1:])
    if not keep:
        ws.give(*(bufs.pop(name) for name in kernel.inference_scratch))
    return Direction(Y, final, (kernel, bufs, X1, reverse) if keep else (kernel, bufs))


def _final_states(kernel, bufs, n_active, state0, reverse, padded):
    """Each sequence's state after its last step (in the direction's order), copies."""
    if reverse:
        return tuple(bufs[name][0].copy() for name in kernel.states)
    T = len(n_active)
    if not padded:
        return tuple(bufs[name][last_slot(T, len(bufs[name]))].copy() if T else s0.copy()
                     for name, s0 in zip(kernel.states, state0))
    B = state0[0].shape[1]
    lengths = np.searchsorted(-np.asarray(n_active), -np.arange(B), side="left")
    # lengths[b] = number of steps where column b is active (n_active is non-increasing)
    cols = np.arange(B)
    final = []
    for name, s0 in zip(kernel.states, state0):
        S = bufs[name]
        h = np.ascontiguousarray(S[last_slot(np.maximum(lengths, 1), len(S)), :, cols].T)
        empty = lengths == 0
        if empty.any():  # a sequence without a step keeps its initial state
            h[:, empty] = s0[:, empty]
        final.append(h)
    return tuple(final)


def _backward_steps(n_active, reverse):
    """Columns (t, t_prev, n, m) of all T steps, in backward order.

    ``t_prev`` is the step whose output is step t's previous state (t-1, or t+1 in reverse),
    ``n`` the sequences active at t and ``m`` how many of them have a real previous step (the
    others start from the initial state, whose gradient is not needed).
    """
    n = list(n_active)
    T = len(n)
    if reverse:
        return list(range(T)), list(range(1, T + 1)), n, n[1:] + [0]
    n_back = n[::-1]
    return list(range(T - 1, -1, -1)), list(range(T - 2, -2, -1)), n_back, n_back[:-1] + [0]


def _active_block(steps, start, stop):
    """The columns of ``steps`` at positions start..stop-1, without the steps where no
    sequence is active."""
    block = [c[start:stop] for c in steps]
    n = block[2]
    if n and min(n) == 0:
        keep = [i for i, k in enumerate(n) if k]
        block = [[c[i] for i in keep] for c in block]
    return block


def backward(kernel, w, cache, dY, n_active, reverse=False, need_dX=True):
    """Backpropagation through time: see :func:`skrnn.nn.recurrent.backward`.

    ``dY`` is overwritten. The steps run in groups; after each group, the weight gradients of
    its steps are summed with one GEMM each over all (step, sequence) pairs of the group. A
    group is all T steps unless its gate gradients exceed the kernel's ``group_elements``:
    then the copies the GEMMs read (the gradients and previous states, sequences-major) are
    made while they are still in cache, into small buffers. Afterwards the direction's buffers
    go back to the workspace.
    """
    kernel, bufs, X1, _ = cache
    T, H, B = dY.shape
    ws = workspace()
    G = kernel.n_gates
    chunk = max(1, min(T, _CHUNK_ELEMENTS // (B * H * (G + 1))))
    group_elements = getattr(kernel, "group_elements", _GROUP_ELEMENTS)
    group = chunk * max(1, group_elements // (B * H * G * chunk))
    bwd = kernel.start_backward(bufs, dY, chunk, ws)
    n_active = n_active if isinstance(n_active, list) else n_active.tolist()
    steps = _backward_steps(n_active, reverse)
    t_order = steps[0]
    HS = bufs["HS"]
    grads = _WeightGrads(w, X1, HS[1:] if reverse else HS[:T], need_dX, ws)
    for first in range(0, T, group):
        with single_threaded_blas(B * H * H * G):
            for start in range(first, min(first + group, T), chunk):
                stop = min(start + chunk, first + group, T)
                lo = min(t_order[start], t_order[stop - 1])
                kernel.factors(bufs, bwd, lo, lo + stop - start, reverse)
                block = _active_block(steps, start, stop)
                kernel.backward_steps(w, kernel.backward_args(w, bufs, bwd, block, lo))
        last = min(first + group, T) - 1
        lo, hi = min(t_order[first], t_order[last]), max(t_order[first], t_order[last]) + 1
        kernel.clear_padding(bufs, bwd, n_active, lo, hi)
        Zx, Zh, scratch = kernel.preactivation_grads(bufs, bwd, ws, lo, hi)
        grads.add(Zx, Zh, lo, hi)
        ws.give(*scratch)
    bwd.pop("dH", None), bwd.pop("dZ", None)  # the caller's dY
    ws.give(*(bufs.pop(name) for name in kernel.private), *bwd.values(),
            *(bufs.pop(name) for name in kernel.states))
    return grads.result(kernel.order)


class _WeightGrads:
    """Weight gradients summed over groups of steps, one GEMM per group, and dX (T, D, B)
    from ``ws`` (the caller gives it back when done with it)."""

    def __init__(self, w, X1, H_prev, need_dX, ws):
        self.w, self.X1, self.H_prev, self.ws = w, X1, H_prev, ws
        T, D1, B = X1.shape
        self.dX = ws.empty((T, D1 - 1, B), X1.dtype) if need_dX else None
        self.dWb = self.dW_hh = self.db_hh = None

    def add(self, Zx, Zh, lo, hi):
        """Zx, Zh : (G*H, hi-lo, B), gradients w.r.t. the input and the recurrent
        pre-activations of steps lo..hi-1 (the kernel's gate order), zero at padded steps."""
        ws = self.ws
        GH, K, B = Zx.shape
        N = K * B
        D1, H = self.X1.shape[1], self.H_prev.shape[1]
        # (D+1, K*B): a view when X1 is stored feature-major, as the network stores it
        Xg = self.X1[lo:hi].transpose(1, 0, 2).reshape(D1, N)
        Hc = ws.empty((H, K, B), Zx.dtype)
        np.copyto(Hc, self.H_prev[lo:hi].transpose(1, 0, 2))
        Zx2, Zh2 = Zx.reshape(GH, N), Zh.reshape(GH, N)
        dWb = Zx2 @ Xg.T  # [dW_ih | db_ih]: the last row of X1 is 1 where real
        dW_hh = Zh2 @ Hc.reshape(H, N).T
        db_hh = None if Zh is Zx else Zh2 @ np.ones(N, Zh.dtype)
        if self.dWb is None:
            self.dWb, self.dW_hh, self.db_hh = dWb, dW_hh, db_hh
        else:
            self.dWb += dWb
            self.dW_hh += dW_hh
            if db_hh is not None:
                self.db_hh += db_hh
        if self.dX is not None:
            dXc = self.w["W_ih"].T @ Zx2  # (D, K*B), step-major inside each row
            np.copyto(self.dX[lo:hi], dXc.reshape(-1, K, B).transpose(1, 0, 2))
        ws.give(Hc)

    def result(self, order):
        """(dX, Weights of the gradients in PyTorch's gate order)."""
        db_ih = self.dWb[:, -1]
        db_hh = db_ih.copy() if self.db_hh is None else self.db_hh
        grads = Weights(unpermuted(self.dWb[:, :-1], order), unpermuted(self.dW_hh, order),
                        unpermuted(db_ih, order), unpermuted(db_hh, order))
        return self.dX, grads


class Stepper:
    """One layer run one step at a time, for streaming: the interface of
    :class:`skrnn.nn.recurrent.Stepper` over the kernel's step.

    A call to :func:`forward` for one step costs far more than the step (finding the kept
    ring, setting up the loop), and at one step the input projection and the recurrent term
    are two small GEMMs of the same shape where a sequence has one per step. A stepper binds
    everything once and keeps its input ``z`` = [x; h_prev; 1] (D+H+1, n) in one buffer; a
    step is

    - x copied into ``z``;
    - one GEMV per block the kernel names (:meth:`~.lstm.LSTMKernel.step_gemvs`):
      ``[W_ih | W_hh | b] @ z``, the input projection and the recurrent term at once;
    - the kernel's step with its own recurrent GEMMs skipped (:func:`~.buffers.no_gemms`),
      from the state slots (2, H, n) of its usual layout (contiguous, as the compiled loops
      need for their vectorised steps);
    - the new state moved to the slot the next step reads, and h to the h rows of ``z``.
    """

    def __init__(self, kernel, w, n):
        self.kernel, self.w = kernel, w
        Wb = w["Wb"]
        D, dtype = Wb.shape[1] - 1, Wb.dtype
        gemvs = kernel.step_gemvs(w)
        H = gemvs[0][1].shape[1] - D - 1
        self.z = np.zeros((D + H + 1, n), dtype)
        self.z[-1] = 1
        self.x, self.z_h = self.z[:D], self.z[D : D + H]
        self.bufs = kernel.allocate(w, 1, n, Unpooled, False, False, False, 1, 2,
                                    HS=np.zeros((2, H, n), dtype))
        self.gemvs = [(W, self.bufs[name][0]) for name, W in gemvs]
        self.args = reusable(kernel.forward_args(w, self.bufs, time_steps([n], False),
                                                 no_gemms))
        for name in kernel.states:
            self.bufs[name][0] = 0
        self.h = self.bufs["HS"][0]
        self.carry = [(self.bufs[name][0], self.bufs[name][1]) for name in kernel.states]

    def step(self, x):
        """Advance every sequence by one step; ``x`` (D, n). Returns h (H, n), a view that
        the next step overwrites."""
        np.copyto(self.x, x)
        for W, out in self.gemvs:
            np.dot(W, self.z, out=out)
        self.kernel.forward_steps(self.w, self.args)
        for slot0, slot1 in self.carry:  # the new state to the slot the next step reads
            np.copyto(slot0, slot1)
        np.copyto(self.z_h, self.h)
        return self.h

    def get_state(self):
        """The current state, ``(h,)`` or ``(h, c)``, copies of shape (H, n)."""
        return tuple(self.bufs[name][0].copy() for name in self.kernel.states)

    def set_state(self, state):
        """Continue from ``state``, ``(h,)`` or ``(h, c)``, each of shape (H, n)."""
        for name, s in zip(self.kernel.states, state):
            self.bufs[name][0] = s
        np.copyto(self.z_h, self.h)

