"""Behaviour of RNNClassifier, RNNRegressor and RNNSequenceTagger as scikit-learn estimators."""

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skrnn import RNNClassifier, RNNRegressor, RNNSequenceTagger

FAST = dict(hidden_layer_sizes=(8,), max_iter=15, random_state=0)


def ragged_data(n=40, n_features=2, seed=0):
    """Sequences of 3..9 steps; the label is the sign of the first value."""
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=(rng.integers(3, 10), n_features)) for _ in range(n)]
    y = np.array([int(x[0, 0] > 0) for x in X])
    return X, y


def step_labels(X):
    return [(np.cumsum(x[:, 0]) > 0).astype(int) for x in X]


def nan_padded(X):
    T = max(len(x) for x in X)
    out = np.full((len(X), T, X[0].shape[1]), np.nan)
    for i, x in enumerate(X):
        out[i, :len(x)] = x
    return out


def long_format(X):
    frames = [pd.DataFrame(x, columns=[f"f{j}" for j in range(x.shape[1])],
                           index=pd.MultiIndex.from_product([[f"s{i}"], range(len(x))],
                                                            names=["id", "t"]))
              for i, x in enumerate(X)]
    return pd.concat(frames)


def suppress(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn()


# -- input forms ---------------------------------------------------------------------------
@pytest.mark.parametrize("Est", [RNNClassifier, RNNRegressor])
def test_every_input_form_gives_the_same_predictions(Est):
    X, y = ragged_data()
    model = suppress(lambda: Est(**FAST).fit(X, y))
    expected = model.predict(X)
    forms = {"padded": nan_padded(X), "long": long_format(X),
             "object array": np.array(X + [np.zeros((1, 2))], dtype=object)[:-1]}
    for name, form in forms.items():
        np.testing.assert_allclose(model.predict(form), expected, rtol=1e-12, err_msg=name)
    for name, form in forms.items():  # fitting on another form gives the same model
        other = suppress(lambda: Est(**FAST).fit(form, y))
        np.testing.assert_allclose(other.predict(X), expected, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("Est", [RNNClassifier, RNNRegressor])
def test_fixed_length_univariate_forms_agree(Est):
    rng = np.random.default_rng(1)
    X2 = rng.normal(size=(30, 6))
    y = (X2[:, 0] > 0).astype(int)
    model = suppress(lambda: Est(**FAST).fit(X2, y))
    expected = model.predict(X2)
    assert model.n_features_in_ == 6
    np.testing.assert_allclose(model.predict(X2[:, :, None]), expected, rtol=1e-12)
    np.testing.assert_allclose(model.predict(list(X2)), expected, rtol=1e-12)
    frame = pd.DataFrame(X2, columns=[f"t{i}" for i in range(6)])
    fitted = suppress(lambda: Est(**FAST).fit(frame, y))
    np.testing.assert_array_equal(fitted.feature_names_in_, frame.columns)
    np.testing.assert_allclose(fitted.predict(frame), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="features"):
        model.predict(X2[:, :5])


def test_tagger_input_forms_and_outputs():
    X, _ = ragged_data()
    y = step_labels(X)
    tagger = suppress(lambda: RNNSequenceTagger(**FAST).fit(X, y))
    pred = tagger.predict(X)
    assert [p.shape for p in pred] == [(len(x),) for x in X]
    for form in (nan_padded(X), long_format(X)):
        for a, b in zip(tagger.predict(form), pred):
            np.testing.assert_array_equal(a, b)
    proba = tagger.predict_proba(X)
    assert proba[0].shape == (len(X[0]), 2)
    np.testing.assert_allclose(tagger.predict_log_proba(X)[0], np.log(proba[0]), rtol=1e-12)
    y_padded = np.zeros((len(X), max(len(x) for x in X)), dtype=int)
    for i, labels in enumerate(y):
        y_padded[i, :len(labels)] = labels
    refit = suppress(lambda: RNNSequenceTagger(**FAST).fit(nan_padded(X), y_padded))
    for a, b in zip(refit.predict(X), pred):
        np.testing.assert_array_equal(a, b)
    accuracy = np.mean(np.concatenate(pred) == np.concatenate(y))
    assert tagger.score(X, y) == pytest.approx(accuracy)


def test_tagger_on_rows_is_a_classifier_of_rows():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    y = np.where(X[:, 0] > 0, "up", "down")
    tagger = suppress(lambda: RNNSequenceTagger(**FAST).fit(X, y))
    assert tagger.predict(X).shape == (50,)
    assert tagger.predict_proba(X).shape == (50, 2)
    assert set(tagger.classes_) == {"down", "up"}


# -- scikit-learn tools on ragged data -----------------------------------------------------
def test_pipeline_grid_search_and_cross_validation_on_ragged_data():
    X, y = ragged_data(n=48)
    scale = FunctionTransformer(lambda seqs: [s * 2.0 for s in seqs])
    pipe = make_pipeline(scale, RNNClassifier(hidden_layer_sizes=(6,), max_iter=5,
                                              random_state=0))
    search = GridSearchCV(pipe, {"rnnclassifier__cell": ["gru", "rnn"]}, cv=3)
    suppress(lambda: search.fit(X, y))
    assert set(search.cv_results_["param_rnnclassifier__cell"]) == {"gru", "rnn"}
    assert search.predict(X[:5]).shape == (5,)
    scores = suppress(lambda: cross_val_score(pipe, X, y, cv=3))
    assert scores.shape == (3,) and np.all((0 <= scores) & (scores <= 1))


def test_cross_validation_of_regressor_and_tagger_on_ragged_data():
    X, y = ragged_data(n=30)
    reg_scores = suppress(lambda: cross_val_score(RNNRegressor(**FAST), X, y.astype(float),
                                                  cv=3))
    assert reg_scores.shape == (3,)
    tag_scores = suppress(lambda: cross_val_score(RNNSequenceTagger(**FAST), X, step_labels(X),
                                                  cv=KFold(3)))
    assert tag_scores.shape == (3,) and np.all((0 <= tag_scores) & (tag_scores <= 1))


# -- reproducibility and persistence --------------------------------------------------------
@pytest.mark.parametrize("Est", [RNNClassifier, RNNRegressor, RNNSequenceTagger])
def test_fixed_random_state_gives_identical_refits_and_pickles(Est):
    X, y = ragged_data()
    if Est is RNNSequenceTagger:
        y = step_labels(X)
    model = suppress(lambda: Est(**FAST, dropout=0.2).fit(X, y))
    again = suppress(lambda: clone(model).fit(X, y))
    restored = pickle.loads(pickle.dumps(model))
    for other in (again, restored):
        np.testing.assert_array_equal(np.concatenate(other.transform(X)),
                                      np.concatenate(model.transform(X)))
        np.testing.assert_array_equal(np.hstack(list(other.predict(X))),
                                      np.hstack(list(model.predict(X))))


def test_float32_input_trains_a_float32_model():
    X, y = ragged_data()
    X32 = [x.astype(np.float32) for x in X]
    clf = suppress(lambda: RNNClassifier(**FAST).fit(X32, y))
    assert clf.predict_proba(X32).dtype == np.float32
    assert clf.transform(X32).dtype == np.float32


# -- behaviour --------------------------------------------------------------------------------
def test_transform_and_hidden_states():
    X, y = ragged_data()
    clf = suppress(lambda: RNNClassifier(**FAST, bidirectional=True).fit(X, y))
    emb = clf.transform(X)
    assert emb.shape == (len(X), 16)
    states = clf.hidden_states(X)
    assert [s.shape for s in states] == [(len(x), 16) for x in X]
    # forward half: the state after the last step; backward half: the state at step 0
    np.testing.assert_allclose(emb[:, :8], [s[-1, :8] for s in states], rtol=1e-12)
    np.testing.assert_allclose(emb[:, 8:], [s[0, 8:] for s in states], rtol=1e-12)


def test_partial_fit_and_unknown_labels():
    X, y = ragged_data()
    labels = np.where(y == 1, "pos", "neg")
    clf = RNNClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, labels)
    clf.partial_fit(X[:20], labels[:20], classes=["neg", "pos", "other"])
    clf.partial_fit(X[20:], labels[20:])
    assert clf.n_iter_ == 2 and clf.t_ == len(X)
    assert list(clf.classes_) == ["neg", "other", "pos"]
    with pytest.raises(ValueError, match="not seen"):
        clf.partial_fit(X[:3], ["neg", "pos", "surprise"])


def test_warm_start_continues_from_the_previous_weights():
    X, y = ragged_data()
    clf = suppress(lambda: RNNClassifier(**{**FAST, "max_iter": 5}, warm_start=True).fit(X, y))
    first_curve = list(clf.loss_curve_)
    suppress(lambda: clf.fit(X, y))
    assert clf.n_iter_ == 10 and clf.loss_curve_[:5] == first_curve
    cold = suppress(lambda: RNNClassifier(**{**FAST, "max_iter": 5}).fit(X, y))
    assert cold.loss_curve_ == first_curve


def test_early_stopping_restores_the_weights_of_the_lowest_validation_loss():
    X, y = ragged_data(n=80)
    clf = RNNClassifier(hidden_layer_sizes=(8,), max_iter=60, early_stopping=True,
                        n_iter_no_change=3, validation_fraction=0.25, random_state=0,
                        learning_rate_init=0.05)
    suppress(lambda: clf.fit(X, y))
    scores, losses = clf.validation_scores_, clf.validation_loss_curve_
    assert len(scores) == len(losses) == clf.n_iter_
    assert clf.best_validation_score_ == max(scores)
    assert clf.best_validation_loss_ == min(losses)
    assert clf.n_iter_ < 60 and int(np.argmin(losses)) < clf.n_iter_ - 1  # it stopped
    # the restored weights are those of the epoch of lowest held-out loss: its score, and
    # its loss (the mean cross-entropy of the held-out sequences)
    _, val_idx = _validation_split(clf, len(X), y)
    X_val, y_val = [X[i] for i in val_idx], y[val_idx]
    assert clf.score(X_val, y_val) == pytest.approx(scores[int(np.argmin(losses))])
    P = clf.predict_proba(X_val)[np.arange(len(y_val)), np.searchsorted(clf.classes_, y_val)]
    assert -np.mean(np.log(P)) == pytest.approx(min(losses), rel=1e-6)


def _validation_split(clf, n, y):
    """The split early stopping used (the same seeds as in fit)."""
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    rng = np.random.default_rng(check_random_state(clf.random_state).randint(2**31))
    clf.network_.init_params(rng)  # consumes the generator as fit did
    return train_test_split(np.arange(n), test_size=clf.validation_fraction,
                            random_state=int(rng.integers(2**31)), stratify=y)


def test_sample_weight_zero_equals_dropping_sequences():
    X, y = ragged_data()
    weights = np.ones(len(X))
    weights[::4] = 0
    kept = [x for x, w in zip(X, weights) if w]
    params = dict(FAST, shuffle=False, batch_size=len(X))
    a = suppress(lambda: RNNClassifier(**params).fit(X, y, sample_weight=weights))
    b = suppress(lambda: RNNClassifier(**dict(params, batch_size=len(kept))).fit(
        kept, y[weights > 0]))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-9)


def test_class_weight_balanced_changes_the_fit():
    X, y = ragged_data(n=60)
    y = np.where(np.arange(60) < 50, 0, 1)
    plain = suppress(lambda: RNNClassifier(**FAST).fit(X, y))
    balanced = suppress(lambda: RNNClassifier(**FAST, class_weight="balanced").fit(X, y))
    assert balanced.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()


def test_verbose_prints_one_line_per_epoch_and_convergence_warning(capsys):
    X, y = ragged_data()
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        RNNClassifier(**{**FAST, "max_iter": 3}, verbose=True).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(lines) == 3
    assert all("loss =" in line and "gradient norm" in line and "time" in line for line in lines)


def test_divergence_keeps_finite_weights():
    X, y = ragged_data()
    X = [x * 1e6 for x in X]
    clf = RNNRegressor(cell="rnn", activation="relu", hidden_layer_sizes=(8,), solver="sgd",
                       learning_rate_init=1e6, max_grad_norm=None, max_iter=20, random_state=0)
    with pytest.warns(RuntimeWarning, match="non-finite"):
        clf.fit(X, y * 1e9)
    assert np.isfinite(clf.theta_).all()
    assert np.all(np.isfinite(clf.loss_curve_))
    assert np.isfinite(clf.predict(X)).all()


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
@pytest.mark.parametrize("learning_rate", ["constant", "invscaling", "adaptive"])
def test_solvers_and_schedules_learn(solver, learning_rate):
    X, y = ragged_data(n=60)
    lr = 2.0 if learning_rate == "invscaling" else 0.1  # decays with the samples seen
    clf = RNNClassifier(hidden_layer_sizes=(8,), solver=solver, learning_rate=learning_rate,
                        learning_rate_init=lr, max_iter=40, random_state=0)
    suppress(lambda: clf.fit(X, y))
    assert clf.score(X, y) > 0.75


def test_truncated_bptt_trains():
    X, y = ragged_data(n=60)
    clf = suppress(lambda: RNNClassifier(**FAST, tbptt_steps=2).fit(X, y))
    assert clf.n_iter_ > 0 and np.isfinite(clf.loss_curve_[-1])


def test_regressor_multi_output_and_partial_fit():
    X, y = ragged_data()
    Y = np.column_stack([y, -y, 2 * y]).astype(float)
    reg = suppress(lambda: RNNRegressor(**FAST).fit(X, Y))
    assert reg.predict(X).shape == (len(X), 3)
    reg.partial_fit(X, Y)
    with pytest.raises(ValueError, match="outputs"):
        reg.partial_fit(X, Y[:, :2])


# -- bad input ------------------------------------------------------------------------------
def fitted_classifier():
    X, y = ragged_data()
    return suppress(lambda: RNNClassifier(**FAST).fit(X, y)), X, y


@pytest.mark.parametrize("bad,error,match", [
    ([np.array([[0.0, np.nan], [1.0, 2.0]])], ValueError, "NaN"),
    ([np.array([[0.0, np.inf], [1.0, 2.0]])], ValueError, "infinity"),
    ([], ValueError, "0 sample|no sequence|empty"),
    ([np.zeros((0, 2))], ValueError, "length 0|zero-length|0 steps"),
    ([np.zeros((3, 3))], ValueError, "features"),
    ([np.array([["a", "b"]])], ValueError, "string|str"),
    ([np.ones((2, 2)) + 1j], ValueError, "Complex"),
])
def test_bad_input_gives_a_clear_error_and_keeps_the_model(bad, error, match):
    clf, X, y = fitted_classifier()
    before = clf.predict_proba(X)
    for method in (clf.predict, clf.predict_proba, clf.transform, clf.hidden_states):
        with pytest.raises(error, match=match):
            method(bad)
    with pytest.raises((ValueError, TypeError)):
        clf.partial_fit(bad, [0] * len(bad))
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_wrong_targets():
    X, y = ragged_data()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        RNNClassifier(**FAST).fit(X, y[:-1])
    with pytest.raises(ValueError, match="requires y"):
        RNNClassifier(**FAST).fit(X, None)
    with pytest.raises(ValueError, match="Unknown label type"):
        RNNClassifier(**FAST).fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="Sequence 0 has 8 steps"):
        RNNSequenceTagger(**FAST).fit(X, [labels[:-1] for labels in step_labels(X)])
    with pytest.raises(ValueError, match="NaN"):
        RNNRegressor(**FAST).fit(X, np.full(len(X), np.nan))


def test_the_callers_data_is_never_modified():
    X, y = ragged_data()
    padded = nan_padded(X)
    copies = ([x.copy() for x in X], padded.copy(), y.copy())
    weights = np.ones(len(X))
    clf = suppress(lambda: RNNClassifier(**FAST).fit(padded, y, sample_weight=weights))
    clf.predict(X)
    clf.partial_fit(X, y)
    for a, b in zip(X, copies[0]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(padded, copies[1])
    np.testing.assert_array_equal(y, copies[2])
    np.testing.assert_array_equal(weights, np.ones(len(X)))


def test_unfitted_and_bad_parameters():
    with pytest.raises(NotFittedError):
        RNNRegressor().predict([np.zeros((2, 1))])
    X, y = ragged_data()
    with pytest.raises(ValueError, match="cell"):
        RNNClassifier(cell="transformer").fit(X, y)
    with pytest.raises(ValueError, match="max_grad_norm"):
        RNNClassifier(max_grad_norm=-1).fit(X, y)


def test_keyboard_interrupt_keeps_a_usable_model_with_the_best_weights(monkeypatch):
    import skrnn._training as training

    X, y = ragged_data()
    clf = RNNClassifier(**{**FAST, "max_iter": 50})
    run_epoch = training.run_minibatch_epoch
    snapshots = []

    def interrupted_at_epoch_4(*args):
        if len(snapshots) == 3:
            clf.theta_[:] = np.nan  # a half-finished update must not survive
            raise KeyboardInterrupt
        result = run_epoch(*args)
        snapshots.append(clf.theta_.copy())
        return result

    monkeypatch.setattr(training, "run_minibatch_epoch", interrupted_at_epoch_4)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X, y)
    best_epoch = int(np.argmin(clf.loss_curve_))
    assert clf.n_iter_ == 3
    np.testing.assert_array_equal(clf.theta_, snapshots[best_epoch])
    assert np.isfinite(clf.predict_proba(X)).all()


# -- parameters that have no effect in the given configuration warn --------------------------
NO_EFFECT = [
    (dict(dropout=0.3), "dropout=0.3"),
    (dict(hidden_layer_sizes=(4, 4), dropout=0.3, solver="lbfgs"), "dropout=0.3"),
    (dict(bidirectional=True, tbptt_steps=3), "tbptt_steps=3"),
    (dict(cell="lstm", activation="relu"), "activation='relu'"),
    (dict(cell="gru", activation="relu"), "activation='relu'"),
    (dict(solver="lbfgs", learning_rate="invscaling"), "learning_rate='invscaling'"),
    (dict(power_t=0.3), "power_t=0.3"),
    (dict(solver="lbfgs", learning_rate="invscaling", power_t=0.3), "power_t=0.3"),
    (dict(momentum=0.5), "momentum=0.5"),
    (dict(nesterovs_momentum=False), "nesterovs_momentum=False"),
    (dict(solver="sgd", beta_1=0.8), "beta_1=0.8"),
    (dict(solver="sgd", epsilon=1e-6), "epsilon=1e-06"),
    (dict(solver="lbfgs", learning_rate_init=0.1), "learning_rate_init=0.1"),
    (dict(solver="lbfgs", batch_size=8), "batch_size=8"),
    (dict(solver="lbfgs", early_stopping=True), "early_stopping=True"),
    (dict(solver="lbfgs", max_grad_norm=1.0), "max_grad_norm=1.0"),
    (dict(validation_fraction=0.3), "validation_fraction=0.3"),
    (dict(max_fun=100), "max_fun=100"),
]


@pytest.mark.parametrize("params,message", NO_EFFECT)
def test_a_parameter_without_effect_warns(params, message):
    X = np.random.default_rng(0).normal(size=(12, 5))
    est = RNNClassifier(hidden_layer_sizes=params.pop("hidden_layer_sizes", (3,)), max_iter=1,
                        **params)
    with pytest.warns(UserWarning, match=re.escape(message) + " has no effect"):
        est.fit(X, np.arange(12) % 2)


@pytest.mark.parametrize("params", [
    {}, dict(hidden_layer_sizes=(3, 3), dropout=0.3), dict(tbptt_steps=2),
    dict(cell="rnn", activation="relu"), dict(solver="sgd", learning_rate="invscaling",
                                              power_t=0.3, momentum=0.5),
    dict(early_stopping=True, validation_fraction=0.3), dict(solver="lbfgs", max_fun=100),
])
def test_parameters_that_act_do_not_warn(params):
    X = np.random.default_rng(0).normal(size=(12, 5))
    est = RNNClassifier(**{"hidden_layer_sizes": (3,), "max_iter": 1, **params})
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, np.arange(12) % 2)


def test_adam_reduces_its_rate_on_plateaus_instead_of_stopping():
    X = np.random.default_rng(0).normal(size=(12, 5))
    kwargs = dict(hidden_layer_sizes=(3,), max_iter=12, tol=10.0, n_iter_no_change=2,
                  learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        stops = RNNClassifier(**kwargs).fit(X, np.arange(12) % 2)
        adapts = RNNClassifier(learning_rate="adaptive", **kwargs).fit(X, np.arange(12) % 2)
    assert stops.n_iter_ == 4  # a tol of 10 is never met: stop after n_iter_no_change + 1
    assert adapts.n_iter_ == 12
    assert adapts._optimizer.learning_rate == pytest.approx(0.01 / 5**3)


def test_cosine_schedule_reaches_zero_at_max_iter_and_verbose_shows_the_rate(capsys):
    X = np.random.default_rng(0).normal(size=(12, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = RNNClassifier(hidden_layer_sizes=(3,), max_iter=4, learning_rate="cosine",
                            learning_rate_init=0.02, n_iter_no_change=10, verbose=True,
                            random_state=0).fit(X, np.arange(12) % 2)
    assert clf._optimizer.learning_rate == 0.0
    rates = [line.split("learning rate = ")[1].split(",")[0]
             for line in capsys.readouterr().out.splitlines() if "learning rate" in line]
    assert rates == ["0.02", "0.0171", "0.01", "0.00293"]


def test_validation_scores_are_weighted_as_the_loss_is():
    """Early stopping's score counts each validation sequence (or step) with its loss weight:
    sample weights and class_weight."""
    from skrnn import RNNSequenceTagger
    from skrnn._training import TrainingData

    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 4, 2))
    clf = RNNClassifier(hidden_layer_sizes=(3,), max_iter=1, random_state=0)
    suppress(lambda: clf.fit(X, np.arange(8) % 2))
    predicted = clf.predict(X)
    y = np.where(np.arange(8) < 4, predicted, 1 - predicted)  # right on 4, wrong on 4
    lengths = np.full(8, 4)
    for w, expected in ((np.ones(8), 0.5), (np.r_[np.ones(4), np.zeros(4)], 1.0),
                        (np.r_[np.ones(4), 3 * np.ones(4)], 0.25), (np.zeros(8), 0.5)):
        data = TrainingData(X, lengths, np.searchsorted(clf.classes_, y), w)
        assert clf._evaluate_validation(data)[0] == pytest.approx(expected)
    reg = RNNRegressor(hidden_layer_sizes=(3,), max_iter=1, random_state=0)
    suppress(lambda: reg.fit(X, X[:, -1, 0]))
    target = X[:, -1, 0]
    off = np.where(np.arange(8) < 4, reg.predict(X), target)  # perfect on the last four
    standardised = (off[:, None] - reg.target_mean_) / reg.target_scale_  # as fit gives them
    data = TrainingData(X, lengths, standardised, np.r_[np.zeros(4), np.ones(4)])
    assert reg._evaluate_validation(data)[0] == pytest.approx(
        r2_score(off, reg.predict(X), sample_weight=data.weights))
    tagger = RNNSequenceTagger(hidden_layer_sizes=(3,), max_iter=1, random_state=0)
    steps = [np.arange(4) % 2] * 8
    suppress(lambda: tagger.fit(list(X), steps))
    codes = np.searchsorted(tagger.classes_, np.array(tagger.predict(list(X))))
    wrong = 1 - codes
    W = np.ones((8, 4))
    W[:, 2:] = 0  # only the first two steps count
    Y = np.where(np.arange(4) < 2, codes, wrong)
    assert tagger._evaluate_validation(TrainingData(X, lengths, Y, W))[0] == 1.0
    assert tagger._evaluate_validation(TrainingData(X, lengths, Y, np.ones((8, 4))))[0] == 0.5


def test_verbose_rewrites_one_line_in_a_terminal_and_prints_lines_elsewhere(monkeypatch, capsys):
    import sys

    X = np.random.default_rng(0).normal(size=(12, 5))
    kwargs = dict(hidden_layer_sizes=(3,), max_iter=3, n_iter_no_change=10, random_state=0)
    suppress(lambda: RNNClassifier(verbose=True, **kwargs).fit(X, np.arange(12) % 2))
    lines = capsys.readouterr().out.splitlines()  # captured: not a terminal
    assert [line.split(",")[0] for line in lines] == ["Iteration 1", "Iteration 2", "Iteration 3"]
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    suppress(lambda: RNNClassifier(verbose=True, **kwargs).fit(X, np.arange(12) % 2))
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.endswith("\n")  # one line, ended when the fit ends
    assert [part.split("  ")[0] for part in out.strip("\n").split("\r")[1:]] == \
        ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    suppress(lambda: RNNClassifier(verbose=2, **kwargs).fit(X, np.arange(12) % 2))
    assert capsys.readouterr().out.count("Iteration") == 3
    suppress(lambda: RNNClassifier(verbose=True, tol=10.0, **{**kwargs, "n_iter_no_change": 1})
             .fit(X, np.arange(12) % 2))
    out = capsys.readouterr().out  # the stopping message starts a line of its own
    assert "\nTraining loss did not improve" in out and out.endswith("Stopping.\n")
