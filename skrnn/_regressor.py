"""RNNRegressor: one target vector per sequence (several outputs, e.g. a forecast horizon)."""

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import _check_y, check_consistent_length, check_is_fitted

from ._base import BaseRNN, _stochastic_solver
from ._docs import fill_doc
from .nn.network import POOLINGS


def target_scaling(Y, weights):
    """Weighted mean and standard deviation of each target column: the target scaling.

    Parameters
    ----------
    Y : ndarray of shape (n_rows, n_outputs)
        Targets, one row per sequence (or per real step).
    weights : ndarray of shape (n_rows,)
        Their sample weights; rows of weight 0 do not count.

    Returns
    -------
    mean, scale : ndarray of shape (n_outputs,), float64
        The weighted mean and the weighted (population) standard deviation of each column,
        so that a weight of 2 counts as the row twice. A column of one value (a spread of
        round-off at most: below ``n_rows * eps * |mean|``) gets scale 1, as does every
        column when the weights sum to 0.
    """
    Y = np.asarray(Y, dtype=np.float64)
    total = weights.sum()
    if total <= 0:
        return np.zeros(Y.shape[1]), np.ones(Y.shape[1])
    mean = weights @ Y / total
    std = np.sqrt(weights @ (Y - mean) ** 2 / total)
    if not (np.isfinite(mean).all() and np.isfinite(std).all()):
        raise ValueError("The targets are too large to standardise (their mean or standard "
                         "deviation overflows); divide them by a constant first.")
    round_off = np.count_nonzero(weights) * np.finfo(np.float64).eps * np.abs(mean)
    return mean, np.where(std > round_off, std, 1.0)


def to_target_units(Z, mean, scale):
    """A regressor's head outputs Z (..., K) in the targets' units: ``Z * scale + mean``,
    computed in float64 and returned in Z's dtype (Z itself when mean is 0 and scale 1).

    Parameters
    ----------
    Z : ndarray of shape (..., K)
        Head outputs: the standardised targets the network learned.
    mean, scale : ndarray of shape (K,)
        The regressor's ``target_mean_`` and ``target_scale_``.

    Returns
    -------
    ndarray of shape (..., K)
        The predictions.
    """
    if not mean.any() and (scale == 1).all():
        return Z
    return (Z * scale + mean).astype(Z.dtype, copy=False)


@fill_doc
class RNNRegressor(RegressorMixin, BaseRNN):
    """Recurrent neural network regressor: one target (or target vector) per sequence.

    The network reads each sequence step by step; a dense linear layer maps the top layer's
    state after the sequence's last real step (or with ``pooling`` the mean or maximum of
    the top layer's outputs over the real steps) to the targets, trained on the squared
    error. Several outputs (y of shape (n_sequences, n_outputs)), for example a multi-step
    forecast horizon, share one network. By default the network learns standardised
    targets (mean 0 and standard deviation 1 per output, ``scale_target``) and predicts in
    the targets' units.

    {input_forms}

    Parameters
    ----------
    {parameters}
    {pooling}
    {scale_target}

    Attributes
    ----------
    n_outputs_ : int
        Number of outputs: columns of ``y`` (1 for a 1-D ``y``).
    {target_attributes}
    {attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn import RNNRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 6))  # 80 univariate sequences of 6 steps
    >>> y = X[:, -2:] @ [0.5, 1.0]
    >>> reg = RNNRegressor("gru", (8,), random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _loss = "squared"
    _fitted_state = {**BaseRNN._fitted_state, "n_outputs_": "int", "_y_1d": "bool",
                     "target_mean_": "float array", "target_scale_": "float array"}
    _parameter_constraints: dict = {
        **BaseRNN._parameter_constraints,
        "pooling": [StrOptions(set(POOLINGS))],
        "scale_target": ["boolean"],
    }
    # What files saved before target scaling existed lack (skrnn.persistence and
    # skrnn.interchange fill it in): their models were fitted on unscaled targets, as
    # scale_target=False fits, with mean 0 and scale 1.
    _params_of_older_files = {"scale_target": False}
    _fitted_of_older_files = {"target_mean_": lambda est: np.zeros(est.n_outputs_),
                              "target_scale_": lambda est: np.ones(est.n_outputs_)}

    def __init__(self, cell="gru", hidden_layer_sizes=(32,), *, bidirectional=False,
                 activation="tanh", dropout=0.0, embedding_dim=None, n_tokens=None,
                 solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.01,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=50, max_fun=15000, max_grad_norm=5.0,
                 tbptt_steps=None, pooling="last", scale_target=True):
        super().__init__(
            cell, hidden_layer_sizes, bidirectional=bidirectional, activation=activation,
            dropout=dropout, embedding_dim=embedding_dim, n_tokens=n_tokens, solver=solver,
            alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state,
            tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            max_grad_norm=max_grad_norm, tbptt_steps=tbptt_steps)
        self.pooling = pooling
        self.scale_target = scale_target

    @available_if(_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over the given data, keeping the current weights (solvers "adam", "sgd").

        The first call on an unfitted estimator sets the target scaling (``scale_target``)
        from its targets; later calls keep it.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences, as in :meth:`fit`.
        y : array-like of shape (n_sequences,) or (n_sequences, n_outputs)
            Targets, as in :meth:`fit`.
        sample_weight : array-like of shape (n_sequences,), default=None
            Weights of the sequences, as in :meth:`fit`.

        Returns
        -------
        object
            The estimator (``self``), trained for one more epoch.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _validate_targets(self, y, seqs, sample_weight, reset, classes=None):
        lengths = seqs.lengths
        check_consistent_length(lengths, y)
        y = _check_y(y, multi_output=True, y_numeric=True, estimator=self)
        if y.dtype.kind not in "biuf":
            raise ValueError(f"{type(self).__name__} needs numeric targets; y has dtype "
                             f"{y.dtype}.")
        one_d = y.ndim == 1
        Y = y.reshape(len(y), -1)
        if reset:
            self._y_1d = one_d
            self.n_outputs_ = Y.shape[1]
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs, but {type(self).__name__} was "
                             f"fitted with {self.n_outputs_}.")
        weights = self._sample_weight(sample_weight, lengths)
        return self._standardise(Y, weights, reset), weights, Y.shape[1]

    def _standardise(self, Y, weights, reset):
        """The targets the network learns, Y (n_rows, n_outputs) standardised; ``reset`` (a
        new fit) first sets the scaling from Y and its weights (n_rows,). Without scaling
        (mean 0, scale 1) Y itself, as fits before scale_target learned it."""
        if reset:
            K = Y.shape[1]
            self.target_mean_, self.target_scale_ = (
                target_scaling(Y, weights) if self.scale_target
                else (np.zeros(K), np.ones(K)))
        if not self.target_mean_.any() and (self.target_scale_ == 1).all():
            return Y
        return (Y - self.target_mean_) / self.target_scale_

    def _exported_state_dict(self):
        """:meth:`state_dict` with the target scaling folded into the head, whose outputs
        are then predictions in the targets' units (``head.weight * scale``, ``head.bias *
        scale + mean``, computed in float64)."""
        state = self.state_dict()
        W, b = state["head.weight"], state["head.bias"]
        state["head.weight"], state["head.bias"] = fold_target_scaling(
            W, b, self.target_mean_, self.target_scale_)
        return state

    def _check_fitted_state(self):
        super()._check_fitted_state()
        if self.n_outputs_ != self.network_.n_outputs or (self._y_1d and self.n_outputs_ != 1):
            raise ValueError(f"n_outputs_={self.n_outputs_} does not fit the network's "
                             f"{self.network_.n_outputs} outputs.")
        for name in ("target_mean_", "target_scale_"):
            value = getattr(self, name)
            if not (isinstance(value, np.ndarray) and value.dtype == np.float64
                    and value.shape == (self.n_outputs_,) and np.isfinite(value).all()):
                raise ValueError(f"{name} must be a finite float64 array of shape "
                                 f"({self.n_outputs_},), one value per output.")
        if (self.target_scale_ <= 0).any():
            raise ValueError("target_scale_ must be positive.")

    def _validation_score(self, Z, Y, weights):
        """R^2, weighted by the sample weights. The network computes standardised targets,
        and R^2 of standardised targets and predictions is that of the targets: each
        output's squared errors and spread scale alike."""
        return float(r2_score(Y, Z, sample_weight=weights))

    def predict(self, X, initial_state=None):
        """The predicted targets of each sequence.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        initial_state : ndarray, list or tuple, default=None
            Where each sequence starts, in the form :meth:`final_state` returns (one row per
            sequence); None starts from zero.

        Returns
        -------
        ndarray of shape (n_sequences,) or (n_sequences, n_outputs)
            Predictions, 1-D when fit was given a 1-D ``y``.
        """
        check_is_fitted(self)
        Z = self._network_outputs(self._validate_sequences(X, reset=False),
                                  initial_state=initial_state)
        Z = to_target_units(Z, self.target_mean_, self.target_scale_)
        return Z.ravel() if self._y_1d else Z

    @property
    def _stream_output(self):
        return "values_1d" if self._y_1d else "values"

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination R^2 of :meth:`predict`.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        y : array-like of shape (n_sequences,) or (n_sequences, n_outputs)
            True targets.
        sample_weight : array-like of shape (n_sequences,), default=None
            Weights of the sequences.

        Returns
        -------
        float
            R^2 as :func:`sklearn.metrics.r2_score` computes it (outputs averaged uniformly):
            1 for perfect predictions, 0 for always predicting the mean of ``y``.
        """
        return super().score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def fold_target_scaling(W, b, mean, scale):
    """A head (W (K, H), b (K,)) whose outputs are ``(h @ W.T + b) * scale + mean``: the
    weights ``W * scale[:, None]`` and ``b * scale + mean``, computed in float64 and
    returned in the dtype of W and b."""
    return ((W * scale[:, None]).astype(W.dtype, copy=False),
            (b * scale + mean).astype(b.dtype, copy=False))
