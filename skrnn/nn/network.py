"""A stacked, optionally bidirectional recurrent network with a dense head, on one flat vector.

:class:`RecurrentNetwork` holds configuration only. Its parameters are one flat vector
``theta`` (so L-BFGS, Adam and clipping work on one buffer) whose named views follow PyTorch's
``state_dict`` names::

    weight_ih_l{k}[_reverse]  (G*H_k, D_k)     weight_hh_l{k}[_reverse]  (G*H_k, H_k)
    bias_ih_l{k}[_reverse]    (G*H_k,)         bias_hh_l{k}[_reverse]    (G*H_k,)
    head.weight               (K, nd*H_last)   head.bias                 (K,)

with ``nd`` = 2 for bidirectional layers and ``D_k`` = input size for k = 0, ``nd*H_{k-1}``
after. Nothing is stored on the object during a call, so one network can serve many threads.

Batches are given batch-first: ``X`` (B, T, D) padded, with ``lengths`` (B,) in [1, T]; values
at padded steps are ignored.
"""

import math
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .cells import get_cell, last_slot
from .losses import LOSSES
from .recurrent import (direction_backward, direction_forward, direction_outputs, final_states,
                        workspace)

__all__ = ["RecurrentNetwork"]


@dataclass(frozen=True)
class _Batch:
    """A batch sorted by length (longest first), time-major, zero at padded steps."""

    order: np.ndarray  # (B,) sorted position -> original row
    lengths: np.ndarray  # (B,) sorted lengths
    X: np.ndarray  # (T, B, D), a view of the caller's array when nothing is padded: read only
    n_active: np.ndarray  # (T,) rows with a real step at t


@dataclass(frozen=True)
class RecurrentNetwork:
    """Configuration of a recurrent network with a dense head.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    input_size : int
    hidden_sizes : tuple of int, one per stacked layer
    n_outputs : int, width of the dense head
    bidirectional : bool
    output : {"last", "sequence"}
        "last": the head reads the last real state of each sequence (many-to-one; for
        bidirectional layers the forward direction's last real step joined with the backward
        direction's first step). "sequence": the head reads every real step (many-to-many).
    activation : {"tanh", "relu"}, for cell="rnn"
    dropout : float in [0, 1), dropout on the inputs of layers after the first, training only

    Examples
    --------
    >>> import numpy as np
    >>> net = RecurrentNetwork("gru", input_size=2, hidden_sizes=(4,), n_outputs=3)
    >>> theta = net.init_params(np.random.default_rng(0))
    >>> X = np.random.default_rng(1).normal(size=(5, 7, 2))
    >>> lengths = np.array([7, 3, 5, 1, 7])
    >>> net.forward(theta, X, lengths).shape
    (5, 3)
    >>> y = np.array([0, 1, 2, 1, 0])
    >>> loss, grad = net.loss_and_grad(theta, X, lengths, y, "softmax")
    >>> grad.shape == theta.shape
    True
    """

    cell: str
    input_size: int
    hidden_sizes: tuple
    n_outputs: int
    bidirectional: bool = False
    output: str = "last"
    activation: str = "tanh"
    dropout: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in self.hidden_sizes))
        get_cell(self.cell, self.activation)
        if self.output not in ("last", "sequence"):
            raise ValueError(f"output must be 'last' or 'sequence', got {self.output!r}")
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ValueError(f"hidden_sizes must be positive integers, got {self.hidden_sizes}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    # -- parameters ---------------------------------------------------------------------------
    @property
    def _cell(self):
        return get_cell(self.cell, self.activation)

    @property
    def n_directions(self):
        return 2 if self.bidirectional else 1

    def _suffixes(self):
        return ("", "_reverse")[: self.n_directions]

    @property
    def layout(self):
        """Tuple of (name, shape) in the order of the flat parameter vector."""
        return tuple((name, shape) for name, shape, _ in self._slices)

    @property
    def _slices(self):
        return _parameter_slices(self._cell.n_gates, self.input_size, self.hidden_sizes,
                                 self._suffixes(), self.n_outputs)

    @property
    def n_params(self):
        return self._slices[-1][2].stop

    def unpack(self, theta):
        """Dict of name -> view into ``theta`` (writing a view writes theta)."""
        return {name: theta[part].reshape(shape) for name, shape, part in self._slices}

    def init_params(self, rng, dtype=np.float64, forget_bias=1.0):
        """Glorot-uniform input and head weights, orthogonal recurrent weights, zero biases.

        Each gate block is initialised on its own. For the LSTM, ``bias_ih``'s forget-gate
        block is set to ``forget_bias``.
        """
        theta = np.zeros(self.n_params, dtype=dtype)
        G = self._cell.n_gates
        for name, W in self.unpack(theta).items():
            if name.startswith("weight_ih") or name == "head.weight":
                blocks = W.shape[0] // G if name != "head.weight" else W.shape[0]
                limit = np.sqrt(6.0 / (blocks + W.shape[1]))
                W[...] = rng.uniform(-limit, limit, size=W.shape)
            elif name.startswith("weight_hh"):
                H = W.shape[1]
                for g in range(G):
                    q, r = np.linalg.qr(rng.normal(size=(H, H)))
                    W[g * H:(g + 1) * H] = q * np.sign(np.diag(r))
            elif name.startswith("bias_ih") and self.cell == "lstm":
                H = W.shape[0] // 4
                W[H:2 * H] = forget_bias
        return theta

    def state_dict(self, theta):
        """PyTorch-style state dict: name -> array copy."""
        return {name: v.copy() for name, v in self.unpack(theta).items()}

    def params_from_state_dict(self, state_dict, dtype=None):
        """Flat vector from a state dict (names and shapes must match :attr:`layout`)."""
        expected = dict(self.layout)
        missing = set(expected) - set(state_dict)
        unexpected = set(state_dict) - set(expected)
        if missing or unexpected:
            raise ValueError(f"state dict does not match the network: missing {sorted(missing)}, "
                             f"unexpected {sorted(unexpected)}")
        dtype = dtype or np.result_type(*[np.asarray(v) for v in state_dict.values()])
        theta = np.empty(self.n_params, dtype=dtype)
        for name, view in self.unpack(theta).items():
            value = np.asarray(state_dict[name])
            if value.shape != expected[name]:
                raise ValueError(f"{name} has shape {value.shape}, expected {expected[name]}")
            view[...] = value
        return theta

    # -- batches ------------------------------------------------------------------------------
    def _batch(self, X, lengths):
        X = np.asarray(X)
        if X.ndim != 3 or X.shape[2] != self.input_size:
            raise ValueError(f"X must have shape (B, T, {self.input_size}), got {X.shape}")
        lengths = np.asarray(lengths, dtype=np.intp)
        B, T, _ = X.shape
        if lengths.shape != (B,) or (B and (lengths.min() < 1 or lengths.max() > T)):
            raise ValueError(f"lengths must be {B} integers in [1, {T}]")
        order = np.argsort(-lengths, kind="stable")
        L = lengths[order]
        if B and L[-1] == T:  # no padding: rows in the caller's order, a view (read only)
            return _Batch(order, L, X.transpose(1, 0, 2), np.full(T, B))
        Xt = X[order].transpose(1, 0, 2)  # a copy (zeroed where padded), like X batch-major
        real = np.arange(T)[:, None] < L[None, :]
        Xt[~real] = 0
        return _Batch(order, L, Xt, real.sum(axis=1))

    @staticmethod
    def _windows(T, tbptt_steps):
        k = T if tbptt_steps is None else int(tbptt_steps)
        if k < 1:
            raise ValueError(f"tbptt_steps must be a positive integer or None, got {tbptt_steps}")
        return [(s, min(s + k, T)) for s in range(0, T, k)]

    # -- forward ------------------------------------------------------------------------------
    def _prepared(self, P, dtype, for_backward=True):
        """Per layer, per direction: the cell's prepared weights in the batch's dtype (only
        those of the forward pass unless ``for_backward``), in buffers from this thread's
        workspace (:func:`_give_back` returns them)."""
        cell, empty = self._cell, workspace().empty
        out = []
        for k in range(len(self.hidden_sizes)):
            out.append([cell.prepare(*(P[f"{n}_l{k}{sfx}"].astype(dtype, copy=False) for n in
                                       ("weight_ih", "weight_hh", "bias_ih", "bias_hh")),
                                     for_backward=for_backward, empty=empty)
                        for sfx in self._suffixes()])
        return out

    def _initial_state(self, B, dtype):
        return [[(np.zeros((B, H), dtype), np.zeros((B, H), dtype)) for _ in self._suffixes()]
                for H in self.hidden_sizes]

    def _forward_layers(self, W, X, n_active, lengths, state, rng=None, for_backward=True,
                        next_window=False, outputs=True):
        """All layers over one window. Returns per-layer caches, top outputs and next state.

        Each cache is (layer input, dropout mask or None, [direction buffers]). ``state`` holds
        the forward directions' initial states; reverse directions always start at zero.
        ``for_backward=False`` (inference) frees the buffers only a backward pass needs. The next
        state is computed only if ``next_window`` (truncated BPTT), else it is empty. Without
        ``outputs`` (inference only), the top layer keeps only its final states
        (:meth:`_last_features`) and the top outputs are None.
        """
        cell, caches, next_state = self._cell, [], []
        inp, top = X, len(self.hidden_sizes) - 1
        for k, H in enumerate(self.hidden_sizes):
            mask = None
            if k > 0 and rng is not None and self.dropout > 0:
                keep = 1.0 - self.dropout
                mask = (rng.random(inp.shape) < keep).astype(inp.dtype) / inp.dtype.type(keep)
                inp = inp * mask
            dirs, outs, layer_state = [], [], []
            for d, (w, (h0, c0)) in enumerate(zip(W[k], state[k])):
                reverse = d == 1
                if reverse:
                    h0, c0 = np.zeros_like(h0), np.zeros_like(c0)
                bufs = direction_forward(cell, w, inp, n_active, h0, c0, reverse,
                                         keep=for_backward, outputs=outputs or k < top)
                dirs.append(bufs)
                outs.append(direction_outputs(bufs["H"], reverse)[0])
                if next_window:  # the state the next window starts from
                    layer_state.append((h0, c0) if reverse else final_states(bufs, lengths))
            caches.append((inp, mask, dirs))
            next_state.append(layer_state)
            if not outputs and k == top:
                return caches, None, next_state
            inp = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=2)
        return caches, inp, next_state

    def _features(self, caches, top, lengths, rows):
        """Head input: (N, nd*H) for "last" (the given rows) or the top outputs (T, B, nd*H)."""
        if self.output == "sequence":
            return top
        return self._last_features(caches, lengths, rows)

    def _last_features(self, caches, lengths, rows):
        """Forward direction's last real state joined with the backward direction's first."""
        dirs = caches[-1][2]
        H = dirs[0]["H"]
        feats = [H[last_slot(lengths[rows], len(H)), rows]]
        if self.bidirectional:
            feats.append(dirs[1]["H"][0, rows])
        return np.concatenate(feats, axis=1) if len(feats) > 1 else feats[0]

    @contextmanager
    def _run(self, theta, X, lengths, outputs=True):
        """Context: forward over the whole batch (no truncation, no dropout); gives
        (batch, P, caches, top), whose buffers go back to the workspace on exit. Without
        ``outputs``, only the head input of output="last" can be read (and top is None)."""
        batch = self._batch(X, lengths)
        P = self.unpack(theta)
        W = self._prepared(P, batch.X.dtype, for_backward=False)
        state = self._initial_state(len(batch.lengths), batch.X.dtype)
        caches = ()
        try:
            caches, top, _ = self._forward_layers(W, batch.X, batch.n_active, batch.lengths,
                                                  state, for_backward=False, outputs=outputs)
            yield batch, P, caches, top
        finally:
            _give_back(W, caches)

    def forward(self, theta, X, lengths):
        """Raw head outputs: (B, K) for output="last", (B, T, K) for "sequence" (zero where padded).

        The dtype of X decides the dtype of the computation.
        """
        sequence = self.output == "sequence"
        with self._run(theta, X, lengths, outputs=sequence) as (batch, P, caches, top):
            rows = np.arange(len(batch.lengths))
            feats = self._features(caches, top, batch.lengths, rows)
            Z = (feats @ P["head.weight"].T.astype(feats.dtype)
                 + P["head.bias"].astype(feats.dtype))
        if self.output == "sequence":
            Z[batch.n_active[:, None] <= rows[None, :]] = 0
            Z = Z.transpose(1, 0, 2)
        return _unsort(Z, batch.order)

    def hidden_states(self, theta, X, lengths):
        """Top layer states: per step (B, T, nd*H), zero where padded, and the head input of
        output="last" (B, nd*H): the last real state (bidirectional: joined with the backward
        direction's first step)."""
        with self._run(theta, X, lengths) as (batch, P, caches, top):
            rows = np.arange(len(batch.lengths))
            last = self._last_features(caches, batch.lengths, rows)
            return _unsort(top.transpose(1, 0, 2), batch.order), _unsort(last, batch.order)

    def final_states(self, theta, X, lengths):
        """Per-step top outputs and final states in PyTorch's conventions.

        Returns
        -------
        outputs : ndarray (B, T, nd*H_last), zero where padded
        h_n : list of ndarray (B, H_k), one per layer and direction (layer-major, forward
            first): the forward direction's state after the last real step, the backward
            direction's state after step 0
        c_n : list like h_n for the LSTM, else None
        """
        with self._run(theta, X, lengths) as (batch, P, caches, top):
            h_n, c_n = [], []
            for _, _, dirs in caches:
                for d, bufs in enumerate(dirs):  # reverse: the state after step 0, in slot 0
                    h, c = (final_states(bufs, batch.lengths) if d == 0 else
                            (bufs["H"][0], bufs["C"][0] if "C" in bufs else None))
                    h_n.append(_unsort(h, batch.order))
                    if c is not None:
                        c_n.append(_unsort(c, batch.order))
            return _unsort(top.transpose(1, 0, 2), batch.order), h_n, (c_n or None)

    # -- training -----------------------------------------------------------------------------
    def loss_and_grad(self, theta, X, lengths, y, loss, sample_weight=None, l2=0.0,
                      tbptt_steps=None, rng=None):
        """Loss and its gradient w.r.t. theta, by backpropagation through time.

        Parameters
        ----------
        theta : ndarray (n_params,)
        X : ndarray (B, T, D); lengths : ndarray (B,)
        y : targets, original row order. "softmax": integer classes, (B,) or (B, T);
            "logistic" and "squared": (B, K) or (B, T, K).
        loss : {"softmax", "logistic", "squared"}
        sample_weight : ndarray (B,) or None; for output="sequence" also (B, T), one weight
            per step. The loss is the weighted mean over sequences (output="last") or over
            real steps (output="sequence").
        l2 : float, adds ``0.5 * l2 * ||weights||^2`` (biases excluded)
        tbptt_steps : int or None. Truncated BPTT: windows of this many steps; the state
            carries from window to window but the gradient does not. Unidirectional only.
        rng : numpy Generator for dropout, or None (no dropout)

        Returns
        -------
        loss : float
        grad : ndarray like theta
        """
        if tbptt_steps is not None and self.bidirectional:
            raise ValueError("truncated BPTT needs a unidirectional network: a backward "
                             "direction cannot carry its state across windows")
        batch = self._batch(X, lengths)
        dtype = batch.X.dtype
        P = self.unpack(theta)
        W = self._prepared(P, dtype)
        Y, weights = self._targets(batch, y, loss, sample_weight)
        grad = np.zeros(self.n_params, dtype=dtype)
        G = self.unpack(grad)
        state = self._initial_state(len(batch.lengths), dtype)
        total = 0.0
        T = batch.X.shape[0]
        for s, e in self._windows(T, tbptt_steps):
            lengths_w = batch.lengths if (s, e) == (0, T) else np.clip(batch.lengths - s, 0, e - s)
            caches, top, state = self._forward_layers(W, batch.X[s:e], batch.n_active[s:e],
                                                      lengths_w, state, rng,
                                                      next_window=e < T)
            total += self._window_loss_and_backward(P, W, G, caches, top, batch, s, e,
                                                    lengths_w, Y, weights, loss)
        _give_back(W)
        if l2:
            for name, p in P.items():
                if "weight" in name:
                    total += 0.5 * l2 * float(np.vdot(p, p))
                    G[name] += l2 * p
        return float(total), grad.astype(theta.dtype, copy=False)

    def _targets(self, batch, y, loss, sample_weight):
        """Targets in sorted order (time-major for "sequence") and weights summing to one."""
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        B, T = len(batch.lengths), batch.X.shape[0]
        y = np.asarray(y)[batch.order]
        sw = (np.ones(B) if sample_weight is None
              else np.asarray(sample_weight, dtype=np.float64)[batch.order])
        if self.output == "sequence":
            y = y[:, :T].swapaxes(0, 1)  # (T, B[, K])
            real = np.arange(T)[:, None] < batch.lengths[None, :]
            sw = (sw[:, :T].T if sw.ndim == 2 else sw[None, :]) * real
        if loss != "softmax":
            y = y.astype(batch.X.dtype, copy=False)
            if y.ndim == sw.ndim:
                y = y[..., None]
        total = sw.sum()
        if not total > 0:
            raise ValueError("sample weights must have a positive sum")
        return y, (sw / total).astype(batch.X.dtype)

    def _window_loss_and_backward(self, P, W, G, caches, top, batch, s, e, lengths_w, Y,
                                  weights, loss):
        """Loss of the outputs inside window [s, e), backpropagated into the gradients G."""
        W_out, b_out = P["head.weight"].astype(top.dtype), P["head.bias"].astype(top.dtype)
        if self.output == "last":
            rows = np.flatnonzero((batch.lengths > s) & (batch.lengths <= e))
            if rows.size == 0:
                return 0.0
            feats = self._features(caches, top, lengths_w, rows)
            value, dZ = LOSSES[loss](feats @ W_out.T + b_out, Y[rows], weights[rows])
            dfeat = dZ @ W_out
            dtop = None
        else:
            real = np.arange(e - s)[:, None] < lengths_w[None, :]  # (Tw, B)
            feats = top[real]
            value, dZ = LOSSES[loss](feats @ W_out.T + b_out, Y[s:e][real], weights[s:e][real])
            dtop = np.zeros_like(top)
            dtop[real] = dZ @ W_out
            rows = None
        G["head.weight"] += (dZ.T @ feats).astype(G["head.weight"].dtype)
        G["head.bias"] += dZ.sum(axis=0)
        self._backward_layers(W, G, caches, dtop, dfeat if dtop is None else None, rows,
                              lengths_w, batch.n_active[s:e])
        return value

    def _backward_layers(self, W, G, caches, dtop, dfeat, rows, lengths_w, n_active):
        """Backpropagate from the head input into every layer, accumulating into G."""
        cell = self._cell
        for k in range(len(self.hidden_sizes) - 1, -1, -1):
            inp, mask, dirs = caches[k]
            H = self.hidden_sizes[k]
            dinp = None
            for d, bufs in enumerate(dirs):
                if dtop is not None:
                    dH = np.ascontiguousarray(dtop[..., d * H:(d + 1) * H])
                else:  # output="last": the gradient enters at one step per row
                    dH = workspace().zeros((inp.shape[0], inp.shape[1], H), inp.dtype)
                    steps = lengths_w[rows] - 1 if d == 0 else np.zeros_like(rows)
                    dH[steps, rows] = dfeat[:, d * H:(d + 1) * H]
                dX, grads = direction_backward(cell, W[k][d], bufs, inp, dH, n_active,
                                               reverse=d == 1, need_dX=k > 0)
                sfx = ("", "_reverse")[d]
                for name, g in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), grads):
                    G[f"{name}_l{k}{sfx}"] += g
                if dX is not None:
                    dinp = dX if dinp is None else dinp + dX
            if mask is not None and dinp is not None:
                dinp *= mask
            dtop, dfeat = dinp, None


@lru_cache(maxsize=64)
def _parameter_slices(G, input_size, hidden_sizes, suffixes, n_outputs):
    """(name, shape, slice into the flat vector) of every parameter, in order."""
    shapes, d_in = [], input_size
    for k, H in enumerate(hidden_sizes):
        for sfx in suffixes:
            shapes += [(f"weight_ih_l{k}{sfx}", (G * H, d_in)),
                       (f"weight_hh_l{k}{sfx}", (G * H, H)),
                       (f"bias_ih_l{k}{sfx}", (G * H,)),
                       (f"bias_hh_l{k}{sfx}", (G * H,))]
        d_in = len(suffixes) * H
    shapes += [("head.weight", (n_outputs, d_in)), ("head.bias", (n_outputs,))]
    out, start = [], 0
    for name, shape in shapes:
        size = math.prod(shape)
        out.append((name, shape, slice(start, start + size)))
        start += size
    return tuple(out)


def _give_back(W, caches=()):
    """Return the prepared weights ``W`` and the direction buffers in ``caches`` to this
    thread's workspace, for the next call (only arrays it lent are taken)."""
    ws = workspace()
    for layer in W:
        for w in layer:
            ws.give(*vars(w).values())
    for _, _, dirs in caches:
        for bufs in dirs:
            ws.give(*bufs.values())


def _unsort(Z, order):
    """Rows back in the caller's order: ``out[order[i]] = Z[i]``."""
    out = np.empty_like(Z)
    out[order] = Z
    return out
