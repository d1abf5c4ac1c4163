"""The engine's buffer machinery: bound GEMMs, prepared weights and the per-thread workspace.

Speed comes from preparing BLAS calls once per sequence and reusing buffers from call to call;
these tests pin down that neither changes a result: a bound GEMM reads its operands when
called, and no array handed to a caller is ever reused behind its back.
"""

import threading

import numpy as np
import pytest

from skrnn.nn import RecurrentNetwork
from skrnn.nn.cells import _gate_permutation, _scaled, bind_gemm_acc, bind_gemm_accs
from skrnn.nn.recurrent import Workspace, clear_workspace, workspace


def _layout(x, how):
    """x with the same values in C order, Fortran order, or as a strided (non-contiguous) view."""
    if how == "C":
        return np.ascontiguousarray(x)
    if how == "F":
        return np.asfortranarray(x)
    wide = np.zeros((x.shape[0], 2 * x.shape[1]), x.dtype)
    wide[:, ::2] = x
    return wide[:, ::2]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_how", ["C", "F", "strided"])
@pytest.mark.parametrize("b_how", ["C", "F", "strided"])
@pytest.mark.parametrize("out_how", ["C", "strided"])
def test_bound_gemm_accumulates_the_product(dtype, a_how, b_how, out_how):
    rng = np.random.default_rng(0)
    a = _layout(rng.normal(size=(5, 3)).astype(dtype), a_how)
    b = _layout(rng.normal(size=(3, 4)).astype(dtype), b_how)
    start = rng.normal(size=(5, 4)).astype(dtype)
    out = _layout(start.copy(), out_how)
    bind_gemm_acc(out, a, b)()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, start + a @ b, rtol=tol, atol=tol)


def test_bound_gemm_reads_its_operands_when_called():
    rng = np.random.default_rng(1)
    out, a, b = np.zeros((4, 6)), rng.normal(size=(4, 3)), rng.normal(size=(3, 6))
    call = bind_gemm_acc(out, a, b)
    a[...] = rng.normal(size=a.shape)  # written after binding, as a time loop does
    call()
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)


def test_bound_gemms_per_step_with_shared_weights_and_missing_steps():
    rng = np.random.default_rng(2)
    W = rng.normal(size=(6, 3))
    hs = [rng.normal(size=(3, 5)), None, rng.normal(size=(3, 2))]
    outs = [np.zeros((6, 5)), None, np.zeros((6, 2))]
    calls = bind_gemm_accs(outs, W, hs)
    assert calls[1] is None
    calls[0](), calls[2]()
    np.testing.assert_allclose(outs[0], W @ hs[0], rtol=1e-12)
    np.testing.assert_allclose(outs[2], W @ hs[2], rtol=1e-12)


def test_workspace_reuses_large_buffers_and_ignores_others():
    ws = Workspace()
    big = ws.empty((256, 256), np.float32)  # 256 KiB
    ws.give(big)
    assert ws.empty((256, 256), np.float32) is big
    assert ws.nbytes == 0  # lent out again

    small = ws.empty((4, 4), np.float32)
    ws.give(small)
    assert ws.nbytes == 0  # small arrays are neither tracked nor kept

    foreign = np.empty((256, 256), np.float32)
    ws.give(foreign)  # not lent by this workspace: never taken
    assert ws.empty((256, 256), np.float32) is not foreign


def test_workspace_keeps_at_most_its_limit():
    ws = Workspace(limit=3 * 2**20)
    arrays = [ws.empty((2**18,), np.float32) for _ in range(5)]  # 1 MiB each
    ws.give(*arrays)
    assert ws.nbytes <= ws.limit
    ws.clear()
    assert ws.nbytes == 0


def test_each_thread_has_its_own_workspace():
    seen = []
    thread = threading.Thread(target=lambda: seen.append(workspace()))
    thread.start()
    thread.join()
    assert seen[0] is not workspace()


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_results_never_alias_reused_buffers(cell, bidirectional):
    """Outputs of one call stay intact while later calls reuse the workspace's buffers."""
    rng = np.random.default_rng(3)
    net = RecurrentNetwork(cell, input_size=3, hidden_sizes=(64, 64), n_outputs=2,
                           bidirectional=bidirectional, output="sequence")
    theta = net.init_params(rng, np.float32)
    # large enough (B * T * H * 4 bytes above 128 KiB) for the workspace to track the buffers
    X1, X2 = (rng.normal(size=(32, 40, 3)).astype(np.float32) for _ in range(2))
    lengths = rng.integers(1, 41, size=32)
    y = rng.normal(size=(32, 40, 2)).astype(np.float32)
    clear_workspace()

    out = net.forward(theta, X1, lengths)
    states, last = net.hidden_states(theta, X1, lengths)
    seq, h_n, c_n = net.final_states(theta, X1, lengths)
    kept = [a.copy() for a in (out, states, last, seq, *h_n, *(c_n or []))]

    for _ in range(2):  # other calls of every kind, on other data, reuse the buffers
        net.forward(theta, X2, lengths)
        net.hidden_states(theta, X2, lengths)
        net.final_states(theta, X2, lengths)
        net.loss_and_grad(theta, X2, lengths, y, "squared")
    assert workspace().nbytes > 0

    for before, now in zip(kept, (out, states, last, seq, *h_n, *(c_n or []))):
        np.testing.assert_array_equal(before, now)
    np.testing.assert_array_equal(net.forward(theta, X1, lengths), kept[0])
    clear_workspace()


@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_large_products_through_matmul_match_blas(monkeypatch, bidirectional):
    """Large (n, H) @ (H, H) products of the vanilla RNN take numpy's matmul plus an addition
    instead of one BLAS gemm: both give the same outputs and gradients (float64 round-off)."""
    import skrnn.nn.cells as cells

    rng = np.random.default_rng(4)
    net = RecurrentNetwork("rnn", input_size=2, hidden_sizes=(64,), n_outputs=3,
                           bidirectional=bidirectional)
    theta = net.init_params(rng)
    X = rng.normal(size=(9, 6, 2))
    lengths = np.array([6, 1, 4, 6, 2, 5, 3, 6, 1])  # padded rows too
    y = rng.integers(0, 3, size=9)

    monkeypatch.setattr(cells, "_MATMUL_MIN_SIZE", 0)  # every product through matmul
    out_matmul = net.forward(theta, X, lengths)
    loss_matmul, grad_matmul = net.loss_and_grad(theta, X, lengths, y, "softmax")
    monkeypatch.setattr(cells, "_MATMUL_MIN_SIZE", np.inf)  # every product through gemm
    out_gemm = net.forward(theta, X, lengths)
    loss_gemm, grad_gemm = net.loss_and_grad(theta, X, lengths, y, "softmax")

    np.testing.assert_allclose(out_matmul, out_gemm, rtol=1e-12, atol=1e-12)
    assert loss_matmul == pytest.approx(loss_gemm, rel=1e-12)
    np.testing.assert_allclose(grad_matmul, grad_gemm, rtol=1e-10, atol=1e-12)


def test_cells_are_shared_and_bad_names_are_rejected_clearly():
    from skrnn.nn.cells import get_cell

    assert get_cell("lstm") is get_cell("lstm")
    assert get_cell("rnn", "relu") is not get_cell("rnn", "tanh")
    for args in [(["rnn"],), ("rnn", ["tanh"]), ("rnn", {"a": 1}), ("cnn",)]:
        with pytest.raises(ValueError, match="must be"):
            get_cell(*args)


@pytest.mark.parametrize("H", [1, 3, 8])
@pytest.mark.parametrize("order, n_halved", [((3, 0, 1, 2), 3), ((3, 0, 1, 2), 0),
                                             ((0, 1, 2), 2), (None, 2), ((2, 1, 0), 1)])
def test_scaled_weights_are_reordered_gate_blocks_with_sigmoid_rows_halved(H, order, n_halved):
    rng = np.random.default_rng(4)
    G = 3 if order is None else len(order)
    weight = rng.normal(size=(G * H, 5))
    rows = np.arange(G * H) if order is None else _gate_permutation(order, H)
    expected = weight[rows]
    expected[: n_halved * H] /= 2
    np.testing.assert_array_equal(_scaled(weight, n_halved * H, order), expected)
