"""The stopping rule of the mini-batch solvers: what it watches, when it stops, what it keeps.

Scripted epochs (a loss curve given in advance) test the rule itself; real fits test that it
is the one the estimators use.
"""

import warnings

import numpy as np
import pytest

import skrnn._training as training
from skrnn import RNNClassifier, RNNRegressor


def quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def data(n=24, T=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, 2))
    return X, (X[:, :, 0].sum(axis=1) > 0).astype(int)


def scripted(monkeypatch, losses):
    """Epochs whose training loss is ``losses[epoch]``; each marks the weights with its
    number (theta_[0] = epoch), so the weights kept tell which epoch they come from."""
    epochs = iter(range(len(losses)))

    def run_epoch(est, train, rng, best):
        k = next(epochs)
        est.theta_[0] = k
        est.t_ += len(train.lengths)
        return losses[k], 1.0, best

    monkeypatch.setattr(training, "run_minibatch_epoch", run_epoch)


def test_a_converged_fit_stops_after_n_iter_no_change_epochs(monkeypatch):
    losses = [1.0, 0.5, 0.3, 0.2] + [0.2 + 1e-5 * (-1) ** k for k in range(300)]
    scripted(monkeypatch, losses)
    clf = quiet(lambda: RNNClassifier(hidden_layer_sizes=(3,), random_state=0,
                                      max_iter=300).fit(*data()))
    # the 4th epoch is the last to improve by tol; 50 epochs without that are allowed, the
    # 51st stops (the 1e-5 wiggles below the best do not count)
    assert clf.n_iter_ == 4 + 51
    assert clf.best_loss_ == pytest.approx(0.2 - 1e-5)


def test_a_fit_still_improving_through_plateaus_is_not_stopped(monkeypatch):
    """A new best every 30 epochs, flat and noisy in between: the plateaus of a small data
    set's mini-batch loss. n_iter_no_change=10 (MLP's) stops it on the first plateau."""
    rng = np.random.default_rng(0)
    losses = [1.0 - 0.02 * (k // 30) + 0.005 * rng.random() for k in range(200)]
    scripted(monkeypatch, losses)
    with pytest.warns(Warning, match="maximum iterations"):
        clf = RNNClassifier(hidden_layer_sizes=(3,), random_state=0).fit(*data())
    assert clf.n_iter_ == clf.max_iter == 200
    scripted(monkeypatch, losses)
    mlp_like = RNNClassifier(hidden_layer_sizes=(3,), random_state=0, n_iter_no_change=10)
    assert quiet(lambda: mlp_like.fit(*data())).n_iter_ < 40


def test_early_stopping_watches_the_validation_loss_not_the_score(monkeypatch):
    """The held-out accuracy keeps rising while the held-out loss rises from epoch 3: the
    fit stops 50 epochs after epoch 3 and keeps epoch 3's weights."""
    scripted(monkeypatch, [1.0 / (k + 1) for k in range(300)])
    k = iter(range(300))

    def evaluate(validation):
        epoch = next(k)
        return 0.5 + epoch / 1000, abs(epoch - 3) * 0.01 + 0.4

    clf = RNNClassifier(hidden_layer_sizes=(3,), random_state=0, early_stopping=True,
                        max_iter=300)
    monkeypatch.setattr(clf, "_evaluate_validation", evaluate, raising=False)
    quiet(lambda: clf.fit(*data(n=40)))
    assert clf.n_iter_ == 4 + 51
    assert clf.best_validation_loss_ == pytest.approx(0.4)
    assert clf.best_validation_score_ == pytest.approx(0.5 + 54 / 1000)
    assert clf.theta_[0] == 3  # the weights of epoch 3 (counted from 0)


def test_a_real_converged_fit_stops_before_max_iter():
    X, y = data(n=40)
    clf = quiet(lambda: RNNClassifier(hidden_layer_sizes=(8,), random_state=0,
                                      max_iter=1000).fit(X, y))
    assert clf.n_iter_ < 1000 and clf.score(X, y) == 1.0
    curve = clf.loss_curve_  # why it stopped: none of the last 51 epochs improved by tol
    assert all(curve[k] >= min(curve[:k]) - clf.tol for k in range(len(curve) - 51, len(curve)))


def test_validation_loss_is_the_weighted_loss_of_the_held_out_sequences():
    from skrnn._training import TrainingData

    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 4, 2))
    reg = quiet(lambda: RNNRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0,
                                     scale_target=False).fit(X, X[:, -1, 0]))
    y = rng.normal(size=8)
    w = np.r_[np.ones(4), 3 * np.ones(4)]
    _, loss = reg._evaluate_validation(TrainingData(X, np.full(8, 4), y[:, None], w))
    residual = reg.predict(X) - y
    assert loss == pytest.approx(np.sum(w * residual ** 2 / 2) / w.sum())  # squared loss / 2


def test_warm_start_can_turn_early_stopping_on():
    X, y = data(n=40)
    clf = quiet(lambda: RNNClassifier(hidden_layer_sizes=(3,), max_iter=3,
                                      random_state=0).fit(X, y))
    assert clf.validation_loss_curve_ is None
    clf.set_params(warm_start=True, early_stopping=True)
    quiet(lambda: clf.fit(X, y))
    assert clf.n_iter_ == 6 and len(clf.validation_loss_curve_) == 3
    assert len(clf.validation_scores_) == 3


def test_a_file_saved_before_the_validation_loss_loads_and_trains_on(tmp_path):
    """Files of the previous release have validation scores but no validation loss."""
    from test_persistence import rewrite

    from skrnn.persistence import load, save

    X, y = data(n=40)
    clf = quiet(lambda: RNNClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0,
                                      early_stopping=True).fit(X, y))
    path = tmp_path / "model.skrnn"
    save(clf, path)

    def edit_document(document):
        del document["fitted"]["validation_loss_curve_"]
        del document["fitted"]["best_validation_loss_"]

    rewrite(path, edit_document, lambda entries: entries.pop(
        "arrays/validation_loss_curve_.npy"))
    restored = load(path)
    assert not hasattr(restored, "validation_loss_curve_")
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    quiet(lambda: restored.set_params(warm_start=True, max_iter=2).fit(X, y))
    assert restored.n_iter_ == 4 and len(restored.validation_loss_curve_) == 2
