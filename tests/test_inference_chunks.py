"""Chunked inference: the input projection a few steps at a time, the states in a ring, and
rings kept from call to call.

At the benchmark sizes a chunk holds dozens of steps, more than most tests have, so these tests
shrink the chunk (``_RING_ELEMENTS`` = 0 leaves ``_MIN_CHUNK_STEPS`` steps per chunk) and check
that every inference output equals the one computed with the whole sequence in one chunk: for
chunks that divide T and chunks that do not, both directions, stacked layers and padding.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import skrnn.nn._fast as fast
import skrnn.nn._fast.buffers as buffers
import skrnn.nn._fast.loop as loop
from skrnn.nn import RecurrentNetwork
from skrnn.nn._fast.buffers import clear_workspace, workspace
from skrnn.nn.cells import Weights, get_cell

T = 11


def _chunks_of(monkeypatch, steps):
    """Make inference use chunks of ``steps`` steps (None: one chunk for the whole sequence)."""
    if steps is None:
        monkeypatch.setattr(loop, "_RING_ELEMENTS", 1 << 40)
    else:
        monkeypatch.setattr(loop, "_RING_ELEMENTS", 0)
        monkeypatch.setattr(loop, "_MIN_CHUNK_STEPS", steps)


def _problem(dtype, padded, bidirectional, layers, output="last", seed=0):
    rng = np.random.default_rng(seed)
    net = RecurrentNetwork("lstm", input_size=3, hidden_sizes=(5, 4)[:layers], n_outputs=2,
                           bidirectional=bidirectional, output=output)
    theta = net.init_params(rng, dtype=dtype)
    X = rng.normal(size=(6, T, 3)).astype(dtype)
    lengths = np.array([T, 1, 7, 4, T, 9]) if padded else np.full(6, T)
    return net, theta, X, lengths


def _inference_outputs(net, theta, X, lengths):
    out = [net.forward(theta, X, lengths)]
    states, last = net.hidden_states(theta, X, lengths)
    outputs, h_n, c_n = net.final_states(theta, X, lengths)
    return out + [states, last, outputs] + h_n + c_n


@pytest.mark.parametrize("steps", [1, 2, 4, 11])
@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("output", ["last", "sequence"])
def test_chunked_inference_equals_one_chunk(monkeypatch, steps, padded, bidirectional, layers,
                                            output):
    net, theta, X, lengths = _problem(np.float64, padded, bidirectional, layers, output)
    _chunks_of(monkeypatch, None)
    expected = _inference_outputs(net, theta, X, lengths)
    _chunks_of(monkeypatch, steps)
    got = _inference_outputs(net, theta, X, lengths)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunked_float32_and_float64_keep_their_dtype(monkeypatch, dtype):
    net, theta, X, lengths = _problem(dtype, True, True, 2)
    _chunks_of(monkeypatch, None)
    expected = net.forward(theta, X, lengths)
    _chunks_of(monkeypatch, 3)
    got = net.forward(theta, X, lengths)
    assert got.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_ring_keeps_only_a_chunk_of_states_and_the_final_ones(monkeypatch, reverse, padded):
    """Without per-step outputs the states live in chunk+1 slots, and the final state of every
    row (forward: after its last real step; reverse: after step 0) is the same as with all
    T+1 slots."""
    rng = np.random.default_rng(3)
    cell, H, B = get_cell("lstm"), 4, 5
    w = fast.prepare(cell, Weights(rng.normal(size=(4 * H, 2)), rng.normal(size=(4 * H, H)),
                                   rng.normal(size=4 * H), rng.normal(size=4 * H)),
                     for_backward=False)
    lengths = np.array([T, 9, 6, 3, 1]) if padded else np.full(B, T)
    real = np.arange(T)[:, None] < lengths  # (T, B)
    n_active = real.sum(axis=1)
    X1 = np.concatenate([rng.normal(size=(T, 2, B)), np.ones((T, 1, B))], axis=1)
    X1 *= real[:, None, :]
    state0 = tuple(np.zeros((H, B)) if reverse else rng.normal(size=(H, B)) for _ in "hc")

    def run(**kw):
        d = fast.forward(cell, w, X1, n_active, state0, reverse, keep=False, **kw)
        return d.cache[1]["HS"], d.final

    full, expected = run()
    assert len(full) == T + 1
    _chunks_of(monkeypatch, 4)
    ring, got = run(outputs=False)
    assert len(ring) == 4 + 1
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)
    # with outputs, the chunked projection keeps every state
    chunked, _ = run(outputs=True)
    np.testing.assert_allclose(chunked, full, rtol=1e-12, atol=1e-14)


def test_training_ignores_the_chunks(monkeypatch):
    net, theta, X, lengths = _problem(np.float64, True, True, 2)
    y = np.array([0, 1, 1, 0, 1, 0])
    _chunks_of(monkeypatch, None)
    loss, grad = net.loss_and_grad(theta, X, lengths, y, "softmax")
    _chunks_of(monkeypatch, 2)
    loss2, grad2 = net.loss_and_grad(theta, X, lengths, y, "softmax")
    assert loss2 == loss
    np.testing.assert_array_equal(grad2, grad)


# -- rings kept from call to call ------------------------------------------------------------
def _forward_without_rings(net, theta, X, lengths):
    """``net.forward`` from the head input that hidden_states computes with every state kept
    (no ring)."""
    P = net.unpack(theta)
    last = net.hidden_states(theta, X, lengths)[1]
    return last @ P["head.weight"].T.astype(last.dtype) + P["head.bias"].astype(last.dtype)


@pytest.mark.parametrize("steps", [2, 4, None])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_kept_rings_give_the_results_of_fresh_ones(monkeypatch, steps, bidirectional):
    """Calls with the same sizes reuse a ring: other weights, inputs, initial-state slots (a
    reverse ring's starting slot depends on T) and dtypes must not leak from one call into
    the next."""
    _chunks_of(monkeypatch, steps)
    rng = np.random.default_rng(5)
    net = RecurrentNetwork("lstm", input_size=3, hidden_sizes=(4, 5), n_outputs=2,
                           bidirectional=bidirectional)
    thetas = [net.init_params(rng, dtype=np.float64) for _ in range(2)]
    calls = [(thetas[k % 2], rng.normal(size=(6, T - k % 3, 3))) for k in range(6)]
    calls.append((thetas[0].astype(np.float32), calls[0][1].astype(np.float32)))
    expected = [_forward_without_rings(net, theta, X, np.full(6, X.shape[1]))
                for theta, X in calls]
    clear_workspace()
    for (theta, X), e in zip(calls, expected):
        got = net.forward(theta, X, np.full(6, X.shape[1]))
        assert got.dtype == e.dtype
        tol = 1e-5 if e.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, e, rtol=tol, atol=tol)
    assert buffers.kept_rings()


def test_kept_rings_own_their_buffers_and_are_bounded(monkeypatch):
    """A kept ring's buffers never go back to the workspace (where another call could take
    them), clear_workspace drops the rings, and a thread keeps at most _KEPT_RINGS of them."""
    _chunks_of(monkeypatch, 3)
    rng = np.random.default_rng(6)
    net = RecurrentNetwork("lstm", input_size=2, hidden_sizes=(128,), n_outputs=2)
    theta = net.init_params(rng, dtype=np.float32)
    X = rng.normal(size=(64, T, 2)).astype(np.float32)
    clear_workspace()
    net.forward(theta, X, np.full(64, T))
    (_, bufs, _), = buffers.kept_rings().values()
    lent = [a for arrays in workspace()._free.values() for a in arrays]
    assert lent and not any(np.shares_memory(a, b) for a in lent for b in bufs.values())
    for B in range(1, buffers.KEPT_RINGS + 3):
        net.forward(theta, X[:B], np.full(B, T))
    assert len(buffers.kept_rings()) == buffers.KEPT_RINGS
    clear_workspace()
    assert not buffers.kept_rings()


def test_kept_rings_are_per_thread(monkeypatch):
    _chunks_of(monkeypatch, 4)
    rng = np.random.default_rng(7)
    net = RecurrentNetwork("lstm", input_size=3, hidden_sizes=(6,), n_outputs=2,
                           bidirectional=True)
    theta = net.init_params(rng)
    batches = [rng.normal(size=(5, T, 3)) for _ in range(24)]  # one size: one ring per thread
    serial = [net.forward(theta, X, np.full(5, T)) for X in batches]
    with ThreadPoolExecutor(max_workers=6) as pool:
        parallel = list(pool.map(lambda X: net.forward(theta, X, np.full(5, T)), batches))
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)
