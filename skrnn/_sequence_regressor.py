"""RNNSequenceRegressor: a real target (or target vector) at every time step."""

import numpy as np
from sklearn.metrics import r2_score
from sklearn.utils.validation import _check_y, check_consistent_length, check_is_fitted

from ._base import BaseRNN
from ._docs import fill_doc
from ._regressor import RNNRegressor, to_target_units
from ._tagger import _real_steps


def check_step_targets(y, lengths, table=False):
    """Per-step real targets of all real steps, concatenated: ((N, K) floats, one_d).

    ``y`` is a list with one array of shape (T_i,) or (T_i, K) per sequence, a padded array
    of shape (n, T) or (n, T, K) with T >= max(lengths) (entries past each length are
    ignored), or, for a table (one step per row), an array of shape (n_rows,) or
    (n_rows, K).
    """
    if y is None or isinstance(y, (str, bytes, dict)):
        raise TypeError(f"y must hold per-step targets, got {type(y).__name__}")
    lengths = np.asarray(lengths)
    if table:  # as RNNRegressor reads its targets
        Y = _check_y(y, multi_output=True, y_numeric=True)
        check_consistent_length(lengths, Y)
        if Y.ndim not in (1, 2):
            raise ValueError(f"y must have one target (or row of targets) per row of X, got "
                             f"shape {Y.shape}")
        parts, one_d = [Y.reshape(len(Y), -1)], Y.ndim == 1
    elif isinstance(y, (list, tuple)) or (isinstance(y, np.ndarray) and y.dtype == object):
        if len(y) != len(lengths):
            raise ValueError(f"y holds targets of {len(y)} sequences, X has {len(lengths)}")
        arrays = [_floats(a, f"y[{i}]") for i, a in enumerate(y)]
        one_d = arrays[0].ndim == 1 if arrays else True
        parts = []
        for i, (a, L) in enumerate(zip(arrays, lengths)):
            if a.ndim != (1 if one_d else 2) or len(a) != L:
                raise ValueError(f"y[{i}] must have shape ({L},{'' if one_d else ' K'}) like "
                                 f"sequence {i} of X and y[0], got {a.shape}")
            parts.append(a.reshape(L, -1))
        if len({p.shape[1] for p in parts}) > 1:
            raise ValueError("every sequence of y must have the same number of targets per "
                             "step")
    else:
        Y = _floats(y, "y", allow_nan=True)
        if Y.ndim not in (2, 3) or len(Y) != len(lengths) or Y.shape[1] < lengths.max():
            raise ValueError(f"a padded y must have shape (n_sequences, T[, K]) with "
                             f"n_sequences={len(lengths)} and T >= {lengths.max()}, got "
                             f"{Y.shape}")
        one_d = Y.ndim == 2
        real = _real_steps(lengths, Y.shape[1])
        parts = [Y[real].reshape(int(real.sum()), -1)]
    values = np.concatenate(parts)
    if not np.isfinite(values).all():
        raise ValueError("y holds NaN or infinite targets at real steps")
    return values, one_d


def _floats(a, what, allow_nan=False):
    try:
        raw = np.asarray(a)
        if raw.dtype.kind not in "biufO" or (
                raw.dtype.kind == "O" and any(isinstance(v, (str, bytes)) for v in raw.flat)):
            raise ValueError(f"got dtype {raw.dtype}")
        a = raw.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must hold numbers (per-step targets): {error}") from None
    if not allow_nan and not np.isfinite(a).all():
        raise ValueError(f"{what} holds NaN or infinite targets")
    return a


@fill_doc
class RNNSequenceRegressor(RNNRegressor):
    """Recurrent neural network regressor with a target at every time step.

    A dense linear layer maps the top layer's state at every real step (for a bidirectional
    network, the two directions' states at that step joined) to that step's targets,
    trained on the squared error averaged over all real steps: many-to-many regression, such
    as reading one sensor channel from the others, or denoising a signal step by step.

    {input_forms}

    Targets ``y`` are a list with one array of shape (T_i,) or (T_i, n_outputs) per sequence,
    or a NaN-padded array of shape (n_sequences, T) or (n_sequences, T, n_outputs) (entries
    past each length are ignored); for 2-D X (one row per step), one target (or row of
    targets) per row. :meth:`predict` returns the per-step predictions in the same form, and
    :meth:`score` is R^2 over all real steps. ``sample_weight`` weighs sequences (one weight
    each) or steps (one array of per-step weights per sequence, or a padded (n, T) array),
    for example zero on burn-in steps.

    Parameters
    ----------
    {parameters}
    {scale_target}

    Attributes
    ----------
    n_outputs_ : int
        Number of targets per step.
    {target_attributes}
    {attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn import RNNSequenceRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(size=(T, 2)) for T in rng.integers(5, 15, size=60)]
    >>> y = [np.cumsum(x[:, 0]) - x[:, 1] for x in X]  # a running sum, minus a channel
    >>> reg = RNNSequenceRegressor("gru", (16,), random_state=0).fit(X, y)
    >>> [p.shape for p in reg.predict(X[:2])] == [y_i.shape for y_i in y[:2]]
    True
    """

    _output = "sequence"
    _two_d = "steps"
    # no pooling: the head reads every step
    _parameter_constraints = {**BaseRNN._parameter_constraints, "scale_target": ["boolean"]}

    def __init__(self, cell="gru", hidden_layer_sizes=(32,), *, bidirectional=False,
                 activation="tanh", dropout=0.0, embedding_dim=None, n_tokens=None,
                 solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.01,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=50, max_fun=15000, max_grad_norm=5.0,
                 tbptt_steps=None, scale_target=True):
        BaseRNN.__init__(
            self, cell, hidden_layer_sizes, bidirectional=bidirectional,
            activation=activation, dropout=dropout, embedding_dim=embedding_dim,
            n_tokens=n_tokens, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state,
            tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            max_grad_norm=max_grad_norm, tbptt_steps=tbptt_steps)
        self.scale_target = scale_target

    def _validate_targets(self, y, seqs, sample_weight, reset, classes=None):
        lengths = seqs.lengths
        values, one_d = check_step_targets(y, lengths, seqs.table)
        if reset:
            self._y_1d = one_d
            self.n_outputs_ = values.shape[1]
        elif values.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {values.shape[1]} targets per step, but "
                             f"{type(self).__name__} was fitted with {self.n_outputs_}.")
        real = _real_steps(lengths, lengths.max())
        weights = self._step_weights(sample_weight, seqs)
        Y = np.zeros(real.shape + (values.shape[1],))
        W = np.zeros(real.shape)
        Y[real], W[real] = self._standardise(values, weights, reset), weights
        return Y, W, values.shape[1]

    def predict(self, X, initial_state=None):
        """The predicted targets at every real step.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        initial_state : ndarray, list or tuple, default=None
            Where each sequence starts, in the form :meth:`final_state` returns (one row per
            sequence); None starts from zero.

        Returns
        -------
        list of ndarray of shape (T_i,) or (T_i, n_outputs), or ndarray
            One array per sequence (1-D per step when fit was given one target per step);
            for 2-D X, one row per row.
        """
        check_is_fitted(self)
        seqs = self._validate_sequences(X, reset=False)
        Z = self._network_outputs(seqs, initial_state=initial_state)
        values = to_target_units(Z[_real_steps(seqs.lengths, Z.shape[1])], self.target_mean_,
                                 self.target_scale_)
        return seqs.per_step(values[:, 0] if self._y_1d else values)

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination R^2 over all real steps.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        y : list of array-like or array-like
            True per-step targets, in any form :meth:`fit` accepts.
        sample_weight : array-like, default=None
            Weights of the sequences, or of every step, as :meth:`fit` takes them.

        Returns
        -------
        float
            R^2 of the predictions at all real steps, as :func:`sklearn.metrics.r2_score`
            computes it (outputs averaged uniformly).
        """
        check_is_fitted(self)
        seqs = self._validate_sequences(X, reset=False)
        truth, _ = check_step_targets(y, seqs.lengths, seqs.table)
        Z = self._network_outputs(seqs)
        pred = to_target_units(Z[_real_steps(seqs.lengths, Z.shape[1])], self.target_mean_,
                               self.target_scale_)
        weights = None if sample_weight is None else self._step_weights(sample_weight, seqs)
        return float(r2_score(truth, pred, sample_weight=weights))
