"""The estimator shared by RNNClassifier, RNNRegressor and RNNSequenceTagger.

What lives here: the hyperparameters and their validation, reading the input once per call
(:class:`skrnn.sequences.Sequences`), the fitted state, declared once, the weights as a
PyTorch-style state dict, prediction, and scikit-learn's tags. The training loops are in
:mod:`skrnn._training`; the math is in :mod:`skrnn.nn`.
"""

import inspect
import warnings
from functools import lru_cache
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_array, check_is_fitted, validate_data

from ._training import RECORDS, TrainingData, fit_lbfgs, fit_stochastic, start_records
from .nn import RecurrentNetwork
from .nn.losses import LOSSES
from .nn._fast.buffers import trim_workspace
from .nn.optimizers import SCHEDULES, SGD, Adam
from .sequences import Sequences, _is_table, _reject_strings, check_sequences, check_token_ids
from .streaming import Stream, from_torch_state, to_torch_state

_PREDICT_CHUNK = 1024  # sequences per forward pass when predicting


def _stochastic(est):
    return est.solver != "lbfgs"


# Parameters that act only in some configurations: (name, acts(est), where it acts). fit warns
# when one is set away from its default (the constructor's) where it does nothing.
_CONDITIONAL_PARAMETERS = (
    ("dropout", lambda e: len(np.atleast_1d(e.hidden_layer_sizes)) > 1 and _stochastic(e),
     "between stacked layers (hidden_layer_sizes with two or more layers), with the "
     "mini-batch solvers"),
    ("tbptt_steps", lambda e: not e.bidirectional, "in unidirectional networks: a backward "
     "direction needs each whole sequence"),
    ("activation", lambda e: e.cell == "rnn", "with cell='rnn' (the gated cells have fixed "
     "nonlinearities)"),
    ("learning_rate", _stochastic, "with solver='adam' or 'sgd'"),
    ("power_t", lambda e: _stochastic(e) and e.learning_rate == "invscaling",
     "with solver='adam' or 'sgd' and learning_rate='invscaling'"),
    ("momentum", lambda e: e.solver == "sgd", "with solver='sgd'"),
    ("nesterovs_momentum", lambda e: e.solver == "sgd", "with solver='sgd'"),
    ("beta_1", lambda e: e.solver == "adam", "with solver='adam'"),
    ("beta_2", lambda e: e.solver == "adam", "with solver='adam'"),
    ("epsilon", lambda e: e.solver == "adam", "with solver='adam'"),
    ("learning_rate_init", _stochastic, "with solver='adam' or 'sgd'"),
    ("batch_size", _stochastic, "with solver='adam' or 'sgd'"),
    ("shuffle", _stochastic, "with solver='adam' or 'sgd'"),
    ("early_stopping", _stochastic, "with solver='adam' or 'sgd'"),
    ("n_iter_no_change", _stochastic, "with solver='adam' or 'sgd'"),
    ("max_grad_norm", _stochastic, "with solver='adam' or 'sgd'"),
    ("validation_fraction", lambda e: e.early_stopping and _stochastic(e),
     "with early_stopping=True and solver='adam' or 'sgd'"),
    ("max_fun", lambda e: e.solver == "lbfgs", "with solver='lbfgs'"),
    ("n_tokens", lambda e: e.embedding_dim is not None, "with embedding_dim set (token ids "
     "as input)"),
)


@lru_cache(maxsize=64)
def _constructor_defaults(cls):
    """The default of every parameter of ``cls``'s constructor, read once per class (reading a
    signature takes about 0.1 ms, at every fit and partial_fit)."""
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()}


def _warn_no_effect(est):
    """Warn about each parameter set away from its default where it does nothing."""
    defaults = _constructor_defaults(type(est))
    for name, acts, where in _CONDITIONAL_PARAMETERS:
        value = getattr(est, name)
        if value != defaults[name] and not acts(est):
            warnings.warn(f"{name}={value!r} has no effect here: it acts only {where}.",
                          UserWarning, stacklevel=5)


def _warn_if_token_ids(X, seqs):
    """Warn when numbers look like token ids read as one numeric feature: integers >= 0 (an
    integer array, or a list whose first sequence is one), one per step, not just 0/1."""
    first = X[0] if isinstance(X, (list, tuple)) and len(X) else X
    kinds = ([d.kind for d in first.dtypes] if hasattr(first, "columns")  # a DataFrame
             else [np.asarray(first).dtype.kind])
    X3 = seqs.X3
    if all(k in "iu" for k in kinds) and X3.shape[2] == 1 and X3.min() >= 0 and X3.max() > 1:
        warnings.warn("X holds integers, one per step: they are read as one numeric feature. "
                      "If they are token ids (categories), set embedding_dim to read them "
                      "through a learned embedding; to silence this, pass floats.",
                      UserWarning, stacklevel=4)


def _fit_rng(random_state):
    """The generator of one fit, seeded by a draw from ``random_state`` (an int gives the same
    generator at every fit)."""
    if isinstance(random_state, Integral):
        return np.random.default_rng(_first_draw(int(random_state)))
    return np.random.default_rng(check_random_state(random_state).randint(2**31))


@lru_cache(maxsize=64)
def _first_draw(seed):
    """``RandomState(seed).randint(2**31)``, remembered: fit and partial_fit need it at every
    call, and seeding a RandomState takes about 0.25 ms."""
    return check_random_state(seed).randint(2**31)


def _stochastic_solver(estimator):
    """partial_fit exists for the mini-batch solvers only (as in MLPClassifier)."""
    return estimator.solver in ("adam", "sgd")


class BaseRNN(TransformerMixin, BaseEstimator):
    """Shared parameters, fitted state and prediction; see the subclasses for the documentation."""

    _parameter_constraints: dict = {
        "cell": [StrOptions({"lstm", "gru", "rnn"})],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "activation": [StrOptions({"tanh", "relu"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "embedding_dim": [Interval(Integral, 1, None, closed="left"), None],
        "n_tokens": [Interval(Integral, 2, None, closed="left"), None],
        "solver": [StrOptions({"adam", "sgd", "lbfgs"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions(set(SCHEDULES))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "tbptt_steps": [Interval(Integral, 1, None, closed="left"), None],
    }

    # The fitted state, declared once: every attribute fit sets, and exactly what
    # skrnn.persistence saves and loads. Each name maps to the kind of value it holds, which
    # tells persistence how to store it and how to check it when loading. Names marked
    # optional may be absent (feature_names_in_ exists only for input with feature names).
    _fitted_state = {
        "network_": "network",
        "theta_": "params",
        "_optimizer": "optimizer",
        "n_features_in_": "int",
        "feature_names_in_": "labels, optional",
        "_fitted_on_table": "bool",
        **RECORDS,
    }

    # set by subclasses
    _loss = "squared"
    _output = "last"
    _two_d = "sequences"

    def __init__(self, cell="gru", hidden_layer_sizes=(32,), *, bidirectional=False,
                 activation="tanh", dropout=0.0, embedding_dim=None, n_tokens=None,
                 solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.01,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=50, max_fun=15000, max_grad_norm=5.0,
                 tbptt_steps=None):
        self.cell = cell
        self.hidden_layer_sizes = hidden_layer_sizes
        self.bidirectional = bidirectional
        self.activation = activation
        self.dropout = dropout
        self.embedding_dim = embedding_dim
        self.n_tokens = n_tokens
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.max_grad_norm = max_grad_norm
        self.tbptt_steps = tbptt_steps

    # -- reading the input, once per call ---------------------------------------------------
    def _validate_sequences(self, X, reset):
        """Read X (any accepted form) into :class:`~skrnn.sequences.Sequences` and check its
        features against fit's (``reset``: remember them instead)."""
        if self.embedding_dim is not None:
            return self._validate_tokens(X, reset)
        if _is_table(X):
            seqs = self._validate_table(X, reset)
        else:
            X3, lengths, names = check_sequences(X, two_d=self._two_d)
            seqs = Sequences(X3, lengths, False, names)
        if reset:
            self._fitted_on_table = seqs.table
            if not seqs.table:
                self.n_features_in_ = seqs.X3.shape[2]
                if seqs.feature_names is not None:
                    self.feature_names_in_ = seqs.feature_names
                elif hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
        else:
            self._check_step_features(seqs)
            if seqs.table and self._two_d == "steps" and not self._fitted_on_table \
                    and len(seqs.lengths) > 1:
                warnings.warn(
                    f"X is a 2-D array: {type(self).__name__} reads each of its "
                    f"{len(seqs.lengths)} rows as a sequence of one step, with no context "
                    "between rows, while it was fitted on sequences. If X is one sequence of "
                    "shape (T, n_features), pass it in a list: [X].", UserWarning,
                    stacklevel=3)
        _warn_if_token_ids(X, seqs)
        return seqs

    def _validate_tokens(self, X, reset):
        """Read token ids (``embedding_dim`` set) into Sequences whose X3 (n, T, 1) holds the
        ids; a 2-D array goes through scikit-learn's checks of width and feature names."""
        if _is_table(X) and not sp.issparse(X) and (reset or self._fitted_on_table):
            _reject_strings(np.asarray(X))
            X = validate_data(self, X, reset=reset, dtype=None, ensure_min_samples=1)
        ids, lengths = check_token_ids(X)
        if reset:
            self._fitted_on_table = _is_table(X)
            if not self._fitted_on_table:
                self.n_features_in_ = 1  # one id per step
            if self.n_tokens is not None and ids.max() >= self.n_tokens:
                raise ValueError(f"X holds the token id {ids.max()}, but n_tokens="
                                 f"{self.n_tokens}: ids must be below n_tokens.")
        elif self.network_.n_tokens is None:
            raise ValueError(f"{type(self).__name__} was fitted on numbers, not token ids; "
                             "set embedding_dim=None, or refit with it.")
        elif ids.max() >= self.network_.n_tokens:
            raise ValueError(
                f"X holds the token id {ids.max()}, but {type(self).__name__} was fitted with "
                f"{self.network_.n_tokens} tokens (ids 0 to {self.network_.n_tokens - 1}). "
                "Map unseen tokens to a known id (TokenEncoder gives them the unknown id 1), "
                "or set n_tokens before the first fit to leave room for more.")
        return Sequences(ids[:, :, None], lengths, False, None)

    def _validate_table(self, X, reset):
        """2-D input through scikit-learn's own checks (messages, feature names, widths)."""
        kwargs = dict(dtype=(np.float64, np.float32), ensure_min_samples=1)
        if not sp.issparse(X):
            _reject_strings(np.asarray(X))
        if getattr(X, "ndim", 0) == 2 and X.shape[1] == 0:
            raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                             "of 1 is required.")
        if reset or self._fitted_on_table:
            X2 = validate_data(self, X, reset=reset, **kwargs)
        else:
            X2 = check_array(X, **kwargs)
        return Sequences.from_table(X2, self._two_d)

    def _check_step_features(self, seqs):
        if self.network_.n_tokens is not None:
            raise ValueError(f"{type(self).__name__} was fitted on token ids "
                             f"(embedding_dim={self.network_.input_size}); set embedding_dim "
                             "back to refit on numbers.")
        expected = self.network_.input_size
        n_features = seqs.X3.shape[2]
        if n_features != expected:
            hint = (" A 2-D array is read as one univariate sequence per row; if X is one "
                    "sequence of shape (T, n_features), pass it in a list: [X]."
                    if seqs.table and self._two_d == "sequences" and n_features == 1 else "")
            raise ValueError(f"X has {n_features} features per step, but "
                             f"{type(self).__name__} is expecting {expected} features per step "
                             "as input." + hint)
        fitted_names = getattr(self, "feature_names_in_", None)
        if seqs.feature_names is not None and fitted_names is not None \
                and not self._fitted_on_table and list(seqs.feature_names) != list(fitted_names):
            raise ValueError(f"The feature names should match those that were passed during "
                             f"fit: got {list(seqs.feature_names)}, expected "
                             f"{list(fitted_names)}.")

    def _check_y_given(self, y):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None.")

    def _sample_weight(self, sample_weight, lengths):
        return _check_sample_weight(sample_weight, lengths, dtype=np.float64,
                                    ensure_non_negative=True)

    def _step_weights(self, sample_weight, seqs):
        """Weights of all real steps, concatenated (sum of lengths,), from weights of the
        sequences (n,), or of every step: a list of (T_i,) arrays or a padded (n, T)
        array."""
        lengths = seqs.lengths
        listed = isinstance(sample_weight, (list, tuple)) or (
            isinstance(sample_weight, np.ndarray) and sample_weight.dtype == object)
        if listed and all(np.ndim(w) == 0 for w in sample_weight):
            listed = False  # one weight per sequence
        padded = (not listed and sample_weight is not None
                  and np.asarray(sample_weight).ndim == 2)
        if seqs.table or not (listed or padded):
            return np.repeat(self._sample_weight(sample_weight, lengths), lengths)
        if padded:
            W = np.asarray(sample_weight, dtype=np.float64)
            if len(W) != len(lengths) or W.shape[1] < lengths.max():
                raise ValueError(f"per-step sample_weight must have shape (n_sequences, T) "
                                 f"with n_sequences={len(lengths)}, T >= {lengths.max()}; "
                                 f"got {W.shape}")
            weights = W[np.arange(W.shape[1])[None, :] < lengths[:, None]]
        else:
            if len(sample_weight) != len(lengths):
                raise ValueError(f"sample_weight holds {len(sample_weight)} entries for "
                                 f"{len(lengths)} sequences")
            parts = [np.asarray(w, dtype=np.float64).reshape(-1) for w in sample_weight]
            for i, (w, L) in enumerate(zip(parts, lengths)):
                if len(w) not in (1, L):
                    raise ValueError(f"sample_weight[{i}] must hold one weight or {L} (one "
                                     f"per step of sequence {i}), got {len(w)}")
            weights = np.concatenate([np.broadcast_to(w, (L,)) for w, L in zip(parts, lengths)])
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError("sample_weight must hold finite, non-negative numbers")
        return weights

    # -- subclass hooks ---------------------------------------------------------------------
    def _validate_targets(self, y, seqs, sample_weight, reset, classes=None):
        """Return (targets for the network, loss weights, n_outputs)."""
        raise NotImplementedError

    def _validation_score(self, Z, Y, weights):
        """The score ``validation_scores_`` records, from head outputs ``Z`` (one row per
        sequence, or per real step) against targets ``Y``, weighted by ``weights``."""
        raise NotImplementedError

    def _evaluate_validation(self, validation):
        """(score, loss) of the current weights on the held-out sequences: the score of
        :meth:`_validation_score` and the loss that early stopping watches, the weighted mean
        of the training loss without its L2 penalty."""
        Z = self.network_.forward(self.theta_, validation.X3, validation.lengths)
        Y, w = validation.Y, validation.weights
        if Z.ndim == 3:  # one output per step: the real steps, in order
            T = Z.shape[1]
            real = np.arange(T)[None, :] < validation.lengths[:, None]
            Z, Y, w = Z[real], Y[:, :T][real], w[:, :T][real]
        score = self._validation_score(Z, Y, w)
        total = w.sum()
        w = w / total if total > 0 else np.full(len(w), 1.0 / len(w))
        loss, _ = LOSSES[self._loss](Z.astype(np.float64), Y, w, overwrite=True)
        return score, float(loss)

    def _stratify_labels(self, Y):
        """Labels to stratify the validation split by, or None."""
        return None

    # -- fit ------------------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to sequences X and targets y.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        y : array-like
            Targets (see the class docstring).
        sample_weight : array-like, default=None
            Weights of the sequences, of shape (n_sequences,); the loss is their weighted
            mean. The per-step estimators also take weights of every step (see the class
            docstring).

        Returns
        -------
        object
            The fitted estimator (``self``).
        """
        return self._fit(X, y, sample_weight)

    def _fit(self, X, y, sample_weight=None, incremental=False, classes=None):
        self._check_y_given(y)
        _warn_no_effect(self)
        first = not hasattr(self, "theta_") or not (incremental or self.warm_start)
        seqs = self._validate_sequences(X, reset=first)
        Y, weights, n_outputs = self._validate_targets(y, seqs, sample_weight, first, classes)
        rng = _fit_rng(self.random_state)
        if first:
            if self.embedding_dim is None:
                self._initialize(seqs.X3.shape[2], n_outputs, seqs.X3.dtype, rng)
            else:  # a model of token ids computes in float32, as PyTorch's default
                n_tokens = max(self.n_tokens or 0, int(seqs.X3.max()) + 1, 2)
                self._initialize(self.embedding_dim, n_outputs, np.float32, rng, n_tokens)
        X3 = seqs.X3 if self.network_.n_tokens else seqs.X3.astype(self.theta_.dtype,
                                                                   copy=False)
        data = TrainingData(X3, seqs.lengths, Y, weights)
        try:
            if self.solver == "lbfgs":
                fit_lbfgs(self, data)
            else:
                fit_stochastic(self, data, rng, incremental)
        finally:
            trim_workspace()  # keep a bounded part of the engine's buffers for the next call
        return self

    def _initialize(self, n_features, n_outputs, dtype, rng, n_tokens=None):
        """The fitted state of a new fit (see ``_fitted_state``); ``n_tokens`` for a model of
        token ids, whose ``n_features`` is the embedding's size."""
        self.network_ = RecurrentNetwork(
            self.cell, n_features, tuple(np.atleast_1d(self.hidden_layer_sizes)), n_outputs,
            self.bidirectional, self._output, self.activation, self.dropout, n_tokens=n_tokens,
            pooling=getattr(self, "pooling", "last"))  # the per-step estimators do not pool
        self.theta_ = self.network_.init_params(rng, dtype)
        schedule = dict(lr_schedule=self.learning_rate, power_t=self.power_t,
                        n_epochs=self.max_iter)
        if self.solver == "sgd":
            self._optimizer = SGD(self.learning_rate_init, momentum=self.momentum,
                                  nesterov=self.nesterovs_momentum, **schedule)
        else:
            self._optimizer = Adam(self.learning_rate_init, self.beta_1, self.beta_2,
                                   self.epsilon, **schedule)
        start_records(self)

    def _check_fitted_state(self):
        """Raise ValueError if the fitted attributes do not fit together (checked after
        :func:`skrnn.persistence.load` has set them)."""
        net = self.network_
        if net.output != self._output or net.implementation != "fast":
            raise ValueError(f"The network {net} does not fit {type(self).__name__}.")
        per_step = 1 if net.n_tokens else net.input_size  # one token id, or the features
        if not self._fitted_on_table and self.n_features_in_ != per_step:
            raise ValueError(f"n_features_in_={self.n_features_in_} does not fit the network's "
                             f"{per_step} input features.")
        names = getattr(self, "feature_names_in_", None)
        if names is not None and len(names) != self.n_features_in_:
            raise ValueError(f"feature_names_in_ has {len(names)} names for "
                             f"{self.n_features_in_} features.")

    def _objective(self, theta, data, rng=None):
        """Weighted mean loss plus ``alpha / 2 * ||W||^2 / total weight``, and its gradient."""
        l2 = self.alpha / data.weights.sum()
        tbptt = self.tbptt_steps if not self.bidirectional else None
        return self.network_.loss_and_grad(theta, data.X3, data.lengths, data.Y, self._loss,
                                           data.weights, l2, tbptt, rng)

    # -- the weights ----------------------------------------------------------------------------
    def state_dict(self):
        """The fitted weights as a PyTorch-style state dict.

        The names are those of PyTorch's recurrent modules (``weight_ih_l0``,
        ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``..._reverse`` for a backward
        direction, one set per layer) and of the dense head (``head.weight``, ``head.bias``),
        with PyTorch's shapes and gate order. They are the weights the estimator computes
        with (``theta_``): a regressor's head gives standardised targets, which it maps to
        predictions with ``target_scale_`` and ``target_mean_`` (see ``scale_target``);
        :func:`skrnn.interchange.to_torch_state_dict` folds that map into the head.

        Returns
        -------
        dict of str to ndarray
            Name -> a copy of the weights.

        Examples
        --------
        >>> import numpy as np
        >>> from skrnn import RNNRegressor
        >>> X = np.random.default_rng(0).normal(size=(20, 5))
        >>> reg = RNNRegressor("lstm", (3,), max_iter=2, random_state=0).fit(X, X[:, -1])
        >>> {name: w.shape for name, w in reg.state_dict().items()}  # doctest: +NORMALIZE_WHITESPACE
        {'weight_ih_l0': (12, 1), 'weight_hh_l0': (12, 3), 'bias_ih_l0': (12,),
         'bias_hh_l0': (12,), 'head.weight': (1, 3), 'head.bias': (1,)}
        """
        check_is_fitted(self)
        return self.network_.state_dict(self.theta_)

    def load_state_dict(self, state_dict):
        """Set the fitted weights from a PyTorch-style state dict.

        Parameters
        ----------
        state_dict : dict of str to array-like
            Every weight :meth:`state_dict` names, with its shape (a regressor's head in
            standardised units, as :meth:`state_dict` gives it; its target scaling stays).

        Returns
        -------
        object
            The estimator (``self``) with the new weights, in the dtype it was fitted in.

        Raises
        ------
        ValueError
            If a name is missing or unexpected, a shape differs, or a value is not a finite
            number; the estimator is then unchanged.
        """
        check_is_fitted(self)
        self.theta_ = self.network_.params_from_state_dict(state_dict, self.theta_.dtype)
        return self

    def _exported_state_dict(self):
        """The weights as skrnn exports them (:func:`skrnn.interchange.to_torch_state_dict`,
        :func:`skrnn.onnx.to_onnx`): those of :meth:`state_dict`, with a head whose outputs
        give the predictions (a regressor folds its target scaling into it)."""
        return self.state_dict()

    @property
    def n_tokens_(self):
        """Rows of the embedding table of a model of token ids: it reads ids 0 to ``n_tokens_ - 1``.

        None for a model of numbers (``embedding_dim=None``).
        """
        check_is_fitted(self)
        return self.network_.n_tokens

    # -- prediction -----------------------------------------------------------------------------
    _stream_output = "values"  # how head outputs become predictions (skrnn.streaming)

    def _network_outputs(self, seqs, method="forward", initial_state=None, **options):
        """The network's outputs for sequences read by :meth:`_validate_sequences`, computed in
        chunks of at most ``_PREDICT_CHUNK`` sequences of similar lengths, in the caller's order.

        ``method`` is "forward" (head outputs: (n, K), or (n, T, K) per step),
        "hidden_states" (a layer's states per step, and its last-state embedding) or
        "final_states" (top outputs per step, and every layer's final h and c). An
        ``initial_state`` is given in PyTorch's form (:mod:`skrnn.streaming`).
        """
        n, X3, lengths = len(seqs.lengths), seqs.X3, seqs.lengths
        compute = getattr(self.network_, method)
        pair = (None if initial_state is None
                else from_torch_state(self.network_, initial_state, n))

        def run(idx, X, L):
            state = None if pair is None else tuple(
                None if part is None else [a[idx] for a in part] for part in pair)
            return compute(self.theta_, X, L, initial_state=state, **options)

        try:
            if n <= _PREDICT_CHUNK:
                return run(slice(None), X3, lengths)
            order = np.argsort(-lengths, kind="stable")
            pieces = []
            for start in range(0, n, _PREDICT_CHUNK):
                idx = order[start:start + _PREDICT_CHUNK]
                pieces.append((idx, run(idx, X3[idx, :lengths[idx].max()], lengths[idx])))
            return _assemble(pieces, n, X3.shape[1])
        finally:
            trim_workspace()

    def transform(self, X, initial_state=None):
        """The final hidden-state embedding of each sequence.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        initial_state : ndarray, list or tuple, default=None
            Where each sequence starts, in the form :meth:`final_state` returns (one row per
            sequence); None starts from zero.

        Returns
        -------
        ndarray of shape (n_sequences, n_directions * hidden_layer_sizes[-1])
            The top layer's state after the last real step (bidirectional: joined with the
            backward direction's state after the first step). With ``pooling`` "mean" or
            "max" as well: the final states, not the pooled outputs the head reads.
        """
        check_is_fitted(self)
        _, last = self._network_outputs(self._validate_sequences(X, reset=False),
                                        "hidden_states", initial_state)
        return last

    def hidden_states(self, X, initial_state=None, *, layer=-1):
        """A layer's hidden states at every real step, for heatmaps and inspection.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        initial_state : ndarray, list or tuple, default=None
            Where each sequence starts, in the form :meth:`final_state` returns (one row per
            sequence); None starts from zero.
        layer : int, default=-1
            Which layer: 0 is the first, -1 the top.

        Returns
        -------
        list of ndarray of shape (T_i, n_directions * hidden_layer_sizes[layer])
            One array per sequence (bidirectional: the forward direction's states, then the
            backward direction's).
        """
        check_is_fitted(self)
        seqs = self._validate_sequences(X, reset=False)
        steps, _ = self._network_outputs(seqs, "hidden_states", initial_state, layer=layer)
        return [s[:L] for s, L in zip(steps, seqs.lengths)]

    def gate_activations(self, X, initial_state=None, *, layer=-1):
        """The gates of a layer at every real step: what the LSTM and GRU plots show.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        initial_state : ndarray, list or tuple, default=None
            Where each sequence starts, in the form :meth:`final_state` returns (one row per
            sequence); None starts from zero.
        layer : int, default=-1
            Which layer: 0 is the first, -1 the top.

        Returns
        -------
        dict of str to list of ndarray of shape (T_i, n_directions * H)
            For ``cell="lstm"`` the input, forget and output gates ``"i"``, ``"f"``,
            ``"o"``, the candidate ``"g"`` and the cell state ``"c"``; for ``cell="gru"`` the
            reset and update gates ``"r"``, ``"z"`` and the candidate ``"n"`` (the names of
            the equations in :mod:`skrnn.nn.cells`). One array per sequence.

        Raises
        ------
        ValueError
            If ``cell="rnn"``: the vanilla RNN has no gates (see :meth:`hidden_states`).

        Examples
        --------
        >>> import numpy as np
        >>> from skrnn import RNNClassifier
        >>> rng = np.random.default_rng(0)
        >>> X = [rng.normal(size=(n, 2)) for n in (5, 3, 7, 4)]
        >>> clf = RNNClassifier("gru", (3,), max_iter=2, random_state=0).fit(X, [0, 1, 0, 1])
        >>> gates = clf.gate_activations(X)
        >>> sorted(gates), [z.shape for z in gates["z"]]
        (['n', 'r', 'z'], [(5, 3), (3, 3), (7, 3), (4, 3)])
        """
        check_is_fitted(self)
        if self.network_.cell == "rnn":
            raise ValueError("the vanilla RNN (cell='rnn') has no gates: its states are what "
                             "hidden_states returns")
        seqs = self._validate_sequences(X, reset=False)
        pair = (None if initial_state is None
                else from_torch_state(self.network_, initial_state, len(seqs.lengths)))
        gates = self.network_.gate_activations(self.theta_, seqs.X3, seqs.lengths, pair, layer)
        return {name: [v[:L] for v, L in zip(values, seqs.lengths)]
                for name, values in gates.items()}

    def state_gradients(self, X, y, sample_weight=None, *, layer=-1):
        """The gradient of the training loss with respect to a layer's state at every step.

        ``np.linalg.norm(g, axis=1)`` of each array is ||dL/dh_t|| over time: how much each
        step's state still moves the loss, the picture of vanishing and exploding gradients.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        y : array-like
            Their targets, as ``fit`` takes them.
        sample_weight : array-like, default=None
            Weights of the sequences, as ``fit`` takes them.
        layer : int, default=-1
            Which layer: 0 is the first, -1 the top.

        Returns
        -------
        list of ndarray of shape (T_i, n_directions * H)
            dL/dh_t of the loss ``fit`` minimises (without the L2 penalty; for a regressor
            with ``scale_target``, that of the standardised targets), through the head,
            every later step and the layers above; one array per sequence.

        Examples
        --------
        >>> import numpy as np
        >>> from skrnn import RNNRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(20, 30, 1))
        >>> reg = RNNRegressor("rnn", (8,), max_iter=3, random_state=0).fit(X, X[:, 0, 0])
        >>> norms = [np.linalg.norm(g, axis=1) for g in reg.state_gradients(X, X[:, 0, 0])]
        >>> norms[0].shape
        (30,)
        """
        check_is_fitted(self)
        self._check_y_given(y)
        seqs = self._validate_sequences(X, reset=False)
        Y, weights, _ = self._validate_targets(y, seqs, sample_weight, False)
        grads = self.network_.state_gradients(self.theta_, seqs.X3, seqs.lengths, Y,
                                              self._loss, weights, layer)
        return [g[:L] for g, L in zip(grads, seqs.lengths)]

    def final_state(self, X, initial_state=None):
        """Every layer's state after the last real step of each sequence.

        The state to carry on with: pass it as ``initial_state`` with the sequences' next
        steps, or to a :meth:`stream`'s ``set_state``.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        initial_state : ndarray, list or tuple, default=None
            Where each sequence starts, in the form this method returns; None starts from
            zero.

        Returns
        -------
        ndarray, list of ndarray, or tuple
            PyTorch's ``h_n``: shape (n_layers * n_directions, n_sequences, H), layer-major
            with the forward direction first (a list of (n_sequences, H_k) arrays when the
            layers differ in size); for the LSTM the pair ``(h_n, c_n)``. A backward
            direction's final state is its state after the first step.

        Examples
        --------
        Running two halves of a sequence one after the other, carrying the state, gives the
        prediction of the whole sequence (with the default ``pooling="last"``; a pool covers
        the steps given only):

        >>> import numpy as np
        >>> from skrnn import RNNClassifier
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(30, 8, 2))
        >>> y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
        >>> clf = RNNClassifier("lstm", (4,), max_iter=5, random_state=0).fit(X, y)
        >>> h, c = clf.final_state(X[:, :4])
        >>> h.shape, c.shape
        ((1, 30, 4), (1, 30, 4))
        >>> halves = clf.predict_proba(X[:, 4:], initial_state=(h, c))
        >>> bool(np.allclose(halves, clf.predict_proba(X)))
        True
        """
        check_is_fitted(self)
        _, h_n, c_n = self._network_outputs(self._validate_sequences(X, reset=False),
                                            "final_states", initial_state)
        return to_torch_state(self.network_, h_n, c_n)

    def stream(self, n_streams=1):
        """Predict one time step at a time, keeping the state between calls.

        Parameters
        ----------
        n_streams : int, default=1
            Number of sequences consumed side by side.

        Returns
        -------
        Stream
            A :class:`~skrnn.streaming.Stream` with a copy of the weights, starting from the
            zero state. It never changes the estimator.

        Raises
        ------
        ValueError
            If the model is bidirectional.
        """
        return Stream(self, n_streams)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        # token ids are categories: scikit-learn's checks then give whole numbers >= 0
        tags.input_tags.categorical = tags.input_tags.positive_only = \
            self.embedding_dim is not None
        return tags


def _assemble(pieces, n, T):
    """Join chunked network outputs (arrays, or tuples and lists of them, or None) back into
    the caller's order, padding the time axis of per-step outputs to T."""
    first = pieces[0][1]
    if first is None:
        return None
    if isinstance(first, (tuple, list)):
        return type(first)(_assemble([(idx, out[k]) for idx, out in pieces], n, T)
                           for k in range(len(first)))
    shape = (n,) + ((T,) + first.shape[2:] if first.ndim == 3 else first.shape[1:])
    out = np.zeros(shape, dtype=first.dtype)
    for idx, part in pieces:
        out[idx, :part.shape[1]] = part
    return out
