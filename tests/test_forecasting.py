"""make_windows and RNNForecaster: window layout, errors, strategies, exogenous alignment,
pandas indexes, many series."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning

from skrnn import RNNForecaster, RNNRegressor, make_windows

# -- make_windows ---------------------------------------------------------------------------


def test_windows_of_a_tiny_series_by_hand():
    X, y = make_windows(np.arange(7.0), window=3, horizon=2)
    np.testing.assert_array_equal(X[:, :, 0], [[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    np.testing.assert_array_equal(y, [[3, 4], [4, 5], [5, 6]])
    assert X.shape == (3, 3, 1)
    # stride counts back from the most recent window
    X, y = make_windows(np.arange(7.0), window=3, horizon=1, stride=2)
    np.testing.assert_array_equal(X[:, :, 0], [[1, 2, 3], [3, 4, 5]])
    np.testing.assert_array_equal(y, [[4], [6]])


def test_several_targets_are_step_major_and_exog_comes_last():
    series = np.column_stack([np.arange(5.0), 10 + np.arange(5.0)])
    exog = 100 + np.arange(5.0)
    X, y = make_windows(series, window=2, horizon=2, exog=exog)
    assert X.shape == (2, 2, 3) and y.shape == (2, 4)
    np.testing.assert_array_equal(X[0], [[0, 10, 100], [1, 11, 101]])
    np.testing.assert_array_equal(y[0], [2, 12, 3, 13])  # step 1 (both targets), step 2
    frame = pd.DataFrame({"a": series[:, 0], "x": exog, "b": series[:, 1]},
                         index=pd.date_range("2024-01-01", periods=5, freq="D"))
    X_named, y_named = make_windows(frame, window=2, horizon=2, exog="x")
    np.testing.assert_array_equal(X_named, X)
    np.testing.assert_array_equal(y_named, y)
    X_frame, _ = make_windows(frame[["a", "b"]], window=2, horizon=2, exog=frame[["x"]])
    np.testing.assert_array_equal(X_frame, X)


def test_many_series_never_mix():
    series = [np.arange(5.0), 100 + np.arange(4.0), pd.Series(1000 + np.arange(6.0))]
    exog = [-s for s in series]
    X, y = make_windows(series, window=2, horizon=1, exog=exog)
    assert len(X) == 3 + 2 + 4
    blocks = np.floor(np.concatenate([X[:, :, 0], y], axis=1) / 100)
    assert (blocks == blocks[:, :1]).all()  # every window within one series
    np.testing.assert_array_equal(X[:, :, 1], -X[:, :, 0])
    np.testing.assert_array_equal(X[3, :, 0], [100, 101])


def test_caller_series_untouched_and_windows_are_new_arrays():
    series = np.arange(10.0)
    X, y = make_windows(series, window=3)
    X[:] = -1
    np.testing.assert_array_equal(series, np.arange(10.0))
    assert not np.shares_memory(X, series) and not np.shares_memory(y, series)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(series=np.arange(5.0), window=0), ValueError, "window must be >= 1"),
    (dict(series=np.arange(5.0), window=2, horizon=0), ValueError, "horizon must be >= 1"),
    (dict(series=np.arange(5.0), window=2, stride=0), ValueError, "stride must be >= 1"),
    (dict(series=np.arange(5.0), window=2.5), TypeError, "window must be an int"),
    (dict(series=np.arange(5.0), window=4, horizon=2), ValueError, "5 steps, fewer than"),
    (dict(series=[np.arange(9.0), np.arange(3.0)], window=3), ValueError, r"series\[1\] has 3"),
    (dict(series=np.array([1.0, np.nan, 3.0, 4.0]), window=2), ValueError, "NaN at step 1"),
    (dict(series=np.array([1.0, np.inf, 3.0]), window=1), ValueError, "infinity at step 1"),
    (dict(series=np.arange(5.0), window=2, exog=np.arange(4.0)), ValueError, "4 steps but"),
    (dict(series=np.arange(5.0), window=2, exog=[np.nan] * 5), ValueError, "exog contains NaN"),
    (dict(series=np.arange(5.0), window=2, exog="x"), TypeError, "not a DataFrame"),
    (dict(series=pd.DataFrame({"a": range(5)}), window=2, exog="z"), ValueError, "columns"),
    (dict(series=pd.DataFrame({"a": range(5)}), window=2, exog="a"), ValueError, "no target"),
    (dict(series=[np.ones((5, 2)), np.ones(5)], window=2), ValueError, "same variables"),
    (dict(series=[], window=2), ValueError, "no series"),
    (dict(series=None, window=2), TypeError, "series must be"),
    (dict(series=np.ones((5, 2, 2)), window=2), ValueError, "1-D"),
    (dict(series=[np.arange(5.0)], window=2, exog=[np.arange(5.0)] * 2), ValueError,
     "2 series"),
])
def test_make_windows_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_windows(**kwargs)


# -- RNNForecaster: plumbing with exact stand-in regressors ---------------------------------


class LastValue(RegressorMixin, BaseEstimator):
    """Predicts the last value of target 0 in the window, for every output; checks that it
    receives 3-D windows."""

    def fit(self, X, y):
        assert X.ndim == 3
        self.n_outputs_ = 1 if np.ndim(y) == 1 else y.shape[1]
        return self

    def predict(self, X):
        out = np.repeat(X[:, -1, :1], self.n_outputs_, axis=1)
        return out.ravel() if self.n_outputs_ == 1 else out


class ExogEcho(LastValue):
    """Predicts the exogenous feature at the last n_outputs steps of the window; fit checks
    that the training targets are exactly those values when target and exog coincide."""

    def fit(self, X, y):
        super().fit(X, y)
        np.testing.assert_allclose(np.reshape(y, (len(X), -1)),
                                   X[:, -self.n_outputs_:, 1], rtol=1e-12)
        return self

    def predict(self, X):
        return X[:, -self.n_outputs_:, 1].reshape(len(X), -1).squeeze(axis=1) \
            if self.n_outputs_ == 1 else X[:, -self.n_outputs_:, 1]


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_scaling_is_undone_exactly(strategy):
    y = 500 + 100 * np.sin(np.arange(40.0))
    forecaster = RNNForecaster(LastValue(), window=5, horizon=3, strategy=strategy).fit(y)
    np.testing.assert_allclose(forecaster.predict(), np.full(3, y[-1]))
    np.testing.assert_allclose(forecaster.scales_[0], [np.abs(y).mean()])
    assert not hasattr(LastValue(), "n_outputs_")  # the estimator was cloned
    unscaled = RNNForecaster(LastValue(), window=5, horizon=3, strategy=strategy,
                             scale=False).fit(y)
    np.testing.assert_array_equal(unscaled.scales_[0], [1.0])


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_exogenous_values_lead_the_targets_by_the_predicted_steps(strategy):
    """Target == exog: the regressor sees, at the end of each window, the exogenous values of
    exactly the steps it must predict (checked in fit), and predict uses the future X."""
    x = np.arange(1.0, 31.0)
    forecaster = RNNForecaster(ExogEcho(), window=4, horizon=3, strategy=strategy,
                               scale=False).fit(x, X=x)
    future = np.array([31.0, 32.0, 33.0, 34.0, 35.0])
    steps = 3 if strategy == "direct" else 5
    np.testing.assert_allclose(forecaster.predict(steps, X=future), future[:steps])
    scaled = RNNForecaster(ExogEcho(), window=4, horizon=3, strategy=strategy).fit(x, X=x)
    np.testing.assert_allclose(scaled.predict(steps, X=future), future[:steps])


def test_recursive_with_exog_requires_future_exog():
    rng = np.random.default_rng(0)
    y, x = rng.normal(size=30), rng.normal(size=(30, 2))
    forecaster = RNNForecaster(LastValue(), window=4, strategy="recursive").fit(y, X=x)
    with pytest.raises(ValueError, match="needs X with their values for the next 6 steps"):
        forecaster.predict(6)
    with pytest.raises(ValueError, match="values for 4 future steps.*needs 6"):
        forecaster.predict(6, X=x[:4])
    with pytest.raises(ValueError, match="1 exogenous variables, expected 2"):
        forecaster.predict(6, X=x[:6, 0])
    assert forecaster.predict(6, X=x[:6]).shape == (6,)
    direct = RNNForecaster(LastValue(), window=4, horizon=3).fit(y, X=x)
    with pytest.raises(ValueError, match="needs 3"):
        direct.predict(1, X=x[:1])  # the direct model reads all horizon future values
    plain = RNNForecaster(LastValue(), window=4).fit(y)
    with pytest.raises(ValueError, match="fitted without exogenous"):
        plain.predict(1, X=x[:1])


def test_direct_refuses_more_steps_than_its_horizon():
    forecaster = RNNForecaster(LastValue(), window=4, horizon=3).fit(np.arange(1.0, 20.0))
    assert forecaster.predict(2).shape == (2,)
    with pytest.raises(ValueError, match="at most horizon=3 steps, got steps=4"):
        forecaster.predict(4)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        forecaster.predict(0)


def test_predict_from_a_given_history():
    rng = np.random.default_rng(1)
    y, x = 50 + rng.normal(size=40), 3 + rng.normal(size=40)
    forecaster = RNNForecaster(ExogEcho(), window=5, horizon=2).fit(x, X=x)
    future = rng.normal(size=2)
    np.testing.assert_allclose(
        forecaster.predict(X=future),
        forecaster.predict(y=x, X=np.concatenate([x, future])))
    fresh = RNNForecaster(LastValue(), window=5, horizon=2).fit(y)
    np.testing.assert_allclose(fresh.predict(y=[7.0] * 5 + [9.0]), [9.0, 9.0])
    with pytest.raises(ValueError, match="fewer than window=5"):
        fresh.predict(y=np.ones(3))


def test_many_series_in_one_forecast_per_series_out():
    index = pd.date_range("2021-01-01", periods=30, freq="D")
    series = [pd.Series(np.arange(30.0) + 10, index=index, name="a"),
              pd.Series(1000 + np.arange(25.0), index=index[:25], name="b")]
    forecaster = RNNForecaster(LastValue(), window=6, horizon=2).fit(series)
    forecasts = forecaster.predict()
    assert isinstance(forecasts, list) and len(forecasts) == 2
    assert forecasts[0].index[0] == pd.Timestamp("2021-01-31")
    assert forecasts[1].index[0] == pd.Timestamp("2021-01-26")
    np.testing.assert_allclose(forecasts[1].to_numpy(), [1024.0, 1024.0])
    assert forecaster.n_series_ == 2
    assert forecaster.scales_[0][0] != forecaster.scales_[1][0]  # one scale per series


def test_pandas_in_pandas_out_with_the_future_index():
    monthly = pd.date_range("1949-01-01", periods=36, freq="MS")
    y = pd.Series(np.arange(36.0) + 100, index=monthly, name="passengers")
    forecast = RNNForecaster(LastValue(), window=12, horizon=3).fit(y).predict()
    assert forecast.name == "passengers"
    pd.testing.assert_index_equal(
        forecast.index, pd.date_range("1952-01-01", periods=3, freq="MS"))
    days = pd.DatetimeIndex([f"2024-02-{d:02d}" for d in range(1, 21)])  # freq inferred: "D"
    assert days.freq is None
    frame = pd.DataFrame({"u": np.arange(20.0), "v": np.arange(20.0) + 5}, index=days)
    forecast = RNNForecaster(LastValue(), window=3, strategy="recursive").fit(frame).predict(4)
    assert list(forecast.columns) == ["u", "v"] and forecast.shape == (4, 2)
    pd.testing.assert_index_equal(
        forecast.index, pd.date_range("2024-02-21", periods=4, freq="D"))
    numpy_out = RNNForecaster(LastValue(), window=3).fit(frame.to_numpy()).predict()
    assert isinstance(numpy_out, np.ndarray) and numpy_out.shape == (1, 2)
    irregular = pd.Series(np.arange(10.0), index=pd.DatetimeIndex(
        ["2024-01-01", "2024-01-02", "2024-01-05"] + [f"2024-02-{d:02d}" for d in range(1, 8)]))
    with pytest.raises(ValueError, match="without a frequency"):
        RNNForecaster(LastValue(), window=3).fit(irregular)


# -- RNNForecaster: learning -----------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_both_strategies_beat_the_last_value_on_a_seasonal_series(strategy):
    rng = np.random.default_rng(0)
    t = np.arange(120)
    y = 200 + 2 * t + 50 * np.sin(2 * np.pi * t / 12) + rng.normal(scale=3, size=120)
    train, test = y[:108], y[108:114]
    reg = RNNRegressor(hidden_layer_sizes=(16,), batch_size=16, max_iter=200, random_state=0)
    forecaster = RNNForecaster(reg, window=12, horizon=6, strategy=strategy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        forecaster.fit(train)
    mae = np.abs(forecaster.predict(6) - test).mean()
    naive = np.abs(train[-1] - test).mean()
    assert mae < 0.6 * naive  # measured 0.05-0.39 over seeds


def test_default_estimator_is_an_rnn_regressor():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        forecaster = RNNForecaster(window=3, horizon=2).fit(np.arange(20.0))
    assert isinstance(forecaster.estimator_, RNNRegressor)
    assert forecaster.predict().shape == (2,) and forecaster.estimator is None
