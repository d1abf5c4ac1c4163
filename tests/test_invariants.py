"""Invariants of the engine: padding, batching, direction, dtype, threads, parameters."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from skrnn.nn import RecurrentNetwork

CELLS = ["rnn", "lstm", "gru"]


def make_net(cell, **kw):
    kw.setdefault("hidden_sizes", (4, 3))
    kw.setdefault("n_outputs", 2)
    net = RecurrentNetwork(cell, 3, **kw)
    rng = np.random.default_rng(0)
    theta = net.init_params(rng)
    return net, theta + rng.normal(scale=0.1, size=theta.shape)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_sequence_equals_the_sequence_alone(cell, bidirectional):
    net, theta = make_net(cell, bidirectional=bidirectional)
    rng = np.random.default_rng(1)
    seq = rng.normal(size=(4, 3))
    padded = np.full((1, 9, 3), np.nan)  # whatever sits in padded steps is ignored
    padded[0, :4] = seq
    alone = seq[None]
    out_p, h_p, c_p = net.final_states(theta, padded, [4])
    out_a, h_a, c_a = net.final_states(theta, alone, [4])
    np.testing.assert_allclose(out_p[:, :4], out_a, rtol=1e-13, atol=1e-15)
    assert not out_p[:, 4:].any()
    for a, b in zip(h_p + (c_p or []), h_a + (c_a or [])):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    y = np.array([1])
    grad_p = net.loss_and_grad(theta, padded, [4], y, "softmax")[1]
    grad_a = net.loss_and_grad(theta, alone, [4], y, "softmax")[1]
    np.testing.assert_allclose(grad_p, grad_a, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("output", ["last", "sequence"])
def test_batch_equals_its_sequences_one_by_one(cell, output):
    net, theta = make_net(cell, bidirectional=True, output=output)
    rng = np.random.default_rng(2)
    lengths = np.array([2, 6, 1, 6, 4])
    X = rng.normal(size=(5, 6, 3))
    y = rng.normal(size=(5, 2)) if output == "last" else rng.normal(size=(5, 6, 2))
    batch_out = net.forward(theta, X, lengths)
    weights = lengths if output == "sequence" else np.ones(5)
    grad_sum = np.zeros_like(theta)
    for i, L in enumerate(lengths):
        out_i = net.forward(theta, X[i:i + 1, :L], [L])
        expected = out_i[0] if output == "last" else out_i[0, :L]
        got = batch_out[i] if output == "last" else batch_out[i, :L]
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
        yi = y[i:i + 1] if output == "last" else y[i:i + 1, :L]
        grad_sum += weights[i] * net.loss_and_grad(theta, X[i:i + 1, :L], [L], yi, "squared")[1]
    grad = net.loss_and_grad(theta, X, lengths, y, "squared")[1]
    np.testing.assert_allclose(grad, grad_sum / weights.sum(), rtol=1e-11, atol=1e-15)


def _swap_directions(net, theta):
    """Theta with every layer's forward and reverse parameters exchanged."""
    P, swapped = net.unpack(theta), theta.copy()
    S = net.unpack(swapped)
    for name in P:
        if name.endswith("_reverse"):
            S[name][...], S[name[:-8]][...] = P[name[:-8]], P[name]
    return swapped


def _reverse_each(X, lengths):
    out = X.copy()
    for i, L in enumerate(lengths):
        out[i, :L] = X[i, :L][::-1]
    return out


@pytest.mark.parametrize("cell", CELLS)
def test_reversing_the_input_equals_swapping_the_directions(cell):
    net, theta = make_net(cell, bidirectional=True, hidden_sizes=(4,))
    rng = np.random.default_rng(3)
    lengths = np.array([5, 3, 1])
    X = rng.normal(size=(3, 5, 3))
    out, _, _ = net.final_states(theta, X, lengths)
    out_rev, _, _ = net.final_states(_swap_directions(net, theta), _reverse_each(X, lengths), lengths)
    H = 4
    expected = _reverse_each(np.concatenate([out[..., H:], out[..., :H]], axis=2), lengths)
    np.testing.assert_allclose(out_rev, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cell", CELLS)
def test_float32_end_to_end(cell):
    net, theta = make_net(cell, bidirectional=True)
    rng = np.random.default_rng(4)
    X, lengths, y = rng.normal(size=(4, 6, 3)), np.array([6, 2, 5, 6]), np.array([0, 1, 1, 0])
    out64 = net.forward(theta, X, lengths)
    out32 = net.forward(theta.astype(np.float32), X.astype(np.float32), lengths)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)
    loss32, grad32 = net.loss_and_grad(theta.astype(np.float32), X.astype(np.float32), lengths,
                                       y, "softmax")
    loss64, grad64 = net.loss_and_grad(theta, X, lengths, y, "softmax")
    assert grad32.dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    np.testing.assert_allclose(grad32, grad64, rtol=1e-3, atol=1e-5)


def test_float32_input_decides_the_dtype_even_with_float64_parameters():
    net, theta = make_net("lstm")
    X = np.random.default_rng(5).normal(size=(2, 4, 3)).astype(np.float32)
    assert net.forward(theta, X, [4, 2]).dtype == np.float32


def test_predicting_from_many_threads_equals_serial():
    net, theta = make_net("lstm", bidirectional=True, output="sequence")
    rng = np.random.default_rng(6)
    batches = [(rng.normal(size=(8, 12, 3)), rng.integers(1, 13, size=8)) for _ in range(16)]
    serial = [net.forward(theta, X, L) for X, L in batches]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda b: net.forward(theta, *b), batches))
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inputs_are_not_modified(cell, padded, dtype):
    # Unpadded batches run on a view of the caller's X: read-only arrays prove nothing writes.
    rng = np.random.default_rng(7)
    X = rng.normal(size=(3, 5, 3)).astype(dtype)
    lengths, y = np.array([5, 2, 4] if padded else [5, 5, 5]), np.array([0, 1, 0])
    if padded:
        X[1, 2:] = np.nan
    for bidirectional, tbptt in [(True, None), (False, 2)]:
        net, theta = make_net(cell, bidirectional=bidirectional, dropout=0.5)
        theta = theta.astype(dtype)
        copies = [a.copy() for a in (theta, X, lengths, y)]
        for a in (theta, X, lengths, y):
            a.setflags(write=False)
        net.forward(theta, X, lengths)
        net.hidden_states(theta, X, lengths)
        net.final_states(theta, X, lengths)
        net.loss_and_grad(theta, X, lengths, y, "softmax", tbptt_steps=tbptt,
                          rng=np.random.default_rng(0))
        for a, b in zip((theta, X, lengths, y), copies):
            np.testing.assert_array_equal(a, b)


# -- parameters ------------------------------------------------------------------------------
def test_layout_follows_pytorch_names_and_shapes():
    net = RecurrentNetwork("lstm", 3, (5, 2), 4, bidirectional=True)
    layout = dict(net.layout)
    assert layout["weight_ih_l0"] == (20, 3)
    assert layout["weight_hh_l0_reverse"] == (20, 5)
    assert layout["weight_ih_l1"] == (8, 10)
    assert layout["bias_hh_l1_reverse"] == (8,)
    assert layout["head.weight"] == (4, 4)
    assert net.n_params == sum(np.prod(s) for s in layout.values())


def test_state_dict_round_trip_and_errors():
    net, theta = make_net("gru")
    sd = net.state_dict(theta)
    np.testing.assert_array_equal(net.params_from_state_dict(sd), theta)
    sd["weight_hh_l0"] = sd["weight_hh_l0"][:, :2]
    with pytest.raises(ValueError, match="weight_hh_l0 has shape"):
        net.params_from_state_dict(sd)
    del sd["weight_hh_l0"]
    with pytest.raises(ValueError, match="missing"):
        net.params_from_state_dict(sd)


@pytest.mark.parametrize("cell,G", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_initialisation(cell, G):
    net = RecurrentNetwork(cell, 3, (6,), 2)
    P = net.unpack(net.init_params(np.random.default_rng(0), forget_bias=1.5))
    W_hh = P["weight_hh_l0"]
    for g in range(G):  # each recurrent gate block is orthogonal
        block = W_hh[g * 6:(g + 1) * 6]
        np.testing.assert_allclose(block @ block.T, np.eye(6), atol=1e-12)
    limit = np.sqrt(6 / (6 + 3))
    assert np.abs(P["weight_ih_l0"]).max() <= limit
    expected_bias = np.zeros(G * 6)
    if cell == "lstm":
        expected_bias[6:12] = 1.5
    np.testing.assert_array_equal(P["bias_ih_l0"], expected_bias)
    assert P["weight_ih_l0"].dtype == np.float64
    assert net.init_params(np.random.default_rng(0), np.float32).dtype == np.float32


@pytest.mark.parametrize("kwargs,match", [
    ({"cell": "transformer"}, "cell"),
    ({"hidden_sizes": ()}, "hidden_sizes"),
    ({"output": "all"}, "output"),
    ({"dropout": 1.0}, "dropout"),
    ({"activation": "sigmoid", "cell": "rnn"}, "activation"),
])
def test_bad_configuration(kwargs, match):
    args = {"cell": "lstm", "input_size": 2, "hidden_sizes": (3,), "n_outputs": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        RecurrentNetwork(**args)


def test_bad_batches():
    net, theta = make_net("rnn")
    with pytest.raises(ValueError, match="shape"):
        net.forward(theta, np.zeros((2, 4, 5)), [4, 4])
    with pytest.raises(ValueError, match="lengths"):
        net.forward(theta, np.zeros((2, 4, 3)), [4, 0])
    with pytest.raises(ValueError, match="lengths"):
        net.forward(theta, np.zeros((2, 4, 3)), [4, 5])
    with pytest.raises(ValueError, match="loss"):
        net.loss_and_grad(theta, np.zeros((2, 4, 3)), [4, 4], [0, 1], "hinge")
