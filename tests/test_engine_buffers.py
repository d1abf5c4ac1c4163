"""The fast path's buffer machinery: bound GEMMs, prepared weights and the per-thread workspace.

Speed comes from preparing BLAS calls once per sequence and reusing buffers from call to call;
these tests pin down that neither changes a result: a bound GEMM reads its operands when
called, and no array handed to a caller is ever reused behind its back.
"""

import threading
from functools import partial

import numpy as np
import pytest

from skrnn.nn import RecurrentNetwork
from skrnn.nn._fast.buffers import (_GEMV_FROM, Workspace, _add_product, bind_gemm_accs,
                                    clear_workspace, trim_workspace, workspace)
from skrnn.nn._fast.weights import scaled, unpermuted


def bind_gemm_acc(out, a, b):
    return bind_gemm_accs([out], a, b)[0]


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


@pytest.mark.parametrize("rows,cols", [(64, 16), (1024, 256)])
@pytest.mark.parametrize("per_step", [False, True])
def test_one_column_products_accumulate_by_either_route(rows, cols, per_step):
    """A one-column output goes through the bound gemm for a small matrix and through NumPy's
    matrix-vector product for a large one (buffers._GEMV_FROM): both add the product."""
    rng = np.random.default_rng(2)
    W = rng.normal(size=(rows, cols)).astype(np.float32)
    h = rng.normal(size=(cols, 1)).astype(np.float32)
    start = rng.normal(size=(rows, 1)).astype(np.float32)
    out = start.copy()
    call = bind_gemm_accs([out], W, [h] if per_step else h)[0]
    assert isinstance(call, partial) and (call.func is _add_product) == (W.size >= _GEMV_FROM)
    call()
    call()
    np.testing.assert_allclose(out, start + 2 * (W @ h), rtol=1e-5, atol=1e-5)


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


def test_bad_cell_names_are_rejected_clearly():
    from skrnn.nn.cells import get_cell

    assert get_cell("rnn", "relu").activation == "relu"
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
    blocks = range(G) if order is None else order
    rows = np.concatenate([np.arange(k * H, (k + 1) * H) for k in blocks])
    expected = weight[rows]
    expected[: n_halved * H] /= 2
    np.testing.assert_array_equal(scaled(weight, n_halved * H, order), expected)
    if n_halved == 0:  # a gradient in the kernel's order goes back to PyTorch's
        np.testing.assert_array_equal(unpermuted(expected, order), weight)


def test_trim_keeps_the_most_recent_buffers_up_to_the_limit():
    ws = workspace()
    ws.clear()
    arrays = [ws.empty((2**18 + k,), np.float32) for k in range(4)]  # about 1 MiB each
    ws.give(*arrays)
    trim_workspace(2 * 2**20 + 64)
    assert 0 < ws.nbytes <= 2 * 2**20 + 64
    assert ws.empty((2**18 + 3,), np.float32) is arrays[3]  # the newest stays
    ws.clear()


def test_predictions_reuse_kept_buffers_up_to_a_bound(monkeypatch):
    """An estimator's repeated predictions reuse the rings and buffers of the previous call
    (instead of building them again), keep at most KEEP_AFTER_CALL bytes between calls, and
    clear_workspace frees them."""
    import warnings

    import skrnn.nn._fast.buffers as buffers
    import skrnn.nn._fast.loop as loop
    from skrnn import RNNClassifier

    rng = np.random.default_rng(8)
    X = rng.normal(size=(40, 30, 3)).astype(np.float32)
    y = (X[:, 0, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = RNNClassifier("lstm", (64, 64), max_iter=2, random_state=0).fit(X, y)
    monkeypatch.setattr(loop, "_RING_ELEMENTS", 0)  # a ring of a few steps
    clear_workspace()
    first = clf.predict_proba(X)
    (ring,) = buffers.kept_rings().values()
    kept = workspace().nbytes
    assert 0 < kept <= buffers.KEEP_AFTER_CALL
    for _ in range(4):
        np.testing.assert_array_equal(clf.predict_proba(X), first)
    (again,) = buffers.kept_rings().values()
    assert again is ring  # reused, not rebuilt
    monkeypatch.setattr(buffers, "KEEP_AFTER_CALL", 0)
    buffers.trim_workspace(0)
    assert workspace().nbytes == 0
    clear_workspace()
    assert not buffers.kept_rings()
