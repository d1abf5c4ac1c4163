"""State in and out: initial states, final states, every layer's states, and streams.

- The engine's initial states: the fast path equals the reference for every cell, direction
  and ragged batch, and PyTorch's modules given the same weights and ``h_0`` (live, with torch).
- Carrying a final state into the rest of the sequence equals running the whole sequence.
- Streams: stepping equals the batch predictions of every prefix (float64, 1e-12), ``update``
  in chunks equals stepping, ``fork`` is independent, threads give the serial results, a stream
  pickles, and bad input is refused with a clear message.
"""

import pickle
import threading
import warnings

import numpy as np
import pytest

import skrnn._base
from skrnn import RNNClassifier, RNNRegressor, RNNSequenceRegressor, RNNSequenceTagger
from skrnn.nn import RecurrentNetwork

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


def random_state(net, B, rng, scale=0.5):
    """An (h, c) pair of lists of (B, H_k) arrays, one per layer and direction."""
    sizes = [H for H in net.hidden_sizes for _ in range(net.n_directions)]
    h = [scale * rng.normal(size=(B, H)) for H in sizes]
    c = [scale * rng.normal(size=(B, H)) for H in sizes] if net.cell == "lstm" else None
    return h, c


# -- the engine -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cell,activation", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("output", ["last", "sequence"])
def test_fast_path_initial_states_equal_reference(cell, activation, bidirectional, output):
    rng = np.random.default_rng(3)
    kw = dict(bidirectional=bidirectional, output=output, activation=activation)
    fast = RecurrentNetwork(cell, 3, (4, 5), 2, **kw)
    ref = RecurrentNetwork(cell, 3, (4, 5), 2, implementation="reference", **kw)
    theta = fast.init_params(rng)
    X = rng.normal(size=(6, 7, 3))
    for lengths in (np.array([7, 2, 5, 1, 7, 3]), np.full(6, 7)):
        state = random_state(fast, 6, rng)
        np.testing.assert_allclose(fast.forward(theta, X, lengths, state),
                                   ref.forward(theta, X, lengths, state), rtol=0, atol=1e-12)
        for a, b in zip(fast.final_states(theta, X, lengths, state),
                        ref.final_states(theta, X, lengths, state)):
            if a is None:
                assert b is None
                continue
            np.testing.assert_allclose(np.concatenate(a, axis=None) if isinstance(a, list)
                                       else a, np.concatenate(b, axis=None)
                                       if isinstance(b, list) else b, rtol=0, atol=1e-12)
        for layer in (0, 1):
            for a, b in zip(fast.hidden_states(theta, X, lengths, state, layer=layer),
                            ref.hidden_states(theta, X, lengths, state, layer=layer)):
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_zero_initial_state_is_the_default():
    rng = np.random.default_rng(0)
    net = RecurrentNetwork("lstm", 2, (3,), 2, bidirectional=True)
    theta = net.init_params(rng)
    X, lengths = rng.normal(size=(4, 5, 2)), np.array([5, 1, 3, 2])
    zeros = ([np.zeros((4, 3))] * 2, [np.zeros((4, 3))] * 2)
    np.testing.assert_array_equal(net.forward(theta, X, lengths, zeros),
                                  net.forward(theta, X, lengths))


@pytest.mark.parametrize("state,message", [
    ("h", "pair"),
    ((np.zeros((2, 4, 3)), None), "needs both h and c"),
    (([np.zeros((4, 3))], [np.zeros((4, 3))]), "must hold 2 arrays"),
    ((np.zeros((2, 5, 3)), np.zeros((2, 5, 3))), r"shape \(4, 3\)"),
    ((np.full((2, 4, 3), np.nan), np.zeros((2, 4, 3))), "finite"),
])
def test_bad_initial_states_are_refused(state, message):
    net = RecurrentNetwork("lstm", 2, (3, 3), 2)
    theta = net.init_params(np.random.default_rng(0))
    with pytest.raises(ValueError, match=message):
        net.forward(theta, np.zeros((4, 5, 2)), np.full(4, 5), state)


def test_a_gru_state_has_no_cell_state():
    net = RecurrentNetwork("gru", 2, (3,), 2)
    theta = net.init_params(np.random.default_rng(0))
    with pytest.raises(ValueError, match="no cell state"):
        net.forward(theta, np.zeros((4, 5, 2)), np.full(4, 5),
                    ([np.zeros((4, 3))], [np.zeros((4, 3))]))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_initial_states_match_torch(cell, bidirectional):
    """Every layer's outputs and final states from a given h_0 (and c_0) agree with
    PyTorch's module on a packed ragged batch."""
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    D, H, L, B, T = 3, 4, 2, 5, 6
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        D, H, num_layers=L, bidirectional=bidirectional, batch_first=True).double()
    net = RecurrentNetwork(cell, D, (H,) * L, 2, bidirectional=bidirectional, output="sequence")
    weights = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    weights["head.weight"] = rng.normal(size=(2, net.n_directions * H))
    weights["head.bias"] = rng.normal(size=2)
    theta = net.params_from_state_dict(weights)
    X, lengths = rng.normal(size=(B, T, D)), np.array([6, 2, 4, 1, 5])
    h, c = random_state(net, B, rng)
    hx = torch.tensor(np.stack(h))
    if cell == "lstm":
        hx = (hx, torch.tensor(np.stack(c)))
    packed = pack_padded_sequence(torch.tensor(X), torch.tensor(lengths), batch_first=True,
                                  enforce_sorted=False)
    out, hn = module(packed, hx)
    out = pad_packed_sequence(out, batch_first=True, total_length=T)[0].detach().numpy()
    outputs, h_n, c_n = net.final_states(theta, X, lengths, (h, c))
    np.testing.assert_allclose(outputs, out, rtol=1e-10, atol=1e-12)
    torch_h = (hn[0] if cell == "lstm" else hn).detach().numpy()
    np.testing.assert_allclose(np.stack(h_n), torch_h, rtol=1e-10, atol=1e-12)
    if cell == "lstm":
        np.testing.assert_allclose(np.stack(c_n), hn[1].detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    # the first layer's states at every step: PyTorch's first layer alone
    first = type(module)(D, H, bidirectional=bidirectional, batch_first=True).double()
    first.load_state_dict({k: v for k, v in module.state_dict().items() if "_l0" in k})
    nd = net.n_directions
    hx0 = tuple(part[:nd] for part in hx) if cell == "lstm" else hx[:nd]
    out0 = pad_packed_sequence(first(packed, hx0)[0], batch_first=True, total_length=T)[0]
    states0, _ = net.hidden_states(theta, X, lengths, (h, c), layer=0)
    np.testing.assert_allclose(states0, out0.detach().numpy(), rtol=1e-10, atol=1e-12)


# -- estimators: initial and final states ---------------------------------------------------------
def fitted(kind, cell, hidden=(5,), bidirectional=False, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=(n, 2)).astype(dtype) for n in rng.integers(1, 9, size=24)]
    params = dict(hidden_layer_sizes=hidden, bidirectional=bidirectional, max_iter=3,
                  random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "classifier":
            y = np.array([int(x[:, 0].sum() > 0) + int(len(x) > 4) for x in X])
            return RNNClassifier(cell, **params).fit(X, y), X
        if kind == "regressor":
            y = np.array([x.sum() for x in X])
            return RNNRegressor(cell, **params).fit(X, y), X
        if kind == "regressor2":
            y = np.array([[x.sum(), len(x)] for x in X])
            return RNNRegressor(cell, **params).fit(X, y), X
        if kind == "seqreg":
            y = [np.column_stack([np.cumsum(x[:, 0]), x[:, 1]]) for x in X]
            return RNNSequenceRegressor(cell, **params).fit(X, y), X
        y = [(np.cumsum(x[:, 0]) > 0).astype(int) for x in X]
        return RNNSequenceTagger(cell, **params).fit(X, y), X


def batch_prediction(est, X, initial_state=None):
    """The estimator's prediction for each sequence (the tagger's: at its last step)."""
    if isinstance(est, RNNSequenceTagger):
        return np.stack([p[-1] for p in est.predict_proba(X, initial_state)])
    if isinstance(est, RNNSequenceRegressor):
        return np.stack([p[-1] for p in est.predict(X, initial_state)])
    if isinstance(est, RNNClassifier):
        return est.predict_proba(X, initial_state)
    return est.predict(X, initial_state)


@pytest.mark.parametrize("kind", ["classifier", "regressor", "tagger", "seqreg"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_carrying_the_final_state_equals_the_whole_sequence(kind, cell, bidirectional):
    est, _ = fitted(kind, cell, hidden=(4, 3), bidirectional=bidirectional)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(7, 9, 2))
    state = est.final_state(X[:, :5])
    if bidirectional:  # the backward direction reads the steps from the end: no carrying
        h = state[0] if cell == "lstm" else state
        assert [a.shape for a in h] == [(7, 4), (7, 4), (7, 3), (7, 3)]
        return
    np.testing.assert_allclose(batch_prediction(est, X[:, 5:], state),
                               batch_prediction(est, X), rtol=0, atol=1e-12)
    np.testing.assert_allclose(est.transform(X[:, 5:], state), est.transform(X), atol=1e-12)
    later = est.hidden_states(X[:, 5:], state, layer=0)
    whole = est.hidden_states(X, layer=0)
    for a, b in zip(later, whole):
        np.testing.assert_allclose(a, b[5:], atol=1e-12)


def test_final_state_in_pytorch_shapes():
    est, X = fitted("classifier", "lstm", hidden=(4, 4))
    h, c = est.final_state(X)
    assert h.shape == c.shape == (2, len(X), 4)
    # the top layer's final h is the embedding transform returns
    np.testing.assert_allclose(h[-1], est.transform(X), atol=1e-12)
    gru, X = fitted("regressor", "gru", hidden=(4, 2))
    h = gru.final_state(X)
    assert isinstance(h, list) and [a.shape for a in h] == [(len(X), 4), (len(X), 2)]


def test_initial_states_follow_the_callers_rows_through_chunks(monkeypatch):
    """Ragged input predicted in chunks sorted by length: each row keeps its own state."""
    est, X = fitted("classifier", "gru", hidden=(4,))
    rng = np.random.default_rng(2)
    state = rng.normal(size=(1, len(X), 4))
    whole = est.predict_proba(X, state)
    monkeypatch.setattr(skrnn._base, "_PREDICT_CHUNK", 5)
    np.testing.assert_allclose(est.predict_proba(X, state), whole, rtol=0, atol=1e-12)
    one_by_one = [est.predict_proba([x], state[:, i:i + 1])[0] for i, x in enumerate(X)]
    np.testing.assert_allclose(np.stack(one_by_one), whole, rtol=0, atol=1e-12)


def test_initial_state_errors_name_the_problem():
    est, X = fitted("classifier", "lstm", hidden=(4,))
    with pytest.raises(ValueError, match=r"pair \(h, c\)"):
        est.predict(X, np.zeros((1, len(X), 4)))
    with pytest.raises(ValueError, match=r"shape \(24, 4\)"):
        est.predict(X, (np.zeros((1, 3, 4)), np.zeros((1, 3, 4))))
    gru, X = fitted("classifier", "gru", hidden=(4,))
    with pytest.raises(ValueError, match="not a tuple"):
        gru.predict(X, (np.zeros((1, len(X), 4)), None))


def test_hidden_states_of_each_layer():
    est, X = fitted("tagger", "gru", hidden=(4, 3), bidirectional=True)
    low, top = est.hidden_states(X, layer=0), est.hidden_states(X)
    assert [a.shape for a in low] == [(len(x), 8) for x in X]
    assert [a.shape for a in top] == [(len(x), 6) for x in X]
    for a, b in zip(top, est.hidden_states(X, layer=1)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="layer must be in"):
        est.hidden_states(X, layer=2)


# -- streams --------------------------------------------------------------------------------------
STREAM_CASES = [(kind, cell, hidden) for kind in ("classifier", "regressor", "regressor2",
                                                   "tagger", "seqreg")
                for cell in ("rnn", "lstm", "gru") for hidden in ((5,), (4, 3))]


@pytest.mark.parametrize("kind,cell,hidden", STREAM_CASES)
def test_stepping_equals_the_batch_prediction_of_every_prefix(kind, cell, hidden):
    est, _ = fitted(kind, cell, hidden=hidden)
    X = np.random.default_rng(7).normal(size=(3, 6, 2))
    stream = est.stream(n_streams=3)
    for t in range(X.shape[1]):
        out = stream.step(X[:, t])
        np.testing.assert_allclose(out, batch_prediction(est, X[:, :t + 1]), rtol=0,
                                   atol=1e-12)
    assert stream.n_steps_ == X.shape[1]
    stream_h, batch_h = stream.state, est.final_state(X)
    if cell == "lstm":
        stream_h, batch_h = stream_h[0], batch_h[0]
    for a, b in zip(stream_h, batch_h):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_stream_in_float32(cell):
    est, _ = fitted("classifier", cell, hidden=(5, 5), dtype=np.float32)
    assert est.theta_.dtype == np.float32
    X = np.random.default_rng(7).normal(size=(2, 5, 2)).astype(np.float32)
    stream = est.stream(2)
    for t in range(5):
        out = stream.step(X[:, t])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, est.predict_proba(X), rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["classifier", "regressor", "tagger"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_update_in_chunks_equals_stepping(kind, cell):
    est, _ = fitted(kind, cell, hidden=(4, 4))
    X = np.random.default_rng(8).normal(size=(2, 9, 2))
    stepped = est.stream(2)
    steps = np.stack([stepped.step(X[:, t]) for t in range(9)], axis=1)
    chunked = est.stream(2)
    parts = [chunked.update(X[:, a:b]) for a, b in ((0, 4), (4, 5), (5, 5), (5, 9))]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), steps, rtol=0, atol=1e-12)
    assert chunked.n_steps_ == 9
    np.testing.assert_allclose(chunked.step(X[:, 0]), stepped.step(X[:, 0]), atol=1e-12)


def test_fork_is_independent_and_reset_starts_again():
    est, _ = fitted("classifier", "lstm")
    X = np.random.default_rng(9).normal(size=(1, 6, 2))
    a = est.stream()
    a.update(X[:, :3])
    b = a.fork()
    out_b = [b.step(X[0, t]) for t in range(3, 6)]
    out_a = [a.step(X[0, t]) for t in range(3, 6)]
    np.testing.assert_array_equal(out_a, out_b)
    before = a.state
    b.step(X[0, 0])  # moves b only
    for x, y in zip(a.state, before):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(b.state[0], a.state[0])
    np.testing.assert_allclose(a.reset().step(X[0, 0]), est.predict_proba(X[:, :1]),
                               atol=1e-12)


def test_stream_state_round_trip_and_pickle():
    est, _ = fitted("regressor2", "lstm", hidden=(3, 3))
    X = np.random.default_rng(10).normal(size=(2, 8, 2))
    stream = est.stream(2)
    stream.update(X[:, :4])
    copy = pickle.loads(pickle.dumps(stream))
    other = est.stream(2).set_state(stream.state)
    expected = stream.update(X[:, 4:])
    np.testing.assert_array_equal(copy.update(X[:, 4:]), expected)
    np.testing.assert_allclose(other.update(X[:, 4:]), expected, atol=1e-12)


def test_streams_in_threads_give_the_serial_results():
    est, _ = fitted("classifier", "gru", hidden=(8,))
    rng = np.random.default_rng(11)
    inputs = [rng.normal(size=(40, 2)) for _ in range(4)]
    serial = [np.stack([s.step(x) for x in xs]) for s, xs in
              ((est.stream(), xs) for xs in inputs)]
    results = [None] * len(inputs)

    def run(i):
        stream = est.stream()
        results[i] = np.stack([stream.step(x) for x in inputs[i]])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(results, serial):
        np.testing.assert_array_equal(a, b)


def test_a_stream_never_changes_the_estimator():
    est, X = fitted("classifier", "lstm")
    theta, proba = est.theta_.copy(), est.predict_proba(X)
    stream = est.stream()
    for x in X[0]:
        stream.step(x)
    stream.set_state((np.ones((1, 1, 5)), np.ones((1, 1, 5))))
    np.testing.assert_array_equal(est.theta_, theta)
    np.testing.assert_array_equal(est.predict_proba(X), proba)


def test_step_accepts_the_natural_shapes():
    est, _ = fitted("regressor", "gru")
    x = np.array([0.3, -1.0])
    outs = [est.stream().step(v) for v in (x, x[None], [0.3, -1.0])]
    assert all(o.shape == (1,) for o in outs)
    np.testing.assert_array_equal(outs[0], outs[1])
    reg1 = RNNRegressor("gru", (3,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg1.fit(np.random.default_rng(0).normal(size=(10, 5)), np.arange(10.0))
    assert reg1.stream().step(0.5).shape == (1,)
    assert reg1.stream(3).step([0.1, 0.2, 0.3]).shape == (3,)


@pytest.mark.parametrize("call,error,message", [
    (lambda s: s.step(np.zeros(3)), ValueError, r"\(n_streams, n_features\) = \(2, 2\)"),
    (lambda s: s.step([[np.nan, 0], [0, 0]]), ValueError, "NaN"),
    (lambda s: s.step("ab"), TypeError, "numbers"),
    (lambda s: s.update(np.zeros((3, 4, 2))), ValueError, "n_streams=2"),
    (lambda s: s.set_state(np.zeros((1, 2, 5))), ValueError, r"pair \(h, c\)"),
    (lambda s: s.set_state((np.zeros((1, 3, 5)), np.zeros((1, 3, 5)))), ValueError,
     r"shape \(2, 5\)"),
])
def test_bad_stream_input_is_refused(call, error, message):
    est, _ = fitted("classifier", "lstm")
    stream = est.stream(2)
    with pytest.raises(error, match=message):
        call(stream)
    assert stream.n_steps_ == 0


def test_bidirectional_models_and_bad_counts_cannot_stream():
    est, _ = fitted("classifier", "gru", bidirectional=True)
    with pytest.raises(ValueError, match="bidirectional"):
        est.stream()
    est, _ = fitted("classifier", "gru")
    for n in (0, 1.5, True):
        with pytest.raises(ValueError, match="n_streams"):
            est.stream(n)


@pytest.mark.parametrize("cell,activation", CELLS)
def test_fast_stepper_equals_the_reference(cell, activation):
    """The fast path's stepper (the kernel over buffers of one step) against the cells' step,
    from a set state, over several steps."""
    rng = np.random.default_rng(12)
    fast = RecurrentNetwork(cell, 3, (5, 4), 2, activation=activation)
    ref = RecurrentNetwork(cell, 3, (5, 4), 2, activation=activation,
                           implementation="reference")
    theta = fast.init_params(rng)
    a, b = fast.steppers(theta, np.float64, 2), ref.steppers(theta, np.float64, 2)
    for sa, sb, H in zip(a, b, (5, 4)):
        state = tuple(rng.normal(size=(H, 2)) for _ in sa.get_state())
        sa.set_state(state)
        sb.set_state(state)
    for _ in range(6):
        ha = hb = rng.normal(size=(3, 2))
        for sa, sb in zip(a, b):
            ha, hb = sa.step(ha), sb.step(hb)
        np.testing.assert_allclose(ha, hb, rtol=0, atol=1e-12)
    for sa, sb in zip(a, b):
        for x, y in zip(sa.get_state(), sb.get_state()):
            np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)


def test_refitting_the_estimator_leaves_its_streams_alone():
    est, X = fitted("classifier", "gru")
    stream = est.stream()
    x = np.random.default_rng(13).normal(size=(4, 2))
    before = [stream.fork().step(v) for v in x[:1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.set_params(max_iter=2, random_state=5).fit(X, [i % 2 for i in range(len(X))])
    np.testing.assert_array_equal([stream.step(v) for v in x[:1]], before)


# -- inspection: gates and the gradients of the states ------------------------------------------
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_gates_rebuild_the_states(bidirectional):
    """h_t = o_t * tanh(c_t) and c_t = f_t * c_{t-1} + i_t * g_t, from the returned gates."""
    est, X = fitted("classifier", "lstm", hidden=(4, 3), bidirectional=bidirectional)
    for layer in (0, 1):
        gates = est.gate_activations(X, layer=layer)
        states = est.hidden_states(X, layer=layer)
        for i, h in enumerate(states):
            np.testing.assert_allclose(gates["o"][i] * np.tanh(gates["c"][i]), h, atol=1e-12)
            H = h.shape[1] // (2 if bidirectional else 1)
            c, f, ig = gates["c"][i][:, :H], gates["f"][i][:, :H], \
                gates["i"][i][:, :H] * gates["g"][i][:, :H]
            np.testing.assert_allclose(c[1:], f[1:] * c[:-1] + ig[1:], atol=1e-12)
    _, c_n = est.final_state(X)  # layer-major, forward first: the top forward is c_n[-nd]
    top_forward = c_n[-2 if bidirectional else -1]
    np.testing.assert_allclose(top_forward, [c[-1, :3] for c in est.gate_activations(X)["c"]],
                               atol=1e-12)


def test_gru_gates_rebuild_the_states():
    """h_t = (1 - z_t) * n_t + z_t * h_{t-1} from the returned gates, from a given h_0."""
    est, X = fitted("tagger", "gru", hidden=(4,))
    h0 = np.random.default_rng(3).normal(size=(1, len(X), 4))
    gates = est.gate_activations(X, h0)
    for i, h in enumerate(est.hidden_states(X, h0)):
        prev = np.vstack([h0[0, i], h[:-1]])
        np.testing.assert_allclose((1 - gates["z"][i]) * gates["n"][i] + gates["z"][i] * prev,
                                   h, atol=1e-12)


def test_a_vanilla_rnn_has_no_gates():
    est, X = fitted("classifier", "rnn")
    with pytest.raises(ValueError, match="no gates"):
        est.gate_activations(X)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_state_gradients_match_finite_differences(kind, cell):
    """dL/dh_k is the gradient of the loss of the steps after k, run from the state h_k:
    checked by central differences through final_state and initial_state (float64)."""
    est, _ = fitted(kind, cell, hidden=(3,))
    rng = np.random.default_rng(4)
    X = rng.normal(size=(5, 6, 2))
    if kind == "classifier":
        y = est.classes_[np.arange(5) % len(est.classes_)]

        def loss(Xr, state):
            proba = est.predict_proba(Xr, state)
            return -np.mean(np.log(proba[np.arange(5), np.searchsorted(est.classes_, y)]))
    else:
        y = rng.normal(size=5)

        def loss(Xr, state):  # the loss fit minimises: that of the standardised targets
            return 0.5 * np.mean(((est.predict(Xr, state) - y) / est.target_scale_) ** 2)

    grads = np.stack(est.state_gradients(X, y))  # (5, 6, 3)
    for k in (1, 4):
        state = est.final_state(X[:, :k + 1])
        h = state[0] if cell == "lstm" else state
        numeric = np.zeros((5, 3))
        for b in range(5):
            for j in range(3):
                for sign in (1, -1):
                    hp = h.copy()
                    hp[0, b, j] += sign * 1e-6
                    numeric[b, j] += sign * loss(X[:, k + 1:], (hp, state[1]) if cell == "lstm"
                                                 else hp) / 2e-6
        np.testing.assert_allclose(grads[:, k], numeric, rtol=1e-5, atol=1e-9)
    assert np.abs(grads).sum() > 0


def test_the_callers_arrays_are_left_as_they_were():
    """Steps, chunks, states and initial states given by the caller are read, never written."""
    est, X = fitted("classifier", "lstm", hidden=(4, 4))
    rng = np.random.default_rng(14)
    x, chunk = rng.normal(size=(2, 2)), rng.normal(size=(2, 3, 2))
    state = (rng.normal(size=(2, 2, 4)), rng.normal(size=(2, 2, 4)))
    copies = [a.copy() for a in (x, chunk, *state)]
    stream = est.stream(2).set_state(state)
    stream.step(x)
    stream.update(chunk)
    stream.set_state(state)
    est.predict_proba(chunk, initial_state=state)
    est.final_state(chunk, initial_state=state)
    est.gate_activations(chunk, state)
    for a, b in zip((x, chunk, *state), copies):
        np.testing.assert_array_equal(a, b)
