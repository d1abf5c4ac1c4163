import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from skrnn.sequences import (
    check_sequences,
    check_step_labels,
    from_channels_first,
    from_concatenated,
    from_long_format,
    n_sequences,
    split_steps,
    to_channels_first,
    to_concatenated,
    to_long_format,
    to_nan_padded,
    to_ragged,
)

NAN = np.nan
LENGTHS = np.array([3, 1, 2])


def _ragged(dtype=np.float64):
    """Three sequences of 2 features, lengths 3, 1, 2."""
    return [
        np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]], dtype=dtype),
        np.array([[4.0, 40.0]], dtype=dtype),
        np.array([[5.0, 50.0], [6.0, 60.0]], dtype=dtype),
    ]


def _expected_X3():
    X3 = np.zeros((3, 3, 2))
    for i, seq in enumerate(_ragged()):
        X3[i, : len(seq)] = seq
    return X3


def _nan_padded(dtype=np.float64):
    X = np.full((3, 3, 2), NAN, dtype=dtype)
    for i, seq in enumerate(_ragged()):
        X[i, : len(seq)] = seq
    return X


def _long_frame():
    """The same data in long format, rows shuffled, string ids, non-contiguous times."""
    rows = [
        ("s0", 20, 2.0, 20.0),
        ("s1", 0, 4.0, 40.0),
        ("s2", 7, 6.0, 60.0),
        ("s0", 10, 1.0, 10.0),
        ("s0", 30, 3.0, 30.0),
        ("s2", 3, 5.0, 50.0),
    ]
    frame = pd.DataFrame(rows, columns=["id", "t", "a", "b"])
    return frame.set_index(["id", "t"])


def _object_array(items):
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


class _ArrayLike:
    """An array container that only offers __array__."""

    def __init__(self, data):
        self.data = np.asarray(data)

    def __array__(self, dtype=None, copy=None):
        return self.data


MULTIVARIATE_FORMS = {
    "list": _ragged,
    "tuple": lambda: tuple(_ragged()),
    "object_array": lambda: _object_array(_ragged()),
    "list_of_lists": lambda: [seq.tolist() for seq in _ragged()],
    "list_of_frames": lambda: [pd.DataFrame(seq) for seq in _ragged()],
    "nan_padded": _nan_padded,
    "array_like": lambda: _ArrayLike(_nan_padded()),
    "long_frame": _long_frame,
}


# --------------------------------------------------------------------------------------------
# check_sequences: every form gives the same (X3, lengths)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", MULTIVARIATE_FORMS)
def test_multivariate_forms_agree(form):
    X3, lengths, _ = check_sequences(MULTIVARIATE_FORMS[form]())
    np.testing.assert_array_equal(X3, _expected_X3())
    np.testing.assert_array_equal(lengths, LENGTHS)
    assert X3.dtype == np.float64 and lengths.dtype == np.int64
    assert X3.flags.c_contiguous


UNIVARIATE = [[1.0, 2.0, 3.0], [4.0], [5.0, 6.0]]
UNIVARIATE_PADDED = np.array([[1.0, 2.0, 3.0], [4.0, NAN, NAN], [5.0, 6.0, NAN]])


def _univariate_long_series():
    index = pd.MultiIndex.from_tuples(
        [(0, 0), (0, 1), (0, 2), (1, 0), (2, 0), (2, 1)], names=["id", "t"]
    )
    return pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], index=index, name="x")


UNIVARIATE_FORMS = {
    "list_of_lists": lambda: UNIVARIATE,
    "list_of_1d": lambda: [np.array(s) for s in UNIVARIATE],
    "list_of_series": lambda: [pd.Series(s) for s in UNIVARIATE],
    "list_of_columns": lambda: [np.array(s)[:, None] for s in UNIVARIATE],
    "padded_2d": lambda: UNIVARIATE_PADDED.copy(),
    "padded_3d": lambda: UNIVARIATE_PADDED[:, :, None].copy(),
    "frame_2d": lambda: pd.DataFrame(UNIVARIATE_PADDED, columns=["t0", "t1", "t2"]),
    "long_series": _univariate_long_series,
}


@pytest.mark.parametrize("form", UNIVARIATE_FORMS)
def test_univariate_forms_agree(form):
    X3, lengths, _ = check_sequences(UNIVARIATE_FORMS[form]())
    expected = np.nan_to_num(UNIVARIATE_PADDED)[:, :, None]
    np.testing.assert_array_equal(X3, expected)
    np.testing.assert_array_equal(lengths, LENGTHS)


def test_two_d_modes():
    X = np.arange(6).reshape(3, 2)
    X3, lengths, names = check_sequences(X, two_d="sequences")
    assert X3.shape == (3, 2, 1) and names is None
    np.testing.assert_array_equal(lengths, [2, 2, 2])
    X3, lengths, names = check_sequences(X, two_d="steps")
    assert X3.shape == (3, 1, 2) and names is None
    np.testing.assert_array_equal(lengths, [1, 1, 1])
    np.testing.assert_array_equal(X3[:, 0], X)
    as_list, _, _ = check_sequences([row[None, :] for row in X])
    np.testing.assert_array_equal(X3, as_list)


def test_two_d_steps_frame_records_feature_names():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    X3, lengths, names = check_sequences(frame, two_d="steps")
    np.testing.assert_array_equal(X3[:, 0], frame.to_numpy())
    np.testing.assert_array_equal(names, ["a", "b"])
    assert names.dtype == object
    _, _, names = check_sequences(frame, two_d="sequences")
    assert names is None


def test_feature_names_only_for_string_columns():
    assert check_sequences(pd.DataFrame([[1.0, 2.0]]), two_d="steps")[2] is None
    with pytest.raises(TypeError, match="only supported if all columns have string names"):
        check_sequences(pd.DataFrame({0: [1.0], "a": [2.0]}), two_d="steps")


def test_list_is_always_ragged_even_with_equal_lengths():
    X = [[1.0, 2.0], [3.0, 4.0]]
    for two_d in ("sequences", "steps"):
        X3, lengths, _ = check_sequences(X, two_d=two_d)
        assert X3.shape == (2, 2, 1)
        np.testing.assert_array_equal(lengths, [2, 2])


def test_bool_and_int_become_float64():
    X3, _, _ = check_sequences(np.array([[True, False]]))
    assert X3.dtype == np.float64
    np.testing.assert_array_equal(X3[0, :, 0], [1.0, 0.0])
    X3, _, _ = check_sequences([np.array([1, 2], dtype=np.int32)])
    assert X3.dtype == np.float64


def test_object_array_of_numbers():
    X = np.arange(6.0).reshape(2, 3).astype(object)
    X3, lengths, _ = check_sequences(X)
    np.testing.assert_array_equal(X3[:, :, 0], X.astype(float))


def test_nullable_pandas_columns():
    frame = pd.DataFrame({"a": pd.array([1, 2], dtype="Int64"), "b": [0.5, 1.5]})
    X3, _, _ = check_sequences(frame, two_d="steps")
    np.testing.assert_array_equal(X3[:, 0], [[1.0, 0.5], [2.0, 1.5]])
    frame.loc[1, "a"] = pd.NA
    with pytest.raises(ValueError, match="Sequence 1 contains NaN"):
        check_sequences(frame, two_d="steps")


# --------------------------------------------------------------------------------------------
# NaN padding
# --------------------------------------------------------------------------------------------


def test_nan_padding_is_zeroed():
    X3, lengths, _ = check_sequences(_nan_padded())
    assert not np.isnan(X3).any()
    assert (X3[1, 1:] == 0).all()


def test_equal_length_3d_without_nan():
    X = np.arange(24.0).reshape(2, 4, 3)
    X3, lengths, _ = check_sequences(X)
    np.testing.assert_array_equal(X3, X)
    np.testing.assert_array_equal(lengths, [4, 4])


def test_nan_padding_vectorised_matches_loop():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 40, size=200)
    X = rng.normal(size=(200, 40, 3))
    X[np.arange(40) >= lengths[:, None]] = NAN
    X3, found, _ = check_sequences(X)
    np.testing.assert_array_equal(found, lengths)
    for i, length in enumerate(lengths):
        np.testing.assert_array_equal(X3[i, :length], X[i, :length])
        assert (X3[i, length:] == 0).all()


def test_nan_padding_can_be_refused():
    with pytest.raises(ValueError, match="Sequence 1 contains NaN at step 1"):
        check_sequences(_nan_padded(), allow_nan_padding=False)
    X3, _, _ = check_sequences(_expected_X3(), allow_nan_padding=False)
    np.testing.assert_array_equal(X3, _expected_X3())


def test_large_finite_values_are_not_infinite():
    big = np.finfo(np.float32).max
    X = np.array([[[big, big], [-big, -big]]], dtype=np.float32)
    X3, _, _ = check_sequences(X)
    np.testing.assert_array_equal(X3, X)


# --------------------------------------------------------------------------------------------
# dtype, copies, no mutation
# --------------------------------------------------------------------------------------------


FLOAT32_FORMS = {
    "list": lambda: _ragged(np.float32),
    "nan_padded": lambda: _nan_padded(np.float32),
    "padded_2d": lambda: UNIVARIATE_PADDED.astype(np.float32),
    "frame_2d": lambda: pd.DataFrame(UNIVARIATE_PADDED.astype(np.float32)),
    "long_frame": lambda: _long_frame().astype(np.float32),
    "nullable_float32": lambda: pd.DataFrame({"a": pd.array([1.0, 2.0], dtype="Float32")}),
}


@pytest.mark.parametrize("form", FLOAT32_FORMS)
def test_float32_is_kept(form):
    X3, _, _ = check_sequences(FLOAT32_FORMS[form]())
    assert X3.dtype == np.float32


def test_dtype_choice():
    mixed = [np.ones(2, dtype=np.float32), np.ones(3, dtype=np.float64)]
    assert check_sequences(mixed)[0].dtype == np.float64
    assert check_sequences(np.ones((2, 3), dtype=np.float16))[0].dtype == np.float64
    assert check_sequences(_nan_padded(), dtype="float32")[0].dtype == np.float32
    assert check_sequences(_ragged(np.float32), dtype="float64")[0].dtype == np.float64
    assert check_sequences(_ragged(), dtype=("float32", "float64"))[0].dtype == np.float64
    with pytest.raises(ValueError, match="floating dtype"):
        check_sequences(_ragged(), dtype="int64")
    with pytest.raises(ValueError, match="two_d must be one of"):
        check_sequences(_ragged(), two_d="rows")


ALL_FORMS = {
    **{f"multi_{k}": v for k, v in MULTIVARIATE_FORMS.items() if k != "array_like"},
    **{f"uni_{k}": v for k, v in UNIVARIATE_FORMS.items()},
    "steps_2d": lambda: np.arange(6.0).reshape(3, 2),
}


def _snapshot(X):
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return X.copy(deep=True)
    if isinstance(X, np.ndarray) and X.dtype == object:
        return [np.array(item, copy=True) for item in X]
    if isinstance(X, (list, tuple)):
        return [item.copy() if hasattr(item, "copy") else list(item) for item in X]
    return np.array(X, copy=True)


def _assert_same(X, snapshot):
    if isinstance(X, pd.DataFrame):
        pd.testing.assert_frame_equal(X, snapshot)
    elif isinstance(X, pd.Series):
        pd.testing.assert_series_equal(X, snapshot)
    elif isinstance(X, (list, tuple)) or X.dtype == object:
        for item, before in zip(X, snapshot):
            np.testing.assert_array_equal(np.asarray(item), np.asarray(before))
    else:
        np.testing.assert_array_equal(X, snapshot)


def _arrays_of(X):
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return [X.to_numpy()]
    if isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.dtype == object):
        return [np.asarray(item) for item in X]
    return [np.asarray(X)]


@pytest.mark.parametrize("form", ALL_FORMS)
def test_input_is_never_modified_nor_shared(form):
    X = ALL_FORMS[form]()
    snapshot = _snapshot(X)
    X3, lengths, _ = check_sequences(X)
    for array in _arrays_of(X):
        assert not np.shares_memory(X3, array)
    X3[...] = -1.0
    _assert_same(X, snapshot)
    for convert in (to_ragged, to_nan_padded, to_channels_first, to_long_format,
                    to_concatenated):
        convert(X)
    _assert_same(X, snapshot)


def test_outputs_share_no_memory_with_inputs():
    X = _nan_padded()
    X3, lengths, _ = check_sequences(X)
    for seq in to_ragged(X3, lengths):
        assert not np.shares_memory(seq, X3)
    assert not np.shares_memory(to_nan_padded(X3, lengths), X3)
    X_concat, found = to_concatenated(X3[:, :1])
    for seq in from_concatenated(X_concat, found):
        assert not np.shares_memory(seq, X_concat)
    values = np.arange(6)
    for part in split_steps(values, LENGTHS):
        assert not np.shares_memory(part, values)


# --------------------------------------------------------------------------------------------
# Long format
# --------------------------------------------------------------------------------------------


def test_long_format_order_and_names():
    X3, lengths, names = check_sequences(_long_frame())
    np.testing.assert_array_equal(names, ["a", "b"])
    np.testing.assert_array_equal(lengths, LENGTHS)
    np.testing.assert_array_equal(X3[0, :, 0], [1.0, 2.0, 3.0])
    _, _, names = check_sequences(_univariate_long_series())
    np.testing.assert_array_equal(names, ["x"])
    _, _, names = check_sequences(_univariate_long_series().rename(None))
    assert names is None


def test_long_format_with_datetime_times():
    index = pd.MultiIndex.from_arrays(
        [["a", "a", "b"], pd.to_datetime(["2024-01-02", "2024-01-01", "2024-03-01"])]
    )
    X3, lengths, _ = check_sequences(pd.Series([2.0, 1.0, 3.0], index=index))
    np.testing.assert_array_equal(X3[:, :, 0], [[1.0, 2.0], [3.0, 0.0]])


@pytest.mark.parametrize(
    "tuples, message",
    [
        ([("a", 0), ("a", 0)], "two rows at time 0"),
        ([(NAN, 0), ("a", 1)], "sequence id level .* missing"),
        ([("a", NAN), ("a", 1)], "time level .* missing"),
    ],
)
def test_long_format_index_errors(tuples, message):
    index = pd.MultiIndex.from_tuples(tuples)
    with pytest.raises(ValueError, match=message):
        check_sequences(pd.Series([1.0, 2.0], index=index))


def test_long_format_errors():
    index = pd.MultiIndex.from_tuples([(0, 0, 0)])
    with pytest.raises(ValueError, match="2-level"):
        check_sequences(pd.DataFrame({"a": [1.0]}, index=index))
    empty = _long_frame().iloc[:0]
    with pytest.raises(ValueError, match="no sequences"):
        check_sequences(empty)
    bad = _long_frame()
    bad.iloc[1, 1] = np.inf
    with pytest.raises(ValueError, match="Sequence 1 contains infinity at step 0"):
        check_sequences(bad)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def _with(value, where, shape=(10, 3)):
    X = np.random.default_rng(0).uniform(size=shape)
    X[where] = value
    return X


ERRORS = [
    ([], ValueError, "no sequences"),
    (np.empty((0, 3)), ValueError, r"0 sample\(s\) .*no sequences"),
    (np.empty((0, 3, 2)), ValueError, "no sequences"),
    (_long_frame().iloc[:0].reset_index(drop=True), ValueError, "no sequences"),
    ([np.ones(3), np.ones(0)], ValueError, r"Sequence 1 is empty \(length 0\)"),
    (np.ones((2, 0, 3)), ValueError, r"Sequence 0 is empty \(length 0\)"),
    (np.array([[[1.0]], [[NAN]]]), ValueError, r"Sequence 1 is empty \(length 0\)"),
    ([np.ones(3), np.array([1.0, NAN])], ValueError, "Sequence 1 contains NaN at step 1"),
    ([np.ones(3), np.array([1.0, np.inf])], ValueError, "Sequence 1 contains infinity"),
    ([np.ones(3), np.array([1.0, -np.inf])], ValueError, "Sequence 1 contains infinity"),
    (np.array([[[1.0, 2.0], [NAN, 3.0]]]), ValueError,
     "Sequence 0 contains NaN at step 1 in some"),
    (np.array([[[1.0], [2.0]], [[1.0], [NAN]], [[NAN], [3.0]]]), ValueError,
     "Sequence 2 contains NaN at step 0, before its real step 1"),
    (np.array([[[1.0], [2.0]], [[3.0], [np.inf]]]), ValueError, "Sequence 1 contains infinity"),
    ([np.ones((3, 2)), np.ones((2, 3))], ValueError,
     "Sequence 1 has 3 features but sequence 0 has 2"),
    ([np.ones(3), np.ones((2, 2))], ValueError,
     "Sequence 1 has 2 features but sequence 0 has 1"),
    # scikit-learn's check_estimators_empty_data_messages expects this message
    (np.empty((12, 0)), ValueError,
     r"0 feature\(s\) \(shape=\(\d*, 0\)\) while a minimum of \d* is required."),
    (np.empty((2, 3, 0)), ValueError, r"0 feature\(s\)"),
    ([np.empty((3, 0))], ValueError, r"0 feature\(s\)"),
    (np.ones((2, 3), dtype=complex), ValueError, "Complex data not supported"),
    (np.array([[1.0, 1 + 2j]], dtype=object), ValueError, "Complex data not supported"),
    ([np.array([1 + 2j])], ValueError, "Complex data not supported"),
    (np.array([["a", "b"]]), ValueError, "holds strings"),
    (np.array([[b"a", b"b"]]), ValueError, "holds strings"),
    ([["a", "b"]], ValueError, "Sequence 0 holds strings"),
    (np.array([[1.0, "abc"]], dtype=object), ValueError, "holds strings"),
    (np.array([[1.0, "0.5"]], dtype=object), ValueError, "holds strings"),
    (np.array([[1.0, {"a": 1}]], dtype=object), TypeError, "argument must be a string.* number"),
    (pd.DataFrame({"a": ["x", "y"]}), ValueError, "holds strings"),
    (pd.DataFrame({"a": ["1.5", "2"]}), ValueError, "holds strings"),
    (np.array([["2020-01-01"]], dtype="datetime64[D]"), TypeError, "must hold numbers"),
    (np.array(3.0), ValueError, "0-d array"),
    (np.ones((2, 2, 2, 2)), ValueError, "4-D array"),
    (np.ones(5), ValueError, "1-D array"),
    (pd.Series([1.0, 2.0]), ValueError, "1-D array"),
    ([np.ones((2, 2, 2))], ValueError, "Sequence 0 is a 3-D array"),
    ([np.ones(2), [[1, 2], [3]]], ValueError, "Sequence 1 could not be read"),
    ([1.0, 2.0], ValueError, "Sequence 0 is a scalar"),
    (3.0, ValueError, "got the scalar 3.0"),
    (np.float32(3.0), ValueError, "scalar"),
    (None, TypeError, "got NoneType"),
    ("abc", TypeError, "got str"),
    (b"abc", TypeError, "got bytes"),
    ({"a": [1.0]}, TypeError, "got dict"),
    ((x for x in [np.ones(3)]), TypeError, "got generator"),
    (sp.csr_matrix(np.ones((2, 2))), TypeError, "Sparse input"),
    ([np.ones((3, 2)), sp.csr_matrix(np.eye(2))], TypeError,
     r"Sequence 1 is a scipy.sparse csr_matrix.*\.toarray\(\)"),
]


@pytest.mark.parametrize("X, error, message", ERRORS)
def test_errors(X, error, message):
    with pytest.raises(error, match=message):
        check_sequences(X)


@pytest.mark.parametrize("two_d", ["sequences", "steps"])
@pytest.mark.parametrize("value", [NAN, np.inf])
def test_nan_and_inf_in_2d(two_d, value):
    X = _with(value, (0, 0))
    with pytest.raises(ValueError, match="inf|NaN"):
        check_sequences(X, two_d=two_d)
    X = _with(value, (4, 1))
    with pytest.raises(ValueError, match="Sequence 4 contains"):
        check_sequences(X, two_d=two_d)


def test_all_nan_row_in_steps_mode_is_an_error():
    with pytest.raises(ValueError, match="Sequence 4 contains NaN at step 0"):
        check_sequences(_with(NAN, 4), two_d="steps")


def test_trailing_nan_in_2d_sequences_mode_is_padding():
    X3, lengths, _ = check_sequences(_with(NAN, (4, 2)))
    assert lengths[4] == 2 and (lengths[np.arange(10) != 4] == 3).all()


def test_zero_features_2d_steps_mode():
    with pytest.raises(ValueError, match=r"0 feature\(s\) \(shape=\(12, 0\)\)"):
        check_sequences(np.empty((12, 0)), two_d="steps")


# --------------------------------------------------------------------------------------------
# n_sequences
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ALL_FORMS)
def test_n_sequences(form):
    assert n_sequences(ALL_FORMS[form]()) == 3


def test_n_sequences_other_inputs():
    assert n_sequences(pd.DataFrame(np.ones((4, 2)))) == 4
    assert n_sequences(sp.csr_matrix(np.ones((5, 2)))) == 5
    assert n_sequences(_ArrayLike(np.ones((6, 2)))) == 6
    with pytest.raises(ValueError, match="0-d"):
        n_sequences(np.array(1.0))
    with pytest.raises(ValueError, match="scalar"):
        n_sequences(1.0)
    with pytest.raises(TypeError, match="NoneType"):
        n_sequences(None)


# --------------------------------------------------------------------------------------------
# Conversions and round trips
# --------------------------------------------------------------------------------------------


def _assert_ragged_equal(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_array_equal(a, e)
        assert a.dtype == e.dtype


@pytest.mark.parametrize("form", MULTIVARIATE_FORMS)
def test_every_conversion_accepts_every_form(form):
    X = MULTIVARIATE_FORMS[form]()
    _assert_ragged_equal(to_ragged(X), _ragged())
    np.testing.assert_array_equal(to_nan_padded(X), _nan_padded())
    np.testing.assert_array_equal(to_channels_first(X), _nan_padded().transpose(0, 2, 1))
    X_concat, lengths = to_concatenated(X)
    np.testing.assert_array_equal(X_concat, np.concatenate(_ragged()))
    np.testing.assert_array_equal(lengths, LENGTHS)
    long = to_long_format(X)
    np.testing.assert_array_equal(long.to_numpy(), np.concatenate(_ragged()))


def test_to_ragged_with_lengths_ignores_padding_values():
    X3 = _expected_X3()
    X3[1, 1:] = NAN
    X3[2, 2:] = 123.0
    _assert_ragged_equal(to_ragged(X3, LENGTHS), _ragged())
    _assert_ragged_equal(to_ragged(X3.astype(np.float32), LENGTHS), _ragged(np.float32))


def test_to_ragged_univariate_keeps_feature_axis():
    seqs = to_ragged(UNIVARIATE)
    assert [s.shape for s in seqs] == [(3, 1), (1, 1), (2, 1)]


@pytest.mark.parametrize(
    "lengths, error, message",
    [
        ([3, 1], ValueError, "lengths has 2 entries but X has 3 sequences"),
        ([3, 1, 4], ValueError, "Sequence 2 has length 4 but X has only 3 steps"),
        ([3, 0, 2], ValueError, "Sequence 1 has length 0"),
        ([3.0, 1.0, 2.0], ValueError, "lengths must be integers"),
        ([[3, 1, 2]], ValueError, "lengths must be 1-D"),
        ([], ValueError, "lengths is empty"),
    ],
)
def test_to_ragged_lengths_errors(lengths, error, message):
    with pytest.raises(error, match=message):
        to_ragged(_expected_X3(), lengths)


def test_to_ragged_with_lengths_errors_on_data():
    with pytest.raises(ValueError, match="padded 3-D array"):
        to_ragged(np.ones((3, 3)), LENGTHS)
    X3 = _expected_X3()
    X3[2, 1, 0] = NAN
    with pytest.raises(ValueError, match="Sequence 2 contains NaN at step 1"):
        to_ragged(X3, LENGTHS)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trips(dtype):
    ragged = _ragged(dtype)
    X3, lengths, _ = check_sequences(ragged)

    def assert_same(X):
        X3_back, lengths_back, _ = check_sequences(X)
        np.testing.assert_array_equal(X3_back, X3)
        np.testing.assert_array_equal(lengths_back, lengths)
        assert X3_back.dtype == dtype

    assert_same(to_ragged(X3, lengths))
    assert_same(to_nan_padded(X3, lengths))
    assert_same(to_long_format(ragged))
    assert_same(from_long_format(to_long_format(ragged)))
    assert_same(from_channels_first(to_channels_first(ragged)))
    assert_same(from_concatenated(*to_concatenated(ragged)))
    _assert_ragged_equal(from_long_format(to_long_format(ragged)), ragged)
    _assert_ragged_equal(from_channels_first(to_channels_first(ragged)), ragged)
    _assert_ragged_equal(from_concatenated(*to_concatenated(ragged)), ragged)
    np.testing.assert_array_equal(to_nan_padded(to_nan_padded(ragged)), _nan_padded(dtype))


def test_round_trip_random_data_is_exact():
    rng = np.random.default_rng(1)
    ragged = [rng.normal(size=(t, 4)) for t in rng.integers(1, 30, size=50)]
    for back in (
        to_ragged(to_nan_padded(ragged)),
        from_long_format(to_long_format(ragged)),
        from_channels_first(to_channels_first(ragged)),
        from_concatenated(*to_concatenated(ragged)),
    ):
        _assert_ragged_equal(back, ragged)


def test_to_nan_padded_equal_lengths_has_no_nan():
    assert not np.isnan(to_nan_padded(np.ones((2, 3)))).any()


def test_to_long_format_layout():
    frame = to_long_format(_ragged(), feature_names=["a", "b"], id_name="sid", time_name="step")
    assert frame.index.names == ["sid", "step"]
    assert list(frame.columns) == ["a", "b"]
    assert list(frame.index) == [(0, 0), (0, 1), (0, 2), (1, 0), (2, 0), (2, 1)]
    _, _, names = check_sequences(frame)
    np.testing.assert_array_equal(names, ["a", "b"])
    default = to_long_format(_ragged())
    assert list(default.columns) == [0, 1]
    assert check_sequences(default)[2] is None
    kept = to_long_format(_long_frame())
    assert list(kept.columns) == ["a", "b"]
    steps = to_long_format(pd.DataFrame({"u": [1.0, 2.0]}), two_d="steps")
    assert list(steps.columns) == ["u"] and len(steps) == 2


def test_to_long_format_errors():
    with pytest.raises(ValueError, match="feature_names has 3 names but the sequences have 2"):
        to_long_format(_ragged(), feature_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="must differ"):
        to_long_format(_ragged(), id_name="x", time_name="x")
    with pytest.raises(TypeError, match="2-level"):
        from_long_format(_nan_padded())


def test_channels_first_forms():
    X_nct = to_channels_first(_ragged())
    assert X_nct.shape == (3, 2, 3) and X_nct.flags.c_contiguous
    assert np.isnan(X_nct[1, :, 1:]).all()
    as_list = [seq.T for seq in _ragged()]
    _assert_ragged_equal(from_channels_first(as_list), _ragged())
    _assert_ragged_equal(from_channels_first(_object_array(as_list)), _ragged())
    univariate = from_channels_first(UNIVARIATE_PADDED)
    _assert_ragged_equal(univariate, [np.array(s)[:, None] for s in UNIVARIATE])
    _assert_ragged_equal(from_channels_first([np.array([1.0, 2.0])]), [np.array([[1.0], [2.0]])])


def test_channels_first_errors():
    with pytest.raises(ValueError, match="channels-first array"):
        from_channels_first(np.ones((2, 2, 2, 2)))
    with pytest.raises(ValueError, match="Sequence 1 is a 3-D array"):
        from_channels_first([np.ones((2, 3)), np.ones((1, 2, 3))])
    with pytest.raises(ValueError, match="Sequence 0 contains NaN at step 0 in some"):
        from_channels_first(np.array([[[NAN, 1.0], [1.0, 1.0]]]))
    with pytest.raises(TypeError, match="numpy array or a list"):
        from_channels_first(pd.DataFrame(np.ones((2, 2))))


def test_concatenated_forms_and_errors():
    _assert_ragged_equal(from_concatenated(np.arange(3.0), [2, 1]),
                         [np.array([[0.0], [1.0]]), np.array([[2.0]])])
    assert from_concatenated(np.ones((3, 2), dtype=np.float32), [3])[0].dtype == np.float32
    assert from_concatenated(np.ones((3, 2), dtype=np.int64), [3])[0].dtype == np.float64
    with pytest.raises(ValueError, match="lengths sum to 4 but X has 3 steps"):
        from_concatenated(np.ones((3, 2)), [2, 2])
    with pytest.raises(ValueError, match="Sequence 1 contains NaN at step 0"):
        from_concatenated(np.array([1.0, 2.0, NAN]), [2, 1])
    with pytest.raises(ValueError, match="1-D or 2-D"):
        from_concatenated(np.ones((3, 2, 1)), [3])
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        from_concatenated(np.ones((3, 0)), [3])


def test_steps_mode_conversions():
    X = np.arange(6.0).reshape(3, 2)
    X_concat, lengths = to_concatenated(X, two_d="steps")
    np.testing.assert_array_equal(X_concat, X)
    np.testing.assert_array_equal(lengths, [1, 1, 1])
    assert to_channels_first(X, two_d="steps").shape == (3, 2, 1)
    assert to_nan_padded(X, two_d="steps").shape == (3, 1, 2)
    assert [s.shape for s in to_ragged(X, two_d="steps")] == [(1, 2)] * 3


# --------------------------------------------------------------------------------------------
# Step labels
# --------------------------------------------------------------------------------------------


def test_step_labels_ragged_keep_dtype():
    y = check_step_labels([["a", "b", "c"], ["d"], ["e", "f"]], LENGTHS)
    np.testing.assert_array_equal(y, list("abcdef"))
    assert y.dtype.kind == "U"
    y = check_step_labels([np.array([1, 2, 3]), np.array([4]), np.array([5, 6])], LENGTHS)
    assert y.dtype.kind == "i"
    np.testing.assert_array_equal(y, [1, 2, 3, 4, 5, 6])
    y = check_step_labels(_object_array([np.array([1, 2, 3]), [4], pd.Series([5, 6])]), LENGTHS)
    np.testing.assert_array_equal(y, [1, 2, 3, 4, 5, 6])
    y = check_step_labels(([0.5, 1.5, 2.5], [3.5], [4.5, 5.5]), LENGTHS)
    assert y.dtype == np.float64


def test_step_labels_padded_2d_ignores_padding():
    y = np.array([[1, 2, 3], [4, -1, -1], [5, 6, -1]])
    np.testing.assert_array_equal(check_step_labels(y, LENGTHS), [1, 2, 3, 4, 5, 6])
    wider = np.array([["a", "b", "c", "x"], ["d", "x", "x", "x"], ["e", "f", "x", "x"]])
    np.testing.assert_array_equal(check_step_labels(wider, LENGTHS), list("abcdef"))
    np.testing.assert_array_equal(check_step_labels(pd.DataFrame(y), LENGTHS), y[y >= 0])


def test_step_labels_1d_for_length_one_sequences():
    lengths = np.ones(3, dtype=int)
    for y in (["a", "b", "a"], np.array(["a", "b", "a"]), pd.Series(["a", "b", "a"]),
              np.array([["a"], ["b"], ["a"]])):
        out = check_step_labels(y, lengths)
        np.testing.assert_array_equal(out, ["a", "b", "a"])
    np.testing.assert_array_equal(check_step_labels([0, 1, 1], lengths), [0, 1, 1])


def test_step_labels_long_format():
    frame = _long_frame()
    y = pd.Series(["l20", "m0", "r7", "l10", "l30", "r3"], index=frame.index)
    np.testing.assert_array_equal(check_step_labels(y, LENGTHS),
                                  ["l10", "l20", "l30", "m0", "r3", "r7"])
    np.testing.assert_array_equal(check_step_labels(y.to_frame(), LENGTHS),
                                  ["l10", "l20", "l30", "m0", "r3", "r7"])


def test_step_labels_do_not_share_memory():
    y = np.array([1, 2, 3])
    out = check_step_labels(y, [1, 1, 1])
    assert not np.shares_memory(out, y)


@pytest.mark.parametrize(
    "y, error, message",
    [
        ([[1, 2, 3], [4], [5]], ValueError, "Sequence 2 has 2 steps but y gives 1 labels"),
        ([[1, 2, 3], [4, 4], [5, 6]], ValueError, "Sequence 1 has 1 steps but y gives 2 labels"),
        ([[1, 2, 3], [4]], ValueError, "y has label arrays for 2 sequences but X has 3"),
        ([[1, 2, 3], [[4]], [5, 6]], ValueError, "labels of sequence 1 must be 1-D"),
        (np.array([1, 2, 3]), ValueError, "sequence 0 has 3 steps"),
        (np.array([1, 2]), ValueError, "y has 2 labels but X has 3 sequences"),
        (np.ones((3, 2)), ValueError, "Sequence 0 has 3 steps but y has only 2 columns"),
        (np.ones((2, 3)), ValueError, r"y has 2 rows \(sequences\) but X has 3"),
        (np.ones((3, 3, 1)), ValueError, "3-D array"),
        (np.array(1), ValueError, "0-D array"),
        (None, TypeError, "NoneType"),
        ("abc", TypeError, "str"),
    ],
)
def test_step_labels_errors(y, error, message):
    with pytest.raises(error, match=message):
        check_step_labels(y, LENGTHS)


def test_step_labels_long_format_errors():
    frame = _long_frame()
    y = pd.Series(np.arange(6), index=frame.index)
    with pytest.raises(ValueError, match="Sequence 1 has 2 steps but y gives 1 labels"):
        check_step_labels(y, [3, 2, 1])
    with pytest.raises(ValueError, match="y has 3 sequences but X has 2"):
        check_step_labels(y, [3, 3])
    with pytest.raises(ValueError, match="one column"):
        check_step_labels(pd.DataFrame({"a": y, "b": y}), LENGTHS)


# --------------------------------------------------------------------------------------------
# split_steps
# --------------------------------------------------------------------------------------------


def test_split_steps_inverts_concatenation():
    parts = [np.array(["a", "b", "c"]), np.array(["d"]), np.array(["e", "f"])]
    _assert_ragged_equal(split_steps(np.concatenate(parts), LENGTHS), parts)
    proba = np.arange(12.0).reshape(6, 2)
    split = split_steps(proba, LENGTHS)
    assert [p.shape for p in split] == [(3, 2), (1, 2), (2, 2)]
    np.testing.assert_array_equal(np.concatenate(split), proba)
    y = check_step_labels([["a", "b", "c"], ["d"], ["e", "f"]], LENGTHS)
    _assert_ragged_equal(split_steps(y, LENGTHS), parts)


def test_split_steps_errors():
    with pytest.raises(ValueError, match="lengths sum to 6 but values has 5 steps"):
        split_steps(np.arange(5), LENGTHS)
    with pytest.raises(ValueError, match="scalar"):
        split_steps(1.0, LENGTHS)
    with pytest.raises(ValueError, match="Sequence 0 has length 0"):
        split_steps(np.arange(5), [0, 5])
