"""The estimators with embedding_dim: token ids in every form, streams, the padding row, the
checks of the ids, persistence, and the warnings and messages that text input gets."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from skrnn import RNNClassifier, RNNRegressor, RNNSequenceRegressor, RNNSequenceTagger
from skrnn.interchange import from_torch_state_dict, to_torch_state_dict
from skrnn.persistence import load, save

V = 12


def token_task(n=60, seed=0):
    """Ragged id sequences in [1, V); the label says whether id 2 occurs."""
    rng = np.random.default_rng(seed)
    X = [rng.integers(3, V, size=rng.integers(3, 9)) for _ in range(n)]
    for x in X[::2]:
        x[rng.integers(len(x))] = 2
    return X, np.array([int(2 in x) for x in X])


def padded(X):
    P = np.zeros((len(X), max(map(len, X))), dtype=np.int64)
    for i, x in enumerate(X):
        P[i, :len(x)] = x
    return P


def quiet_fit(est, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y, **kwargs)


@pytest.fixture(scope="module")
def fitted():
    X, y = token_task()
    return quiet_fit(RNNClassifier("lstm", (8,), embedding_dim=4, max_iter=20, batch_size=16,
                                   random_state=0), X, y), X, y


def test_a_token_task_is_learned_and_the_padding_row_stays_zero(fitted):
    clf, X, y = fitted
    assert clf.score(X, y) > 0.95
    assert clf.theta_.dtype == np.float32
    table = clf.state_dict()["embedding.weight"]
    assert table.shape == (V, 4) and not table[0].any()


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_padding_row_stays_zero_with_every_solver_and_partial_fit(solver):
    X, y = token_task()
    X[0][1] = 0  # a real step reading id 0 gets no gradient into row 0 either
    clf = quiet_fit(RNNClassifier("gru", (4,), embedding_dim=3, solver=solver, max_iter=5,
                                  alpha=0.1, random_state=0), X, y)
    assert not clf.state_dict()["embedding.weight"][0].any()
    if solver == "sgd":
        clf.partial_fit(X, y)
        assert not clf.state_dict()["embedding.weight"][0].any()


def test_a_padded_2d_array_of_ids_equals_the_ragged_list(fitted):
    clf, X, _ = fitted
    np.testing.assert_array_equal(clf.predict_proba(padded(X)), clf.predict_proba(X))
    np.testing.assert_array_equal(clf.transform(padded(X)), clf.transform(X))
    np.testing.assert_array_equal(clf.predict_proba([x.astype(float) for x in X]),
                                  clf.predict_proba(X))  # whole floats are ids too


@pytest.mark.parametrize("Est", [RNNSequenceTagger, RNNSequenceRegressor])
def test_per_step_estimators_read_rows_of_a_2d_array_as_sequences(Est):
    X, _ = token_task(30)
    y = [(x > 6).astype(float if Est is RNNSequenceRegressor else int) for x in X]
    est = quiet_fit(Est("gru", (4,), embedding_dim=3, max_iter=3, random_state=0), X, y)
    from_list = est.predict(X)
    from_array = est.predict(padded(X))
    assert len(from_array) == len(X)
    for a, b in zip(from_array, from_list):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("Est", [RNNClassifier, RNNSequenceTagger, RNNRegressor])
def test_a_stream_of_ids_equals_the_batch(Est):
    X, y = token_task(30)
    targets = {RNNClassifier: y, RNNRegressor: y.astype(float),
               RNNSequenceTagger: [(x > 6).astype(int) for x in X]}[Est]
    est = quiet_fit(Est("lstm", (5, 3), embedding_dim=4, max_iter=3, random_state=0), X,
                    targets)
    stream = est.stream()
    stepped = np.array([stream.step(t)[0] for t in X[0]])
    if Est is RNNSequenceTagger:
        expected = est.predict_proba(X[:1])[0]
    else:
        method = est.predict_proba if Est is RNNClassifier else est.predict
        expected = np.array([method([X[0][:t + 1]])[0] for t in range(len(X[0]))])
    np.testing.assert_allclose(stepped, expected, rtol=1e-5, atol=1e-6)
    chunked = est.stream().update(X[0])
    np.testing.assert_allclose(chunked[0], stepped, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="integer token ids"):
        stream.step(1.5)
    with pytest.raises(ValueError, match="outside"):
        stream.step(V)


def test_raw_strings_get_a_message_that_names_token_encoder():
    for Est, kwargs in [(RNNClassifier, {}), (RNNClassifier, {"embedding_dim": 4})]:
        for X in (["hello", "world", "again"], np.array(["ab", "cd", "ef"])):
            with pytest.raises(ValueError, match="TokenEncoder"):
                Est(**kwargs).fit(X, [0, 1, 0])
    with pytest.raises(ValueError, match="TokenEncoder"):
        RNNClassifier(embedding_dim=4).fit("a single string", [0])


@pytest.mark.parametrize("X,match", [
    ([[1, 2.5, 3], [4, 5]], "integer token ids"),
    ([[1, -2, 3], [4, 5]], "Negative values"),
    ([np.ones((3, 2), int), np.ones((2, 2), int)], r"one id per step"),
    (np.array([[1, 2, 0], [0, 0, 0]]), "only id 0"),
    ([[1, 2], []], "empty"),
    (np.array([[1.0, np.nan], [2.0, 3.0]]), "NaN|infinity"),
])
def test_bad_ids_are_clear_errors(X, match):
    with pytest.raises(ValueError, match=match):
        RNNClassifier(embedding_dim=3, max_iter=1).fit(X, [0, 1])


def test_sparse_ids_are_a_type_error():
    with pytest.raises(TypeError, match="[Ss]parse"):
        RNNClassifier(embedding_dim=3).fit([sp.csr_matrix(np.eye(3))] * 2, [0, 1])


def test_ids_beyond_the_table_are_an_error_unless_n_tokens_leaves_room(fitted):
    clf, X, y = fitted
    with pytest.raises(ValueError, match=f"fitted with {V} tokens.*TokenEncoder"):
        clf.predict([np.array([1, V])])
    with pytest.raises(ValueError, match="below n_tokens"):
        RNNClassifier(embedding_dim=3, n_tokens=5).fit(X, y)
    roomy = quiet_fit(RNNClassifier(embedding_dim=3, n_tokens=40, max_iter=2, random_state=0),
                      X, y)
    assert roomy.n_tokens_ == 40 and clf.n_tokens_ == V
    roomy.partial_fit([np.array([35, 39])], [1])  # ids the first fit did not see
    assert not roomy.state_dict()["embedding.weight"][0].any()


def test_a_token_model_refuses_numbers_and_a_numeric_model_warns_about_ids(fitted):
    clf, X, y = fitted
    with pytest.warns(UserWarning, match="embedding_dim"):
        RNNClassifier(max_iter=1).fit(X, y)
    with pytest.warns(UserWarning, match="n_tokens=50 has no effect"):
        RNNClassifier(n_tokens=50, max_iter=1).fit([x.astype(float) for x in X], y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # floats: no token-id warning
        with pytest.raises(Warning, match="maximum iterations"):
            RNNClassifier(max_iter=1).fit([x.astype(float) for x in X], y)
    refit = RNNClassifier(embedding_dim=4, max_iter=1, warm_start=True)
    quiet_fit(refit, X, y)
    refit.set_params(embedding_dim=None)
    with pytest.raises(ValueError, match="fitted on token ids"):
        refit.predict([np.ones((3, 1))])
    numeric = quiet_fit(RNNClassifier(max_iter=1), [x.astype(float) for x in X], y)
    with pytest.raises(ValueError, match="fitted on numbers"):
        numeric.set_params(embedding_dim=4).predict(X)


def test_token_models_persist_pickle_and_interchange(fitted, tmp_path):
    clf, X, _ = fitted
    expected = clf.predict_proba(X)
    save(clf, tmp_path / "model.skrnn")
    np.testing.assert_array_equal(load(tmp_path / "model.skrnn").predict_proba(X), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), expected)
    state = to_torch_state_dict(clf)
    assert list(state)[0] == "embedding.weight"
    again = from_torch_state_dict(RNNClassifier("lstm", (8,), embedding_dim=4), state,
                                  classes=clf.classes_)
    np.testing.assert_array_equal(again.predict_proba(X), expected)
    with pytest.raises(ValueError, match="embedding_dim=5"):
        from_torch_state_dict(RNNClassifier("lstm", (8,), embedding_dim=5), state,
                              classes=clf.classes_)


def test_the_callers_ids_are_not_changed():
    X, y = token_task(20)
    P = padded(X)
    before = [x.copy() for x in X], P.copy()
    clf = quiet_fit(RNNClassifier(embedding_dim=3, max_iter=2, random_state=0), X, y)
    clf.predict(P)
    clf.stream().update(X[0])
    for x, b in zip(X, before[0]):
        np.testing.assert_array_equal(x, b)
    np.testing.assert_array_equal(P, before[1])


def test_one_sequence_passed_as_a_2d_array_gets_a_message_that_says_to_wrap_it():
    from skrnn import RNNSequenceTagger
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 3)) for n in (5, 7, 6)]
    clf = quiet_fit(RNNClassifier(max_iter=1), X, [0, 1, 0])
    with pytest.raises(ValueError, match=r"pass it in a list: \[X\]"):
        clf.predict(X[0])
    tagger = quiet_fit(RNNSequenceTagger(max_iter=1), X, [(x[:, 0] > 0).astype(int) for x in X])
    with pytest.warns(UserWarning, match=r"pass it in a list: \[X\]"):
        tagger.predict(X[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        tagger.predict([X[0]])
