"""Central-difference gradient checks in float64 for every cell, direction, depth, mask, head
and loss, plus dropout and truncated BPTT."""

import zlib

import numpy as np
import pytest

from skrnn.nn import RecurrentNetwork

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
HEADS_LOSSES = [("last", "softmax"), ("last", "logistic"), ("last", "squared"),
                ("sequence", "softmax"), ("sequence", "logistic"), ("sequence", "squared")]
B, T, D, K = 3, 5, 2, 3


def make_targets(rng, output, loss, T=T):
    shape = (B,) if output == "last" else (B, T)
    if loss == "softmax":
        return rng.integers(0, K, size=shape)
    if loss == "logistic":
        return (rng.random(shape + (K,)) > 0.5).astype(float)
    return rng.normal(size=shape + (K,))


def numerical_gradient(f, theta, eps=1e-6):
    grad = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = eps
        grad[i] = (f(theta + step) - f(theta - step)) / (2 * eps)
    return grad


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


def random_theta(net, rng):
    theta = net.init_params(rng)
    return theta + rng.normal(scale=0.2, size=theta.shape)  # non-zero biases everywhere


@pytest.mark.parametrize("cell,activation", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("hidden_sizes", [(3,), (3, 2)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("output,loss", HEADS_LOSSES)
def test_gradient_matches_central_differences(cell, activation, bidirectional, hidden_sizes,
                                              masked, output, loss):
    case = (cell, activation, bidirectional, hidden_sizes, masked, output, loss)
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    net = RecurrentNetwork(cell, D, hidden_sizes, K, bidirectional, output, activation)
    theta = random_theta(net, rng)
    X = rng.normal(size=(B, T, D))
    lengths = np.array([T, 2, 4]) if masked else np.full(B, T)
    y = make_targets(rng, output, loss)
    weights = rng.uniform(0.5, 2.0, size=B)

    def f(th):
        return net.loss_and_grad(th, X, lengths, y, loss, weights, l2=0.05)[0]

    _, grad = net.loss_and_grad(theta, X, lengths, y, loss, weights, l2=0.05)
    assert relative_error(grad, numerical_gradient(f, theta)) < 1e-6


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradient_with_dropout_between_layers(cell):
    rng = np.random.default_rng(0)
    net = RecurrentNetwork(cell, D, (3, 2), K, bidirectional=True, dropout=0.4)
    theta = random_theta(net, rng)
    X, lengths, y = rng.normal(size=(B, T, D)), np.array([5, 1, 3]), rng.integers(0, K, B)

    def loss_grad(th):  # the same dropout masks at every evaluation
        return net.loss_and_grad(th, X, lengths, y, "softmax", rng=np.random.default_rng(7))

    value, grad = loss_grad(theta)
    assert relative_error(grad, numerical_gradient(lambda th: loss_grad(th)[0], theta)) < 1e-6
    no_dropout = net.loss_and_grad(theta, X, lengths, y, "softmax")[0]
    assert value != pytest.approx(no_dropout)


def test_dropout_is_seeded():
    rng = np.random.default_rng(1)
    net = RecurrentNetwork("gru", D, (4, 4), K, dropout=0.5)
    theta = net.init_params(rng)
    X, lengths, y = rng.normal(size=(B, T, D)), np.full(B, T), rng.integers(0, K, B)
    a = net.loss_and_grad(theta, X, lengths, y, "softmax", rng=np.random.default_rng(3))
    b = net.loss_and_grad(theta, X, lengths, y, "softmax", rng=np.random.default_rng(3))
    c = net.loss_and_grad(theta, X, lengths, y, "softmax", rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0] != c[0]


# -- truncated BPTT --------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("output,loss", [("last", "softmax"), ("sequence", "squared")])
def test_truncation_longer_than_sequence_is_full_bptt(cell, output, loss):
    rng = np.random.default_rng(2)
    net = RecurrentNetwork(cell, D, (3, 2), K, output=output)
    theta = random_theta(net, rng)
    X, lengths, y = rng.normal(size=(B, 7, D)), np.array([7, 2, 5]), make_targets(rng, output, loss, 7)
    full = net.loss_and_grad(theta, X, lengths, y, loss)
    for k in (7, 100):
        truncated = net.loss_and_grad(theta, X, lengths, y, loss, tbptt_steps=k)
        assert truncated[0] == pytest.approx(full[0], rel=1e-14)
        np.testing.assert_allclose(truncated[1], full[1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("output,loss", [("last", "softmax"), ("sequence", "squared")])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_truncation_carries_the_state_forward(cell, output, loss, k):
    """The loss is computed on the exact (untruncated) forward pass; only gradients are cut."""
    rng = np.random.default_rng(3)
    net = RecurrentNetwork(cell, D, (3, 2), K, output=output)
    theta = random_theta(net, rng)
    X, lengths, y = rng.normal(size=(B, 7, D)), np.array([7, 2, 5]), make_targets(rng, output, loss, 7)
    full_loss, full_grad = net.loss_and_grad(theta, X, lengths, y, loss)
    loss_k, grad_k = net.loss_and_grad(theta, X, lengths, y, loss, tbptt_steps=k)
    assert loss_k == pytest.approx(full_loss, rel=1e-12)
    assert relative_error(grad_k, full_grad) > 1e-6


def _rnn_windows_loss(W_ih, W_hh, b, W_out, b_out, X, y, k, frozen):
    """Reference: a tanh RNN, squared loss on every step, window-entry states given."""
    h, total, states = np.zeros((X.shape[0], W_hh.shape[0])), 0.0, []
    for t in range(X.shape[1]):
        if t % k == 0:
            states.append(h)
            h = frozen[t // k] if frozen is not None else h
        h = np.tanh(X[:, t] @ W_ih.T + h @ W_hh.T + b)
        total += 0.5 * np.mean((h @ W_out.T + b_out - y[:, t]) ** 2, axis=1).sum()
    return total / (X.shape[0] * X.shape[1]), states


def test_truncated_gradient_equals_gradient_with_frozen_window_states():
    """TBPTT's gradient is the exact gradient of the loss with every window's entry state
    treated as a constant: checked against central differences of a reference RNN."""
    rng = np.random.default_rng(4)
    net = RecurrentNetwork("rnn", D, (3,), 2, output="sequence")
    theta = random_theta(net, rng)
    X, y, k = rng.normal(size=(B, 7, D)), rng.normal(size=(B, 7, 2)), 3
    _, grad = net.loss_and_grad(theta, X, np.full(B, 7), y, "squared", tbptt_steps=k)

    def reference(th, frozen=None):
        P = net.unpack(th)
        return _rnn_windows_loss(P["weight_ih_l0"], P["weight_hh_l0"],
                                 P["bias_ih_l0"] + P["bias_hh_l0"], P["head.weight"],
                                 P["head.bias"], X, y, k, frozen)

    frozen = reference(theta)[1]
    expected = numerical_gradient(lambda th: reference(th, frozen)[0], theta)
    assert relative_error(grad, expected) < 1e-6


def test_truncation_rejects_bidirectional_and_bad_window():
    net = RecurrentNetwork("lstm", D, (3,), K, bidirectional=True)
    theta = net.init_params(np.random.default_rng(0))
    X, lengths, y = np.zeros((B, T, D)), np.full(B, T), np.zeros(B, int)
    with pytest.raises(ValueError, match="unidirectional"):
        net.loss_and_grad(theta, X, lengths, y, "softmax", tbptt_steps=2)
    uni = RecurrentNetwork("lstm", D, (3,), K)
    with pytest.raises(ValueError, match="tbptt_steps"):
        uni.loss_and_grad(uni.init_params(np.random.default_rng(0)), X, lengths, y, "softmax",
                          tbptt_steps=0)



def test_per_step_weights_equal_repeating_steps_in_the_loss():
    rng = np.random.default_rng(5)
    net = RecurrentNetwork("gru", D, (3,), K, output="sequence")
    theta = random_theta(net, rng)
    X, lengths, y = rng.normal(size=(B, T, D)), np.array([5, 2, 4]), rng.integers(0, K, (B, T))
    step_weights = rng.uniform(0.5, 2.0, size=(B, T))

    def f(th):
        return net.loss_and_grad(th, X, lengths, y, "softmax", step_weights)[0]

    value, grad = net.loss_and_grad(theta, X, lengths, y, "softmax", step_weights)
    assert relative_error(grad, numerical_gradient(f, theta)) < 1e-6
    uniform = net.loss_and_grad(theta, X, lengths, y, "softmax", np.ones((B, T)))[0]
    assert uniform == pytest.approx(net.loss_and_grad(theta, X, lengths, y, "softmax")[0])
    assert value != pytest.approx(uniform)
