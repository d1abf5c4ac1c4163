"""pooling="mean" and "max": the many-to-one head reading the top outputs pooled over the real
steps of each sequence.

The engine's gradients against central differences (every cell, one and two directions,
ragged lengths, stacked layers, sample weights, token ids, dropout) and against PyTorch's
packed sequences (``reference/torch_pooling_fixtures.npz``, made by
``reference/make_torch_pooling_fixtures.py``); truncated BPTT against the gradient it
defines; padding that never counts; then everything else that reads the head: the
estimators, streaming, persistence, safetensors and ONNX.
"""

import copy
import functools
import warnings
from dataclasses import replace

import numpy as np
import pytest
from scipy.special import log_softmax
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skrnn import (RNNClassifier, RNNForecaster, RNNRegressor, RNNSequenceRegressor,
                   RNNSequenceTagger)
from skrnn.nn import RecurrentNetwork
from skrnn.sequences import to_nan_padded
from test_torch_reference import REFERENCE, RTOL, assert_close, load_fixture_cases, parameters

CELLS = ["rnn", "lstm", "gru"]
POOLINGS = ["mean", "max"]
FIXTURES = REFERENCE / "torch_pooling_fixtures.npz"
FIXTURE_CASES = load_fixture_cases(FIXTURES)
LENGTHS = np.array([3, 6, 1, 4])

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def make_net(cell, pooling, bidirectional=False, hidden_sizes=(3, 2), seed=0, **kwargs):
    net = RecurrentNetwork(cell, 2, hidden_sizes, 3, bidirectional=bidirectional,
                           pooling=pooling, **kwargs)
    return net, net.init_params(np.random.default_rng(seed))


def ragged_batch(seed=1, lengths=LENGTHS, T=6):
    """Padded X (B, T, 2) whose padded steps hold NaN: they must never be read."""
    X = np.random.default_rng(seed).normal(size=(len(lengths), T, 2))
    X[np.arange(T)[None, :] >= lengths[:, None]] = np.nan
    return X


def check_gradient(f, theta, grad, n_coordinates=6, n_directions=2, eps=1e-6, atol=1e-8):
    """The analytic gradient against central differences of ``f``: along random directions
    (every parameter at once) and along a few coordinates."""
    rng = np.random.default_rng(7)
    steps = [rng.normal(size=theta.shape) for _ in range(n_directions)]
    for i in rng.choice(theta.size, n_coordinates, replace=False):
        steps.append(np.eye(1, theta.size, i)[0])
    for v in steps:
        numeric = (f(theta + eps * v) - f(theta - eps * v)) / (2 * eps)
        assert abs(numeric - grad @ v) <= atol * max(1.0, abs(numeric)), (numeric, grad @ v)


# -- the engine: gradients ----------------------------------------------------------------------
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_gradient_matches_central_differences(cell, bidirectional, pooling):
    net, theta = make_net(cell, pooling, bidirectional)
    X, y = ragged_batch(), np.array([0, 2, 1, 2])
    weights = np.array([1.0, 0.5, 2.0, 0.0])

    def f(t):
        return net.loss_and_grad(t, X, LENGTHS, y, "softmax", weights, l2=1e-3)

    check_gradient(lambda t: f(t)[0], theta, f(theta)[1])


@pytest.mark.parametrize("pooling", POOLINGS)
def test_gradient_of_token_ids_with_dropout(pooling):
    """Token ids through the embedding, dropout between the layers (the same masks at every
    call: a generator from one seed) and the squared loss."""
    net = RecurrentNetwork("gru", 3, (3, 2), 2, bidirectional=True, dropout=0.3, n_tokens=6,
                           pooling=pooling)
    theta = net.init_params(np.random.default_rng(0))
    ids = np.random.default_rng(1).integers(1, 6, size=(4, 6))
    y = np.random.default_rng(2).normal(size=(4, 2))

    def f(t):
        return net.loss_and_grad(t, ids, LENGTHS, y, "squared", rng=np.random.default_rng(3))

    loss, grad = f(theta)
    assert not net.unpack(grad)["embedding.weight"][0].any()
    check_gradient(lambda t: f(t)[0], theta, grad)


def truncated_loss(net, theta, theta0, X, lengths, y, k):
    """The loss whose gradient truncated BPTT computes: each window of k steps starts from the
    state the network reached there at ``theta0``, a constant, and the pool and the loss
    span every window."""
    B, T = len(lengths), X.shape[1]
    outputs = []
    for s in range(0, T, k):
        e = min(s + k, T)
        rows = np.flatnonzero(lengths > s)
        state = None
        if s:
            _, h_n, c_n = net.final_states(theta0, X[rows, :s], np.minimum(lengths[rows], s))
            state = (h_n, c_n)
        Y, _, _ = net.final_states(theta, X[rows, s:e], np.clip(lengths[rows] - s, 1, e - s),
                                   initial_state=state)
        window = np.full((B, e - s, Y.shape[2]), np.nan)
        window[rows] = Y
        real = np.arange(s, e)[None, :] < lengths[:, None]
        window[~real] = np.nan
        outputs.append(window)
    Y = np.concatenate(outputs, axis=1)
    P = np.nanmean(Y, axis=1) if net.pooling == "mean" else np.nanmax(Y, axis=1)
    W = net.unpack(theta)
    Z = P @ W["head.weight"].T + W["head.bias"]
    return -log_softmax(Z, axis=1)[np.arange(B), y].mean()


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_truncated_bptt_is_the_gradient_with_window_starts_held_constant(cell, pooling):
    net, theta = make_net(cell, pooling)
    lengths, y = np.array([3, 7, 1, 5]), np.array([0, 2, 1, 2])
    X = ragged_batch(lengths=lengths, T=7)
    loss, grad = net.loss_and_grad(theta, X, lengths, y, "softmax", tbptt_steps=3)
    assert loss == pytest.approx(truncated_loss(net, theta, theta, X, lengths, y, 3), rel=1e-13)
    assert loss == pytest.approx(net.loss_and_grad(theta, X, lengths, y, "softmax")[0],
                                 rel=1e-13)
    check_gradient(lambda t: truncated_loss(net, t, theta, X, lengths, y, 3), theta, grad)
    # the gradient is not full BPTT's; windows as long as the sequences are
    full = net.loss_and_grad(theta, X, lengths, y, "softmax")[1]
    assert np.abs(grad - full).max() > 1e-3
    np.testing.assert_array_equal(
        net.loss_and_grad(theta, X, lengths, y, "softmax", tbptt_steps=7)[1], full)


class _RecordingGenerator:
    """A generator whose draws are logged, the log shared with its copies."""

    def __init__(self, seed):
        self.rng, self.log = np.random.default_rng(seed), []

    def random(self, shape):
        self.log.append(self.rng.random(shape))
        return self.log[-1]

    def __deepcopy__(self, memo):
        twin = object.__new__(_RecordingGenerator)
        twin.rng, twin.log = copy.deepcopy(self.rng), self.log
        return twin


@pytest.mark.parametrize("pooling", POOLINGS)
def test_truncated_bptt_replays_the_dropout_masks(pooling):
    """The windows run twice (to pool, then to backpropagate): with the same masks."""
    net, theta = make_net("gru", pooling, dropout=0.5)
    rng = _RecordingGenerator(0)
    net.loss_and_grad(theta, ragged_batch(), LENGTHS, np.array([0, 2, 1, 2]), "softmax",
                      tbptt_steps=2, rng=rng)
    assert len(rng.log) == 6  # 3 windows, one mask each, drawn twice
    for first, again in zip(rng.log[:3], rng.log[3:]):
        np.testing.assert_array_equal(first, again)


# -- the engine: forward and padding -----------------------------------------------------------
def pool_of(outputs, lengths, pooling):
    """The pool written directly: outputs (B, T, F) over the first lengths[b] steps."""
    return np.stack([getattr(o[:L], pooling)(axis=0) for o, L in zip(outputs, lengths)])


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("cell", CELLS)
def test_forward_is_the_head_on_the_pooled_top_outputs(cell, pooling):
    net, theta = make_net(cell, pooling, bidirectional=True)
    X = ragged_batch()
    outputs, _, _ = net.final_states(theta, X, LENGTHS)
    W = net.unpack(theta)
    expected = pool_of(outputs, LENGTHS, pooling) @ W["head.weight"].T + W["head.bias"]
    np.testing.assert_allclose(net.forward(theta, X, LENGTHS), expected, rtol=1e-13,
                               atol=1e-15)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_pool_of_negative_outputs_never_reads_padding(pooling):
    """Outputs all negative: a padded step's zero must not become the maximum (nor count in
    the mean)."""
    net, theta = make_net("rnn", pooling, hidden_sizes=(3,))
    P = net.unpack(theta)
    P["bias_ih_l0"][:] = -5.0  # every output near -1
    X = ragged_batch()
    outputs, _, _ = net.final_states(theta, X, LENGTHS)
    assert (outputs[np.arange(6)[None, :] < LENGTHS[:, None]] < 0).all()
    W = net.unpack(theta)
    expected = pool_of(outputs, LENGTHS, pooling) @ W["head.weight"].T + W["head.bias"]
    np.testing.assert_allclose(net.forward(theta, X, LENGTHS), expected, rtol=1e-13)


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_batch_equals_its_sequences_one_by_one(bidirectional, pooling):
    net, theta = make_net("lstm", pooling, bidirectional)
    X, y = ragged_batch(), np.random.default_rng(3).normal(size=(4, 3))
    out = net.forward(theta, X, LENGTHS)
    grad_sum = np.zeros_like(theta)
    for i, L in enumerate(LENGTHS):
        np.testing.assert_allclose(out[i], net.forward(theta, X[i:i + 1, :L], [L])[0],
                                   rtol=1e-13, atol=1e-15)
        grad_sum += net.loss_and_grad(theta, X[i:i + 1, :L], [L], y[i:i + 1], "squared")[1]
    grad = net.loss_and_grad(theta, X, LENGTHS, y, "squared")[1]
    np.testing.assert_allclose(grad, grad_sum / len(LENGTHS), rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_what_padded_steps_hold_changes_nothing(pooling):
    net, theta = make_net("gru", pooling, bidirectional=True)
    X, y = ragged_batch(), np.array([0, 2, 1, 2])
    padded = np.arange(6)[None, :] >= LENGTHS[:, None]
    garbage = X.copy()
    garbage[padded] = np.random.default_rng(4).normal(scale=1e3, size=(padded.sum(), 2))
    np.testing.assert_array_equal(net.forward(theta, garbage, LENGTHS),
                                  net.forward(theta, X, LENGTHS))
    for a, b in zip(net.loss_and_grad(theta, garbage, LENGTHS, y, "softmax"),
                    net.loss_and_grad(theta, X, LENGTHS, y, "softmax")):
        np.testing.assert_array_equal(a, b)
    tokens = RecurrentNetwork("lstm", 2, (3,), 3, n_tokens=5, pooling=pooling)
    theta = tokens.init_params(np.random.default_rng(0))
    ids = np.random.default_rng(5).integers(1, 5, size=(4, 6))
    other = np.where(padded, 4, ids)
    ids = np.where(padded, 0, ids)
    np.testing.assert_array_equal(tokens.forward(theta, other, LENGTHS),
                                  tokens.forward(theta, ids, LENGTHS))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_sequences_of_one_step_pool_to_the_final_states(bidirectional):
    """One step: its output is the forward state after the last step and the backward state
    after the first, so every pooling gives the same head input."""
    lengths = np.ones(4, int)
    X = ragged_batch(lengths=lengths, T=3)
    outs = {}
    for pooling in ("last", "mean", "max"):
        net, theta = make_net("gru", pooling, bidirectional)
        outs[pooling] = net.forward(theta, X, lengths)
    np.testing.assert_allclose(outs["mean"], outs["last"], rtol=1e-14)
    np.testing.assert_allclose(outs["max"], outs["last"], rtol=1e-14)


def test_last_is_the_default_and_unchanged():
    assert RecurrentNetwork("lstm", 2, (3, 2), 3).pooling == "last"
    assert RNNClassifier().pooling == "last" and RNNRegressor().pooling == "last"
    # the PyTorch reference of the final-state head still holds
    case = load_fixture_cases()["lstm-bi2_variable"]
    net = RecurrentNetwork("lstm", 3, (5, 5), 3, bidirectional=True, pooling="last")
    theta = net.params_from_state_dict(parameters(case))
    loss, grad = net.loss_and_grad(theta, case["X"], case["lengths"], case["y/last"], "softmax")
    assert_close(loss, case["loss/last"], RTOL["float64"], "loss")
    for name, g in net.unpack(grad).items():
        assert_close(g, case[f"grad/last/{name}"], RTOL["float64"], name)


def test_initial_state_with_pooling():
    """A state carries the recurrence; the pool covers the steps given."""
    net, theta = make_net("lstm", "mean", hidden_sizes=(3,))
    X = ragged_batch(lengths=np.full(4, 6))
    _, h_n, c_n = net.final_states(theta, X[:, :2], np.full(4, 2))
    outputs, _, _ = net.final_states(theta, X[:, 2:], np.full(4, 4), initial_state=(h_n, c_n))
    W = net.unpack(theta)
    expected = outputs.mean(axis=1) @ W["head.weight"].T + W["head.bias"]
    np.testing.assert_allclose(net.forward(theta, X[:, 2:], np.full(4, 4), (h_n, c_n)),
                               expected, rtol=1e-13)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_state_gradients_at_the_last_step_are_the_pools_share(pooling):
    """dL/dh at a sequence's last step (one layer, one direction) is its direct share of the
    pool's gradient W^T dL/dZ: 1/L of it (mean), or where that step holds the maximum."""
    net, theta = make_net("gru", pooling, hidden_sizes=(3,))
    X, L = ragged_batch()[1:2], 6
    y = np.array([[0.5, -1.0, 2.0]])
    dh = net.state_gradients(theta, X, [L], y, "squared")[0]
    dZ = net.unpack(net.loss_and_grad(theta, X, [L], y, "squared")[1])["head.bias"]
    dP = net.unpack(theta)["head.weight"].T @ dZ
    if pooling == "mean":
        expected = dP / L
    else:
        outputs, _, _ = net.final_states(theta, X, [L])
        expected = np.where(outputs[0].argmax(axis=0) == L - 1, dP, 0.0)
    np.testing.assert_allclose(dh[L - 1], expected, rtol=1e-12, atol=1e-15)


def test_bad_pooling_of_the_network():
    with pytest.raises(ValueError, match=r"pooling must be one of 'last', 'mean', 'max'"):
        RecurrentNetwork("gru", 2, (3,), 1, pooling="avg")
    with pytest.raises(ValueError, match="pooling='mean' needs output='last'"):
        RecurrentNetwork("gru", 2, (3,), 1, output="sequence", pooling="mean")


# -- PyTorch ---------------------------------------------------------------------------------------
def test_fixtures_cover_every_cell_and_direction():
    assert FIXTURES.stat().st_size < 200_000
    assert {(str(c["cell"]), bool(c["bidirectional"])) for c in FIXTURE_CASES.values()} == {
        (cell, bi) for cell in CELLS for bi in (False, True)}
    for case in FIXTURE_CASES.values():
        assert (case["lengths"] < case["X"].shape[1]).any()  # PyTorch ran packed sequences


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("name", sorted(FIXTURE_CASES))
def test_forward_and_gradients_match_torch_fixture(name, pooling):
    case = FIXTURE_CASES[name]
    net = RecurrentNetwork(str(case["cell"]), int(case["input_size"]),
                           tuple(int(h) for h in case["hidden_sizes"]), int(case["n_outputs"]),
                           bidirectional=bool(case["bidirectional"]),
                           activation=str(case["activation"]), pooling=pooling)
    theta = net.params_from_state_dict(parameters(case))
    rtol = RTOL["float64"]
    assert_close(net.forward(theta, case["X"], case["lengths"]), case[f"logits/{pooling}"],
                 rtol, "logits")
    loss, grad = net.loss_and_grad(theta, case["X"], case["lengths"], case[f"y/{pooling}"],
                                   "softmax")
    assert_close(loss, case[f"loss/{pooling}"], rtol, "loss")
    expected = parameters(case, f"grad/{pooling}/")
    assert set(expected) == {name for name, _ in net.layout}
    for param, g in net.unpack(grad).items():
        assert_close(g, expected[param], rtol, f"d loss / d {param}")


# -- the estimators ------------------------------------------------------------------------------
def ragged(n=16, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(T, 2)).astype(dtype) for T in rng.integers(1, 7, size=n)]


def labels(X):
    return np.array([int(x[:, 0].max() > 1) for x in X])


@functools.lru_cache(maxsize=None)
def fitted(kind, pooling, bidirectional=False, dtype="float64"):
    X = ragged(dtype=np.dtype(dtype))
    if kind == "classifier":
        est, y = RNNClassifier("gru", (3,), pooling=pooling, bidirectional=bidirectional), labels(X)
    else:
        est, y = (RNNRegressor("lstm", (3, 2), pooling=pooling, bidirectional=bidirectional),
                  np.array([[x[:, 0].mean(), x[:, 1].max()] for x in X]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.set_params(max_iter=5, random_state=0).fit(X, y), X, y


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_estimators_fit_predict_score(kind, pooling):
    est, X, y = fitted(kind, pooling)
    assert est.network_.pooling == pooling
    prediction = est.predict(X)
    assert prediction.shape == y.shape and np.isfinite(est.score(X, y))
    assert np.isfinite(est.theta_).all()
    # the head reads the pool, not the final states; transform keeps returning those
    X3, lengths = to_nan_padded(X), np.array([len(x) for x in X])
    last = replace(est.network_, pooling="last")
    assert not np.allclose(last.forward(est.theta_, X3, lengths),
                           est.network_.forward(est.theta_, X3, lengths))
    h = est.final_state(X)
    h = h[0] if isinstance(h, tuple) else h  # the LSTM's (h, c)
    np.testing.assert_array_equal(est.transform(X), h[-1])


def test_fit_with_truncated_bptt_and_sample_weight_leaves_the_data_alone():
    X = ragged()
    X_before = [x.copy() for x in X]
    y = np.array([x.sum() for x in X])
    w = np.linspace(0.5, 2, len(X))
    reg = RNNRegressor("gru", (3, 2), pooling="max", tbptt_steps=2, dropout=0.2, max_iter=3,
                       random_state=0).fit(X, y, sample_weight=w)
    assert np.isfinite(reg.theta_).all() and np.isfinite(reg.predict(X)).all()
    for a, b in zip(X, X_before):
        np.testing.assert_array_equal(a, b)


def test_grid_search_over_pooling():
    X = ragged(n=12)
    search = GridSearchCV(RNNClassifier("gru", (3,), max_iter=2, random_state=0),
                          {"pooling": ["last", "mean", "max"]}, cv=2).fit(X, labels(X))
    assert search.best_params_["pooling"] in ("last", "mean", "max")
    assert search.best_estimator_.network_.pooling == search.best_params_["pooling"]


@pytest.mark.parametrize("Est", [RNNClassifier, RNNRegressor])
@pytest.mark.parametrize("bad", ["avg", "MEAN", None, 1])
def test_bad_pooling_is_a_value_error_naming_the_values(Est, bad):
    X = ragged(n=6)
    with pytest.raises(ValueError, match="'pooling' parameter") as error:
        Est(pooling=bad, max_iter=1).fit(X, labels(X))
    assert all(f"'{value}'" in str(error.value) for value in ("last", "mean", "max"))


def test_clone_and_params():
    clf = RNNClassifier(pooling="max", class_weight="balanced")
    assert clf.get_params()["pooling"] == "max"
    twin = clone(clf)
    assert twin.pooling == "max" and twin is not clf
    assert clf.set_params(pooling="mean").pooling == "mean"
    assert "pooling" in RNNRegressor().get_params()
    for Est in (RNNSequenceTagger, RNNSequenceRegressor):  # many-to-many: no pooling
        assert "pooling" not in Est().get_params()
        with pytest.raises(TypeError):
            Est(pooling="mean")
    forecaster = RNNForecaster(RNNRegressor("gru", (3,), pooling="mean", max_iter=2,
                                            random_state=0), window=4)
    assert forecaster.get_params()["estimator__pooling"] == "mean"
    forecaster.fit(np.sin(np.arange(40.0)))
    assert forecaster.estimator_.network_.pooling == "mean"


# -- what else reads the head --------------------------------------------------------------------
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_stream_equals_predict_of_every_prefix(kind, pooling):
    est, X, _ = fitted(kind, pooling)
    X = np.random.default_rng(9).normal(size=(3, 6, 2))
    predict = est.predict_proba if kind == "classifier" else est.predict
    batch = np.stack([predict(X[:, :t + 1]) for t in range(6)], axis=1)
    stream = est.stream(3)
    steps = np.stack([stream.step(X[:, t]) for t in range(6)], axis=1)
    np.testing.assert_allclose(steps, batch, rtol=1e-12, atol=1e-14)
    chunks = est.stream(3)
    updates = np.concatenate([chunks.update(X[:, :2]), chunks.update(X[:, 2:])], axis=1)
    np.testing.assert_allclose(updates, batch, rtol=1e-12, atol=1e-14)
    # a fork pools on its own; reset and set_state start the pool anew
    first = est.stream(3)
    first.update(X[:, :3])
    twin = first.fork()
    np.testing.assert_array_equal(first.update(X[:, 3:]), twin.update(X[:, 3:]))
    first.reset()
    np.testing.assert_allclose(first.update(X), batch, rtol=1e-12, atol=1e-14)
    state = est.final_state(X[:, :3])
    first.set_state(state)
    np.testing.assert_allclose(first.update(X[:, 3:])[:, -1],
                               predict(X[:, 3:], initial_state=state), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_persistence_and_safetensors_round_trip_the_pooling(pooling, tmp_path):
    import json
    import zipfile

    from skrnn.interchange import load_safetensors, save_safetensors
    from skrnn.persistence import load, save
    from test_persistence import rewrite

    est, X, _ = fitted("classifier", pooling)
    save(est, tmp_path / "m.skrnn")
    again = load(tmp_path / "m.skrnn")
    assert again.pooling == again.network_.pooling == pooling
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    with zipfile.ZipFile(tmp_path / "m.skrnn") as archive:
        assert json.loads(archive.read("skrnn.json"))["fitted"]["network_"]["pooling"] == pooling
    pytest.importorskip("safetensors")
    save_safetensors(est, tmp_path / "m.safetensors")
    again = load_safetensors(tmp_path / "m.safetensors")
    assert again.network_.pooling == pooling
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    for bad in ("avg", 3):
        rewrite(tmp_path / "m.skrnn",
                lambda doc: doc["fitted"]["network_"].update(pooling=bad))
        with pytest.raises(ValueError, match="pooling"):
            load(tmp_path / "m.skrnn")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("kind,bidirectional", [("classifier", False), ("regressor", True)])
def test_onnx_pools_over_the_real_steps(kind, bidirectional, pooling, dtype):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from skrnn.onnx import to_onnx

    est, X, _ = fitted(kind, pooling, bidirectional, dtype)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(to_onnx(est).SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"X": to_nan_padded(X)})
    atol = 1e-5 if dtype == "float32" else 1e-12
    if kind == "classifier":
        np.testing.assert_array_equal(outputs[0], est.predict(X))
        np.testing.assert_allclose(outputs[1], est.predict_proba(X), rtol=0, atol=atol)
    else:
        np.testing.assert_allclose(outputs[0], est.predict(X), rtol=0, atol=atol)
