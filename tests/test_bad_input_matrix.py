"""Bad input x every public method x every input form: a clear ValueError or TypeError naming the
problem, the caller's data untouched and a fitted model unchanged."""

import copy
import functools
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

from skrnn import RNNClassifier, RNNRegressor, RNNSequenceTagger

ESTIMATORS = {"classifier": RNNClassifier, "regressor": RNNRegressor,
              "tagger": RNNSequenceTagger}
FORMS = ["ragged", "padded", "2d", "frame", "long"]
METHODS = ["fit", "partial_fit", "predict", "predict_proba", "predict_log_proba", "score",
           "transform", "hidden_states"]
WITH_Y = {"fit", "partial_fit", "score"}

# problem -> (methods it applies to, forms it applies to, pattern the message must match)
X_METHODS = set(METHODS)
PROBLEMS = {
    "nan": (X_METHODS, FORMS, "NaN"),
    "inf": (X_METHODS, FORMS, "infinity"),
    "empty": (X_METHODS, FORMS, r"0 sample|no sequences"),
    "zero_length": (X_METHODS, ["ragged", "padded", "2d", "frame"],
                    r"length 0|0 feature"),
    "n_features": (X_METHODS - {"fit"}, FORMS, r"features|[Ff]eature names"),
    "object": (X_METHODS, FORMS, r"[Oo]bject|number|convert|float"),
    "complex": (X_METHODS, FORMS, r"[Cc]omplex"),
    "str": (X_METHODS, FORMS, r"[Ss]tring|str"),
    "y_length": (WITH_Y, FORMS, r"inconsistent numbers of samples|labels for|has \d+ "
                                r"(labels|rows)|label arrays"),
    "y_dtype": (WITH_Y, FORMS, r"Unknown label type|continuous|could not convert|numeric"),
    "unseen_labels": ({"partial_fit"}, FORMS, r"not seen"),
}


def base_sequences(est_name, form, n=12, seed=0):
    """Good sequences for this estimator and form: univariate sequences of 6 steps for the 2-D
    forms of the sequence models, one step of 2 features per row for the tagger's 2-D forms,
    ragged sequences of 2 features otherwise."""
    rng = np.random.default_rng(seed)
    if form in ("2d", "frame"):
        shape = (1, 2) if est_name == "tagger" else (6, 1)
        return [rng.normal(size=shape) for _ in range(n)]
    return [rng.normal(size=(rng.integers(3, 8), 2)) for _ in range(n)]


def labels(est_name, seqs, form):
    if est_name == "tagger":
        steps = [(np.cumsum(s[:, 0]) > 0).astype(int) for s in seqs]
        return np.concatenate(steps) if form in ("2d", "frame") else steps
    y = np.array([int(s[0, 0] > 0) for s in seqs])
    return y.astype(float) if est_name == "regressor" else y


def to_form(est_name, seqs, form):
    """The sequences in the given input form (a new object every call)."""
    if form == "ragged":
        return [s.copy() for s in seqs]
    if form == "padded":
        T = max((len(s) for s in seqs), default=1)
        F = seqs[0].shape[1] if seqs else 2
        out = np.full((len(seqs), T, F), np.nan, dtype=seqs[0].dtype if seqs else float)
        for i, s in enumerate(seqs):
            out[i, :len(s)] = s
        return out
    if form == "long":
        F = seqs[0].shape[1] if seqs else 2
        frames = [pd.DataFrame(s, columns=[f"f{j}" for j in range(F)],
                               index=pd.MultiIndex.from_product([[i], range(len(s))],
                                                                names=["id", "t"]))
                  for i, s in enumerate(seqs)]
        return pd.concat(frames) if frames else pd.DataFrame(
            columns=[f"f{j}" for j in range(F)],
            index=pd.MultiIndex.from_arrays([[], []], names=["id", "t"]), dtype=float)
    # 2-D: a row per univariate sequence, or (tagger) a row per step
    rows = [s[0] if est_name == "tagger" else s[:, 0] for s in seqs]
    width = len(rows[0]) if rows else (2 if est_name == "tagger" else 6)
    A = np.array(rows).reshape(len(rows), width) if rows else np.empty((0, width))
    if form == "2d":
        return A
    return pd.DataFrame(A, columns=[f"c{j}" for j in range(A.shape[1])])


def with_dtype(X, kind):
    """X with one entry turned into a non-number (object), or all values complex or str."""
    def convert(a):
        if kind == "object":
            a = a.astype(object)
            a.flat[0] = {"not": "a number"}
            return a
        return a + 1j if kind == "complex" else a.astype(str)

    if isinstance(X, list):
        return [convert(s) if i == 1 else s for i, s in enumerate(X)]
    if isinstance(X, pd.DataFrame):
        values = convert(X.to_numpy())
        return pd.DataFrame(values, index=X.index, columns=X.columns)
    return convert(X)


def bad_input(est_name, form, problem):
    """(X, y) for the problem; y is the good labels unless the problem is in y."""
    seqs = base_sequences(est_name, form)
    y = labels(est_name, seqs, form)
    if problem in ("nan", "inf"):
        seqs[1][len(seqs[1]) // 2, 0] = np.nan if problem == "nan" else np.inf
    elif problem == "empty":
        seqs, y = [], (np.array([]) if est_name != "tagger" or form in ("2d", "frame") else [])
    elif problem == "zero_length":
        if form in ("2d", "frame"):
            X = to_form(est_name, seqs, form)
            return (X.iloc[:, :0] if form == "frame" else X[:, :0]), y
        if form == "padded":
            X = to_form(est_name, seqs, form)
            X[1] = np.nan
            return X, y
        seqs[1] = seqs[1][:0]
    elif problem == "n_features":
        seqs = [np.hstack([s, s[:, :1]]) for s in seqs]
        if form in ("2d", "frame") and est_name != "tagger":
            X = to_form(est_name, seqs, "2d")
            X = np.hstack([X, X[:, :1]])  # sequences one step longer than in fit
            return (pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
                    if form == "frame" else X), y
    elif problem in ("object", "complex", "str"):
        return with_dtype(to_form(est_name, seqs, form), problem), y
    elif problem == "y_length":
        y = y[:-1]
    elif problem == "y_dtype":
        if est_name == "regressor":
            y = np.where(y > 0, "high", "low")
        elif est_name == "classifier" or form in ("2d", "frame"):
            y = np.asarray(y) + np.linspace(0.01, 0.5, len(y))
        else:
            y = [lab + np.linspace(0.01, 0.5, len(lab)) for lab in y]
    elif problem == "unseen_labels":
        if isinstance(y, list):
            y = [np.where(np.arange(len(lab)) == 0, 7, lab) for lab in y]
        else:
            y = np.where(np.arange(len(y)) == 0, 7, y)
    return to_form(est_name, seqs, form), y


@functools.lru_cache(maxsize=None)
def _fitted(est_name, form):
    seqs = base_sequences(est_name, form)
    est = ESTIMATORS[est_name](hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(to_form(est_name, seqs, form), labels(est_name, seqs, form))
    return est, seqs


def fingerprint(est, X_good):
    """Fitted state and outputs, to compare before and after a failing call."""
    public = {k: copy.deepcopy(v) for k, v in vars(est).items()
              if k.endswith("_") and not k.startswith("_")}
    pred = est.predict(X_good)
    return (est.theta_.tobytes(), repr(public), est.network_,
            [np.asarray(p).tobytes() for p in (pred if isinstance(pred, list) else [pred])])


def assert_same_data(a, b):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_data(x, y)
    elif np.asarray(a).dtype == object:  # element by element, NaN equal to NaN
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and b.dtype == object
        assert [repr(v) for v in a.ravel()] == [repr(v) for v in b.ravel()]
    else:
        assert type(a) is type(b) and np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(a, b)


# Known estimator bugs, as (estimator, form, problem, method) patterns; None matches any.
KNOWN_BUGS = []


def cases():
    for est_name, Est in ESTIMATORS.items():
        for form in FORMS:
            for problem, (methods, forms, match) in PROBLEMS.items():
                if form not in forms:
                    continue
                if problem == "unseen_labels" and est_name == "regressor":
                    continue
                for method in METHODS:
                    if method not in methods or not hasattr(Est, method):
                        continue
                    marks = [pytest.mark.xfail(strict=True, reason=reason)
                             for pattern, reason in KNOWN_BUGS
                             if all(p is None or p == v for p, v in
                                    zip(pattern, (est_name, form, problem, method)))]
                    yield pytest.param(est_name, form, problem, method, match, marks=marks,
                                       id=f"{est_name}-{form}-{problem}-{method}")


@pytest.mark.parametrize("est_name,form,problem,method,match", list(cases()))
def test_bad_input_gives_a_clear_error_and_changes_nothing(est_name, form, problem, method,
                                                           match):
    fitted, seqs = _fitted(est_name, form)
    est = copy.deepcopy(fitted)
    X_good = to_form(est_name, seqs, form)
    before = fingerprint(est, X_good)
    X, y = bad_input(est_name, form, problem)
    X_copy, y_copy = copy.deepcopy(X), copy.deepcopy(y)
    args = (X, y) if method in WITH_Y else (X,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises((ValueError, TypeError), match=match):
            getattr(est, method)(*args)
    assert_same_data(X, X_copy)
    assert_same_data(y, y_copy)
    after = fingerprint(est, X_good)
    assert after[0] == before[0], "the weights changed"
    assert after[1] == before[1], "the fitted attributes changed"
    assert after[2:] == before[2:], "the predictions changed"
