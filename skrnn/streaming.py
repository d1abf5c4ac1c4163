"""Prediction one step at a time, with the recurrent state kept between calls.

A fitted estimator's ``stream()`` returns a :class:`Stream`: it holds a copy of the weights and
its own state, and never changes the estimator. Each :meth:`Stream.step` consumes one time step
of every stream and returns what the estimator would predict for the sequences seen so far;
:meth:`Stream.update` consumes several steps at once. Feeding a sequence step by step gives
the estimator's batch predictions of each of its prefixes (to round-off).

.. rubric:: Pooling

A classifier or regressor with ``pooling="mean"`` or ``"max"`` predicts from the top layer's
outputs pooled over every step so far: the stream keeps, per stream, their running sum and
the number of steps it holds, or their running elementwise maximum. :meth:`Stream.set_state`
sets the recurrent state and starts the pool anew, as ``predict(X, initial_state=...)``
pools over the steps of ``X`` only.

.. rubric:: States

States follow PyTorch's conventions: ``h`` of shape (n_layers, n_streams, H) (a list of
(n_streams, H_k) arrays when the layers have different sizes), and for the LSTM the pair
``(h, c)``. The same form is what the estimators' ``final_state`` returns and what their
``initial_state`` arguments take, with n_sequences in place of n_streams (and
n_layers * 2 rows, layer-major and forward first, for bidirectional models).

.. rubric:: Threads

A stream is not shared between threads: give each thread its own (:meth:`Stream.fork`, or one
``stream()`` call per thread). Streams from one estimator run in parallel threads and give
the results they give one after another.
"""

import math
import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .nn import _fast

__all__ = ["Stream"]


class Stream:
    """Predictions of a fitted estimator one time step at a time.

    Made by the estimators' ``stream`` method; see the module's documentation.

    Parameters
    ----------
    estimator : RNNClassifier, RNNRegressor or RNNSequenceTagger
        A fitted unidirectional estimator. The stream copies its weights (a regressor's
        with its target scaling folded into the head, so that it returns values in the
        targets' units).
    n_streams : int, default=1
        Number of sequences consumed side by side.

    Attributes
    ----------
    n_streams : int
        Number of sequences consumed side by side.
    n_features_in_ : int
        Features per step.
    n_steps_ : int
        Steps consumed since the stream was made or last reset.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn import RNNRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 6, 1))
    >>> reg = RNNRegressor("gru", (4,), max_iter=5, random_state=0).fit(X, X[:, :, 0].sum(1))
    >>> stream = reg.stream()
    >>> for x_t in X[0]:
    ...     value = stream.step(x_t)
    >>> bool(np.allclose(value, reg.predict(X[:1])))
    True
    """

    def __init__(self, estimator, n_streams=1):
        check_is_fitted(estimator)
        if (not isinstance(n_streams, numbers.Integral) or isinstance(n_streams, bool)
                or n_streams < 1):
            raise ValueError(f"n_streams must be a positive integer, got {n_streams!r}")
        network = estimator.network_
        if network.bidirectional:
            raise ValueError("a bidirectional model cannot predict one step at a time: its "
                             "backward direction reads each sequence from its end; use "
                             "predict on whole sequences")
        self._network = network
        self._theta = estimator.theta_.copy()
        self._dtype = self._theta.dtype
        self._kind = estimator._stream_output
        if self._kind == "proba":
            W_out, b_out = network._head(self._theta, self._dtype)
        else:  # a regressor's head with its target scaling folded in, once: its outputs are
            # the predictions, in the targets' units
            head = estimator._exported_state_dict()
            W_out, b_out = head["head.weight"], head["head.bias"]
        self._W_outT, self._b_out = np.array(W_out.T), np.array(b_out)  # (H, K), (K,)
        self.n_streams = int(n_streams)
        self.n_features_in_ = 1 if network.n_tokens else network.input_size
        self._build()
        self.n_steps_ = 0
        self._start_pool()

    def _build(self):
        """The per-layer steppers, from the zero state (:meth:`RecurrentNetwork.steppers`), and
        a token model's embedding table."""
        self._layers = self._network.steppers(self._theta, self._dtype, self.n_streams)
        self._table = (self._network.unpack(self._theta)["embedding.weight"]
                       if self._network.n_tokens else None)  # token models: the lookup
        self._softmax = _softmax_rows  # the head's, for one step; compiled with the kernels
        if self._network.implementation == "fast" and _fast.use_compiled(self._network.cell):
            from .nn._fast.compiled import softmax_rows
            self._softmax = softmax_rows

    def _start_pool(self):
        """An empty pool of the top outputs (pooling "mean" or "max"; else None): their sum
        and the steps it holds, or their elementwise maximum, (H, n_streams)."""
        H, n, pooling = self._network.hidden_sizes[-1], self.n_streams, self._network.pooling
        self._pool = (None if pooling == "last" else
                      [np.zeros((H, n), self._dtype), 0] if pooling == "mean" else
                      [np.full((H, n), -np.inf, self._dtype)])

    def __getstate__(self):
        state = self.__dict__.copy()  # steppers hold bound buffers: pickle their states only
        state["_layers"] = [layer.get_state() for layer in self._layers]
        del state["_table"], state["_softmax"]  # rebuilt with the steppers
        if self._pool is not None:  # updated in place: a fork needs its own
            state["_pool"] = [np.copy(v) for v in self._pool]
        return state

    def __setstate__(self, state):
        layer_states = state.pop("_layers")
        self.__dict__.update(state)
        self._build()
        for layer, s in zip(self._layers, layer_states):
            layer.set_state(s)

    # -- state ----------------------------------------------------------------------------------
    def reset(self):
        """Start every stream again from the zero state.

        Returns
        -------
        Stream
            The stream itself.
        """
        for layer in self._layers:
            layer.set_state(tuple(np.zeros_like(s) for s in layer.get_state()))
        self.n_steps_ = 0
        self._start_pool()
        return self

    @property
    def state(self):
        """The state after the last step, in PyTorch's shapes (copies).

        ``h`` of shape (n_layers, n_streams, H), or a list of (n_streams, H_k) arrays when the
        layers differ in size; for the LSTM the pair ``(h, c)``.
        """
        states = [layer.get_state() for layer in self._layers]
        h = [s[0].T.copy() for s in states]
        c = [s[1].T.copy() for s in states] if self._network.cell == "lstm" else None
        return to_torch_state(self._network, h, c)

    def set_state(self, state):
        """Continue from the given state (with pooling, the pool starts anew).

        Parameters
        ----------
        state : ndarray, list of ndarray, or tuple
            A state in the form of :attr:`state`, for ``n_streams`` sequences.

        Returns
        -------
        Stream
            The stream itself.

        Raises
        ------
        ValueError
            If the state does not match the model's layers, cell or ``n_streams``.
        """
        h, c = from_torch_state(self._network, state, self.n_streams)
        self._set_layer_states(h, c)
        self._start_pool()
        return self

    def _set_layer_states(self, h, c):
        """Set each layer's state from lists of (n_streams, H_k) arrays."""
        for k, layer in enumerate(self._layers):
            parts = (h[k],) if c is None else (h[k], c[k])
            layer.set_state(tuple(np.asarray(a, self._dtype).T for a in parts))

    def fork(self):
        """An independent copy of this stream, state included.

        Returns
        -------
        Stream
            A new stream; stepping either one leaves the other as it was.
        """
        twin = object.__new__(Stream)
        twin.__setstate__(self.__getstate__())
        return twin

    # -- steps ----------------------------------------------------------------------------------
    def step(self, x):
        """Consume one time step of every stream.

        Parameters
        ----------
        x : array-like of shape (n_streams, n_features)
            This step's inputs; with one stream also (n_features,), and with one feature
            also (n_streams,) (a scalar when both are one). A model of token ids takes one
            integer id per stream.

        Returns
        -------
        ndarray of shape (n_streams, n_outputs) or (n_streams,)
            What the estimator predicts for the sequences so far: class probabilities
            (classifier), this step's label probabilities (tagger) or values (regressor,
            1-D when it was fitted on a 1-D target).
        """
        h = self._read_step(x).T  # (D, n_streams)
        for layer in self._layers:
            h = layer.step(h)  # each layer's output is the next one's input
        self.n_steps_ += 1
        if self._pool is not None:
            h = self._pool_step(h)
        Z = np.dot(h.T, self._W_outT)  # (n_streams, K), a new array
        Z += self._b_out
        if self._kind == "proba":
            self._softmax(Z)
            return Z
        return _head_output(self._kind, Z)

    def _pool_step(self, h):
        """The head input after the top output h (H, n_streams): the mean or maximum of the
        top outputs so far (:meth:`_start_pool`)."""
        pool = self._pool
        if self._network.pooling == "mean":  # the running sum and its number of steps
            pool[0] += h
            pool[1] += 1
            return pool[0] / pool[1]
        np.maximum(pool[0], h, out=pool[0])
        return pool[0].copy()

    def update(self, X):
        """Consume several time steps of every stream at once.

        Parameters
        ----------
        X : array-like of shape (n_streams, n_steps, n_features)
            The next steps of every stream; with one stream also (n_steps, n_features). A
            model of token ids takes integer ids of shape (n_streams, n_steps).

        Returns
        -------
        ndarray of shape (n_streams, n_steps, n_outputs) or (n_streams, n_steps)
            What :meth:`step` would have returned after each of the steps.
        """
        X = self._read_chunk(X)
        n, T = X.shape[:2]
        K = self._W_outT.shape[1]
        if T == 0:
            return _head_output(self._kind, np.zeros((n, 0, K), self._dtype))
        states = [layer.get_state() for layer in self._layers]
        h = [s[0].T for s in states]
        c = [s[1].T for s in states] if self._network.cell == "lstm" else None
        outputs, h_n, c_n = self._network.final_states(self._theta, X, np.full(n, T),
                                                       initial_state=(h, c))
        self._set_layer_states(h_n, c_n)
        self.n_steps_ += T
        if self._pool is not None:
            outputs = self._pool_chunk(outputs)
        return _head_output(self._kind, outputs @ self._W_outT + self._b_out)

    def _pool_chunk(self, outputs):
        """:meth:`_pool_step` after each of the top outputs (n_streams, n_steps, H): the
        head inputs (n_streams, n_steps, H)."""
        pool = self._pool
        if self._network.pooling == "mean":
            sums = pool[0].T[:, None] + np.cumsum(outputs, axis=1)
            counts = pool[1] + np.arange(1, outputs.shape[1] + 1)
            pool[0], pool[1] = sums[:, -1].T.copy(), int(counts[-1])
            return sums / counts[:, None].astype(self._dtype)
        maxima = np.maximum.accumulate(np.concatenate([pool[0].T[:, None], outputs], axis=1),
                                       axis=1)[:, 1:]
        pool[0] = maxima[:, -1].T.copy()
        return maxima

    def _read_step(self, x):
        n, D = self.n_streams, self.n_features_in_
        if self._network.n_tokens:  # one token id per stream, looked up in the table
            ids = self._token_ids(x, "x").reshape(-1)
            if ids.shape != (n,):
                raise ValueError(f"a step of a token model holds one id per stream, "
                                 f"{n} in all, got shape {np.shape(x)}")
            return self._table[ids]
        x = _numbers(x, "x")
        if x.shape != (n, D):
            if x.size != n * D or x.ndim > 1 or not (x.ndim == 0 or n == 1 or D == 1):
                raise ValueError(f"a step must have shape (n_streams, n_features) = {(n, D)}, "
                                 f"got {x.shape}")
            x = x.reshape(n, D)
        return x

    def _read_chunk(self, X):
        n, D = self.n_streams, self.n_features_in_
        if self._network.n_tokens:
            ids = self._token_ids(X, "X")
            ids = ids[None] if ids.ndim == 1 and n == 1 else ids
            if ids.ndim != 2 or ids.shape[0] != n:
                raise ValueError(f"update of a token model takes ids of shape (n_streams, "
                                 f"n_steps) with n_streams={n}, got {np.shape(X)}")
            return ids
        X = _numbers(X, "X")
        if X.ndim == 2 and n == 1:
            X = X[None]
        if X.ndim != 3 or X.shape[0] != n or X.shape[2] != D:
            raise ValueError(f"update takes steps of shape (n_streams, n_steps, n_features) "
                             f"with n_streams={n}, n_features={D}, got {X.shape}")
        return X


    def _token_ids(self, x, what):
        """``x`` as an integer array of ids in [0, n_tokens)."""
        if isinstance(x, str):
            raise TypeError(f"{what} must hold token ids, got a string")
        ids = np.asarray(x)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"{what} must hold integer token ids, got dtype {ids.dtype}")
        V = self._network.n_tokens
        if ids.size and (ids.min() < 0 or ids.max() >= V):
            raise ValueError(f"{what} holds a token id outside [0, {V})")
        return ids


def _numbers(x, what):
    """``x`` as an array of finite floats (a copy only when its type changes)."""
    if isinstance(x, str):
        raise TypeError(f"{what} must hold numbers, got a string")
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{what} must hold numbers, got an array of dtype {x.dtype}")
    # one BLAS call in the common case: the sum of squares is finite unless a value is NaN or
    # infinite or the sum overflows, which the exact test then tells apart
    if x.dtype.kind == "f" and not math.isfinite(np.vdot(x, x)) and not np.isfinite(x).all():
        raise ValueError(f"{what} holds NaN or infinite values: every step of a stream is a "
                         "real step (there is no padding to skip)")
    return x


def _softmax_rows(Z):
    """Z (..., K) overwritten with the softmax over its last axis, its maximum subtracted
    first."""
    Z -= Z.max(axis=-1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=-1, keepdims=True)


def _head_output(kind, Z):
    """The estimator's prediction from head outputs Z (..., K), a new array: "proba"
    (softmax, in place), "values", or "values_1d" (the single output without its axis)."""
    if kind == "proba":
        _softmax_rows(Z)
        return Z
    return Z[..., 0] if kind == "values_1d" else Z


def to_torch_state(network, h, c):
    """PyTorch's form of a state given as lists of (n, H_k) arrays (see the module)."""
    def stack(parts):
        return np.stack(parts) if len(set(network.hidden_sizes)) == 1 else parts
    return (stack(h), stack(c)) if c is not None else stack(h)


def from_torch_state(network, state, n):
    """``(h, c)`` lists of (n, H_k) arrays (c None unless LSTM) from PyTorch's form, checked
    against the network (:meth:`~skrnn.nn.RecurrentNetwork.check_state`)."""
    if network.cell == "lstm":
        if not (isinstance(state, tuple) and len(state) == 2):
            raise ValueError("an LSTM's state is a pair (h, c)")
        pair = state
    else:
        if isinstance(state, tuple):
            raise ValueError(f"a {network.cell.upper()}'s state is h alone (an array of shape "
                             "(n_layers * n_directions, n, H)), not a tuple")
        pair = (state, None)
    h, c = pair
    for part in pair:
        if isinstance(part, str) or (part is not None and not hasattr(part, "__len__")):
            raise TypeError("a state holds arrays, one per layer and direction")
    return network.check_state((list(h), None if c is None else list(c)), n)
