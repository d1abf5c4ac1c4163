"""Preprocessing of sequences: a standard scaler over all real steps of all sequences.

:class:`SequenceScaler` standardizes every feature with one mean and one standard deviation
computed over all real steps of all sequences (padding excluded), and returns the input form
it was given, so it sits in front of an RNN estimator in a :class:`~sklearn.pipeline.Pipeline`
whatever the form of the data.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .sequences import (
    _is_table,
    _frame_values,
    _is_long_format,
    _is_pandas,
    _step_mask,
    check_sequences,
)

__all__ = ["SequenceScaler"]


class SequenceScaler(TransformerMixin, BaseEstimator):
    """Standardize each feature over all real steps of all sequences.

    ``mean_`` and ``scale_`` are those of :class:`~sklearn.preprocessing.StandardScaler`
    fitted on the real steps of all sequences stacked into one (sum of lengths, n_features)
    array (:func:`skrnn.sequences.to_concatenated`): padding never enters the statistics, and
    a constant feature gets ``scale_`` 1, as in StandardScaler. ``transform`` computes
    ``(x - mean_) / scale_`` at every real step.

    Every form accepted by the estimators goes in, and the same form comes out:

    - a list (or tuple) of arrays (T_i, n_features) or (T_i,): a list (tuple) of new arrays
      of the same shapes; pandas items come back as pandas with their index;
    - a 3-D array (n, T, n_features) with trailing all-NaN padding steps: a new 3-D array of
      the same shape, NaN at exactly the same padded steps;
    - a long-format DataFrame or Series ((sequence id, time) MultiIndex): the same type with
      the same index, columns (name) and row order;
    - a 2-D array, nested list of numbers or wide DataFrame: a 2-D array (a DataFrame with
      the same index and columns for a DataFrame), read according to ``two_d``.

    NaN is only accepted as padding (trailing all-NaN steps of a 3-D array, or trailing NaN
    in the rows of a 2-D array with ``two_d="sequences"``); any other NaN or infinity is a
    ValueError naming the sequence and step. The caller's data is never modified.

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract the mean of each feature.
    with_std : bool, default=True
        Divide by the standard deviation of each feature.
    two_d : {"sequences", "steps"}, default="sequences"
        How a 2-D array (n, n_columns) is read, as in
        :func:`~skrnn.sequences.check_sequences` and the classifier/regressor:

        - ``"sequences"``: each row is a univariate sequence, so there is ONE feature: all
          values of the array share one mean and one scale (``mean_`` has shape (1,)).
          Trailing NaN in a row is padding and stays NaN.
        - ``"steps"``: each row is one step and each column a feature, exactly
          StandardScaler (``mean_`` has shape (n_columns,)); use it in front of
          :class:`~skrnn.RNNSequenceTagger` fed with 2-D data.

    Attributes
    ----------
    mean_ : ndarray of shape (n_step_features,) or None
        Mean of each feature over all real steps; None when ``with_mean=False`` and
        ``with_std=False``.
    var_ : ndarray of shape (n_step_features,) or None
        Variance of each feature over all real steps; None when ``with_std=False``.
    scale_ : ndarray of shape (n_step_features,) or None
        Standard deviation of each feature (1 for a constant feature); None when
        ``with_std=False``.
    n_samples_seen_ : int
        Number of real steps seen during fit.
    n_features_in_ : int
        Columns of a 2-D input (scikit-learn's convention, as the estimators), features per
        step for the other forms.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Defined when fit was given string column names (a DataFrame).

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.preprocessing import SequenceScaler
    >>> X = [np.array([[0.0, 10.0], [2.0, 10.0]]), np.array([[4.0, 10.0]])]
    >>> scaler = SequenceScaler().fit(X)
    >>> scaler.mean_, scaler.scale_
    (array([ 2., 10.]), array([1.63299316, 1.        ]))
    >>> [x.tolist() for x in scaler.transform(X)]
    [[[-1.224744871391589, 0.0], [0.0, 0.0]], [[1.224744871391589, 0.0]]]
    >>> X_nan = np.array([[1.0, 2.0, 3.0], [5.0, np.nan, np.nan]])  # 2 univariate sequences
    >>> SequenceScaler().fit_transform(X_nan)
    array([[-1.18321596, -0.50709255,  0.16903085],
           [ 1.52127766,         nan,         nan]])
    """

    _parameter_constraints: dict = {
        "with_mean": ["boolean"],
        "with_std": ["boolean"],
        "two_d": [StrOptions({"sequences", "steps"})],
    }

    def __init__(self, *, with_mean=True, with_std=True, two_d="sequences"):
        self.with_mean = with_mean
        self.with_std = with_std
        self.two_d = two_d

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the mean and standard deviation of each feature over all real steps.

        Parameters
        ----------
        X : list of array-like, ndarray, DataFrame or Series
            Sequences in any form described in the class docstring.
        y : None
            Ignored; present for compatibility with scikit-learn's API.

        Returns
        -------
        SequenceScaler
            This scaler, fitted.

        Raises
        ------
        ValueError
            If ``X`` is not valid sequences: NaN other than padding, infinity, no sequence,
            a sequence without steps, or values that are not numbers.
        TypeError
            If ``X`` is not sequences at all (None, a string, a dict).
        """
        X3, lengths, _ = self._validate(X, reset=True)
        steps = X3[_step_mask(lengths, X3.shape[1])]
        scaler = StandardScaler(with_mean=self.with_mean, with_std=self.with_std).fit(steps)
        self.mean_, self.var_, self.scale_ = scaler.mean_, scaler.var_, scaler.scale_
        self.n_samples_seen_ = int(scaler.n_samples_seen_)
        self._n_step_features = steps.shape[1]
        return self

    def transform(self, X):
        """Standardize every real step of each sequence, keeping the form of the input.

        Each real step ``x`` becomes ``(x - mean_) / scale_`` (without the subtraction when
        ``with_mean=False``, without the division when ``with_std=False``); padding stays
        NaN.

        Parameters
        ----------
        X : list of array-like, ndarray, DataFrame or Series
            Sequences in any form described in the class docstring, with as many features
            per step as in fit.

        Returns
        -------
        list of ndarray, ndarray, DataFrame or Series
            New data in the form of ``X``, as listed in the class docstring: same shapes,
            padding, index and columns.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the scaler is not fitted.
        ValueError
            If ``X`` is not valid sequences, or has another number of features per step
            (or other feature names) than in fit.
        """
        return self._apply(X, inverse=False)

    def inverse_transform(self, X):
        """Undo :meth:`transform` at every real step, keeping the form of the input.

        Each real step ``x`` becomes ``x * scale_ + mean_`` (without the multiplication when
        ``with_std=False``, without the addition when ``with_mean=False``); padding stays
        NaN.

        Parameters
        ----------
        X : list of array-like, ndarray, DataFrame or Series
            Scaled sequences in any form described in the class docstring, with as many
            features per step as in fit.

        Returns
        -------
        list of ndarray, ndarray, DataFrame or Series
            New data in the form of ``X``, as listed in the class docstring: same shapes,
            padding, index and columns.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the scaler is not fitted.
        ValueError
            If ``X`` is not valid sequences, or has another number of features per step
            (or other feature names) than in fit.
        """
        return self._apply(X, inverse=True)

    # -- internals ----------------------------------------------------------------------------
    def _apply(self, X, inverse):
        check_is_fitted(self, "_n_step_features")
        X3, lengths, values = self._validate(X, reset=False)
        table = _read_as_table(X)
        values = np.array(values, dtype=X3.dtype, order="C", copy=True)
        flat = values.reshape(-1, self._n_step_features)  # a view: steps by features
        if inverse:
            if self.with_std:
                flat *= self.scale_
            if self.with_mean:
                flat += self.mean_
        else:
            if self.with_mean:
                flat -= self.mean_
            if self.with_std:
                flat /= self.scale_
        if table:  # 2-D out; a DataFrame keeps its index and columns
            values = values.reshape(values.shape[0], -1)
            return _like(X, values) if _is_pandas(X, "DataFrame") else values
        return _rebuild(X, values, lengths)

    def _validate(self, X, reset):
        """(X3, lengths, values): the padded form for the statistics, and the values in the
        layout of X (features on the last axis) for the element-wise transform."""
        if _read_as_table(X):
            return self._validate_table(X, reset)
        X3, lengths, names = check_sequences(X, two_d=self.two_d)
        if reset:
            self.n_features_in_ = X3.shape[2]
            self._fitted_on_table = False
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            self._check_step_features(X3.shape[2], names)
        return X3, lengths, _layout_values(X, X3, lengths)

    def _validate_table(self, X, reset):
        """2-D input through scikit-learn's checks (messages, feature names, widths)."""
        finite = "allow-nan" if self.two_d == "sequences" else True
        kwargs = dict(dtype=(np.float64, np.float32), ensure_all_finite=finite)
        if reset or self._fitted_on_table:
            X2 = validate_data(self, X, reset=reset, **kwargs)
            self._fitted_on_table = True if reset else self._fitted_on_table
        else:
            X2 = check_array(X, **kwargs)
        X3, lengths, _ = check_sequences(X2, two_d=self.two_d)
        if not reset:
            self._check_step_features(X3.shape[2], None)
        values = X2 if self.two_d == "steps" else X2[:, :, None]
        return X3, lengths, values

    def _check_step_features(self, n_features, names):
        if n_features != self._n_step_features:
            raise ValueError(
                f"X has {n_features} features per step, but {type(self).__name__} is "
                f"expecting {self._n_step_features} features per step as input."
            )
        fitted = getattr(self, "feature_names_in_", None)
        if names is not None and fitted is not None and not self._fitted_on_table \
                and list(names) != list(fitted):
            raise ValueError(
                "The feature names should match those that were passed during fit: got "
                f"{list(names)}, expected {list(fitted)}."
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _read_as_table(X):
    """2-D input, read by scikit-learn's checks as the estimators do; what is not sequences
    at all (None, a string, a dict) goes to check_sequences for its TypeError."""
    return not isinstance(X, (str, bytes, dict, set, type(None))) and _is_table(X)


def _layout_values(X, X3, lengths):
    """The values of a non-table input in its own layout, features on the last axis."""
    if _is_long_format(X):
        return _frame_values(X)
    if isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.ndim == 1):
        return np.concatenate([x[:n] for x, n in zip(X3, lengths)])  # the real steps
    values = X3.copy()
    values[~_step_mask(lengths, X3.shape[1])] = np.nan
    return values


def _rebuild(X, values, lengths):
    """Scaled ``values`` (laid out as :func:`_layout_values`) in the form of X."""
    if _is_long_format(X):
        return _like(X, values.reshape(X.shape))
    if isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.ndim == 1):
        parts = np.split(values, np.cumsum(lengths)[:-1])
        items = [_like(x, part) for x, part in zip(X, parts)]
        if isinstance(X, np.ndarray):  # a 1-D object array of sequences
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out
        return type(X)(items) if isinstance(X, tuple) else items
    return values


def _like(template, values):
    """``values`` with the shape and pandas wrapping (index, columns, name) of template."""
    import pandas as pd

    if _is_pandas(template, "DataFrame"):
        return pd.DataFrame(values.reshape(template.shape), index=template.index,
                            columns=template.columns, copy=False)
    if _is_pandas(template, "Series"):
        return pd.Series(values.reshape(-1), index=template.index, name=template.name,
                         copy=False)
    return values.reshape(np.shape(template))
