"""The estimator shared by RNNClassifier, RNNRegressor and RNNSequenceTagger.

What lives here: hyperparameters and their validation, turning every accepted input form into a
padded batch with lengths, the training loop split into small named helpers, prediction in
chunks, and scikit-learn's tags. The math lives in :mod:`skrnn.nn`.
"""

import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_array, check_is_fitted, validate_data

from .nn import RecurrentNetwork
from .nn.optimizers import SGD, Adam, clip_grad_norm, minimize_lbfgs
from .nn.recurrent import clear_workspace
from .sequences import check_sequences, reject_strings

_PREDICT_CHUNK = 1024  # sequences per forward pass when predicting


def _is_table(X):
    """True for inputs scikit-learn itself reads as a table: 2-D (or 1-D) arrays, sparse
    matrices, flat DataFrames and nested lists of numbers of equal length. Ragged lists, lists
    of arrays, 3-D arrays and long-format pandas are sequence forms."""
    if sp.issparse(X):
        return True
    if hasattr(X, "iloc"):
        return X.index.nlevels == 1
    if isinstance(X, (list, tuple)):
        if any(isinstance(item, np.ndarray) or hasattr(item, "iloc") for item in X):
            return False
        try:
            arr = np.asarray(X)
        except ValueError:  # inhomogeneous nesting: ragged
            return False
        return arr.ndim == 2 and arr.dtype != object
    arr = X if isinstance(X, np.ndarray) else np.asarray(X)
    return arr.ndim != 3 and not (arr.ndim == 1 and arr.dtype == object)


def _stochastic_solver(estimator):
    """partial_fit exists for the mini-batch solvers only (as in MLPClassifier)."""
    return estimator.solver in ("adam", "sgd")


class BaseRNN(TransformerMixin, BaseEstimator):
    """Shared parameters and training loop; see the subclasses for the documentation."""

    _parameter_constraints: dict = {
        "cell": [StrOptions({"lstm", "gru", "rnn"})],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "activation": [StrOptions({"tanh", "relu"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "solver": [StrOptions({"adam", "sgd", "lbfgs"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
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

    # set by subclasses
    _loss = "squared"
    _output = "last"
    _two_d = "sequences"

    def __init__(self, cell="gru", hidden_layer_sizes=(32,), *, bidirectional=False,
                 activation="tanh", dropout=0.0, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.01,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, max_grad_norm=5.0,
                 tbptt_steps=None):
        self.cell = cell
        self.hidden_layer_sizes = hidden_layer_sizes
        self.bidirectional = bidirectional
        self.activation = activation
        self.dropout = dropout
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

    # -- input validation -----------------------------------------------------------------------
    def _validate_X(self, X, reset):
        """Any accepted input form -> (X3 (n, T, F) float, lengths (n,)); checks features."""
        if _is_table(X):
            return self._validate_table(X, reset)
        X3, lengths, names = check_sequences(X, two_d=self._two_d)
        n_features = X3.shape[2]
        if reset:
            self.n_features_in_ = n_features
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            self._fitted_on_table = False
        else:
            self._check_step_features(n_features, names)
        return X3, lengths

    def _validate_table(self, X, reset):
        """2-D input through scikit-learn's own checks (messages, feature names, widths)."""
        kwargs = dict(dtype=(np.float64, np.float32), ensure_min_samples=1)
        if not sp.issparse(X):
            reject_strings(np.asarray(X))
        if getattr(X, "ndim", 0) == 2 and X.shape[1] == 0:
            raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                             "of 1 is required.")
        if reset or self._fitted_on_table:
            X2 = validate_data(self, X, reset=reset, **kwargs)
            self._fitted_on_table = self._fitted_on_table if not reset else True
        else:
            X2 = check_array(X, **kwargs)
        X3 = X2[:, :, None] if self._two_d == "sequences" else X2[:, None, :]
        X3 = np.array(X3, order="C")  # a private copy: the caller's array is never touched
        if not reset:
            self._check_step_features(X3.shape[2], None)
        return X3, np.full(len(X3), X3.shape[1], dtype=np.intp)

    def _check_step_features(self, n_features, names):
        expected = self._network.input_size
        if n_features != expected:
            raise ValueError(f"X has {n_features} features per step, but "
                             f"{type(self).__name__} is expecting {expected} features per step "
                             "as input.")
        fitted_names = getattr(self, "feature_names_in_", None)
        if names is not None and fitted_names is not None and not self._fitted_on_table \
                and list(names) != list(fitted_names):
            raise ValueError(f"The feature names should match those that were passed during "
                             f"fit: got {list(names)}, expected {list(fitted_names)}.")

    def _check_y_given(self, y):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None.")

    def _sample_weight(self, sample_weight, X3):
        return _check_sample_weight(sample_weight, X3, dtype=np.float64, ensure_non_negative=True)

    # -- subclass hooks ---------------------------------------------------------------------
    def _validate_targets(self, y, lengths, sample_weight, reset, classes=None):
        """Return (targets for the network, loss weights, n_outputs)."""
        raise NotImplementedError

    def _score_validation(self, X3, lengths, Y):
        """The validation score used by early stopping (higher is better)."""
        raise NotImplementedError

    # -- fit ------------------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to sequences X and targets y.

        Parameters
        ----------
        X : sequences in any accepted form (see the class docstring)
        y : targets, see the class docstring
        sample_weight : array-like of shape (n_sequences,), default=None
            Weights of the sequences; the loss is their weighted mean.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight)

    def _fit(self, X, y, sample_weight=None, incremental=False, classes=None):
        self._check_y_given(y)
        first = not hasattr(self, "_theta") or not (incremental or self.warm_start)
        if first:
            self._fitted_on_table = False
        self._fit_input_is_table = _is_table(X)
        X3, lengths = self._validate_X(X, reset=first)
        Y, weights, n_outputs = self._validate_targets(y, lengths, sample_weight, first, classes)
        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
        if first:
            self._initialize(X3.shape[2], n_outputs, X3.dtype, rng)
        X3 = X3.astype(self._theta.dtype, copy=False)
        try:
            if self.solver == "lbfgs":
                self._fit_lbfgs(X3, lengths, Y, weights)
            else:
                self._fit_stochastic(X3, lengths, Y, weights, rng, incremental)
        finally:
            clear_workspace()  # the engine's reusable buffers are not kept after fit
        return self

    def _initialize(self, n_features, n_outputs, dtype, rng):
        self._network = RecurrentNetwork(
            self.cell, n_features, tuple(np.atleast_1d(self.hidden_layer_sizes)), n_outputs,
            self.bidirectional, self._output, self.activation, self.dropout)
        self._theta = self._network.init_params(rng, dtype)
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.grad_norm_curve_ = []
        self.best_loss_ = np.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None
        self._no_improvement_count = 0
        self._optimizer = self._make_optimizer()

    def _make_optimizer(self):
        if self.solver == "sgd":
            return SGD(self.learning_rate_init, self.momentum, self.nesterovs_momentum)
        return Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)

    def _objective(self, theta, X3, lengths, Y, weights, rng=None):
        """Weighted mean loss plus ``alpha / 2 * ||W||^2 / total weight`` and its gradient."""
        l2 = self.alpha / weights.sum()
        tbptt = self.tbptt_steps if not self.bidirectional else None
        return self._network.loss_and_grad(theta, X3[:, :lengths.max()], lengths, Y,
                                           self._loss, weights, l2, tbptt, rng)

    # -- stochastic solvers ---------------------------------------------------------------------
    def _fit_stochastic(self, X3, lengths, Y, weights, rng, incremental):
        data, validation = self._split_validation(X3, lengths, Y, weights, rng, incremental)
        n = len(data[1])
        batch_size = min(200, n) if self.batch_size == "auto" else min(self.batch_size, n)
        self._best_theta = self._theta.copy()
        try:
            stopped = self._run_epochs(data, validation, batch_size, rng,
                                       1 if incremental else self.max_iter)
        except KeyboardInterrupt:
            self._theta = self._best_theta
            warnings.warn(f"fit was interrupted (KeyboardInterrupt) during epoch "
                          f"{self.n_iter_ + 1}; the model keeps the weights of its best epoch "
                          "so far.", UserWarning)
            return
        if not (stopped or incremental):
            warnings.warn(f"Stochastic optimizer: maximum iterations ({self.max_iter}) "
                          "reached and the optimization hasn't converged yet.",
                          ConvergenceWarning)
        if self.early_stopping and not incremental:
            self._theta = self._best_theta

    def _run_epochs(self, data, validation, batch_size, rng, n_epochs):
        """Train up to n_epochs. Returns True when training stopped early (converged or
        diverged), False when it used all its epochs."""
        for _ in range(n_epochs):
            start = time.perf_counter()
            loss, grad_norm = self._run_epoch(data, batch_size, rng)
            if loss is None:
                return True  # diverged: the best epoch's weights are back
            self._record_epoch(loss, grad_norm, validation, time.perf_counter() - start)
            if self._should_stop():
                return True
        return False

    def _split_validation(self, X3, lengths, Y, weights, rng, incremental):
        """Hold out validation_fraction of the sequences for early stopping."""
        if not self.early_stopping or incremental:
            return (X3, lengths, Y, weights), None
        stratify = self._stratify_labels(Y)
        idx_train, idx_val = train_test_split(np.arange(len(lengths)),
                                              test_size=self.validation_fraction,
                                              random_state=int(rng.integers(2**31)),
                                              stratify=stratify)
        if len(idx_val) == 0:
            raise ValueError("validation_fraction leaves no sequence for validation")
        take = lambda i: (X3[i], lengths[i], Y[i], weights[i])  # noqa: E731
        return take(idx_train), take(idx_val)[:3]

    def _stratify_labels(self, Y):
        return None

    def _run_epoch(self, data, batch_size, rng):
        """One pass over the data in mini-batches. Returns (mean loss, mean gradient norm), or
        (None, None) after a non-finite loss or gradient, with the weights of the last step."""
        X3, lengths, Y, weights = data
        order = rng.permutation(len(lengths)) if self.shuffle else np.arange(len(lengths))
        total_loss, total_weight, norms = 0.0, 0.0, []
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            loss, grad_norm = self._train_step(X3[batch], lengths[batch], Y[batch],
                                               weights[batch], rng)
            if loss is None:
                return None, None
            w = weights[batch].sum()
            total_loss += loss * w
            total_weight += w
            norms.append(grad_norm)
            self.t_ += len(batch)
        return total_loss / total_weight, float(np.mean(norms))

    def _train_step(self, X3, lengths, Y, weights, rng):
        """Forward, backward, clipping and the optimizer update of one mini-batch."""
        dropout_rng = rng if self.dropout > 0 else None
        with np.errstate(over="ignore", invalid="ignore"):  # reported below, in one message
            loss, grad = self._objective(self._theta, X3, lengths, Y, weights, dropout_rng)
        grad_norm = clip_grad_norm(grad, self.max_grad_norm)
        if not (np.isfinite(loss) and np.isfinite(grad_norm)):
            return self._diverged("loss" if not np.isfinite(loss) else "gradient")
        self._optimizer.step(self._theta, grad)
        if not np.isfinite(self._theta).all():
            return self._diverged("weights")
        return loss, grad_norm

    def _diverged(self, what):
        """Stop training after a non-finite loss, gradient or weight: restore the weights of
        the best epoch so far (finite, unlike the diverging ones) and say so."""
        self._theta = self._best_theta.copy()
        warnings.warn(f"Training stopped at epoch {self.n_iter_ + 1}: the {what} became "
                      "non-finite (inf or nan). The model keeps the weights of its best epoch. "
                      "Lower learning_rate_init, set max_grad_norm, or scale the inputs.",
                      RuntimeWarning)
        return None, None

    def _record_epoch(self, loss, grad_norm, validation, seconds):
        """Append to the curves, remember the best weights, count epochs without progress."""
        self.n_iter_ += 1
        self.loss_curve_.append(float(loss))
        self.grad_norm_curve_.append(grad_norm)
        improved, best = loss < self.best_loss_ - self.tol, loss < self.best_loss_
        self.best_loss_ = min(self.best_loss_, float(loss))
        if validation is not None:
            score = self._score_validation(*validation)
            self.validation_scores_.append(score)
            improved = score > self.best_validation_score_ + self.tol
            best = score > self.best_validation_score_
            self.best_validation_score_ = max(self.best_validation_score_, score)
        if best:
            self._best_theta = self._theta.copy()
        self._no_improvement_count = 0 if improved else self._no_improvement_count + 1
        if self.learning_rate == "invscaling" and self.solver == "sgd":
            self._optimizer.learning_rate = self.learning_rate_init / (self.t_ + 1) ** self.power_t
        if self.verbose:
            val = "" if validation is None else \
                f", validation score = {self.validation_scores_[-1]:.6f}"
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}{val}, "
                  f"gradient norm = {grad_norm:.4g}, time = {seconds:.3f}s")

    def _should_stop(self):
        """n_iter_no_change epochs without improvement: stop, or (adaptive SGD) divide the
        learning rate by 5 until it falls below 1e-6."""
        if self._no_improvement_count <= self.n_iter_no_change:
            return False
        if self.solver == "sgd" and self.learning_rate == "adaptive":
            if self._optimizer.learning_rate > 1e-6:
                self._optimizer.learning_rate /= 5
                self._no_improvement_count = 0
                if self.verbose:
                    print(f"Setting learning rate to {self._optimizer.learning_rate:f}")
                return False
        if self.verbose:
            what = "Validation score" if self.early_stopping else "Training loss"
            print(f"{what} did not improve more than tol={self.tol} for "
                  f"{self.n_iter_no_change} consecutive epochs. Stopping.")
        return True

    # -- L-BFGS -------------------------------------------------------------------------------
    def _fit_lbfgs(self, X3, lengths, Y, weights):
        """Full-batch L-BFGS. Every iteration is recorded in loss_curve_; an interrupt keeps
        the lowest-loss weights evaluated so far."""
        best = {"loss": np.inf, "theta": self._theta.copy()}

        def fun(theta):
            value, grad = self._objective(theta, X3, lengths, Y, weights)
            if not np.isfinite(value):
                return np.inf, np.zeros_like(grad)  # makes the line search step back
            if value < best["loss"]:
                best.update(loss=value, theta=theta.copy())
            return value, grad

        def record(intermediate_result):
            self.n_iter_ += 1
            self.t_ += len(lengths)
            self.loss_curve_.append(float(intermediate_result.fun))
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])

        try:
            _, result = minimize_lbfgs(fun, self._theta, self.max_iter, self.tol, self.max_fun,
                                       callback=record)
        except KeyboardInterrupt:
            self._theta = best["theta"]
            warnings.warn(f"fit was interrupted (KeyboardInterrupt) after {self.n_iter_} "
                          "L-BFGS iterations; the model keeps the lowest-loss weights so far.",
                          UserWarning)
            return
        self._theta = best["theta"]
        if result.status == 1:
            warnings.warn(f"lbfgs failed to converge after {result.nit} iterations. "
                          "Increase max_iter or scale the data.", ConvergenceWarning)

    # -- prediction -----------------------------------------------------------------------------
    def _forward(self, X, method="forward"):
        """Network outputs for any input form, computed in chunks of similar lengths.

        Returns the padded outputs and the lengths; ``method`` is "forward" (head outputs) or
        "hidden_states" (top-layer states per step, last-state embedding).
        """
        check_is_fitted(self, "_theta")
        X3, lengths = self._validate_X(X, reset=False)
        order = np.argsort(-lengths, kind="stable")
        pieces = []
        for start in range(0, len(order), _PREDICT_CHUNK):
            idx = order[start:start + _PREDICT_CHUNK]
            T = lengths[idx].max()
            pieces.append((idx, getattr(self._network, method)(self._theta, X3[idx, :T],
                                                                lengths[idx])))
        clear_workspace()
        return _assemble(pieces, len(lengths), X3.shape[1]), lengths

    def transform(self, X):
        """The final hidden-state embedding of each sequence.

        Returns
        -------
        ndarray (n_sequences, n_directions * hidden_layer_sizes[-1]): the top layer's state
        after the last real step (bidirectional: joined with the backward direction's state
        at the first step).
        """
        (_, last), _ = self._forward(X, "hidden_states")
        return last

    def hidden_states(self, X):
        """Top-layer hidden states at every real step, for heatmaps and inspection.

        Returns
        -------
        list of ndarray (T_i, n_directions * hidden_layer_sizes[-1]), one per sequence.
        """
        (steps, _), lengths = self._forward(X, "hidden_states")
        return [s[:L] for s, L in zip(steps, lengths)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def _assemble(pieces, n, T):
    """Join chunked network outputs (arrays or tuples of arrays) back into caller order,
    padding the time axis of per-step outputs to T."""
    first = pieces[0][1]
    if isinstance(first, tuple):
        return tuple(_assemble([(idx, out[k]) for idx, out in pieces], n, T)
                     for k in range(len(first)))
    shape = (n,) + ((T,) + first.shape[2:] if first.ndim == 3 else first.shape[1:])
    out = np.zeros(shape, dtype=first.dtype)
    for idx, part in pieces:
        out[idx, :part.shape[1]] = part
    return out
