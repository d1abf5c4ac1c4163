"""The fast path against the reference implementation, over the configuration grid.

The reference (``skrnn.nn.cells`` and ``skrnn.nn.recurrent``) computes one step at a time from
the equations; the fast path (``skrnn.nn._fast``) reorders gates, halves sigmoid rows, keeps
cell states next to the gates, binds GEMMs, projects inputs in chunks and reuses buffers. Both
must compute the same functions: every output and gradient agrees to 1e-12 in float64, for
every cell, direction, depth, padding, head, loss, truncation and dropout.
"""

import itertools
import zlib

import numpy as np
import pytest

import skrnn.nn._fast.loop as loop
from skrnn.nn import RecurrentNetwork

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
B, T, D, K = 5, 7, 3, 2
TOL = dict(rtol=1e-12, atol=1e-13)


def pair(cell, activation, **kw):
    """The same network with both implementations."""
    return tuple(RecurrentNetwork(cell, D, activation=activation, implementation=impl, **kw)
                 for impl in ("reference", "fast"))


def problem(net, padded, seed):
    rng = np.random.default_rng(seed)
    theta = net.init_params(rng)
    theta += rng.normal(scale=0.3, size=theta.shape)  # non-zero biases everywhere
    X = rng.normal(size=(B, T, D))
    lengths = np.array([T, 2, 5, 1, T]) if padded else np.full(B, T)
    X[np.arange(T)[None, :] >= lengths[:, None]] = np.nan  # padding is never read
    return rng, theta, X, lengths


def targets(rng, output, loss):
    shape = (B,) if output == "last" else (B, T)
    if loss == "softmax":
        return rng.integers(0, K, size=shape)
    if loss == "logistic":
        return (rng.random(shape + (K,)) > 0.5).astype(float)
    return rng.normal(size=shape + (K,))


def assert_same(a, b):
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif a is None:
        assert b is None
    else:
        np.testing.assert_allclose(b, a, **TOL)


GRID = list(itertools.product(CELLS, [False, True], [(4,), (4, 3)], [False, True],
                              ["last", "sequence"]))


@pytest.mark.parametrize("cell_act,bidirectional,hidden_sizes,padded,output", GRID,
                         ids=lambda v: str(v))
def test_fast_path_equals_the_reference(cell_act, bidirectional, hidden_sizes, padded, output):
    case = (cell_act, bidirectional, hidden_sizes, padded, output)
    ref, fast = pair(*cell_act, hidden_sizes=hidden_sizes, n_outputs=K,
                     bidirectional=bidirectional, output=output)
    rng, theta, X, lengths = problem(ref, padded, zlib.crc32(repr(case).encode()))
    for method in ("forward", "hidden_states", "final_states"):
        assert_same(getattr(ref, method)(theta, X, lengths),
                    getattr(fast, method)(theta, X, lengths))
    weights = rng.uniform(0.5, 2.0, size=B)
    for loss in ("softmax", "logistic", "squared"):
        y = targets(rng, output, loss)
        expected = ref.loss_and_grad(theta, X, lengths, y, loss, weights, l2=0.01)
        got = fast.loss_and_grad(theta, X, lengths, y, loss, weights, l2=0.01)
        assert got[0] == pytest.approx(expected[0], rel=1e-12)
        np.testing.assert_allclose(got[1], expected[1], **TOL)


@pytest.mark.parametrize("cell_act", CELLS)
@pytest.mark.parametrize("hidden_sizes", [(4,), (4, 3)])
@pytest.mark.parametrize("output,loss", [("last", "softmax"), ("sequence", "squared")])
@pytest.mark.parametrize("k", [1, 3])
def test_truncated_bptt_equals_the_reference(cell_act, hidden_sizes, output, loss, k):
    ref, fast = pair(*cell_act, hidden_sizes=hidden_sizes, n_outputs=K, output=output)
    rng, theta, X, lengths = problem(ref, True, k)
    y = targets(rng, output, loss)
    expected = ref.loss_and_grad(theta, X, lengths, y, loss, tbptt_steps=k)
    got = fast.loss_and_grad(theta, X, lengths, y, loss, tbptt_steps=k)
    assert got[0] == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(got[1], expected[1], **TOL)


@pytest.mark.parametrize("cell_act", CELLS)
def test_dropout_equals_the_reference(cell_act):
    ref, fast = pair(*cell_act, hidden_sizes=(4, 3, 2), n_outputs=K, bidirectional=True,
                     dropout=0.4)
    rng, theta, X, lengths = problem(ref, True, 1)
    y = targets(rng, "last", "softmax")
    expected = ref.loss_and_grad(theta, X, lengths, y, "softmax", rng=np.random.default_rng(3))
    got = fast.loss_and_grad(theta, X, lengths, y, "softmax", rng=np.random.default_rng(3))
    assert got[0] == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(got[1], expected[1], **TOL)


@pytest.mark.parametrize("cell_act", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("steps", [1, 3])
def test_inference_in_chunks_equals_the_reference(monkeypatch, cell_act, bidirectional, steps):
    monkeypatch.setattr(loop, "_RING_ELEMENTS", 0)  # chunks of `steps` steps
    monkeypatch.setattr(loop, "_MIN_CHUNK_STEPS", steps)
    for padded in (False, True):
        ref, fast = pair(*cell_act, hidden_sizes=(4, 3), n_outputs=K,
                         bidirectional=bidirectional)
        _, theta, X, lengths = problem(ref, padded, 2)
        for method in ("forward", "hidden_states", "final_states"):
            assert_same(getattr(ref, method)(theta, X, lengths),
                        getattr(fast, method)(theta, X, lengths))


@pytest.mark.parametrize("cell_act", CELLS)
def test_float32_agrees_with_the_float64_reference(cell_act):
    ref, fast = pair(*cell_act, hidden_sizes=(8, 8), n_outputs=K, bidirectional=True)
    rng, theta, X, lengths = problem(ref, True, 4)
    y = targets(rng, "last", "softmax")
    out = fast.forward(theta.astype(np.float32), X.astype(np.float32), lengths)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref.forward(theta, X, lengths), rtol=1e-4, atol=1e-5)
    loss32, grad32 = fast.loss_and_grad(theta.astype(np.float32), X.astype(np.float32),
                                        lengths, y, "softmax")
    loss64, grad64 = ref.loss_and_grad(theta, X, lengths, y, "softmax")
    assert grad32.dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    np.testing.assert_allclose(grad32, grad64, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("cell_act", CELLS)
def test_a_sequence_without_steps_keeps_its_initial_state(cell_act):
    """In a window of truncated BPTT, a sequence that has ended has no step: its final state is
    its initial state, in both implementations."""
    import skrnn.nn._fast as fast
    from skrnn.nn import recurrent
    from skrnn.nn.cells import Weights, get_cell

    rng = np.random.default_rng(9)
    cell, H = get_cell(*cell_act), 3
    G = cell.n_gates
    weights = Weights(rng.normal(size=(G * H, D)), rng.normal(size=(G * H, H)),
                      rng.normal(size=G * H), rng.normal(size=G * H))
    lengths = np.array([4, 2, 0])  # the last sequence has no step in this window
    real = np.arange(4)[:, None] < lengths
    X1 = np.concatenate([rng.normal(size=(4, D, 3)), np.ones((4, 1, 3))], axis=1)
    X1 *= real[:, None, :]
    state0 = tuple(rng.normal(size=(H, 3)) for _ in cell.state_names)
    for impl in (recurrent, fast):
        w = impl.prepare(cell, weights, for_backward=False)
        out = impl.forward(cell, w, X1, real.sum(axis=1), state0, keep=False)
        for final, s0 in zip(out.final, state0):
            np.testing.assert_array_equal(final[:, 2], s0[:, 2])
            assert not np.allclose(final[:, :2], s0[:, :2])
        impl.release(out)
