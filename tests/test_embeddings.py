"""The embedding table of networks of token ids: gradients by central differences, the
identity table against one-hot input, the padding row, and the checks of the ids."""

import zlib
from dataclasses import replace

import numpy as np
import pytest

from skrnn.nn import RecurrentNetwork

from test_gradients import numerical_gradient, relative_error

B, T, E, V, K = 3, 5, 2, 6, 3
CELLS = [("rnn", "tanh"), ("lstm", "tanh"), ("gru", "tanh")]


def token_case(rng, output, lengths, loss="softmax"):
    """Ids in [1, V) at real steps (0 after the end, as padded input holds), and targets."""
    ids = rng.integers(1, V, size=(B, T))
    ids[np.arange(T)[None, :] >= np.asarray(lengths)[:, None]] = 0
    shape = (B,) if output == "last" else (B, T)
    y = rng.integers(0, K, size=shape) if loss == "softmax" else rng.normal(size=shape + (K,))
    return ids, y


def test_embedding_gradient_of_the_reference_implementation():
    test_embedding_gradient_matches_central_differences("lstm", "tanh", True, (3, 2), "last",
                                                        "softmax", "reference")


def token_theta(net, rng):
    theta = net.init_params(rng)
    theta += rng.normal(scale=0.2, size=theta.shape)  # non-zero biases everywhere
    net.unpack(theta)["embedding.weight"][0] = 0  # the padding row as fits keep it
    return theta


@pytest.mark.parametrize("cell,activation", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("hidden_sizes", [(3,), (3, 2)])
@pytest.mark.parametrize("output,loss", [("last", "softmax"), ("sequence", "squared")])
def test_embedding_gradient_matches_central_differences(cell, activation, bidirectional,
                                                        hidden_sizes, output, loss,
                                                        implementation="fast"):
    case = (cell, bidirectional, hidden_sizes, output, implementation)
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    net = RecurrentNetwork(cell, E, hidden_sizes, K, bidirectional, output, activation,
                           implementation=implementation, n_tokens=V)
    theta = token_theta(net, rng)
    lengths = np.array([T, 2, 4])
    ids, y = token_case(rng, output, lengths, loss)
    weights = rng.uniform(0.5, 2.0, size=B)

    def f(th):
        return net.loss_and_grad(th, ids, lengths, y, loss, weights, l2=0.05)[0]

    _, grad = net.loss_and_grad(theta, ids, lengths, y, loss, weights, l2=0.05)
    assert relative_error(grad, numerical_gradient(f, theta)) < 1e-6
    table_grad = net.unpack(grad)["embedding.weight"]
    assert not table_grad[0].any()  # the padding row gets no gradient
    unseen = np.setdiff1d(np.arange(1, V), ids[ids > 0])
    assert np.array_equal(table_grad[unseen], 0.05 * net.unpack(theta)["embedding.weight"][unseen])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_embedding_gradient_with_dropout(cell):
    rng = np.random.default_rng(3)
    net = RecurrentNetwork(cell, E, (3, 2), K, output="sequence", dropout=0.3, n_tokens=V)
    theta = token_theta(net, rng)
    lengths = np.array([5, 3, 4])
    ids, y = token_case(rng, "sequence", lengths)

    def loss_grad(th):
        return net.loss_and_grad(th, ids, lengths, y, "softmax", rng=np.random.default_rng(7))

    _, grad = loss_grad(theta)
    assert relative_error(grad, numerical_gradient(lambda th: loss_grad(th)[0], theta)) < 1e-6


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("output", ["last", "sequence"])
@pytest.mark.parametrize("tbptt_steps", [None, 2])
def test_identity_table_equals_one_hot_input(cell, bidirectional, output, tbptt_steps):
    """With embedding.weight = I (row 0 zero), ids are read exactly as their one-hot rows,
    in full and in truncated backpropagation."""
    if tbptt_steps and bidirectional:
        pytest.skip("truncation needs a unidirectional network")
    rng = np.random.default_rng(5)
    onehot_net = RecurrentNetwork(cell, V, (4, 3), K, bidirectional, output)
    token_net = replace(onehot_net, n_tokens=V)
    theta_1h = onehot_net.init_params(rng)
    table = np.eye(V)
    table[0] = 0
    theta_tok = token_net.params_from_state_dict(
        {"embedding.weight": table, **onehot_net.state_dict(theta_1h)})
    lengths = np.array([5, 2, 4])
    ids, y = token_case(rng, output, lengths)
    X = np.eye(V)[ids]  # (B, T, V) one-hot; padded steps are ignored whatever they hold

    np.testing.assert_allclose(token_net.forward(theta_tok, ids, lengths),
                               onehot_net.forward(theta_1h, X, lengths), rtol=0, atol=1e-13)
    loss_1h, grad_1h = onehot_net.loss_and_grad(theta_1h, X, lengths, y, "softmax",
                                                tbptt_steps=tbptt_steps)
    loss_tok, grad_tok = token_net.loss_and_grad(theta_tok, ids, lengths, y, "softmax",
                                                 tbptt_steps=tbptt_steps)
    assert loss_tok == pytest.approx(loss_1h, rel=1e-13)
    G_1h, G_tok = onehot_net.unpack(grad_1h), token_net.unpack(grad_tok)
    for name, g in G_1h.items():
        np.testing.assert_allclose(G_tok[name], g, rtol=0, atol=1e-13)
    # row v of the table collects dL/dx_t = W_ih^T dG_t of the steps that read id v; the
    # one-hot network sums the same dG_t into column v of its W_ih gradient
    P = onehot_net.unpack(theta_1h)
    expected = sum(G_1h[f"weight_ih_l0{sfx}"].T @ P[f"weight_ih_l0{sfx}"]
                   for sfx in ("", "_reverse")[: onehot_net.n_directions])
    expected[0] = 0  # the padding row gets no gradient
    np.testing.assert_allclose(G_tok["embedding.weight"], expected, rtol=0, atol=1e-13)


def test_padding_row_is_never_read_at_padded_steps_and_must_be_zero_when_loaded():
    rng = np.random.default_rng(0)
    net = RecurrentNetwork("gru", E, (3,), K, output="sequence", n_tokens=V)
    theta = token_theta(net, rng)
    lengths = np.array([5, 2, 4])
    ids, _ = token_case(rng, "sequence", lengths)
    out = net.forward(theta, ids, lengths)
    dirty = theta.copy()
    net.unpack(dirty)["embedding.weight"][0] = 7.0  # padded steps still read nothing
    np.testing.assert_array_equal(net.forward(dirty, ids, lengths), out)
    with pytest.raises(ValueError, match="padding row"):
        net.params_from_state_dict(net.state_dict(dirty))


def test_token_ids_are_checked():
    net = RecurrentNetwork("gru", E, (3,), K, n_tokens=V)
    theta = net.init_params(np.random.default_rng(0))
    lengths = [3, 2]
    with pytest.raises(ValueError, match="out of range"):
        net.forward(theta, np.array([[1, 2, V], [1, 1, 0]]), lengths)
    with pytest.raises(ValueError, match="out of range"):
        net.forward(theta, np.array([[1, -2, 3], [1, 1, 0]]), lengths)
    with pytest.raises(ValueError, match="integer token ids"):
        net.forward(theta, np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 0.0]]), lengths)
    with pytest.raises(ValueError, match="needs theta"):
        net.batch(np.array([[1, 2, 3], [1, 1, 0]]), lengths)
    # ids past a sequence's end are padding: they are not read, so not checked
    net.forward(theta, np.array([[1, 2, 3], [1, 1, 99]]), lengths)


def test_init_params_zero_padding_row_and_standard_normal_table():
    net = RecurrentNetwork("lstm", 64, (3,), K, n_tokens=500)
    table = net.unpack(net.init_params(np.random.default_rng(0)))["embedding.weight"]
    assert not table[0].any()
    assert abs(table[1:].std() - 1) < 0.02 and abs(table[1:].mean()) < 0.02
    assert net.layout[0] == ("embedding.weight", (500, 64))
