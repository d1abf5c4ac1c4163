"""Sequence input forms and exact conversions between them.

The estimators accept sequences in several forms and work on one internal form: a padded float
array ``X3`` of shape (n_sequences, T_max, n_features), zero at padded steps, with an int array
``lengths`` of shape (n_sequences,), every length in [1, T_max].

Accepted input forms (:func:`check_sequences`):

1. Ragged: a list, tuple or 1-D object array of arrays shaped (T_i, n_features) or (T_i,)
   (one feature), one per sequence. Lists are always read this way, even when all sequences
   have the same length.
2. A 3-D array (n_sequences, T, n_features) padded with trailing steps whose features are all
   NaN (tslearn's convention). Any other NaN is an error.
3. A 2-D array (n_samples, n_columns), read according to ``two_d``:

   * ``"sequences"``: each row is a univariate sequence of n_columns steps, exactly the 3-D
     form with one feature (trailing NaN steps are padding);
   * ``"steps"``: each row is one step with n_columns features, its own length-1 sequence.

4. A pandas DataFrame, either 2-D as in form 3 (its column names are the feature names when
   ``two_d="steps"``), or in long format: a 2-level (sequence id, time) MultiIndex and one
   column per feature. A Series with such a MultiIndex holds one feature. Sequences are ordered
   by first appearance of their id, steps by time within a sequence; time values are only
   used for ordering.

Other forms, for exchange with other libraries: NaN-padded (:func:`to_nan_padded`), long
format (:func:`to_long_format`), channels-first as aeon and sktime use
(:func:`to_channels_first`), concatenated with lengths as hmmlearn uses
(:func:`to_concatenated`). Every ``to_*`` function accepts any form :func:`check_sequences`
accepts, and returns arrays that share no memory with its input.
"""

import numbers
import sys
import warnings

from typing import NamedTuple

import numpy as np

__all__ = [
    "check_sequences",
    "n_sequences",
    "to_ragged",
    "to_nan_padded",
    "to_long_format",
    "from_long_format",
    "to_channels_first",
    "from_channels_first",
    "to_concatenated",
    "from_concatenated",
    "check_step_labels",
    "split_steps",
    "check_token_ids",
    "Sequences",
]

_TWO_D_MODES = ("sequences", "steps")
_DEFAULT_DTYPE = ("float64", "float32")
_FORMS = "a list of arrays, a 2-D or 3-D array, or a pandas DataFrame"


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def check_sequences(X, *, two_d="sequences", dtype=_DEFAULT_DTYPE, allow_nan_padding=True):
    """Validate sequences in any accepted form and return the padded internal form.

    Parameters
    ----------
    X : list of array-like, ndarray, DataFrame or Series
        Sequences in one of the forms described in the module docstring.
    two_d : {"sequences", "steps"}, default="sequences"
        Meaning of a 2-D array or DataFrame without MultiIndex: each row is a univariate
        sequence ("sequences") or one step of its own length-1 sequence ("steps").
    dtype : str, dtype or tuple of them, default=("float64", "float32")
        Output float dtype. With a tuple, input already of one of these dtypes keeps it and
        anything else becomes the first; a single dtype is always used.
    allow_nan_padding : bool, default=True
        Whether trailing all-NaN steps of a 3-D array (or of the rows of a 2-D array with
        ``two_d="sequences"``) mark padding. If False, any NaN is an error.

    Returns
    -------
    X3 : ndarray of shape (n_sequences, T_max, n_features)
        A new C-contiguous float array, zero at padded steps.
    lengths : ndarray of shape (n_sequences,), dtype int64
        Number of real steps of each sequence, each >= 1.
    feature_names : ndarray of str (object dtype) or None
        Column names of a DataFrame (long format, or 2-D with ``two_d="steps"``) when all are
        strings, the name of a long-format Series when it is a string, None otherwise.

    Raises
    ------
    ValueError
        No sequences, a sequence of length 0, NaN or infinity inside a sequence, sequences
        with different numbers of features, zero features, complex or string data, a 0-d, 1-D
        or 4-D+ array, a sequence item that is not 1-D or 2-D, a scalar.
    TypeError
        Input that is not sequences (None, a string, a dict, sparse data), or values that are
        not numbers in an object array.

    Examples
    --------
    >>> import numpy as np
    >>> X3, lengths, names = check_sequences([[1, 2, 3], [4, 5]])
    >>> X3.shape, lengths
    ((2, 3, 1), array([3, 2]))
    >>> X3[1, :, 0]
    array([4., 5., 0.])
    >>> nan = np.nan
    >>> X3, lengths, _ = check_sequences(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, nan]]))
    >>> lengths
    array([3, 2])
    >>> X3, lengths, _ = check_sequences(np.ones((4, 2)), two_d="steps")
    >>> X3.shape, lengths
    ((4, 1, 2), array([1, 1, 1, 1]))
    """
    _check_two_d(two_d)
    policy = _dtype_policy(dtype)
    if _is_long_format(X):
        return _long_to_padded(X, policy)
    if _is_pandas(X, "DataFrame"):
        X3, lengths = _array_to_padded(_frame_values(X), two_d, policy, allow_nan_padding)
        names = _feature_names(X.columns) if two_d == "steps" else None
        return X3, lengths, names
    if _is_pandas(X, "Series"):
        X = _frame_values(X)
    if isinstance(X, (list, tuple)):
        return (*_ragged_to_padded(X, policy), None)
    A = _as_array(X)
    if A.dtype == object and A.ndim == 1:
        return (*_ragged_to_padded(list(A), policy), None)
    return (*_array_to_padded(A, two_d, policy, allow_nan_padding), None)


def n_sequences(X):
    """Count the sequences in ``X`` without converting or validating the values.

    A 2-D array or DataFrame counts its rows, whatever ``two_d`` (both meanings have one
    sequence per row). A long-format frame counts its distinct sequence ids.

    Parameters
    ----------
    X : list of array-like, ndarray, DataFrame or Series
        Sequences in any form accepted by :func:`check_sequences`.

    Returns
    -------
    int
        The number of sequences.

    Raises
    ------
    ValueError
        If ``X`` is a scalar or a 0-d array.
    TypeError
        If ``X`` is not array-like (None, a string, a dict).

    Examples
    --------
    >>> import numpy as np
    >>> n_sequences([np.zeros(3), np.zeros(5)])
    2
    >>> n_sequences(np.zeros((7, 10, 2)))
    7
    """
    if _is_long_format(X):
        return int(np.unique(X.index.codes[0]).size)
    if _is_pandas(X, "DataFrame") or _is_pandas(X, "Series"):
        return len(X)
    if isinstance(X, (list, tuple)):
        return len(X)
    if _is_sparse(X):
        return X.shape[0]
    A = _as_array(X)
    if A.ndim == 0:
        raise ValueError(f"Expected sequences ({_FORMS}), got a 0-d array.")
    return A.shape[0]


def to_ragged(X3, lengths=None, *, two_d="sequences"):
    """Convert sequences to a ragged list with one (T_i, n_features) array per sequence.

    Parameters
    ----------
    X3 : ndarray, list of array-like, DataFrame or Series
        With ``lengths``, a padded array of shape (n_sequences, T_max, n_features) whose
        values at padded steps are ignored. Without, sequences in any form accepted by
        :func:`check_sequences`.
    lengths : array-like of int of shape (n_sequences,), default=None
        Number of real steps of each sequence.
    two_d : {"sequences", "steps"}, default="sequences"
        Meaning of a 2-D input, see :func:`check_sequences`.

    Returns
    -------
    list of ndarray of shape (T_i, n_features)
        New arrays, one per sequence (univariate sequences keep their feature axis).

    Raises
    ------
    ValueError
        If ``X3`` is not valid sequences (see :func:`check_sequences`); with ``lengths``,
        if ``X3`` is not 3-D, if ``lengths`` are not integers in [1, T_max], one per
        sequence, or if a real step holds NaN or infinity.

    Examples
    --------
    >>> import numpy as np
    >>> X3 = np.arange(12.0).reshape(2, 3, 2)
    >>> [s.shape for s in to_ragged(X3, [3, 1])]
    [(3, 2), (1, 2)]
    >>> to_ragged(X3, [3, 1])[1]
    array([[6., 7.]])
    """
    X3, lengths = _padded_and_lengths(X3, lengths, two_d)
    return _split_padded(X3, lengths)


def to_nan_padded(X3_or_ragged, lengths=None, *, two_d="sequences"):
    """Convert sequences to a 3-D float array padded with all-NaN steps, as tslearn does.

    Parameters
    ----------
    X3_or_ragged : ndarray, list of array-like, DataFrame or Series
        With ``lengths``, a padded array of shape (n_sequences, T_max, n_features) whose
        values at padded steps are ignored. Without, sequences in any form accepted by
        :func:`check_sequences`.
    lengths : array-like of int of shape (n_sequences,), default=None
        Number of real steps of each sequence.
    two_d : {"sequences", "steps"}, default="sequences"
        Meaning of a 2-D input, see :func:`check_sequences`.

    Returns
    -------
    ndarray of shape (n_sequences, T_max, n_features)
        A new float array, NaN at every feature of every padded step. Without padding (all
        sequences of length T_max) it holds no NaN.

    Raises
    ------
    ValueError
        If ``X3_or_ragged`` is not valid sequences (see :func:`check_sequences`); with
        ``lengths``, if it is not 3-D, if ``lengths`` are not integers in [1, T_max], one
        per sequence, or if a real step holds NaN or infinity.

    Examples
    --------
    >>> to_nan_padded([[1.0, 2.0], [3.0]])[:, :, 0]
    array([[ 1.,  2.],
           [ 3., nan]])
    """
    X3, lengths = _padded_and_lengths(X3_or_ragged, lengths, two_d)
    X3[~_step_mask(lengths, X3.shape[1])] = np.nan
    return X3


def to_long_format(X, feature_names=None, id_name="sequence", time_name="time", *,
                   two_d="sequences"):
    """Convert sequences to a long-format DataFrame with a (sequence id, time) MultiIndex.

    Parameters
    ----------
    X : list of array-like, ndarray, DataFrame or Series
        Sequences in any form accepted by :func:`check_sequences`.
    feature_names : sequence of str, default=None
        Column names. By default the feature names found in ``X`` if any, else 0, 1, ...
    id_name : str, default="sequence"
        Name of the first index level, the sequence ids 0 .. n_sequences-1.
    time_name : str, default="time"
        Name of the second index level, the times 0 .. T_i-1 within each sequence.
    two_d : {"sequences", "steps"}, default="sequences"
        Meaning of a 2-D input, see :func:`check_sequences`.

    Returns
    -------
    pandas.DataFrame of shape (sum of lengths, n_features)
        One row per real step, sequence after sequence, steps in time order; one column
        per feature.

    Raises
    ------
    ValueError
        If ``id_name`` equals ``time_name``, if ``feature_names`` does not hold one name per
        feature, or if ``X`` is not valid sequences (see :func:`check_sequences`).

    Examples
    --------
    >>> df = to_long_format([[1.0, 2.0], [3.0]], feature_names=["x"])
    >>> df
                     x
    sequence time     
    0        0     1.0
             1     2.0
    1        0     3.0
    """
    import pandas as pd

    if id_name == time_name:
        raise ValueError(f"id_name and time_name must differ, both are {id_name!r}.")
    X3, lengths, found_names = check_sequences(X, two_d=two_d)
    n_features = X3.shape[2]
    names = found_names if feature_names is None else np.asarray(feature_names, dtype=object)
    if names is None:
        columns = pd.RangeIndex(n_features)
    elif names.shape != (n_features,):
        raise ValueError(
            f"feature_names has {names.size} names but the sequences have {n_features} "
            "features."
        )
    else:
        columns = pd.Index(names, dtype=object)
    seq_ids, times = _step_coordinates(lengths)
    index = pd.MultiIndex.from_arrays([seq_ids, times], names=[id_name, time_name])
    values = X3[_step_mask(lengths, X3.shape[1])]
    return pd.DataFrame(values, index=index, columns=columns, copy=False)


def from_long_format(df):
    """Convert a long-format DataFrame or Series to a ragged list of sequences.

    Parameters
    ----------
    df : pandas.DataFrame or pandas.Series
        A 2-level (sequence id, time) MultiIndex and one column per feature (a Series: one
        feature). Sequences come in order of first appearance of their id, steps sorted by
        time.

    Returns
    -------
    list of ndarray of shape (T_i, n_features)
        One new array per sequence.

    Raises
    ------
    TypeError
        If ``df`` is not a DataFrame or Series with a MultiIndex.
    ValueError
        If the MultiIndex does not have exactly 2 levels, has missing values or a repeated
        (sequence id, time) pair, or if the values are not finite numbers.

    Examples
    --------
    >>> import pandas as pd
    >>> index = pd.MultiIndex.from_tuples([("b", 1), ("b", 0), ("a", 0)])
    >>> df = pd.DataFrame({"x": [2.0, 1.0, 3.0]}, index=index)
    >>> from_long_format(df)
    [array([[1.],
           [2.]]), array([[3.]])]
    """
    if not _is_long_format(df):
        raise TypeError(
            "Expected a DataFrame or Series with a 2-level (sequence id, time) MultiIndex, "
            f"got {type(df).__name__}."
        )
    X3, lengths, _ = check_sequences(df)
    return _split_padded(X3, lengths)


def to_channels_first(X, *, two_d="sequences"):
    """Convert sequences to a NaN-padded channels-first array, as aeon and sktime use.

    Parameters
    ----------
    X : list of array-like, ndarray, DataFrame or Series
        Sequences in any form accepted by :func:`check_sequences`.
    two_d : {"sequences", "steps"}, default="sequences"
        Meaning of a 2-D input, see :func:`check_sequences`.

    Returns
    -------
    ndarray of shape (n_sequences, n_features, T_max)
        A new C-contiguous float array, all channels NaN at padded steps.

    Raises
    ------
    ValueError
        If ``X`` is not valid sequences (see :func:`check_sequences`).

    Examples
    --------
    >>> import numpy as np
    >>> X = [np.array([[1.0, 10.0], [2.0, 20.0]]), np.array([[3.0, 30.0]])]
    >>> to_channels_first(X)
    array([[[ 1.,  2.],
            [10., 20.]],
    <BLANKLINE>
           [[ 3., nan],
            [30., nan]]])
    """
    return np.ascontiguousarray(to_nan_padded(X, two_d=two_d).transpose(0, 2, 1))


def from_channels_first(X_nct):
    """Convert channels-first data, as aeon and sktime use, to a ragged list of sequences.

    Parameters
    ----------
    X_nct : ndarray of shape (n_sequences, n_channels, T) or list of array-like
        In a 3-D array, trailing steps where all channels are NaN are padding. A 2-D array
        (n_sequences, T) is univariate. A list holds one (n_channels, T_i) array per
        sequence, or a 1-D (T_i,) array for a univariate sequence.

    Returns
    -------
    list of ndarray of shape (T_i, n_channels)
        One new array per sequence, steps on the first axis.

    Raises
    ------
    TypeError
        If ``X_nct`` is a pandas object.
    ValueError
        If ``X_nct`` is an array neither 2-D nor 3-D, a list item has more than 2
        dimensions, or the values are not valid sequences (see :func:`check_sequences`).

    Examples
    --------
    >>> import numpy as np
    >>> X_nct = np.array([[[1.0, 2.0], [10.0, 20.0]], [[3.0, np.nan], [30.0, np.nan]]])
    >>> [s.tolist() for s in from_channels_first(X_nct)]
    [[[1.0, 10.0], [2.0, 20.0]], [[3.0, 30.0]]]
    """
    if _is_pandas(X_nct, "DataFrame") or _is_pandas(X_nct, "Series"):
        raise TypeError("from_channels_first expects a numpy array or a list of arrays.")
    if isinstance(X_nct, (list, tuple)) or (
        isinstance(X_nct, np.ndarray) and X_nct.dtype == object and X_nct.ndim == 1
    ):
        X = [_transpose_item(item, i) for i, item in enumerate(X_nct)]
    else:
        A = _as_array(X_nct)
        if A.ndim not in (2, 3):
            raise ValueError(
                "Expected a channels-first array of shape (n_sequences, n_channels, T) or "
                f"(n_sequences, T), got an array of shape {A.shape}."
            )
        X = A if A.ndim == 2 else A.transpose(0, 2, 1)
    return to_ragged(X)


def to_concatenated(X, *, two_d="sequences"):
    """Stack the steps of all sequences in one 2-D array, with the lengths, as hmmlearn does.

    Parameters
    ----------
    X : list of array-like, ndarray, DataFrame or Series
        Sequences in any form accepted by :func:`check_sequences`.
    two_d : {"sequences", "steps"}, default="sequences"
        Meaning of a 2-D input, see :func:`check_sequences`.

    Returns
    -------
    X_concat : ndarray of shape (sum of lengths, n_features)
        A new float array: the real steps of the first sequence, then of the second, ...
    lengths : ndarray of shape (n_sequences,), dtype int64
        Number of steps of each sequence.

    Raises
    ------
    ValueError
        If ``X`` is not valid sequences (see :func:`check_sequences`).

    Examples
    --------
    >>> X_concat, lengths = to_concatenated([[1.0, 2.0], [3.0]])
    >>> X_concat.ravel(), lengths
    (array([1., 2., 3.]), array([2, 1]))
    """
    X3, lengths, _ = check_sequences(X, two_d=two_d)
    return X3[_step_mask(lengths, X3.shape[1])], lengths


def from_concatenated(X_concat, lengths):
    """Split steps stacked as hmmlearn stacks them into a ragged list of sequences.

    Parameters
    ----------
    X_concat : array-like of shape (sum of lengths, n_features) or (sum of lengths,)
        The steps of all sequences, in order; 1-D means one feature.
    lengths : array-like of int of shape (n_sequences,)
        Number of steps of each sequence, each >= 1, summing to the rows of ``X_concat``.

    Returns
    -------
    list of ndarray of shape (T_i, n_features)
        One new float array per sequence.

    Raises
    ------
    ValueError
        If ``X_concat`` is not 1-D or 2-D, has no feature or holds NaN or infinity, or if
        ``lengths`` are not integers >= 1 summing to the number of steps.

    Examples
    --------
    >>> [s.ravel().tolist() for s in from_concatenated([1.0, 2.0, 3.0], [2, 1])]
    [[1.0, 2.0], [3.0]]
    """
    A = _numeric(_as_array(X_concat), "X_concat")
    if A.ndim == 1:
        A = A.reshape(-1, 1)
    if A.ndim != 2:
        raise ValueError(
            f"X_concat must be 1-D or 2-D (sum of lengths, n_features), got shape {A.shape}."
        )
    lengths = _check_lengths(lengths, total=A.shape[0])
    _check_n_features(A.shape[1], A.shape)
    dtype = _target_dtype({A.dtype}, _dtype_policy(_DEFAULT_DTYPE))
    X3 = _pad_concatenated(A, lengths, dtype)
    _find_lengths(X3, allow_nan_padding=False)
    return _split_padded(X3, lengths)


def check_step_labels(y, lengths):
    """Validate per-step labels and return the labels of all real steps, concatenated.

    Parameters
    ----------
    y : list of array-like, array-like, Series or DataFrame
        One of:

        * a list (or 1-D object array) with one 1-D label array of length T_i per sequence;
        * a padded 2-D array (n_sequences, T) with T >= max(lengths); entries beyond each
          sequence's length are ignored;
        * a 1-D array of n_sequences labels, when every sequence has length 1;
        * a Series (or one-column DataFrame) with a 2-level (sequence id, time) MultiIndex,
          ordered like a long-format ``X`` (sequences by first appearance, steps by time).
    lengths : array-like of int of shape (n_sequences,)
        Number of steps of each sequence, as returned by :func:`check_sequences`.

    Returns
    -------
    ndarray of shape (sum of lengths,)
        A new array with the labels of the first sequence, then of the second, ...; the
        label dtype is kept (strings stay strings, ints stay ints).

    Raises
    ------
    ValueError
        If ``y`` does not have one label per real step (the message names the sequence),
        or if ``lengths`` are not integers >= 1.
    TypeError
        If ``y`` is not labels (None, a string, a dict).

    Examples
    --------
    >>> check_step_labels([["a", "b"], ["c"]], [2, 1])
    array(['a', 'b', 'c'], dtype='<U1')
    >>> import numpy as np
    >>> check_step_labels(np.array([[1, 2], [3, -1]]), [2, 1])
    array([1, 2, 3])
    """
    lengths = _check_lengths(lengths)
    if _is_long_format(y):
        return _long_labels(y, lengths)
    if _is_pandas(y, "DataFrame") or _is_pandas(y, "Series"):
        y = y.to_numpy()
    if isinstance(y, (list, tuple)):
        if len(y) and np.ndim(y[0]) == 0:
            return _flat_labels(np.asarray(y), lengths)
        return _ragged_labels(y, lengths)
    if y is None or isinstance(y, (str, bytes, dict, set)):
        raise TypeError(f"y must hold labels per step, got {type(y).__name__}.")
    y = np.asarray(y)
    if y.ndim == 1 and y.dtype == object and y.size and _is_sequence_like(y[0]):
        return _ragged_labels(list(y), lengths)
    if y.ndim == 1:
        return _flat_labels(y, lengths)
    if y.ndim == 2:
        return _padded_labels(y, lengths)
    raise ValueError(
        f"y must be a list of per-sequence label arrays, a padded 2-D array or a 1-D array; "
        f"got a {y.ndim}-D array of shape {y.shape}."
    )


def split_steps(values, lengths):
    """Split per-step values, concatenated in sequence order, into one array per sequence.

    The inverse of concatenating per-sequence arrays, e.g. to turn a flat per-step prediction
    into a list of per-sequence predictions.

    Parameters
    ----------
    values : array-like of shape (sum of lengths, ...)
        Per-step values, the steps of the first sequence first.
    lengths : array-like of int of shape (n_sequences,)
        Number of steps of each sequence, summing to ``len(values)``.

    Returns
    -------
    list of ndarray of shape (T_i, ...)
        Pieces of a new array, never views of ``values``.

    Raises
    ------
    ValueError
        If ``values`` is a scalar, or if ``lengths`` are not integers >= 1 summing to
        ``len(values)``.

    Examples
    --------
    >>> split_steps([0, 1, 1, 0, 2], [3, 2])
    [array([0, 1, 1]), array([0, 2])]
    """
    values = np.array(values, copy=True)
    if values.ndim == 0:
        raise ValueError("values must have one entry per step, got a scalar.")
    lengths = _check_lengths(lengths, total=values.shape[0], what="values")
    return np.split(values, np.cumsum(lengths)[:-1])


def check_token_ids(X):
    """Validate sequences of integer token ids and return them padded with id 0.

    The input of estimators with ``embedding_dim`` set: one id per step, as
    :class:`skrnn.TokenEncoder` writes them.

    Parameters
    ----------
    X : list of array-like of int, or array-like of int of shape (n_sequences, T)
        A ragged list of 1-D id sequences (each may also be (T_i, 1)), or a 2-D array or
        DataFrame whose rows are sequences padded at their ends with id 0. Floats are accepted
        when every value is a whole number.

    Returns
    -------
    ids : ndarray of shape (n_sequences, T_max), dtype intp
        A new array, 0 after the end of each sequence.
    lengths : ndarray of shape (n_sequences,), dtype intp
        Steps of each sequence: its length in a list; in a 2-D array, the position after
        its last non-zero id (zeros inside a sequence are real steps that read the padding
        row, as in PyTorch's ``nn.Embedding(padding_idx=0)``).

    Raises
    ------
    ValueError
        No sequences, an empty sequence or a row of padding only, a value that is not a whole
        number (NaN included), a negative id, strings, or an array that is not 1-D or 2-D.
    TypeError
        Sparse input, or input that is not sequences.

    Examples
    --------
    >>> ids, lengths = check_token_ids([[5, 2, 7], [3]])
    >>> ids, lengths
    (array([[5, 2, 7],
           [3, 0, 0]]), array([3, 1]))
    >>> check_token_ids(np.array([[4, 0, 9, 0], [1, 2, 0, 0]]))[1]
    array([3, 2])
    """
    if _is_sparse(X):
        raise TypeError("Sparse input is not supported for token ids: pass a list of 1-D id "
                        "arrays, or a dense 2-D array of ids padded with 0.")
    if isinstance(X, (str, bytes)):
        raise ValueError("X is a single string; token ids are expected. " + _TEXT_HINT)
    table = not isinstance(X, (list, tuple)) or _is_table(X)
    if table:
        A = _token_array(_frame_values(X) if hasattr(X, "iloc") else _as_array(X), "X")
        if A.ndim == 1 and A.dtype == object:
            return check_token_ids(list(A))
        if A.ndim != 2:
            raise ValueError(f"Token ids must be a list of 1-D sequences or a 2-D array "
                             f"(n_sequences, T) padded with 0, got an array of shape {A.shape}.")
        if A.shape[0] == 0 or A.shape[1] == 0:
            raise ValueError(f"X holds no token ids: got an array of shape {A.shape}.")
        nonzero = A != 0
        lengths = np.where(nonzero.any(axis=1),
                           A.shape[1] - np.argmax(nonzero[:, ::-1], axis=1), 0)
        if (lengths == 0).any():
            raise ValueError(f"Row {int(np.argmin(lengths))} of X holds only id 0, the padding: "
                             "every sequence needs at least one real step.")
        return np.array(A, dtype=np.intp), lengths.astype(np.intp)
    if len(X) == 0:
        raise ValueError("X holds no sequences: got an empty list.")
    items = []
    for i, item in enumerate(X):
        if isinstance(item, (str, bytes)):
            raise ValueError(f"Sequence {i} is a string; token ids are expected. " + _TEXT_HINT)
        a = _token_array(_sequence_item(item, i), f"Sequence {i}")
        if a.shape[1] != 1:
            raise ValueError(f"Sequence {i} has shape {a.shape}: a sequence of token ids holds "
                             "one id per step, (T_i,) or (T_i, 1).")
        items.append(a[:, 0])
    lengths = np.array([len(a) for a in items], dtype=np.intp)
    ids = np.zeros((len(items), lengths.max()), dtype=np.intp)
    for i, a in enumerate(items):
        ids[i, : len(a)] = a
    return ids, lengths


def _token_array(A, where):
    """A as whole numbers >= 0 (int dtype kept; whole floats converted); clear errors."""
    if A.dtype == object and A.ndim == 1 and any(_is_sequence_like(v) for v in A):
        return A  # a ragged object array: its items are checked one by one
    _reject_strings(A, where)
    if A.dtype == object:
        A = _object_to_float(A, where)
    if A.dtype.kind == "b" or A.dtype.kind not in "iuf":
        raise ValueError(f"{where} must hold integer token ids, got dtype {A.dtype}.")
    if A.dtype.kind == "f":
        if not np.isfinite(A).all() or (A != np.round(A)).any():
            bad = A[~np.isfinite(A) | (A != np.round(A))].flat[0].item()
            raise ValueError(f"{where} must hold integer token ids, got {bad!r}. Pad with id 0, "
                             "not NaN.")
        A = A.astype(np.intp)
    if A.size and A.min() < 0:
        raise ValueError(f"Negative values in data: {where} holds the token id {A.min()}; "
                         "ids are >= 0, and 0 is the padding.")
    return A


class Sequences(NamedTuple):
    """Sequences read once from any accepted form, with what the caller gave.

    The estimators read their input into one such value per call; it travels through
    validation and the network, and per-step outputs go back in the caller's form through
    :meth:`per_step` without looking at the input again.

    Parameters
    ----------
    X3 : ndarray of shape (n_sequences, T_max, n_features)
        The values, zero at padded steps.
    lengths : ndarray of shape (n_sequences,)
        Real steps of each sequence, each >= 1.
    table : bool
        Whether the input was a table that scikit-learn reads itself (a 2-D array, a nested
        list of numbers, a flat DataFrame or a sparse matrix), so that per-step outputs are a
        flat array with a row per row of the input.
    feature_names : ndarray of str or None
        Feature names found in the input (see :func:`check_sequences`), None for a table
        (scikit-learn checks its names itself).

    Examples
    --------
    >>> import numpy as np
    >>> X3, lengths, names = check_sequences([[1.0, 2.0], [3.0]])
    >>> seqs = Sequences(X3, lengths, table=False, feature_names=names)
    >>> seqs.lengths
    array([2, 1])
    >>> seqs.per_step(np.array([10, 20, 30]))
    [array([10, 20]), array([30])]
    """

    X3: np.ndarray
    lengths: np.ndarray
    table: bool
    feature_names: object = None

    @classmethod
    def from_table(cls, X2, two_d):
        """Sequences from a validated 2-D float array.

        Parameters
        ----------
        X2 : ndarray of shape (n_rows, n_columns)
            The table, already checked (finite floats).
        two_d : {"sequences", "steps"}
            Each row is a univariate sequence of n_columns steps, or one step with n_columns
            features (see :func:`check_sequences`).

        Returns
        -------
        Sequences
            New arrays; the table is not modified.
        """
        X3 = X2[:, :, None] if two_d == "sequences" else X2[:, None, :]
        X3 = np.array(X3, order="C")  # a private copy: the caller's array is never touched
        return cls(X3, np.full(len(X3), X3.shape[1], dtype=np.intp), True, None)

    def per_step(self, values):
        """Return values of the real steps in the caller's form.

        Parameters
        ----------
        values : ndarray of shape (sum of lengths, ...)
            One row per real step, the steps of the first sequence first.

        Returns
        -------
        list of ndarray or ndarray
            For a table, ``values`` itself (one row per row of the input); otherwise one
            array of shape (T_i, ...) per sequence.
        """
        return values if self.table else split_steps(values, self.lengths)


# --------------------------------------------------------------------------------------------
# Parameters and dtypes
# --------------------------------------------------------------------------------------------


def _check_two_d(two_d):
    if two_d not in _TWO_D_MODES:
        raise ValueError(f"two_d must be one of {_TWO_D_MODES}, got {two_d!r}.")


def _dtype_policy(dtype):
    """Tuple of accepted float dtypes; the first is the default."""
    candidates = tuple(dtype) if isinstance(dtype, (list, tuple)) else (dtype,)
    if not candidates:
        raise ValueError("dtype must name at least one floating dtype.")
    dtypes = tuple(np.dtype(d) for d in candidates)
    for d in dtypes:
        if d.kind != "f":
            raise ValueError(f"dtype must be a floating dtype, got {d}.")
    return dtypes


def _target_dtype(source_dtypes, policy):
    """The source dtype if it is the only one and accepted, else the policy's first."""
    source = set(source_dtypes)
    if len(source) == 1 and next(iter(source)) in policy:
        return next(iter(source))
    return policy[0]


# --------------------------------------------------------------------------------------------
# Reading inputs as numeric arrays
# --------------------------------------------------------------------------------------------


def _is_table(X):
    """Whether scikit-learn itself reads X as a table: a 2-D (or 1-D) array, a sparse matrix,
    a flat DataFrame or a nested list of numbers of equal lengths. Ragged lists, lists of
    arrays, 3-D arrays and long-format pandas are sequence forms."""
    if _is_sparse(X):
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


def _is_pandas(X, class_name):
    """Whether X is a pandas DataFrame or Series, without importing pandas."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(X, getattr(pd, class_name))


def _is_long_format(X):
    return (_is_pandas(X, "DataFrame") or _is_pandas(X, "Series")) and X.index.nlevels > 1


def _is_sparse(X):
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(X)


def _is_sequence_like(item):
    return isinstance(item, (list, tuple, np.ndarray)) or _is_pandas(item, "Series")


def _as_array(X):
    """ndarray view of an array-like; clear errors for everything that is not one."""
    if isinstance(X, np.ndarray):
        return X
    if _is_sparse(X):
        raise TypeError(
            "Sparse input is not supported: sequences must be dense. Convert with X.toarray()."
        )
    if isinstance(X, (numbers.Number, np.generic)) and not isinstance(X, (str, bytes)):
        raise ValueError(f"Expected sequences ({_FORMS}), got the scalar {X!r}.")
    if isinstance(X, (list, tuple)) or hasattr(X, "__array__"):
        return np.asarray(X)
    raise TypeError(f"Expected sequences ({_FORMS}), got {type(X).__name__}.")


def _frame_values(frame):
    """Values of a DataFrame or Series; nullable numeric columns become floats with NaN."""
    import pandas as pd

    dtypes = [frame.dtype] if frame.ndim == 1 else list(frame.dtypes)
    is_extension = [isinstance(d, pd.api.extensions.ExtensionDtype) for d in dtypes]
    is_numeric = [pd.api.types.is_numeric_dtype(d) for d in dtypes]
    if dtypes and any(is_extension) and all(is_numeric):
        as_numpy = [getattr(d, "numpy_dtype", d) for d in dtypes]
        dtype = np.float32 if all(d == np.float32 for d in as_numpy) else np.float64
        return frame.to_numpy(dtype=dtype, na_value=np.nan)
    return frame.to_numpy()


def _numeric(A, where):
    """A with a bool, int or float dtype; object arrays are converted to float64."""
    kind = A.dtype.kind
    if kind in "biuf":
        return A
    if kind == "c":
        raise ValueError(f"Complex data not supported: {where} has dtype {A.dtype}.")
    _reject_strings(A, where)
    if kind == "O":
        return _object_to_float(A, where)
    raise TypeError(
        f"{where} has dtype {A.dtype}, but sequences must hold numbers (bool, int or float)."
    )


_TEXT_HINT = (
    "For text, turn it into token ids first and read them through an embedding, e.g. "
    "make_pipeline(TokenEncoder(analyzer='char'), RNNClassifier(embedding_dim=16)) with "
    "skrnn.TokenEncoder; for numbers written as text, convert them to numbers explicitly."
)


def _reject_strings(A, where="X"):
    """Raise ValueError if the array holds strings (also inside an object array): numbers
    written as text are never converted silently, and text needs a TokenEncoder."""
    if A.dtype.kind in "US" or (A.dtype == object and any(isinstance(v, (str, bytes))
                                                          for v in A.flat)):
        raise ValueError(f"{where} holds strings, but sequences must hold numbers. "
                         + _TEXT_HINT)


def _object_to_float(A, where):
    complex_warning = np.exceptions.ComplexWarning
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", complex_warning)
            return A.astype(np.float64)
    except (TypeError, complex_warning) as exc:
        if any(isinstance(v, (complex, np.complexfloating)) for v in A.flat):
            raise ValueError(
                f"Complex data not supported: {where} holds complex numbers."
            ) from None
        raise TypeError(f"{where} holds values that are not numbers: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{where} holds values that are not numbers: {exc}") from exc


def _feature_names(columns):
    """Column names as an object array when all are strings, None when none are."""
    names = np.array(list(columns), dtype=object)
    if names.size == 0:
        return None
    is_str = [isinstance(name, str) for name in names]
    if all(is_str):
        return names
    if any(is_str):
        types = sorted({type(name).__qualname__ for name in names})
        raise TypeError(
            "Feature names are only supported if all columns have string names, but the "
            f"columns have {types} as name types. Convert them all to strings, e.g. with "
            "X.columns = X.columns.astype(str), or none of them."
        )
    return None


# --------------------------------------------------------------------------------------------
# Input forms -> (X3, lengths)
# --------------------------------------------------------------------------------------------


def _array_to_padded(A, two_d, policy, allow_nan_padding):
    """A 2-D or 3-D array (form 2 or 3) to a new padded array and lengths."""
    A = _numeric(A, "X")
    _check_array_shape(A, two_d)
    if A.ndim == 2 and two_d == "steps":
        A3, allow_nan_padding = A[:, None, :], False
    elif A.ndim == 2:
        A3 = A[:, :, None]
    else:
        A3 = A
    X3 = np.array(A3, dtype=_target_dtype({A.dtype}, policy), order="C", copy=True)
    lengths = _find_lengths(X3, allow_nan_padding)
    return X3, lengths


def _check_array_shape(A, two_d):
    if A.ndim == 0:
        raise ValueError(f"Expected sequences ({_FORMS}), got a 0-d array (a scalar).")
    if A.ndim == 1:
        raise ValueError(
            f"Expected sequences ({_FORMS}), got a 1-D array of shape {A.shape}. For one "
            "univariate sequence pass [x] or x.reshape(1, -1); for one step per sequence "
            "pass x.reshape(-1, 1)."
        )
    if A.ndim > 3:
        raise ValueError(
            f"Expected a 2-D or 3-D array (n_sequences, T, n_features), got a {A.ndim}-D "
            f"array of shape {A.shape}."
        )
    if A.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={A.shape}) while a minimum of 1 is "
            "required: X holds no sequences."
        )
    if A.ndim == 2 and A.shape[1] == 0:
        detail = "" if two_d == "steps" else ": each row would be a sequence of length 0"
        raise ValueError(
            f"Found array with 0 feature(s) (shape={A.shape}) while a minimum of 1 is "
            f"required{detail}."
        )
    if A.ndim == 3:
        _check_n_features(A.shape[2], A.shape)
        if A.shape[1] == 0:
            raise ValueError(
                f"Sequence 0 is empty (length 0): X has shape {A.shape}; every sequence "
                "needs at least one time step."
            )


def _check_n_features(n_features, shape, where="X"):
    if n_features == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={shape}) while a minimum of 1 is "
            f"required ({where})."
        )


def _ragged_to_padded(items, policy):
    """A list of (T_i, F) or (T_i,) array-likes (form 1) to a new padded array and lengths."""
    if len(items) == 0:
        raise ValueError("X holds no sequences: got an empty list.")
    arrays = [_sequence_item(item, i) for i, item in enumerate(items)]
    n_features = arrays[0].shape[1]
    for i, a in enumerate(arrays):
        if a.shape[1] != n_features:
            raise ValueError(
                f"Sequence {i} has {a.shape[1]} features but sequence 0 has {n_features}: "
                "all sequences must have the same number of features."
            )
    lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)
    dtype = _target_dtype({a.dtype for a in arrays}, policy)
    X3 = np.zeros((len(arrays), lengths.max(), n_features), dtype=dtype)
    for i, a in enumerate(arrays):
        X3[i, : a.shape[0]] = a
    _find_lengths(X3, allow_nan_padding=False)
    return X3, lengths


def _sequence_item(item, i):
    """One item of a ragged list as a numeric (T_i, F) array (maybe a view of the item)."""
    where = f"Sequence {i}"
    if isinstance(item, np.ndarray):  # the common case, neither sparse nor pandas
        a = np.asarray(item)
    elif _is_sparse(item):
        raise TypeError(
            f"{where} is a scipy.sparse {type(item).__name__}: the sequences of a list must be "
            "dense arrays (T_i, n_features). Convert each one with .toarray()."
        )
    elif _is_pandas(item, "DataFrame") or _is_pandas(item, "Series"):
        a = _frame_values(item)
    else:
        try:
            a = np.asarray(item)
        except ValueError as exc:
            raise ValueError(f"{where} could not be read as an array: {exc}") from exc
    a = _numeric(a, where)
    if a.ndim == 0:
        raise ValueError(
            f"{where} is a scalar ({item!r}), not a sequence. A list of sequences is "
            "expected: for one univariate sequence pass [x], for one step per sequence "
            "pass np.reshape(x, (-1, 1))."
        )
    if a.ndim > 2:
        raise ValueError(
            f"{where} is a {a.ndim}-D array of shape {a.shape}; each sequence must be 1-D "
            "(T,) or 2-D (T, n_features)."
        )
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.shape[0] == 0:
        raise ValueError(f"{where} is empty (length 0); every sequence needs at least one step.")
    _check_n_features(a.shape[1], a.shape, where=where)
    return a


def _long_to_padded(X, policy):
    """A long-format DataFrame or Series (form 4) to a new padded array, lengths, names."""
    order, lengths = _long_format_order(X.index)
    if X.ndim == 1:
        names = _feature_names([X.name]) if X.name is not None else None
        values = _numeric(_frame_values(X), "X").reshape(-1, 1)
    else:
        names = _feature_names(X.columns)
        values = _numeric(_frame_values(X), "X")
    _check_n_features(values.shape[1], values.shape)
    X3 = _pad_concatenated(values[order], lengths, _target_dtype({values.dtype}, policy))
    _find_lengths(X3, allow_nan_padding=False)
    return X3, lengths, names


def _long_format_order(index):
    """Row order (sequences by first appearance, steps by time) and lengths of a MultiIndex."""
    import pandas as pd

    if index.nlevels != 2:
        raise ValueError(
            "Long format needs a 2-level (sequence id, time) MultiIndex, got "
            f"{index.nlevels} levels."
        )
    if len(index) == 0:
        raise ValueError("X holds no sequences: the long-format frame has no rows.")
    seq_codes, seq_ids = pd.factorize(index.get_level_values(0), sort=False)
    time_codes, _ = pd.factorize(index.get_level_values(1), sort=True)
    if (seq_codes < 0).any():
        raise ValueError("The sequence id level of the MultiIndex has missing values.")
    if (time_codes < 0).any():
        raise ValueError("The time level of the MultiIndex has missing values.")
    order = np.lexsort((time_codes, seq_codes))
    duplicate = (np.diff(seq_codes[order]) == 0) & (np.diff(time_codes[order]) == 0)
    if duplicate.any():
        row = order[np.flatnonzero(duplicate)[0]]
        raise ValueError(
            f"Sequence {seq_codes[row]} (id {seq_ids[seq_codes[row]]}) has two rows at "
            f"time {index[row][1]}: each (sequence id, time) pair must be unique."
        )
    lengths = np.bincount(seq_codes, minlength=len(seq_ids)).astype(np.int64)
    return order, lengths


def _transpose_item(item, i):
    """One (n_channels, T_i) item of a channels-first list as (T_i, n_channels)."""
    a = _frame_values(item) if _is_pandas(item, "DataFrame") else np.asarray(item)
    if a.ndim > 2:
        raise ValueError(
            f"Sequence {i} is a {a.ndim}-D array of shape {a.shape}; each channels-first "
            "sequence must be 1-D (T,) or 2-D (n_channels, T)."
        )
    return a.T


def _padded_and_lengths(X, lengths, two_d):
    """Validated (X3, lengths): from any form, or from a padded array with its lengths."""
    if lengths is None:
        X3, lengths, _ = check_sequences(X, two_d=two_d)
        return X3, lengths
    A = _numeric(_as_array(X), "X3")
    if A.ndim != 3:
        raise ValueError(
            "With lengths given, X3 must be a padded 3-D array (n_sequences, T_max, "
            f"n_features), got shape {A.shape}."
        )
    _check_n_features(A.shape[2], A.shape)
    lengths = _check_lengths(lengths, n_sequences=A.shape[0], max_length=A.shape[1])
    X3 = np.array(A, dtype=_target_dtype({A.dtype}, _dtype_policy(_DEFAULT_DTYPE)),
                  order="C", copy=True)
    X3[~_step_mask(lengths, X3.shape[1])] = 0
    _find_lengths(X3, allow_nan_padding=False)
    return X3, lengths


# --------------------------------------------------------------------------------------------
# Padding, lengths and finiteness
# --------------------------------------------------------------------------------------------


def _step_mask(lengths, max_length):
    """(n_sequences, max_length) bool, True at real steps."""
    return np.arange(max_length) < lengths[:, None]


def _step_coordinates(lengths):
    """Sequence index and time of every real step, in concatenated order."""
    starts = np.cumsum(lengths) - lengths
    seq_ids = np.repeat(np.arange(len(lengths)), lengths)
    times = np.arange(lengths.sum()) - np.repeat(starts, lengths)
    return seq_ids, times


def _pad_concatenated(X_concat, lengths, dtype):
    """New zero-padded (n, T_max, F) array from steps stacked in sequence order."""
    X3 = np.zeros((len(lengths), lengths.max(), X_concat.shape[1]), dtype=dtype)
    X3[_step_mask(lengths, X3.shape[1])] = X_concat
    return X3


def _split_padded(X3, lengths):
    return [X3[i, :length].copy() for i, length in enumerate(lengths)]


def _find_lengths(X3, allow_nan_padding):
    """Lengths of a float padded array; checks its values and zeroes its NaN padding in place.

    Trailing steps whose features are all NaN are padding when ``allow_nan_padding``; any
    other NaN, and any infinity, is an error naming the sequence.
    """
    n, max_length, _ = X3.shape
    if np.isfinite(X3).all():  # the common case, in one pass: reducing over a short feature
        # axis, as the checks by step below do, is up to 20x slower
        return np.full(n, max_length, dtype=np.int64)
    finite_steps = np.isfinite(X3).all(axis=2)
    if not allow_nan_padding:  # every non-finite step is an error: this raises
        _raise_on_bad_steps(X3, ~finite_steps, allow_nan_padding)
    nan_steps = np.isnan(X3).all(axis=2)
    _raise_on_bad_steps(X3, ~finite_steps & ~nan_steps, allow_nan_padding)
    has_real = ~nan_steps.all(axis=1)
    lengths = np.where(has_real, max_length - np.argmax(~nan_steps[:, ::-1], axis=1), 0)
    _raise_on_bad_padding(nan_steps, lengths)
    X3[nan_steps] = 0
    return lengths.astype(np.int64)


def _raise_on_bad_steps(X3, bad_steps, allow_nan_padding):
    """Raise for the first bad step: holding infinity, or NaN where it cannot be padding."""
    if not bad_steps.any():
        return
    i, t = np.argwhere(bad_steps)[0]
    if np.isinf(X3[i, t]).any():
        raise ValueError(
            f"Sequence {i} contains infinity at step {t}: sequences must hold finite values."
        )
    if not allow_nan_padding:
        raise ValueError(
            f"Sequence {i} contains NaN at step {t}: this input has no NaN padding, so "
            "sequences must hold finite values."
        )
    raise ValueError(
        f"Sequence {i} contains NaN at step {t} in some but not all features: NaN is only "
        "allowed as padding, in trailing steps whose features are all NaN."
    )


def _raise_on_bad_padding(nan_steps, lengths):
    """Raise for the first sequence that is all NaN or has an all-NaN step before a real one."""
    inner_nan = (nan_steps & _step_mask(lengths, nan_steps.shape[1])).any(axis=1)
    bad = np.flatnonzero(inner_nan | (lengths == 0))
    if bad.size == 0:
        return
    i = bad[0]
    if lengths[i] == 0:
        raise ValueError(
            f"Sequence {i} is empty (length 0): all its steps are NaN padding; every sequence "
            "needs at least one real step."
        )
    t = np.flatnonzero(nan_steps[i])[0]
    raise ValueError(
        f"Sequence {i} contains NaN at step {t}, before its real step {lengths[i] - 1}: NaN "
        "marks padding only in trailing steps, after the last real step."
    )


def _check_lengths(lengths, *, n_sequences=None, total=None, max_length=None, what="X"):
    """lengths as a new int64 array, checked against the data it describes."""
    lengths = np.asarray(lengths)
    if lengths.ndim != 1:
        raise ValueError(f"lengths must be 1-D, got shape {lengths.shape}.")
    if lengths.size == 0:
        raise ValueError("lengths is empty: there are no sequences.")
    if lengths.dtype.kind not in "iu":
        raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}.")
    lengths = lengths.astype(np.int64)
    if (lengths < 1).any():
        i = np.flatnonzero(lengths < 1)[0]
        raise ValueError(
            f"Sequence {i} has length {lengths[i]}; every sequence needs at least one step."
        )
    if n_sequences is not None and lengths.size != n_sequences:
        raise ValueError(f"lengths has {lengths.size} entries but {what} has {n_sequences} "
                         "sequences.")
    if max_length is not None and (lengths > max_length).any():
        i = np.flatnonzero(lengths > max_length)[0]
        raise ValueError(f"Sequence {i} has length {lengths[i]} but {what} has only "
                         f"{max_length} steps.")
    if total is not None and lengths.sum() != total:
        raise ValueError(f"lengths sum to {lengths.sum()} but {what} has {total} steps.")
    return lengths


# --------------------------------------------------------------------------------------------
# Step labels
# --------------------------------------------------------------------------------------------


def _flat_labels(y, lengths):
    if y.shape[0] != lengths.size:
        raise ValueError(f"y has {y.shape[0]} labels but X has {lengths.size} sequences.")
    longer = np.flatnonzero(lengths > 1)
    if longer.size:
        i = longer[0]
        raise ValueError(
            f"y is 1-D (one label per sequence), but sequence {i} has {lengths[i]} steps: "
            "give one label array per sequence (a list) or a padded 2-D array."
        )
    return y.copy()


def _padded_labels(y, lengths):
    if y.shape[0] != lengths.size:
        raise ValueError(
            f"y has {y.shape[0]} rows (sequences) but X has {lengths.size} sequences."
        )
    too_long = np.flatnonzero(lengths > y.shape[1])
    if too_long.size:
        i = too_long[0]
        raise ValueError(
            f"Sequence {i} has {lengths[i]} steps but y has only {y.shape[1]} columns "
            "(labels per sequence)."
        )
    return y[_step_mask(lengths, y.shape[1])]


def _ragged_labels(items, lengths):
    if len(items) != lengths.size:
        raise ValueError(
            f"y has label arrays for {len(items)} sequences but X has {lengths.size}."
        )
    arrays = []
    for i, item in enumerate(items):
        a = item.to_numpy() if _is_pandas(item, "Series") else np.asarray(item)
        if a.ndim != 1:
            raise ValueError(
                f"The labels of sequence {i} must be 1-D (one per step), got shape {a.shape}."
            )
        if a.shape[0] != lengths[i]:
            raise ValueError(
                f"Sequence {i} has {lengths[i]} steps but y gives {a.shape[0]} labels for it."
            )
        arrays.append(a)
    try:
        return np.concatenate(arrays)
    except TypeError:
        return np.concatenate([a.astype(object) for a in arrays])


def _long_labels(y, lengths):
    if y.ndim == 2 and y.shape[1] != 1:
        raise ValueError(f"A long-format y must have one column, got {y.shape[1]}.")
    order, y_lengths = _long_format_order(y.index)
    if y_lengths.size != lengths.size:
        raise ValueError(f"y has {y_lengths.size} sequences but X has {lengths.size}.")
    mismatch = np.flatnonzero(y_lengths != lengths)
    if mismatch.size:
        i = mismatch[0]
        raise ValueError(
            f"Sequence {i} has {lengths[i]} steps but y gives {y_lengths[i]} labels for it."
        )
    return y.to_numpy().reshape(-1)[order]
