"""A stacked, optionally bidirectional recurrent network with a dense head, on one flat vector.

:class:`RecurrentNetwork` holds configuration only. Its parameters are one flat vector
``theta`` (so L-BFGS, Adam and clipping work on one buffer) whose named views follow PyTorch's
``state_dict`` names::

    weight_ih_l{k}[_reverse]  (G*H_k, D_k)     weight_hh_l{k}[_reverse]  (G*H_k, H_k)
    bias_ih_l{k}[_reverse]    (G*H_k,)         bias_hh_l{k}[_reverse]    (G*H_k,)
    head.weight               (K, nd*H_last)   head.bias                 (K,)

with ``nd`` = 2 for bidirectional layers and ``D_k`` = input size for k = 0, ``nd*H_{k-1}``
after. A network of token ids (``n_tokens`` set) reads its input through an embedding table
first in the vector, ``embedding.weight`` (n_tokens, input_size), PyTorch's ``nn.Embedding``
with ``padding_idx=0``: row 0 is the padding row, zero, and gets no gradient. Nothing is
stored on the object during a call, so one network can serve many threads.

This module is where stacking, bidirectional layers, dropout between layers, the head (and
its pooling over steps, :func:`_pool_steps`) and truncated backpropagation through time are
written (:meth:`RecurrentNetwork.loss_and_grad`); the loop over time of one layer and
direction is in :mod:`skrnn.nn.recurrent` and the steps in :mod:`skrnn.nn.cells`.

Layout. Callers give batches batch-first: ``X`` (B, T, D) padded, with ``lengths`` (B,) in
[1, T]; values at padded steps are ignored. Inside, a batch is sorted by length (longest
first) and stored step by step with one column per sequence, once per call (:class:`Batch`)::

    X1          (T, D+1, B)      layer input; row D is 1 at real steps and 0 at padded steps
    Y           (T, H, B)        outputs of one direction, zero at padded steps
    h_n, c_n    (H, B)           final states of one direction
    head input  (nd*H, B)        pooling="last": the final states of the top layer's directions;
                                 "mean", "max": the top outputs pooled over each real step
    dY          (T, H, B)        gradient w.r.t. the outputs of one direction

Token ids. With ``n_tokens``, ``X`` is (B, T) integer ids instead; the batch looks them up
in the embedding table into the same ``X1`` (so the time loop never sees ids) and keeps them,
sorted like ``X1``, as ``ids`` (T, B). Backpropagation adds the gradient of the first layer's
input at each real step to the table row of its id (:func:`_embedding_backward`): memory is
O(T * B * input_size), never O(T * B * n_tokens).

Every layer and direction reads and writes this layout: there is no transposing copy between
layers or directions. The input of layer k > 0 is its own ``X1``, the outputs of the layer below
(both directions) stacked with the real-step row.
"""

import copy
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from . import _fast, recurrent
from ._fast.buffers import workspace
from .cells import Weights, get_cell
from .losses import LOSSES

__all__ = ["RecurrentNetwork", "Batch"]

POOLINGS = ("last", "mean", "max")  # what the head of output="last" reads
_IMPLEMENTATIONS = {"fast": _fast, "reference": recurrent}
_PARAMETER_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class Batch(NamedTuple):
    """A batch sorted by length (longest first), stored step by step (see the module docstring).

    Parameters
    ----------
    order : ndarray of shape (B,)
        Caller's row of each column: column i is row ``order[i]`` of the caller's ``X``.
    lengths : ndarray of shape (B,)
        Lengths of the columns, non-increasing.
    n_active : ndarray of shape (T,)
        Number of columns with a real step t, non-increasing.
    X1 : ndarray of shape (T, D+1, B)
        The inputs, zero at padded steps, and a last row that is 1 at real steps and 0 at
        padded steps; stored feature-major (``X1.transpose(1, 0, 2)`` is C-contiguous).
    ids : ndarray of shape (T, B) or None
        For a network of token ids: the ids, sorted like ``X1``, 0 at padded steps
        (``X1[:, :D]`` holds their embeddings); None otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> net = RecurrentNetwork("gru", input_size=2, hidden_sizes=(4,), n_outputs=1)
    >>> batch = net.batch(np.ones((3, 5, 2)), lengths=[2, 5, 4])
    >>> batch.order, batch.lengths, batch.n_active
    (array([1, 2, 0]), array([5, 4, 2]), array([3, 3, 2, 2, 1]))
    >>> batch.X1.shape
    (5, 3, 3)
    >>> batch.X1[:, 2]  # the real-step row: sequences as columns, longest first
    array([[1., 1., 1.],
           [1., 1., 1.],
           [1., 1., 0.],
           [1., 1., 0.],
           [1., 0., 0.]])
    """

    order: np.ndarray
    lengths: np.ndarray
    n_active: np.ndarray
    X1: np.ndarray
    ids: np.ndarray = None


class _Layer(NamedTuple):
    """One layer of a forward pass: its input X1 (T, D+1, B), the dropout mask applied to it
    (or None), the forward pass of each direction (:class:`skrnn.nn.recurrent.Direction`) and
    the buffer the layer owns (its input's, above the first layer; else None)."""

    X1: np.ndarray
    mask: object
    dirs: list
    owned: object = None


@dataclass(frozen=True)
class RecurrentNetwork:
    """Configuration of a recurrent network with a dense head.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
        The recurrent cell (:mod:`skrnn.nn.cells`).
    input_size : int
        Features per step; with ``n_tokens``, the size of each token's embedding.
    hidden_sizes : tuple of int
        Hidden size of each stacked layer.
    n_outputs : int
        Width of the dense head.
    bidirectional : bool, default=False
        Run every layer in both directions and stack the two outputs.
    output : {"last", "sequence"}, default="last"
        "last": the head reads the final states of the top layer (many-to-one; for
        bidirectional layers the forward direction's state after the last real step joined
        with the backward direction's state after the first step). "sequence": the head reads
        every real step (many-to-many).
    activation : {"tanh", "relu"}, default="tanh"
        Nonlinearity of cell="rnn".
    dropout : float in [0, 1), default=0.0
        Dropout on the inputs of the layers after the first, during training only.
    implementation : {"fast", "reference"}, default="fast"
        Which implementation of the loop over time runs: the fast path
        (``skrnn.nn._fast``) or the step-by-step reference (:mod:`skrnn.nn.recurrent`). Both
        compute the same functions; the reference exists to be read and to test against.
    n_tokens : int or None, default=None
        With an int, the network reads token ids in [0, n_tokens) (id 0 pads) through an
        embedding table ``embedding.weight`` of shape (n_tokens, input_size), and ``X``
        is (B, T) integer ids in every method; None reads ``input_size`` numbers per step.
    pooling : {"last", "mean", "max"}, default="last"
        What the head of output="last" reads: "last" the final states (above); "mean" and
        "max" the mean and the elementwise maximum, over each sequence's real steps, of the
        top layer's outputs (both directions stacked, as the head reads them; padded steps
        never count). output="sequence" takes "last" only: its head reads every step.

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
    implementation: str = "fast"
    n_tokens: int = None
    pooling: str = "last"

    def __post_init__(self):
        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in self.hidden_sizes))
        get_cell(self.cell, self.activation)
        if self.output not in ("last", "sequence"):
            raise ValueError(f"output must be 'last' or 'sequence', got {self.output!r}")
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ValueError(f"hidden_sizes must be positive integers, got {self.hidden_sizes}")
        if int(self.input_size) < 1 or int(self.n_outputs) < 1:
            raise ValueError(f"input_size and n_outputs must be positive integers, got "
                             f"{self.input_size} and {self.n_outputs}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.n_tokens is not None and int(self.n_tokens) < 1:
            raise ValueError(f"n_tokens must be a positive integer or None, got "
                             f"{self.n_tokens}")
        if self.implementation not in _IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {sorted(_IMPLEMENTATIONS)}, got "
                             f"{self.implementation!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(map(repr, POOLINGS))}, got "
                             f"{self.pooling!r}")
        if self.output == "sequence" and self.pooling != "last":
            raise ValueError(f"pooling={self.pooling!r} needs output='last': the head of "
                             "output='sequence' reads every step, there is nothing to pool")

    # -- parameters ---------------------------------------------------------------------------
    @property
    def n_directions(self):
        """Directions per layer: 2 if bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def layout(self):
        """Tuple of (name, shape) of every parameter, in the order of the flat vector."""
        return tuple((name, shape) for name, shape, _ in self._slices)

    @property
    def n_params(self):
        """Length of the flat parameter vector."""
        return self._slices[-1][2].stop

    @property
    def _slices(self):
        return _parameter_slices(_cell(self.cell, self.activation).n_gates, self.input_size,
                                 self.hidden_sizes, self.n_directions, self.n_outputs,
                                 self.n_tokens)

    def unpack(self, theta):
        """Named views of the flat parameter vector.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The flat parameter vector.

        Returns
        -------
        dict of str to ndarray
            Name -> view into ``theta`` (writing a view writes ``theta``).
        """
        return {name: theta[part].reshape(shape) for name, shape, part in self._slices}

    def init_params(self, rng, dtype=np.float64, forget_bias=1.0):
        """Initial parameters for a new fit.

        Input and head weights are Glorot-uniform, recurrent weights orthogonal, biases zero;
        each gate block is initialised on its own. For the LSTM, the forget-gate block of
        ``bias_ih`` is set to ``forget_bias``. An embedding table is standard normal, as
        PyTorch's ``nn.Embedding``, with its padding row 0 zero.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        dtype : dtype, default=np.float64
            Data type of the vector.
        forget_bias : float, default=1.0
            Initial forget-gate bias of the LSTM.

        Returns
        -------
        ndarray of shape (n_params,)
            The flat parameter vector.
        """
        theta = np.zeros(self.n_params, dtype=dtype)
        G = _cell(self.cell, self.activation).n_gates
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
            elif name == "embedding.weight":
                W[1:] = rng.normal(size=(W.shape[0] - 1, W.shape[1]))
        return theta

    def state_dict(self, theta):
        """The parameters as a PyTorch-style state dict.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The flat parameter vector.

        Returns
        -------
        dict of str to ndarray
            Name -> a copy of the parameter (``weight_ih_l0``, ..., ``head.bias``).
        """
        return {name: v.copy() for name, v in self.unpack(theta).items()}

    def params_from_state_dict(self, state_dict, dtype=None):
        """The flat parameter vector from a state dict.

        Parameters
        ----------
        state_dict : dict of str to array-like
            Every parameter of :attr:`layout`, by name, with its shape.
        dtype : dtype, default=None
            Data type of the vector; by default the common type of the values.

        Returns
        -------
        ndarray of shape (n_params,)
            The flat parameter vector.

        Raises
        ------
        ValueError
            If a name is missing or unexpected, a shape differs from :attr:`layout`, a
            value is not a finite real number, or the embedding's padding row is not zero.
        """
        expected = dict(self.layout)
        missing = set(expected) - set(state_dict)
        unexpected = set(state_dict) - set(expected)
        if missing or unexpected:
            raise ValueError(f"state dict does not match the network: missing {sorted(missing)}, "
                             f"unexpected {sorted(unexpected)}")
        values = {name: np.asarray(value) for name, value in state_dict.items()}
        for name, value in values.items():
            if value.shape != expected[name]:
                raise ValueError(f"{name} has shape {value.shape}, expected {expected[name]}")
            if value.dtype.kind not in "biuf":
                raise ValueError(f"{name} has dtype {value.dtype}; expected real numbers")
            if not np.isfinite(value).all():
                raise ValueError(f"{name} holds values that are not finite (nan or inf)")
        if "embedding.weight" in values and values["embedding.weight"][0].any():
            raise ValueError("embedding.weight[0] is the padding row (padding_idx=0) and must "
                             "be zero")
        dtype = dtype or np.result_type(*values.values())
        theta = np.empty(self.n_params, dtype=dtype)
        for name, view in self.unpack(theta).items():
            view[...] = values[name]
        return theta

    # -- batches ------------------------------------------------------------------------------
    def batch(self, X, lengths, theta=None):
        """Sort a padded batch by length and store it step by step (:class:`Batch`).

        Parameters
        ----------
        X : array-like of shape (B, T, input_size), or of int of shape (B, T)
            Padded sequences; values at padded steps are ignored. Its float dtype (float32 or
            float64; other types become float64) is the dtype of the computation. A network
            of token ids takes integer ids in [0, n_tokens) instead.
        lengths : array-like of int of shape (B,)
            Lengths, each in [1, T].
        theta : ndarray of shape (n_params,), default=None
            The flat parameter vector; needed by a network of token ids only, which looks the
            ids up in its embedding table (in theta's dtype, the computation's).

        Returns
        -------
        Batch
            The batch, its ``X1`` a new array.

        Raises
        ------
        ValueError
            If ``X`` does not have the shape above, a length is out of range, or an id is
            not an integer in [0, n_tokens).
        """
        return self._batch(X, lengths, np.empty, theta)[0]

    def _batch(self, X, lengths, empty, theta=None):
        """(:meth:`batch`, the buffer its X1 views), the buffer from ``empty(shape, dtype)``."""
        if self.n_tokens is not None:
            return self._token_batch(X, lengths, empty, theta)
        X = np.asarray(X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        if X.ndim != 3 or X.shape[2] != self.input_size:
            raise ValueError(f"X must have shape (B, T, {self.input_size}), got {X.shape}")
        B, T, D = X.shape
        order, L, real = _sort_by_length(lengths, B, T)
        Xf = empty((D + 1, T, B), X.dtype)  # stored feature-major (module docstring)
        X1 = Xf.transpose(1, 0, 2)
        if real is None:  # no padding: the caller's order, one transposing copy
            np.copyto(Xf[:D], X.transpose(2, 1, 0))
            Xf[D] = 1
            return Batch(order, L, np.full(T, B), X1), Xf
        np.take(X.transpose(2, 1, 0), order, axis=2, out=Xf[:D], mode="clip")
        np.copyto(Xf[:D], 0, where=~real[None])  # whatever was there, even NaN
        Xf[D] = real
        return Batch(order, L, real.sum(axis=1), X1), Xf

    def _token_batch(self, X, lengths, empty, theta):
        """:meth:`_batch` of token ids: X1 holds their rows of the embedding table."""
        if theta is None:
            raise ValueError("a network of token ids needs theta to look the ids up")
        ids = np.asarray(X)
        if ids.ndim == 3 and ids.shape[2] == 1:
            ids = ids[:, :, 0]
        if ids.ndim != 2 or (ids.dtype.kind not in "iu" and ids.size):
            raise ValueError(f"X must hold integer token ids of shape (B, T), got shape "
                             f"{ids.shape} and dtype {ids.dtype}")
        B, T = ids.shape
        order, L, real = _sort_by_length(lengths, B, T)
        ids = np.take(ids.T, order, axis=1)  # (T, B), sorted
        if real is not None:
            ids = np.where(real, ids, 0)  # padded steps read the padding row
        if ids.size and (ids.min() < 0 or ids.max() >= self.n_tokens):
            bad = ids[(ids < 0) | (ids >= self.n_tokens)][0]
            raise ValueError(f"token id {bad} is out of range: ids must be in "
                             f"[0, n_tokens={self.n_tokens})")
        table = self.unpack(theta)["embedding.weight"]
        E = self.input_size
        Xf = empty((E + 1, T, B), theta.dtype)
        np.copyto(Xf[:E], np.take(table, ids, axis=0).transpose(2, 0, 1))  # (E, T, B)
        if real is None:
            Xf[E] = 1
            return Batch(order, L, np.full(T, B), Xf.transpose(1, 0, 2), ids), Xf
        if table[0].any():  # a padding row that is not zero must not reach padded steps
            np.copyto(Xf[:E], 0, where=~real[None])
        Xf[E] = real
        return Batch(order, L, real.sum(axis=1), Xf.transpose(1, 0, 2), ids), Xf

    @staticmethod
    def _windows(T, tbptt_steps):
        k = T if tbptt_steps is None else int(tbptt_steps)
        if k < 1:
            raise ValueError(f"tbptt_steps must be a positive integer or None, got {tbptt_steps}")
        return [(s, min(s + k, T)) for s in range(0, T, k)]

    # -- forward ------------------------------------------------------------------------------
    def prepare(self, theta, dtype, for_backward=True):
        """The recurrent weights of every layer and direction, prepared for the implementation.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The flat parameter vector.
        dtype : dtype
            Data type of the computation.
        for_backward : bool, default=True
            Whether a backward pass will use them (else only what inference needs).

        Returns
        -------
        list of list
            ``W[k][d]``: the prepared weights of layer k, direction d (0 forward, 1 reverse).
        """
        impl, cell, P = self._impl, _cell(self.cell, self.activation), self.unpack(theta)
        return [[impl.prepare(cell, Weights(*(P[f"{n}_l{k}{sfx}"].astype(dtype, copy=False)
                                               for n in _PARAMETER_NAMES)), for_backward)
                 for sfx in ("", "_reverse")[: self.n_directions]]
                for k in range(len(self.hidden_sizes))]

    @property
    def _impl(self):
        return _IMPLEMENTATIONS[self.implementation]

    def _zero_state(self, B, dtype):
        n_states = len(_cell(self.cell, self.activation).state_names)
        return [[tuple(np.zeros((H, B), dtype) for _ in range(n_states))
                 for _ in range(self.n_directions)] for H in self.hidden_sizes]

    def _initial_state(self, initial_state, batch, dtype):
        """``state[k][d]``, the initial state of layer k, direction d, in the batch's sorted
        order: a tuple of (H_k, B) arrays, zero unless the caller gives ``(h_0, c_0)``."""
        B = len(batch.order)
        if initial_state is None:
            return self._zero_state(B, dtype)
        h_0, c_0 = self.check_state(initial_state, B)
        nd = self.n_directions
        return [[tuple(np.ascontiguousarray(np.asarray(s[k * nd + d], dtype)[batch.order].T)
                       for s in ((h_0,) if c_0 is None else (h_0, c_0)))
                 for d in range(nd)] for k in range(len(self.hidden_sizes))]

    def check_state(self, state, B):
        """Check a state given as ``(h, c)`` in PyTorch's conventions and return it.

        Parameters
        ----------
        state : tuple
            ``(h, c)``: ``h`` holds one array of shape (B, H_k) per layer and direction
            (layer-major, forward first), as a list or as one array of shape
            (n_layers * n_directions, B, H) when every layer has H units; ``c`` likewise for
            the LSTM's cell states, None for the other cells.
        B : int
            Number of sequences.

        Returns
        -------
        tuple
            ``(h, c)``, each a list of float arrays of shape (B, H_k), or ``c`` None.

        Raises
        ------
        ValueError
            If the number of arrays, a shape or the presence of ``c`` does not match the
            network, or a value is not finite.
        """
        lstm = self.cell == "lstm"
        if not isinstance(state, tuple) or len(state) != 2:
            raise ValueError("a state must be a pair (h, c), with c None unless the cell is an "
                             "LSTM")
        h, c = state
        if (c is None) == lstm:
            raise ValueError("an LSTM's state needs both h and c" if lstm else
                             f"a {self.cell.upper()} has no cell state c: give (h, None)")
        n = len(self.hidden_sizes) * self.n_directions
        sizes = [H for H in self.hidden_sizes for _ in range(self.n_directions)]
        checked = []
        for name, part in (("h", h), ("c", c)):
            if part is None:
                checked.append(None)
                continue
            arrays = [np.asarray(a) for a in part]
            if len(arrays) != n:
                raise ValueError(f"state {name} must hold {n} arrays (layers x directions), "
                                 f"got {len(arrays)}")
            for i, (a, H) in enumerate(zip(arrays, sizes)):
                if a.shape != (B, H):
                    raise ValueError(f"state {name}[{i}] must have shape {(B, H)}, got "
                                     f"{a.shape}")
                if a.dtype.kind not in "fiub" or not np.isfinite(a).all():
                    raise ValueError(f"state {name}[{i}] must hold finite numbers")
            checked.append(arrays)
        return tuple(checked)

    def _forward_layers(self, W, X1, n_active, state, rng=None, keep=True, outputs=True):
        """Every layer over one window of steps.

        ``state[k][d]`` is the initial state of layer k, direction d. With ``rng``, dropout masks the inputs of layers after the first.
        Without ``keep`` (inference) nothing is kept for a backward pass; without
        ``outputs``, the top layer keeps only its final states. Returns a list of
        :class:`_Layer`.
        """
        impl, cell, top = self._impl, _cell(self.cell, self.activation), len(self.hidden_sizes) - 1
        layers = []
        for k in range(len(self.hidden_sizes)):
            mask = owned = None
            if k > 0:
                X1, mask, owned = self._layer_input(layers[-1], rng)
            dirs = []
            for d in range(self.n_directions):
                out = outputs or k < top
                padded = len(n_active) > 0 and n_active[-1] < X1.shape[2]
                if d == 1 and padded and any(s.any() for s in state[k][d]):
                    dirs.append(_late_start(impl, cell, W[k][d], X1, n_active, state[k][d],
                                            keep, out))
                else:
                    dirs.append(impl.forward(cell, W[k][d], X1, n_active, state[k][d],
                                             reverse=d == 1, keep=keep, outputs=out))
            layers.append(_Layer(X1, mask, dirs, owned))
        return layers

    def _layer_input(self, below, rng):
        """The input of the layer above ``below``: X1 (T, nd*H+1, B), its directions' outputs
        stacked with the real-step row, dropout applied; the dropout mask (or None); and the
        buffer X1 views (feature-major, like a batch's)."""
        Ys = [d.Y for d in below.dirs]
        T, H, B = Ys[0].shape
        Xf = workspace().empty((len(Ys) * H + 1, T, B), Ys[0].dtype)
        for d, Y in enumerate(Ys):
            np.copyto(Xf[d * H:(d + 1) * H], Y.transpose(1, 0, 2))
        X1 = Xf.transpose(1, 0, 2)
        X1[:, -1] = below.X1[:, -1]
        mask = None
        if rng is not None and self.dropout > 0:
            keep = 1.0 - self.dropout  # drawn in (T, B, D) order: the masks of earlier versions
            mask = (rng.random((T, B, len(Ys) * H)) < keep).transpose(0, 2, 1)
            mask = mask.astype(X1.dtype) / X1.dtype.type(keep)
            X1[:, :-1] *= mask
        return X1, mask, Xf

    def _release(self, W=(), layers=(), arrays=()):
        """Give the prepared weights, the buffers of ``layers`` and ``arrays`` back for reuse
        (to the fast path's per-thread workspace; arrays it did not lend are ignored)."""
        impl = self._impl
        for layer in W:
            for w in layer:
                impl.release(w)
        for layer in layers:
            for d in layer.dirs:
                impl.release(d)
            workspace().give(layer.owned)
        workspace().give(*arrays)

    def _run(self, theta, X, lengths, outputs=True, initial_state=None):
        """Inference over a whole batch: (batch, layers), to be released with
        :meth:`_release` (no truncation, no dropout; the first layer owns the batch's X1)."""
        batch, Xf = self._batch(X, lengths, workspace().empty, theta)
        try:
            state = self._initial_state(initial_state, batch, batch.X1.dtype)
        except ValueError:
            workspace().give(Xf)
            raise
        W = self.prepare(theta, batch.X1.dtype, for_backward=False)
        try:
            layers = self._forward_layers(W, batch.X1, batch.n_active, state, keep=False,
                                          outputs=outputs)
        finally:
            self._release(W)
        return batch, [layers[0]._replace(owned=Xf)] + layers[1:]

    def _head(self, theta, dtype):
        P = self.unpack(theta)
        return P["head.weight"].astype(dtype, copy=False), P["head.bias"].astype(dtype, copy=False)

    def _sequence_logits(self, W_out, b_out, Ys):
        """Head outputs at every step, (T, B, K), from the top outputs ``Ys`` (T, H, B) each:
        one GEMM over all steps (a GEMM per step is many small products, which multithreaded
        BLAS runs far slower on a busy machine)."""
        T, H, B = Ys[0].shape
        feats = np.concatenate([Y.transpose(0, 2, 1) for Y in Ys], axis=2)  # (T, B, nd*H)
        Z = feats.reshape(T * B, -1) @ W_out.T
        Z += b_out
        return Z.reshape(T, B, -1)

    def forward(self, theta, X, lengths, initial_state=None):
        """The head outputs (logits, or values for regression).

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The flat parameter vector.
        X : array-like of shape (B, T, input_size), or of int of shape (B, T)
            Padded sequences (:meth:`batch`); their dtype is the computation's (for token
            ids, theta's).
        lengths : array-like of int of shape (B,)
            Lengths, each in [1, T].
        initial_state : tuple or None, default=None
            ``(h_0, c_0)`` in the caller's row order (:meth:`check_state`); None starts every
            layer and direction from zero.

        Returns
        -------
        ndarray of shape (B, K) or (B, T, K)
            (B, K) for output="last"; (B, T, K) for output="sequence", zero at padded steps.
        """
        sequence = self.output == "sequence"
        batch, layers = self._run(theta, X, lengths, outputs=sequence or self.pooling != "last",
                                  initial_state=initial_state)
        try:
            W_out, b_out = self._head(theta, batch.X1.dtype)
            top = layers[-1].dirs
            if sequence:
                Z = self._sequence_logits(W_out, b_out, [d.Y for d in top])
                real = np.arange(len(Z))[:, None] < batch.lengths[None, :]
                Z *= real[:, :, None]
                return _unsort(Z.transpose(1, 0, 2), batch.order)
            if self.pooling == "last":
                feats = np.concatenate([d.final[0] for d in top])
            else:
                pool = _pool_steps([d.Y for d in top], batch.lengths, 0, self.pooling)
                feats = _pooled(pool, batch.lengths, self.pooling)
            return _unsort((W_out @ feats + b_out[:, None]).T, batch.order)
        finally:
            self._release(layers=layers)

    def hidden_states(self, theta, X, lengths, initial_state=None, layer=-1):
        """A layer's states at every step, and its final states.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The flat parameter vector.
        X : array-like of shape (B, T, input_size), or of int of shape (B, T)
            Padded sequences (token ids for a network of token ids).
        lengths : array-like of int of shape (B,)
            Lengths, each in [1, T].
        initial_state : tuple or None, default=None
            ``(h_0, c_0)`` in the caller's row order (:meth:`check_state`); None starts every
            layer and direction from zero.
        layer : int, default=-1
            Which layer (0 is the first, -1 the top).

        Returns
        -------
        states : ndarray of shape (B, T, nd*H_k)
            The layer's outputs (both directions stacked), zero at padded steps.
        last : ndarray of shape (B, nd*H_k)
            The layer's forward state after the last real step (bidirectional: joined with
            the backward direction's state after the first step); for the top layer, the
            head input of output="last" with pooling="last" (with "mean" or "max", the head
            reads ``states`` pooled over the real steps instead).
        """
        k = self._layer_index(layer)
        batch, layers = self._run(theta, X, lengths, initial_state=initial_state)
        try:
            dirs = layers[k].dirs
            states = np.concatenate([d.Y for d in dirs], axis=1).transpose(2, 0, 1)
            last = np.concatenate([d.final[0] for d in dirs]).T
            return _unsort(states, batch.order), _unsort(last, batch.order)
        finally:
            self._release(layers=layers)

    def final_states(self, theta, X, lengths, initial_state=None):
        """The top layer's outputs and every layer's final states, in PyTorch's conventions.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The flat parameter vector.
        X : array-like of shape (B, T, input_size), or of int of shape (B, T)
            Padded sequences (token ids for a network of token ids).
        lengths : array-like of int of shape (B,)
            Lengths, each in [1, T].
        initial_state : tuple or None, default=None
            ``(h_0, c_0)`` in the caller's row order (:meth:`check_state`); None starts every
            layer and direction from zero.

        Returns
        -------
        outputs : ndarray of shape (B, T, nd*H_last)
            The top layer's outputs, zero at padded steps.
        h_n : list of ndarray of shape (B, H_k)
            One per layer and direction (layer-major, forward first): the forward direction's
            state after the last real step, the backward direction's state after step 0.
        c_n : list of ndarray of shape (B, H_k) or None
            Like ``h_n``, the LSTM's cell states; None for the other cells.
        """
        batch, layers = self._run(theta, X, lengths, initial_state=initial_state)
        try:
            h_n, c_n = [], []
            for layer in layers:
                for d in layer.dirs:
                    h_n.append(_unsort(d.final[0].T, batch.order))
                    if len(d.final) > 1:
                        c_n.append(_unsort(d.final[1].T, batch.order))
            outputs = np.concatenate([d.Y for d in layers[-1].dirs], axis=1).transpose(2, 0, 1)
            return _unsort(outputs, batch.order), h_n, (c_n or None)
        finally:
            self._release(layers=layers)

    # -- inspection (the reference implementation) ---------------------------------------------
    def _layer_index(self, layer):
        n_layers = len(self.hidden_sizes)
        if not -n_layers <= layer < n_layers:
            raise ValueError(f"layer must be in [{-n_layers}, {n_layers - 1}], got {layer}")
        return layer % n_layers

    def _reference_forward(self, theta, X, lengths, initial_state=None):
        """Every layer over a batch with the reference implementation, its caches kept (no
        dropout): (the network as run, batch, prepared weights, layers)."""
        ref = replace(self, implementation="reference", dropout=0.0)
        batch = ref.batch(X, lengths, theta)
        dtype = batch.X1.dtype
        W = ref.prepare(theta, dtype)
        state = ref._initial_state(initial_state, batch, dtype)
        return ref, batch, W, ref._forward_layers(W, batch.X1, batch.n_active, state)

    def gate_activations(self, theta, X, lengths, initial_state=None, layer=-1):
        """Every gate's activation at every step of a layer (and the LSTM's cell states).

        Computed by the reference implementation, which keeps each step's gates.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The flat parameter vector.
        X : array-like of shape (B, T, input_size), or of int of shape (B, T)
            Padded sequences (token ids for a network of token ids).
        lengths : array-like of int of shape (B,)
            Lengths, each in [1, T].
        initial_state : tuple or None, default=None
            ``(h_0, c_0)`` in the caller's row order (:meth:`check_state`).
        layer : int, default=-1
            Which layer (0 is the first, -1 the top).

        Returns
        -------
        dict of str to ndarray of shape (B, T, nd*H_k)
            The cell's ``gate_names`` (LSTM: i, f, g, o and the cell state c; GRU: r, z, n;
            vanilla RNN: none), both directions stacked, zero at padded steps.
        """
        k = self._layer_index(layer)
        cell = _cell(self.cell, self.activation)
        _, batch, _, layers = self._reference_forward(theta, X, lengths, initial_state)
        T, B, dtype = batch.X1.shape[0], len(batch.order), batch.X1.dtype
        out = {name: [] for name in cell.gate_names}
        for d in layers[k].dirs:
            _, caches, _ = d.cache
            H = d.final[0].shape[0]
            for name in cell.gate_names:
                values = np.zeros((T, H, B), dtype)
                for t, cache in enumerate(caches):
                    if cache is not None:
                        values[t, :, :batch.n_active[t]] = cell.gates(cache)[name]
                out[name].append(values)
        return {name: _unsort(np.concatenate(v, axis=1).transpose(2, 0, 1), batch.order)
                for name, v in out.items()}

    def state_gradients(self, theta, X, lengths, y, loss, sample_weight=None, layer=-1):
        """The gradient of the loss with respect to a layer's state h_t at every step.

        dL/dh_t collects everything h_t reaches: the head, every later step and the layers
        above (no truncation, no dropout). Computed by the reference implementation.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The flat parameter vector.
        X : array-like of shape (B, T, input_size), or of int of shape (B, T)
            Padded sequences (token ids for a network of token ids).
        lengths : array-like of int of shape (B,)
            Lengths, each in [1, T].
        y : array-like
            Targets, as :meth:`loss_and_grad` takes them.
        loss : {"softmax", "logistic", "squared"}
            The output and loss pair.
        sample_weight : array-like of shape (B,) or (B, T), default=None
            Weights of the sequences (or steps).
        layer : int, default=-1
            Which layer (0 is the first, -1 the top).

        Returns
        -------
        ndarray of shape (B, T, nd*H_k)
            dL/dh_t, both directions stacked, zero at padded steps.
        """
        k = self._layer_index(layer)
        ref, batch, W, layers = self._reference_forward(theta, X, lengths)
        Y, weights = ref._targets(batch, y, loss, sample_weight)
        T, B, dtype = batch.X1.shape[0], len(batch.order), batch.X1.dtype
        dh = [[np.zeros((T, H, B), dtype) for _ in range(self.n_directions)]
              for H in self.hidden_sizes]
        G = ref.unpack(np.zeros(self.n_params, dtype))
        if self.pooling == "last":
            ref._window_loss_and_backward(theta, W, G, layers, batch, 0, T, batch.lengths, Y,
                                          weights, loss, dh_out=dh)
        else:
            ref._pooled_loss_and_backward(theta, W, G, batch, [(0, T)], Y, weights, loss,
                                          dh_out=dh, layers=layers)
        return _unsort(np.concatenate(dh[k], axis=1).transpose(2, 0, 1), batch.order)

    # -- one step at a time (streaming) ------------------------------------------------------
    def steppers(self, theta, dtype, n):
        """Make objects that run each layer one step at a time, for n sequences.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The flat parameter vector (copied: later changes to it do not reach the
            steppers).
        dtype : dtype
            Data type of the computation.
        n : int
            Number of sequences.

        Returns
        -------
        list
            One :class:`skrnn.nn.recurrent.Stepper` (or the fast path's equivalent) per
            layer, each starting from the zero state: ``step(x)`` takes (D_k, n) inputs and
            returns the layer's new h (H_k, n), the next layer's input.

        Raises
        ------
        ValueError
            If the network is bidirectional: a backward direction needs the whole sequence.

        Examples
        --------
        >>> import numpy as np
        >>> net = RecurrentNetwork("gru", input_size=2, hidden_sizes=(4, 3), n_outputs=1)
        >>> theta = net.init_params(np.random.default_rng(0))
        >>> X = np.random.default_rng(1).normal(size=(1, 5, 2))
        >>> layers = net.steppers(theta, np.float64, n=1)
        >>> for x in X[0]:
        ...     h = x[:, None]
        ...     for layer in layers:
        ...         h = layer.step(h)
        >>> _, h_n, _ = net.final_states(theta, X, [5])
        >>> bool(np.allclose(h[:, 0], h_n[-1][0]))
        True
        """
        if self.bidirectional:
            raise ValueError("a bidirectional network cannot run one step at a time: its "
                             "backward direction reads the sequence from its end")
        cell, P = _cell(self.cell, self.activation), self.unpack(theta)
        return [self._impl.Stepper(cell, Weights(*(np.array(P[f"{name}_l{k}"], dtype)
                                                   for name in _PARAMETER_NAMES)), n)
                for k in range(len(self.hidden_sizes))]

    # -- training -----------------------------------------------------------------------------
    def loss_and_grad(self, theta, X, lengths, y, loss, sample_weight=None, l2=0.0,
                      tbptt_steps=None, rng=None, initial_state=None, final_state=False):
        """The loss and its gradient with respect to theta, by backpropagation through time.

        Truncated backpropagation through time is written here: the steps are cut into
        windows of ``tbptt_steps``; each window runs forward from the state the previous one
        ended in, its loss is backpropagated within the window only, and the next window
        starts from its final state (a constant: the gradient does not cross windows). With
        pooling "mean" or "max" the loss needs every window's outputs, so the windows run
        forward twice (:meth:`_pooled_loss_and_backward`): the gradient of each step's output
        still flows back within its own window only.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The flat parameter vector.
        X : array-like of shape (B, T, input_size), or of int of shape (B, T)
            Padded sequences (token ids for a network of token ids).
        lengths : array-like of int of shape (B,)
            Lengths, each in [1, T].
        y : array-like
            Targets in the caller's row order. "softmax": integer classes, (B,) or (B, T);
            "logistic" and "squared": (B, K) or (B, T, K).
        loss : {"softmax", "logistic", "squared"}
            The output and loss pair (:mod:`skrnn.nn.losses`).
        sample_weight : array-like of shape (B,) or (B, T), default=None
            Weights of the sequences, or for output="sequence" of every step. The loss is the
            weighted mean over sequences (output="last") or over real steps
            (output="sequence").
        l2 : float, default=0.0
            Adds ``0.5 * l2 * ||weights||^2`` (biases excluded).
        tbptt_steps : int or None, default=None
            Truncated backpropagation through time in windows of this many steps
            (unidirectional networks only).
        rng : numpy.random.Generator or None, default=None
            Source of the dropout masks; None means no dropout.
        initial_state : tuple or None, default=None
            ``(h_0, c_0)`` in the caller's row order (:meth:`check_state`), a constant: no
            gradient flows into it. None starts from zero.
        final_state : bool, default=False
            Also return the state after the last step (unidirectional networks), for the
            next call to start from: truncated BPTT across calls, as a language model
            trained on a stream does.

        Returns
        -------
        loss : float
            The loss.
        grad : ndarray of shape (n_params,)
            Its gradient, in theta's dtype.
        state : tuple
            With ``final_state`` only: ``(h_n, c_n)`` as :meth:`final_states` returns them
            (the state after each sequence's last real step).

        Raises
        ------
        ValueError
            If truncation or a final state is asked of a bidirectional network, or the
            weights do not have a positive sum.
        """
        if (tbptt_steps is not None or final_state) and self.bidirectional:
            raise ValueError("truncated BPTT needs a unidirectional network: a backward "
                             "direction cannot carry its state across windows")
        if final_state and self.pooling != "last":
            raise ValueError("a final state is returned with pooling='last' only")
        batch, Xf = self._batch(X, lengths, workspace().empty, theta)
        dtype = batch.X1.dtype
        P = self.unpack(theta)
        W = self.prepare(theta, dtype)
        Y, weights = self._targets(batch, y, loss, sample_weight)
        grad = np.zeros(self.n_params, dtype=dtype)
        G = self.unpack(grad)
        try:
            state = self._initial_state(initial_state, batch, dtype)
        except ValueError:
            self._release(W, arrays=[Xf])
            raise
        total = 0.0
        windows = self._windows(batch.X1.shape[0], tbptt_steps)
        try:
            if self.pooling != "last":  # one loss on the pool of every window's outputs
                total = self._pooled_loss_and_backward(theta, W, G, batch, windows, Y,
                                                       weights, loss, rng)
            else:
                for s, e in windows:
                    lengths_w = np.clip(batch.lengths - s, 0, e - s)
                    layers = self._forward_layers(W, batch.X1[s:e], batch.n_active[s:e],
                                                  state, rng)
                    # where the next window starts (truncation is for unidirectional networks)
                    state = [[layer.dirs[0].final] for layer in layers]
                    total += self._window_loss_and_backward(theta, W, G, layers, batch, s, e,
                                                            lengths_w, Y, weights, loss)
        finally:
            self._release(W, arrays=[Xf])
        if l2:
            for name, p in P.items():
                if "weight" in name:
                    total += 0.5 * l2 * float(np.vdot(p, p))
                    G[name] += l2 * p
        grad = grad.astype(theta.dtype, copy=False)
        if final_state:
            h_n = [_unsort(layer[0][0].T, batch.order) for layer in state]
            c_n = ([_unsort(layer[0][1].T, batch.order) for layer in state]
                   if self.cell == "lstm" else None)
            return float(total), grad, (h_n, c_n)
        return float(total), grad

    def _targets(self, batch, y, loss, sample_weight):
        """Targets in sorted order (time-major for "sequence") and weights summing to one."""
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        B, T = len(batch.lengths), batch.X1.shape[0]
        y = np.asarray(y)[batch.order]
        sw = (np.ones(B) if sample_weight is None
              else np.asarray(sample_weight, dtype=np.float64)[batch.order])
        if self.output == "sequence":
            y = y[:, :T].swapaxes(0, 1)  # (T, B[, K])
            real = np.arange(T)[:, None] < batch.lengths[None, :]
            sw = (sw[:, :T].T if sw.ndim == 2 else sw[None, :]) * real
        if loss != "softmax":
            y = y.astype(batch.X1.dtype, copy=False)
            if y.ndim == sw.ndim:
                y = y[..., None]
        total = sw.sum()
        if not total > 0:
            raise ValueError("sample weights must have a positive sum")
        return y, (sw / total).astype(batch.X1.dtype)

    def _window_loss_and_backward(self, theta, W, G, layers, batch, s, e, lengths_w, Y,
                                  weights, loss, dh_out=None):
        """The loss of the outputs inside window [s, e), backpropagated into the gradients G.
        Gives the window's buffers back."""
        dtype = batch.X1.dtype
        W_out, b_out = self._head(theta, dtype)
        top = layers[-1].dirs
        T, B = e - s, len(batch.order)
        H = self.hidden_sizes[-1]
        ws = workspace()
        dYs = [(ws.zeros if self.output == "last" else ws.empty)((T, H, B), dtype) for _ in top]
        if self.output == "last":
            rows = np.flatnonzero((batch.lengths > s) & (batch.lengths <= e))
            if rows.size == 0:  # no sequence ends in this window: no loss, no gradient
                self._release(layers=layers, arrays=dYs)
                return 0.0
            feats = np.concatenate([d.final[0][:, rows] for d in top])  # (nd*H, N)
            value, dfeats = _head_loss_and_backward(W_out, b_out, G, feats, Y[rows],
                                                    weights[rows], loss)
            dYs[0][lengths_w[rows] - 1, :, rows] = dfeats[:H].T  # the gradient enters at the
            if len(top) > 1:  # last real step forward, and at step 0 in reverse
                dYs[1][0, :, rows] = dfeats[H:].T
        else:  # the head over every real step of the window at once: three GEMMs
            real = np.arange(T)[:, None] < lengths_w[None, :]  # (T, B)
            feats = np.concatenate([d.Y.transpose(0, 2, 1)[real] for d in top], axis=1)
            Z = feats @ W_out.T  # (N, K), N real steps
            Z += b_out
            value, dZ = LOSSES[loss](Z, Y[s:e][real], weights[s:e][real], overwrite=True)
            # (feats^T dZ)^T: BLAS reads dZ^T as a left operand at about half the speed
            G["head.weight"] += (feats.T @ dZ).T.astype(G["head.weight"].dtype, copy=False)
            G["head.bias"] += dZ.sum(axis=0)
            dfeats = dZ @ W_out  # (N, nd*H)
            for d, dY in enumerate(dYs):
                dY[...] = 0
                dY.transpose(0, 2, 1)[real] = dfeats[:, d * H:(d + 1) * H]
        ids = None if batch.ids is None else (batch.ids[s:e], batch.X1[s:e, -1])
        self._backward_layers(W, G, layers, dYs, batch.n_active[s:e], dh_out, ids)
        return value

    def _pooled_loss_and_backward(self, theta, W, G, batch, windows, Y, weights, loss,
                                  rng=None, dh_out=None, layers=None):
        """The loss of the head on the pooled top outputs (pooling "mean" or "max"),
        backpropagated into the gradients G.

        The pool spans every window, so its loss is known only after the last one. Pass 1
        runs the windows forward (without caches unless there is one window), each from the
        state the previous one ended in, and pools the top outputs (:func:`_pool_steps`). The
        head then gives dP, the gradient of the pooled vector. Pass 2 runs each window again
        from the state it started in, with caches (and the same dropout masks: ``rng`` is
        replayed from a copy), and backpropagates the share of dP of its steps
        (:func:`_pool_backward`) within the window only. One window (full BPTT) runs once.
        ``layers``: that one window's forward pass, already run with caches (for
        :meth:`state_gradients`, whose ``dh_out`` spans the whole batch). Returns the loss.
        """
        once = len(windows) == 1
        replay = copy.deepcopy(rng) if rng is not None and not once else None
        W_out, b_out = self._head(theta, batch.X1.dtype)
        L = batch.lengths
        state = self._zero_state(len(L), batch.X1.dtype)
        starts, pool = [], None
        for s, e in windows:  # pass 1
            starts.append(state)
            if layers is None:
                layers = self._forward_layers(W, batch.X1[s:e], batch.n_active[s:e], state,
                                              rng, keep=once)
            pool = _pool_steps([d.Y for d in layers[-1].dirs], np.clip(L - s, 0, e - s), s,
                               self.pooling, pool)
            if not once:
                state = [[layer.dirs[0].final] for layer in layers]
                self._release(layers=layers)
                layers = None
        value, dP = _head_loss_and_backward(W_out, b_out, G, _pooled(pool, L, self.pooling),
                                            Y, weights, loss)
        for (s, e), state in zip(windows, starts):  # pass 2
            if not once:
                layers = self._forward_layers(W, batch.X1[s:e], batch.n_active[s:e], state,
                                              replay)
            dYs = _pool_backward(dP, L, s, e, self.pooling, pool, self.hidden_sizes[-1])
            ids = None if batch.ids is None else (batch.ids[s:e], batch.X1[s:e, -1])
            self._backward_layers(W, G, layers, dYs, batch.n_active[s:e], dh_out, ids)
        return value

    def _backward_layers(self, W, G, layers, dYs, n_active, dh_out=None, ids=None):
        """Backpropagate from the top outputs' gradients ``dYs`` (one (T, H, B) array per
        direction) into every layer, adding the parameter gradients to G. Gives every
        layer's buffers back once its backward pass is done. ``dh_out[k][d]`` (reference
        implementation only) receives dL/dh_t of layer k, direction d. ``ids`` (a network of
        token ids): the window's (ids, real-step row), whose embedding rows receive the
        gradient of the first layer's input."""
        impl, cell = self._impl, _cell(self.cell, self.activation)
        done = list(dYs)  # arrays to give back after the layer that reads them
        for k in range(len(layers) - 1, -1, -1):
            layer = layers[k]
            dinp = None
            for d, direction in enumerate(layer.dirs):
                record = {} if dh_out is None else {"dh_out": dh_out[k][d]}
                dX, grads = impl.backward(cell, W[k][d], direction.cache, dYs[d], n_active,
                                          reverse=d == 1, need_dX=k > 0 or ids is not None,
                                          **record)
                sfx = ("", "_reverse")[d]
                for name, g in zip(_PARAMETER_NAMES, grads):
                    G[f"{name}_l{k}{sfx}"] += g
                if dX is not None:
                    if dinp is None:
                        dinp = dX
                    else:
                        dinp += dX
                        done.append(dX)
            self._release(layers=[layer], arrays=done)
            done = [dinp]
            if k > 0:
                if layer.mask is not None:
                    dinp *= layer.mask
                H = self.hidden_sizes[k - 1]
                dYs = [dinp[:, d * H:(d + 1) * H] for d in range(self.n_directions)]
        if ids is not None:
            _embedding_backward(G["embedding.weight"], ids[0], dinp, ids[1])
        workspace().give(*done)


def _head_loss_and_backward(W_out, b_out, G, feats, Y, weights, loss):
    """The loss of the head ``Z = W_out @ feats + b_out`` on inputs ``feats`` (F, N), its
    gradients added to G's head, and the gradient of ``feats`` (F, N): (loss, dfeats)."""
    value, dZ = LOSSES[loss]((W_out @ feats + b_out[:, None]).T, Y, weights)  # dZ (N, K)
    G["head.weight"] += (dZ.T @ feats.T).astype(G["head.weight"].dtype)
    G["head.bias"] += dZ.sum(axis=0)
    return value, W_out.T @ dZ.T


def _pool_steps(Ys, lengths, s, pooling, pool=None):
    """Pool the top outputs of the steps [s, s+T) of a batch, onto the pool of the steps
    before s.

    ``Ys`` holds the outputs of each direction, (T, H, B); their rows are stacked into
    ``Y`` (T, F, B), F = nd*H, as the head reads them. ``lengths`` (B,) counts each column's
    real steps in this window (0 to T): only those count, whatever the other steps hold.
    ``pool`` is what this function returned for the steps before s (None if s is 0).

    Returns ``(S, A)``: for "mean", S (F, B) the sum of Y over the real steps so far and A
    None; for "max", S (F, B) their elementwise maximum (-inf before any real step) and A
    (F, B) the step (counted from the batch's first) that holds it, the first one on ties.
    :func:`_pooled` turns the pool into the head input.
    """
    Y = np.concatenate(Ys, axis=1)
    real = (np.arange(len(Y))[:, None] < lengths[None, :])[:, None, :]  # (T, 1, B)
    if pooling == "mean":
        S = np.where(real, Y, 0).sum(axis=0)
        return (S if pool is None else pool[0] + S), None
    Y = np.where(real, Y, -np.inf)
    t = Y.argmax(axis=0)  # the first maximum
    S, A = np.take_along_axis(Y, t[None], axis=0)[0], t + s
    if pool is not None:
        before = pool[0] >= S  # ties go to the earlier step
        S, A = np.where(before, pool[0], S), np.where(before, pool[1], A)
    return S, A


def _pooled(pool, lengths, pooling):
    """The head input P (F, B) from the pool of all steps (:func:`_pool_steps`):
    P = S / L for "mean" (L the length of each column), P = S for "max"."""
    S, _ = pool
    return S / lengths.astype(S.dtype) if pooling == "mean" else S


def _pool_backward(dP, lengths, s, e, pooling, pool, H):
    """The gradient of the top outputs of the steps [s, e), from dP (F, B), the gradient of
    the head input P of :func:`_pooled`: one (e-s, H, B) array per direction.

    "mean": P = (1/L) sum_{t<L} Y_t, so dY_t = dP / L at every real step t and 0 after.
    "max": P = Y_A elementwise, so dY_t = dP where t = A (the first maximum) and 0
    elsewhere.
    """
    t = np.arange(s, e)[:, None, None]  # (T, 1, 1)
    if pooling == "mean":
        dY = np.where(t < lengths, dP / lengths.astype(dP.dtype), 0)
    else:
        dY = np.where(t == pool[1], dP, 0)
    dY = dY.astype(dP.dtype, copy=False)
    return [np.ascontiguousarray(dY[:, d:d + H]) for d in range(0, dY.shape[1], H)]


def _late_start(impl, cell, w, X1, n_active, state0, keep, outputs):
    """A backward direction from a given (nonzero) state over a padded batch.

    Each sequence starts at its own last real step, from its own initial state: the same as a
    forward direction over the sequences reversed in time, which is what runs here (inference
    only). Returns a :class:`~skrnn.nn.recurrent.Direction` in the original time order.
    """
    if keep:
        raise ValueError("backpropagation through a backward direction that starts from a "
                         "nonzero state is not supported")
    T = X1.shape[0]
    lengths = np.count_nonzero(X1[:, -1], axis=0)  # the real-step row
    t = np.arange(T)[:, None]
    flip = np.where(t < lengths, lengths - 1 - t, t)[:, None, :]  # (T, 1, B), flip(flip) = id
    out = impl.forward(cell, w, np.take_along_axis(X1, flip, axis=0), n_active, state0,
                       reverse=False, keep=False, outputs=True)
    Y = np.take_along_axis(out.Y, flip, axis=0) if outputs else None
    return recurrent.Direction(Y, out.final, out.cache)


@lru_cache(maxsize=None)
def _cell(cell, activation):
    return get_cell(cell, activation)


@lru_cache(maxsize=64)
def _parameter_slices(G, input_size, hidden_sizes, n_directions, n_outputs, n_tokens=None):
    """(name, shape, slice into the flat vector) of every parameter, in order."""
    shapes, d_in = [], input_size
    if n_tokens is not None:
        shapes.append(("embedding.weight", (int(n_tokens), input_size)))
    for k, H in enumerate(hidden_sizes):
        for sfx in ("", "_reverse")[:n_directions]:
            shapes += [(f"weight_ih_l{k}{sfx}", (G * H, d_in)),
                       (f"weight_hh_l{k}{sfx}", (G * H, H)),
                       (f"bias_ih_l{k}{sfx}", (G * H,)),
                       (f"bias_hh_l{k}{sfx}", (G * H,))]
        d_in = n_directions * H
    shapes += [("head.weight", (n_outputs, d_in)), ("head.bias", (n_outputs,))]
    out, start = [], 0
    for name, shape in shapes:
        size = math.prod(shape)
        out.append((name, shape, slice(start, start + size)))
        start += size
    return tuple(out)


def _sort_by_length(lengths, B, T):
    """(order, sorted lengths, real) of a batch: the columns longest first, and the (T, B)
    mask of real steps in that order (None when no step is padded)."""
    lengths = np.asarray(lengths, dtype=np.intp)
    if lengths.shape != (B,) or (B and (lengths.min() < 1 or lengths.max() > T)):
        raise ValueError(f"lengths must be {B} integers in [1, {T}]")
    order = np.argsort(-lengths, kind="stable")
    L = lengths[order]
    if B == 0 or L[-1] == T:
        return order, L, None
    return order, L, np.arange(T)[:, None] < L[None, :]


def _embedding_backward(dE, ids, dX, real):
    """Add the gradient of the first layer's input to the embedding rows it was read from.

    ``dE`` (n_tokens, E) receives, for every real step (``real`` (T, B) nonzero), the step's
    input gradient ``dX[t, :, b]`` (dX (T, E, B)) in the row of its id ``ids[t, b]`` (ids
    (T, B)); padded steps add nothing and the padding row 0 gets no gradient.
    """
    mask = real.astype(bool)
    rows = ids[mask]  # (N,), one per real step, in (t, b) order
    grads = dX.transpose(0, 2, 1)[mask]  # (N, E)
    E = dE.shape[1]  # one index per element: numpy's add.at is fastest on 1-D operands
    flat = (rows[:, None] * E + np.arange(E)).ravel()
    np.add.at(dE.reshape(-1), flat, grads.astype(dE.dtype, copy=False).ravel())
    dE[0] = 0


def _unsort(Z, order):
    """Rows back in the caller's order: ``out[order[i]] = Z[i]``."""
    out = np.empty_like(Z)
    out[order] = Z
    return out
