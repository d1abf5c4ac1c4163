"""One learning test per estimator on real or realistic data, with a meaningful threshold."""

import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skrnn import RNNClassifier, RNNRegressor, RNNSequenceTagger


def test_classifier_reads_digits_row_by_row():
    """scikit-learn's digits as 8 steps (rows) of 8 features (pixels); a linear model on the
    flattened 64 pixels scores about 0.96, chance is 0.1."""
    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.images / 16.0, digits.target, test_size=0.3, stratify=digits.target,
        random_state=0)
    clf = RNNClassifier("gru", (32,), max_iter=25, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.93


def monthly_series(n_series, n_months, rng):
    """Airline-like monthly series: trend, multiplicative yearly season, AR(1) noise."""
    t = np.arange(n_months)
    level = rng.uniform(1, 3, size=(n_series, 1)) * (1 + rng.uniform(0, 0.02, (n_series, 1)) * t)
    season = 1 + rng.uniform(0.1, 0.4, (n_series, 1)) * np.sin(
        2 * np.pi * t / 12 + rng.uniform(0, 2 * np.pi, (n_series, 1)))
    noise = np.zeros((n_series, n_months))
    for k in range(1, n_months):
        noise[:, k] = 0.6 * noise[:, k - 1] + rng.normal(scale=0.03, size=n_series)
    return level * season * (1 + noise)


def test_regressor_forecasts_three_months_better_than_seasonal_naive():
    rng = np.random.default_rng(0)
    series = monthly_series(300, 39, rng)
    scale = series[:, :36].mean(axis=1, keepdims=True)
    X, Y = series[:, :36] / scale, series[:, 36:] / scale  # 3 years -> the next 3 months
    X_train, X_test, Y_train, Y_test = X[:200], X[200:], Y[:200], Y[200:]
    reg = RNNRegressor("gru", (32,), max_iter=40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X_train, Y_train)
    mae = np.abs(reg.predict(X_test) - Y_test).mean()
    seasonal_naive = np.abs(X_test[:, 24:27] - Y_test).mean()  # same months, one year before
    assert reg.predict(X_test).shape == (100, 3)
    assert mae < 0.8 * seasonal_naive


def regime_sequences(n, rng):
    """A two-state hidden Markov regime (calm / volatile) observed through noisy returns."""
    X, y = [], []
    for _ in range(n):
        T = rng.integers(30, 60)
        state = np.zeros(T, dtype=int)
        for t in range(1, T):
            state[t] = state[t - 1] if rng.random() < 0.95 else 1 - state[t - 1]
        returns = rng.normal(scale=np.where(state == 1, 3.0, 1.0))
        X.append(returns[:, None])
        y.append(state)
    return X, y


def test_tagger_recovers_hidden_regimes_better_than_a_per_step_threshold():
    rng = np.random.default_rng(1)
    X, y = regime_sequences(300, rng)
    tagger = RNNSequenceTagger("gru", (16,), bidirectional=True, max_iter=40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tagger.fit(X[:200], y[:200])
    accuracy = tagger.score(X[200:], y[200:])
    truth = np.concatenate(y[200:])
    threshold = np.mean((np.abs(np.concatenate(X[200:])[:, 0]) > 2.0) == truth)
    assert accuracy > 0.85
    assert accuracy > threshold + 0.05
