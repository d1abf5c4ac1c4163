"""SequenceScaler: StandardScaler over all real steps, in every input form, in pipelines."""

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from skrnn import RNNClassifier, RNNRegressor, SequenceScaler
from skrnn.sequences import to_concatenated, to_long_format, to_nan_padded


def ragged(seed=0, n=6, n_features=2):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(rng.integers(2, 7), n_features)) * [1.0, 300.0][:n_features]
            + [5.0, -40.0][:n_features] for _ in range(n)]


def forms():
    """Every input form of the same sequences: (name, X)."""
    X = ragged()
    long = to_long_format(X, feature_names=["a", "b"])
    uni = [x[:, 0] for x in X]
    padded_uni = to_nan_padded(uni)[:, :, 0]
    return [
        ("ragged list", X),
        ("ragged tuple", tuple(X)),
        ("ragged 1-D items", uni),
        ("ragged DataFrame items", [pd.DataFrame(x, columns=["a", "b"]) for x in X]),
        ("nan-padded 3-D", to_nan_padded(X)),
        ("long DataFrame", long),
        ("long DataFrame, shuffled rows", long.sample(frac=1.0, random_state=0)),
        ("long Series", long["a"]),
        ("2-D sequences", padded_uni),
        ("wide DataFrame", pd.DataFrame(padded_uni, index=[f"s{i}" for i in range(len(X))])),
    ]


def assert_same_form(a, b):
    assert type(a) is type(b)
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, z in zip(a, b):
            assert_same_form(x, z)
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-10)  # NaN at the same places


@pytest.mark.parametrize("name, X", forms(), ids=[name for name, _ in forms()])
def test_every_form_round_trips_and_keeps_its_form(name, X):
    original = copy.deepcopy(X)
    scaler = SequenceScaler().fit(X)
    Z = scaler.transform(X)
    assert_same_form(scaler.inverse_transform(Z), X)
    assert_same_form(X, original)  # the caller's data is untouched
    steps, _ = to_concatenated(Z)
    np.testing.assert_allclose(steps.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(steps.std(axis=0), 1)
    if isinstance(X, np.ndarray):
        np.testing.assert_array_equal(np.isnan(Z), np.isnan(X))  # padding stays NaN
        assert not np.shares_memory(Z, X)


@pytest.mark.parametrize("name, X", forms(), ids=[name for name, _ in forms()])
def test_pipeline_in_front_of_a_regressor_on_every_form(name, X):
    """The scaled output is a form the estimator accepts, and the pipeline predicts what the
    regressor predicts on the scaled sequences."""
    if name in ("2-D sequences", "wide DataFrame"):  # estimators take no NaN in 2-D tables
        X = X.iloc[:, :2] if isinstance(X, pd.DataFrame) else X[:, :2]  # equal lengths
    y = np.arange(6.0)
    reg = RNNRegressor(hidden_layer_sizes=(2,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(SequenceScaler(), reg).fit(X, y)
        alone = RNNRegressor(hidden_layer_sizes=(2,), max_iter=2, random_state=0).fit(
            to_nan_padded(SequenceScaler().fit_transform(X)), y)
    np.testing.assert_allclose(pipe.predict(X), alone.predict(to_nan_padded(
        SequenceScaler().fit(X).transform(X))), rtol=1e-10)


def test_matches_standard_scaler_on_the_concatenated_steps():
    X = ragged(1, n=9)
    steps, _ = to_concatenated(X)
    reference = StandardScaler().fit(steps)
    scaler = SequenceScaler().fit(to_nan_padded(X))
    np.testing.assert_array_equal(scaler.mean_, reference.mean_)
    np.testing.assert_array_equal(scaler.scale_, reference.scale_)
    np.testing.assert_array_equal(scaler.var_, reference.var_)
    assert scaler.n_samples_seen_ == len(steps) and scaler.n_features_in_ == 2
    np.testing.assert_array_equal(np.concatenate(scaler.transform(X)),
                                  reference.transform(steps))


def test_two_d_sequences_share_one_mean_and_steps_are_columns():
    X = np.array([[1.0, 2.0, 3.0], [5.0, np.nan, np.nan]])
    scaler = SequenceScaler().fit(X)
    assert scaler.mean_.shape == (1,) and scaler.n_features_in_ == 3
    np.testing.assert_allclose(scaler.mean_, [11 / 4])
    np.testing.assert_allclose(scaler.scale_, [np.std([1, 2, 3, 5])])
    Y = np.array([[1.0, 2.0, 3.0], [5.0, 7.0, 11.0]])
    by_column = SequenceScaler(two_d="steps").fit(Y)
    reference = StandardScaler().fit(Y)
    np.testing.assert_array_equal(by_column.mean_, reference.mean_)
    np.testing.assert_array_equal(by_column.transform(Y), reference.transform(Y))
    with pytest.raises(ValueError, match="NaN"):
        SequenceScaler(two_d="steps").fit(X)  # steps have no padding


def test_constant_feature_gets_scale_one_and_options_match_standard_scaler():
    X = [np.column_stack([np.arange(4.0), np.full(4, 7.0)]), np.array([[9.0, 7.0]])]
    steps, _ = to_concatenated(X)
    scaler = SequenceScaler().fit(X)
    assert scaler.scale_[1] == 1.0
    np.testing.assert_array_equal(np.concatenate(scaler.transform(X))[:, 1], 0.0)
    for params in ({"with_mean": False}, {"with_std": False},
                   {"with_mean": False, "with_std": False}):
        reference = StandardScaler(**params).fit(steps)
        ours = SequenceScaler(**params).fit(X)
        np.testing.assert_array_equal(np.concatenate(ours.transform(X)),
                                      reference.transform(steps))
        assert_same_form(ours.inverse_transform(ours.transform(X)), X)


def test_float32_is_kept():
    X = [x.astype(np.float32) for x in ragged()]
    assert all(z.dtype == np.float32 for z in SequenceScaler().fit_transform(X))


def test_clear_errors():
    X = ragged()
    bad = [x.copy() for x in X]
    bad[2][1, 0] = np.nan
    with pytest.raises(ValueError, match="Sequence 2 contains NaN at step 1"):
        SequenceScaler().fit(bad)
    scaler = SequenceScaler().fit(X)
    with pytest.raises(ValueError, match="Sequence 2 contains NaN at step 1"):
        scaler.transform(bad)
    bad[2][1, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        scaler.transform(bad)
    with pytest.raises(ValueError, match="3 features per step.*expecting 2"):
        scaler.transform([np.ones((3, 3))])
    long = to_long_format(X, feature_names=["a", "b"])
    named = SequenceScaler().fit(long)
    with pytest.raises(ValueError, match="feature names should match"):
        named.transform(long.rename(columns={"a": "c"}))
    with pytest.raises(ValueError, match="two_d"):
        SequenceScaler(two_d="rows").fit(X)
    with pytest.raises(TypeError):
        SequenceScaler().fit("not sequences")


def test_pipeline_with_classifier_on_ragged_data_and_cross_val_score():
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(rng.integers(4, 10), 2)) * [1.0, 500.0] + [0.0, 2000.0]
         for _ in range(60)]
    y = np.array([int(x[:, 0].mean() > 0) for x in X])
    original = copy.deepcopy(X)
    pipe = make_pipeline(SequenceScaler(), RNNClassifier(hidden_layer_sizes=(4,), max_iter=15,
                                                         random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X, y)
        scores = cross_val_score(pipe, X, y, cv=3)
    assert pipe.predict(X[:5]).shape == (5,)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    for a, b in zip(X, original):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("two_d", ["sequences", "steps"])
def test_passes_scikit_learn_estimator_checks(two_d):
    check_estimator(SequenceScaler(two_d=two_d))
