"""Robustness: interrupted fits, divergence, concurrent prediction, long sequences under a memory
bound, and reproducibility across runs and n_jobs."""

import copy
import tracemalloc
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, cross_validate

import skrnn._training as training
from skrnn.nn import clear_workspace
from skrnn import RNNClassifier, RNNRegressor, RNNSequenceTagger

ESTIMATORS = [RNNClassifier, RNNRegressor, RNNSequenceTagger]


def data(Est, n=24, seed=0):
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=(rng.integers(3, 9), 2)) for _ in range(n)]
    if Est is RNNSequenceTagger:
        return X, [(np.cumsum(x[:, 0]) > 0).astype(int) for x in X]
    y = np.array([int(x[0, 0] > 0) for x in X])
    return X, (y.astype(float) if Est is RNNRegressor else y)


def quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn()


def flat(predictions):
    """Per-sequence outputs (a list for the tagger) as one array."""
    return np.concatenate(predictions) if isinstance(predictions, list) else predictions


# -- KeyboardInterrupt --------------------------------------------------------------------------
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_interrupt_mid_epoch_keeps_the_best_weights(Est, early_stopping, monkeypatch):
    X, y = data(Est, n=32)
    est = Est(hidden_layer_sizes=(6,), batch_size=8, max_iter=30, learning_rate_init=0.05,
              early_stopping=early_stopping, validation_fraction=0.25, random_state=0)
    train_step, record_epoch = training._train_step, training._record_epoch
    snapshots, steps = [], []

    def record(*args):  # the weights at the end of every completed epoch
        best = record_epoch(*args)
        snapshots.append(est.theta_.copy())
        return best

    def step(*args):  # the second mini-batch of epoch 5, after a half-done update
        steps.append(None)
        if len(snapshots) == 4 and len(steps) > 4 * 3 + 1:
            est.theta_[::2] = np.nan
            raise KeyboardInterrupt
        return train_step(*args)

    monkeypatch.setattr(training, "_record_epoch", record)
    monkeypatch.setattr(training, "_train_step", step)
    with pytest.warns(UserWarning, match=r"interrupted \(KeyboardInterrupt\) during epoch 5"):
        est.fit(X, y)
    assert est.n_iter_ == 4 and len(snapshots) == 4
    watched = est.validation_loss_curve_ if early_stopping else est.loss_curve_
    scores = [-v for v in watched]
    best = snapshots[int(np.argmax(scores))]
    np.testing.assert_array_equal(est.theta_, best)
    monkeypatch.undo()
    reference = copy.deepcopy(est)
    reference.theta_ = best.copy()
    for method in ("predict", "transform") + (("predict_proba",) if Est is not RNNRegressor
                                               else ()):
        got = flat(getattr(est, method)(X))
        np.testing.assert_array_equal(got, flat(getattr(reference, method)(X)))
        if got.dtype.kind == "f":
            assert np.isfinite(got).all()
    quiet(lambda: est.fit(X, y))  # and it can be fitted again
    assert est.n_iter_ > 0


def test_interrupt_of_lbfgs_keeps_the_best_weights_so_far():
    X, y = data(RNNClassifier)
    est = RNNClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=50, random_state=0)
    objective, calls = est._objective, []

    def interrupted(*args, **kwargs):
        calls.append(None)
        if len(calls) == 10:
            raise KeyboardInterrupt
        return objective(*args, **kwargs)

    est._objective = interrupted
    try:
        with pytest.warns(UserWarning, match="interrupted"):
            est.fit(X, y)
    except KeyboardInterrupt:  # a BaseException: turned into an ordinary failure here
        pytest.fail("KeyboardInterrupt propagated out of fit")
    assert est.n_iter_ > 0


# -- divergence --------------------------------------------------------------------------------
def diverged(Est):
    X, y = data(Est)
    est = Est(cell="rnn", activation="relu", hidden_layer_sizes=(8,), solver="sgd",
              learning_rate_init=1e6, max_grad_norm=None, max_iter=20, random_state=0)
    with pytest.warns(RuntimeWarning, match="became non-finite.*Lower learning_rate_init"):
        est.fit(X, y)
    return est, X


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_divergence_ends_with_a_clear_message_and_finite_weights(Est):
    est, X = diverged(Est)
    assert 0 < est.n_iter_ < 20
    assert np.isfinite(est.theta_).all() and np.isfinite(est.loss_curve_).all()
    n_outputs = sum(len(x) for x in X) if Est is RNNSequenceTagger else len(X)
    assert len(flat(est.predict(X))) == n_outputs


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_a_diverged_model_gives_finite_outputs(Est):
    est, X = diverged(Est)
    assert np.isfinite(flat(est.transform(X))).all()
    if Est is not RNNRegressor:
        assert np.isfinite(flat(est.predict_proba(X))).all()
    else:
        assert np.isfinite(est.predict(X)).all()


# -- concurrent prediction ---------------------------------------------------------------------
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_predict_from_several_threads_equals_serial_predict(Est):
    X, y = data(Est, n=40)
    est = quiet(lambda: Est(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y))
    methods = ["predict", "transform"] + (["predict_proba"] if Est is not RNNRegressor else [])
    subsets = [X, X[::2], X[5:], X[::-1]]
    jobs = [(m, s) for m in methods for s in subsets] * 4
    serial = [flat(getattr(est, m)(s)) for m, s in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda job: flat(getattr(est, job[0])(job[1])), jobs))
    for a, b in zip(concurrent, serial):
        np.testing.assert_array_equal(a, b)


# -- long sequences ----------------------------------------------------------------------------
def fit_peak_bytes(Est, X, y, tbptt_steps):
    est = Est(hidden_layer_sizes=(16,), max_iter=1, tbptt_steps=tbptt_steps, random_state=0)
    short = [x[:100] for x in X]  # compiles the kernels first (compilation allocates too)
    quiet(lambda: clone(est).fit(short, y if Est is RNNRegressor else [t[:100] for t in y]))
    clear_workspace()  # buffers kept from an earlier fit would be reused, not allocated
    tracemalloc.start()
    try:
        quiet(lambda: est.fit(X, y))
        return tracemalloc.get_traced_memory()[1], est
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("Est", [RNNRegressor, RNNSequenceTagger])
def test_long_sequence_trains_with_truncated_bptt_under_a_memory_bound(Est):
    T, B, H = 5000, 2, 16
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(T, 2)) for _ in range(B)]
    y = np.array([0.0, 1.0]) if Est is RNNRegressor else [(x[:, 0] > 0).astype(int) for x in X]
    peak_tbptt, est = fit_peak_bytes(Est, X, y, tbptt_steps=50)
    peak_full, _ = fit_peak_bytes(Est, X, y, tbptt_steps=None)
    assert est.n_iter_ == 1 and np.isfinite(est.loss_curve_).all()
    # full BPTT keeps at least the GRU's 3 gates and its state at every step
    gru_cache = T * B * H * (3 + 1) * 8
    assert peak_full > gru_cache
    assert peak_tbptt < gru_cache / 2, (peak_tbptt, gru_cache)
    assert peak_tbptt < peak_full / 3, (peak_tbptt, peak_full)
    assert peak_tbptt < 4e6  # generous: 2 x 5000 steps of 2 features are 0.16 MB


# -- reproducibility ---------------------------------------------------------------------------
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_fixed_random_state_gives_identical_runs(Est):
    X, y = data(Est)
    est = Est(hidden_layer_sizes=(6, 4), dropout=0.3, early_stopping=True,
              validation_fraction=0.25, max_iter=6, random_state=7)
    first = quiet(lambda: clone(est).fit(X, y))
    second = quiet(lambda: clone(est).fit(X, y))
    assert first.theta_.tobytes() == second.theta_.tobytes()
    assert first.loss_curve_ == second.loss_curve_
    np.testing.assert_array_equal(flat(first.predict(X)), flat(second.predict(X)))


def test_results_are_identical_across_n_jobs():
    X, y = data(RNNClassifier, n=30)
    est = RNNClassifier(hidden_layer_sizes=(4,), dropout=0.0, max_iter=4, random_state=3)

    def run(n_jobs):
        return quiet(lambda: cross_validate(est, X, y, cv=KFold(3), n_jobs=n_jobs,
                                            return_estimator=True))

    serial, parallel = run(1), run(2)
    np.testing.assert_array_equal(serial["test_score"], parallel["test_score"])
    for a, b in zip(serial["estimator"], parallel["estimator"]):
        assert a.theta_.tobytes() == b.theta_.tobytes()
        assert a.predict_proba(X).tobytes() == b.predict_proba(X).tobytes()
