"""The compiled kernels (``skrnn.nn._fast.compiled``, numba) and the setting that chooses them.

With numba installed, "auto" runs every cell on the compiled kernels, so the engine's tests
(test_fast_path.py and others, against the step-by-step reference to 1e-12 in float64) check
those. This module runs the same tests with the choice swapped: every cell on the NumPy
kernels. So every cell on both kernels equals the reference to 1e-12 in float64. Then float32, where the compiled
steps use a rational tanh, against a stated bound; the setting itself; estimators end to end.
"""

import inspect
import subprocess
import sys
import threading

import numpy as np
import pytest

pytest.importorskip("numba")

import skrnn  # noqa: E402
import skrnn.nn._fast as fast  # noqa: E402
from skrnn import RNNClassifier, RNNRegressor  # noqa: E402
from skrnn.nn import RecurrentNetwork  # noqa: E402
from skrnn.nn._fast import compiled  # noqa: E402

# The engine's tests, collected again here under the swapped choice (the autouse fixture).
from test_fast_path import (  # noqa: E402, F401
    test_a_sequence_without_steps_keeps_its_initial_state, test_dropout_equals_the_reference,
    test_fast_path_equals_the_reference, test_float32_agrees_with_the_float64_reference,
    test_inference_in_chunks_equals_the_reference, test_truncated_bptt_equals_the_reference)
from test_inference_chunks import (  # noqa: E402, F401
    test_chunked_inference_equals_one_chunk, test_kept_rings_give_the_results_of_fresh_ones)
from test_states import (  # noqa: E402, F401
    test_fast_path_initial_states_equal_reference, test_fast_stepper_equals_the_reference,
    test_stepping_equals_the_batch_prediction_of_every_prefix, test_stream_in_float32,
    test_streams_in_threads_give_the_serial_results)

# Documented in docs/user_guide/speed.rst: in float32 the compiled and NumPy kernels agree
# within these bounds (outputs of a network with values of order 1; gradients relative to
# their largest entry).
FLOAT32_OUTPUT_ATOL = 2e-5
FLOAT32_GRAD_RTOL = 2e-4
TANH_ATOL = 3.3e-7


@pytest.fixture(autouse=True)
def swapped_kernels(monkeypatch):
    """"auto" runs on NumPy the cells it would run compiled (all of them)."""
    assert fast.AUTO_COMPILED == {"lstm", "gru", "rnn"}
    monkeypatch.setattr(fast, "AUTO_COMPILED", set())


def test_the_swap_reaches_the_kernels():
    for cell in ("lstm", "gru", "rnn"):
        assert not fast.use_compiled(cell), cell


# -- float32 -------------------------------------------------------------------------------
def test_rational_tanh_is_within_its_bound_and_keeps_nan_and_infinities():
    x = np.concatenate([np.linspace(-12, 12, 200_001), np.geomspace(1e-30, 1e-3, 1000),
                        [0.0, -0.0, 8.99, 9.0, 9.01, 1e30, -1e30]]).astype(np.float32)
    y = x.reshape(1, -1).copy()
    compiled.rnn_tanh_forward_step(y, y.shape[1])
    exact = np.tanh(x.astype(np.float64))
    assert np.abs(y[0] - exact).max() <= TANH_ATOL
    assert np.abs(y[0]).max() <= 1.0
    tiny = np.abs(x) < 1e-3  # near 0 the error is relative, a few units in the last place
    np.testing.assert_allclose(y[0][tiny], x[tiny], rtol=5e-7)
    special = np.array([[np.nan, np.inf, -np.inf]], np.float32)
    compiled.rnn_tanh_forward_step(special, 3)
    assert np.isnan(special[0, 0]) and special[0, 1] == 1 and special[0, 2] == -1


@pytest.mark.parametrize("cell,activation", [("lstm", "tanh"), ("gru", "tanh"),
                                             ("rnn", "tanh"), ("rnn", "relu")])
def test_float32_compiled_and_numpy_kernels_agree_within_the_stated_bound(cell, activation):
    rng = np.random.default_rng(3)
    net = RecurrentNetwork(cell, 5, hidden_sizes=(32, 16), n_outputs=3, bidirectional=True,
                           activation=activation)
    theta = net.init_params(rng, np.float32)
    theta += rng.normal(scale=0.1, size=theta.shape).astype(np.float32)
    X = rng.normal(size=(16, 40, 5)).astype(np.float32)
    lengths = rng.integers(1, 41, size=16)
    y = rng.integers(0, 3, size=16)
    results = {}
    for kernels in ("numpy", "numba"):
        with skrnn.config_context(kernels=kernels):
            results[kernels] = (net.forward(theta, X, lengths),
                                net.loss_and_grad(theta, X, lengths, y, "softmax")[1])
    (out_np, grad_np), (out_nb, grad_nb) = results["numpy"], results["numba"]
    assert out_nb.dtype == grad_nb.dtype == np.float32
    np.testing.assert_allclose(out_nb, out_np, rtol=0, atol=FLOAT32_OUTPUT_ATOL)
    assert np.abs(grad_nb - grad_np).max() <= FLOAT32_GRAD_RTOL * np.abs(grad_np).max()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_loops_gemm_adds_the_product_to_the_active_columns_only(dtype):
    """gemm_acc, the compiled loops' recurrent GEMM: out[:, :n] += W @ x[:, :n] on slabs of
    larger buffers (row strides that are not the row length), every other entry untouched."""
    rng = np.random.default_rng(6)
    W = rng.normal(size=(12, 5)).astype(dtype)
    Z = rng.normal(size=(3, 10, 8)).astype(dtype)  # x: 5 rows of a gate buffer's slab
    out_buffer = rng.normal(size=(2, 15, 8)).astype(dtype)
    out, x = out_buffer[1, 3:], Z[1, 2:7]
    for n in (8, 6, 0):
        expected, before = out.copy(), out_buffer.copy()
        expected[:, :n] += W @ x[:, :n]
        compiled.gemm_acc(out, W, x, n, 0)
        tol = 1e-14 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
        np.testing.assert_array_equal(out_buffer[0], before[0])
        np.testing.assert_array_equal(out_buffer[1, :3], before[1, :3])
    with pytest.raises(ValueError, match="unit stride"):
        compiled.gemm_acc(out, W, Z[1, 2:7, ::2], 4, 0)
    # one sequence and a large matrix: the gemv route
    W = rng.normal(size=(256, 64)).astype(dtype)
    assert W.size >= compiled._GEMV_FROM
    Z = rng.normal(size=(2, 70, 1)).astype(dtype)
    out_buffer = rng.normal(size=(2, 260, 1)).astype(dtype)
    expected, before = out_buffer[1, 4:].copy(), out_buffer.copy()
    expected += W @ Z[1, 3:67]
    compiled.gemm_acc(out_buffer[1, 4:], W, Z[1, 3:67], 1, 0)
    np.testing.assert_allclose(out_buffer[1, 4:], expected, rtol=tol, atol=100 * tol)
    np.testing.assert_array_equal(out_buffer[1, :4], before[1, :4])
    np.testing.assert_array_equal(out_buffer[0], before[0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, small, calls", [
    ((100, 7), 35 * 40, "blocks of 32 rows"),  # 40 rows fit: 32, 32, 32 and 4
    ((20, 90), 4000, "blocks of 32 columns"),  # 8 rows fit, 40 columns: 32, 32 and 26
    ((20, 90), 1000, "one call"),  # neither 32 rows nor 32 columns fit
    ((20, 7), 10 ** 6, "one call"),  # below the limit
])
def test_the_loops_gemm_cut_into_small_products_adds_the_same(dtype, shape, small, calls):
    """gemm_acc with ``small``: a product larger than the limit is cut into row or column
    blocks, each added in turn; the sum is the product's, on the active columns only."""
    rng = np.random.default_rng(7)
    W = rng.normal(size=shape).astype(dtype)
    x_buffer = rng.normal(size=(2, shape[1] + 3, 8)).astype(dtype)
    out_buffer = rng.normal(size=(2, shape[0] + 2, 8)).astype(dtype)
    out, x = out_buffer[1, 2:], x_buffer[0, 1 : shape[1] + 1]
    for n in (5, 8):
        expected, before = out.copy(), out_buffer.copy()
        expected[:, :n] += W @ x[:, :n]
        compiled.gemm_acc(out, W, x, n, small)
        tol = 1e-13 if dtype == np.float64 else 2e-5
        np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
        np.testing.assert_array_equal(out[:, n:], before[1, 2:, n:])
        np.testing.assert_array_equal(out_buffer[:, :2], before[:, :2])
        np.testing.assert_array_equal(out_buffer[0], before[0])


def test_small_gemm_limit_follows_the_blas_core(monkeypatch):
    """100**3 only when every BLAS library is an OpenBLAS with an AVX-512 core, decided once."""
    from types import SimpleNamespace

    def info(*cores):
        return lambda: [SimpleNamespace(user_api="blas", internal_api="openblas",
                                        architecture=c) for c in cores]

    for libs, expected in [(info("SkylakeX", "Cooperlake"), 10 ** 6), (info("Haswell"), 0),
                           (info("SkylakeX", "Zen"), 0), (info(), 0),
                           (lambda: [SimpleNamespace(user_api="blas", internal_api="mkl")], 0)]:
        monkeypatch.setattr(compiled, "blas_libraries", libs)
        monkeypatch.setattr(compiled, "_small_gemm_limit", None)
        assert compiled.small_gemm_limit() == expected
        monkeypatch.setattr(compiled, "blas_libraries", info("Haswell"))
        assert compiled.small_gemm_limit() == expected  # decided once per process


# the steps measured faster with 512-bit vectors (benchmarks/bench_steps.py), and the others
_WIDE_STEPS = ("lstm_forward_step", "lstm_backward_step", "gru_forward_step",
               "gru_backward_step", "rnn_tanh_forward_step")
_DEFAULT_WIDTH_STEPS = ("rnn_relu_forward_step", "rnn_tanh_backward_step",
                        "rnn_relu_backward_step", "softmax_rows")


@pytest.mark.parametrize("name", _WIDE_STEPS + _DEFAULT_WIDTH_STEPS)
def test_the_steps_measured_faster_ask_for_wide_vectors(name):
    source = inspect.getsource(getattr(compiled, name).py_func)
    assert ("_wide_vectors()" in source) == (name in _WIDE_STEPS)


def test_wide_vectors_set_the_llvm_attribute_and_change_no_result(monkeypatch):
    """A step compiled with ``_PREFER_VECTOR_WIDTH`` 512 carries LLVM's "prefer-vector-width"
    attribute, with 0 it does not, and both compute the same float32 LSTM step."""
    import numba

    rng = np.random.default_rng(3)
    H, B, n = 24, 40, 37
    a0 = rng.normal(scale=3, size=(4 * H, B)).astype(np.float32)
    c_prev = rng.normal(size=(H, B)).astype(np.float32)
    results = {}
    for width in (512, 0):
        monkeypatch.setattr(compiled, "_PREFER_VECTOR_WIDTH", width)
        step = numba.njit(cache=False, fastmath=compiled._FASTMATH, error_model="numpy")(
            compiled.lstm_forward_step.py_func)
        a, outs = a0.copy(), [np.zeros((H, B), np.float32) for _ in range(3)]
        step(a, c_prev, *outs, n)
        llvm_ir = "\n".join(step.inspect_llvm().values())
        assert ('"prefer-vector-width"="512"' in llvm_ir) == (width == 512)
        results[width] = [a, *outs]
    for wide, default in zip(results[512], results[0]):
        np.testing.assert_allclose(wide, default, rtol=1e-6, atol=1e-7)
    assert not results[512][3][:, n:].any()  # columns past n are not written


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_compiled_loops_agree_with_and_without_cut_products(cell, monkeypatch):
    """The compiled loops give the NumPy kernels' outputs and gradients whether or not the
    recurrent GEMMs are cut into small products (float64; B=3, H=40, a ragged batch)."""
    rng = np.random.default_rng(8)
    net = RecurrentNetwork(cell, input_size=2, hidden_sizes=(40,), n_outputs=3)
    theta = net.init_params(rng)
    X = rng.normal(size=(3, 6, 2))
    lengths = np.array([6, 4, 2])
    y = np.array([0, 2, 1])
    # 4000 cuts every recurrent GEMM of these sizes: 32 of the LSTM's 160 rows fit at n=3
    # (3 * 40 * 32 <= 4000), and of W_hh^T's 160 columns (3 * 40 * 32 again)
    assert 3 * 40 * 32 <= 4000 < 3 * 40 * 40
    results = {}
    for kernels, small in [("numpy", 0), ("numba", 0), ("numba", 4000)]:
        monkeypatch.setattr(compiled, "_small_gemm_limit", small)
        with skrnn.config_context(kernels=kernels):
            out = net.forward(theta, X, lengths)
            loss, grad = net.loss_and_grad(theta, X, lengths, y, "softmax")
        results[kernels, small] = out, loss, grad
    out_np, loss_np, grad_np = results["numpy", 0]
    for key in [("numba", 0), ("numba", 4000)]:
        out, loss, grad = results[key]
        np.testing.assert_allclose(out, out_np, rtol=0, atol=1e-12)
        assert abs(loss - loss_np) <= 1e-12
        np.testing.assert_allclose(grad, grad_np, rtol=0, atol=1e-11)


def test_steps_slice_the_steps_and_keep_the_buffers():
    buffers = (np.zeros(3), True)
    steps = compiled.Steps(buffers, [[0, 1, 2, 3], [0, 1, 2, 3], [1, 2, 3, 4], [5, 5, 4, 2]])
    assert len(steps) == 4 and steps.cols.dtype == np.int64
    part = steps[1:3]
    assert part.buffers is buffers and len(part) == 2
    np.testing.assert_array_equal(part.cols, [[1, 2], [1, 2], [2, 3], [5, 4]])
    with pytest.raises(TypeError):
        iter(steps)  # one call runs them all


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-14), (np.float32, 1e-6)])
def test_compiled_softmax_equals_numpy(dtype, rtol):
    """A stream's head (compiled with the kernels) against the NumPy reference, with rows
    whose exponentials would overflow or underflow without the maximum subtracted."""
    from skrnn.streaming import _softmax_rows
    rng = np.random.default_rng(4)
    Z = np.concatenate([rng.normal(size=(5, 7)), rng.normal(size=(2, 7)) * 1e3 + 1e4,
                        rng.normal(size=(2, 7)) - 1e4, np.full((1, 7), 3.0)]).astype(dtype)
    expected, got = Z.copy(), Z.copy()
    _softmax_rows(expected)
    compiled.softmax_rows(got)
    assert got.dtype == dtype and np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=np.finfo(dtype).tiny)
    np.testing.assert_allclose(got.sum(axis=1), 1, rtol=10 * rtol)
    np.testing.assert_allclose(got[-1], 1 / 7, rtol=rtol)


def test_a_compiled_stream_uses_the_compiled_head():
    X = np.random.default_rng(5).normal(size=(12, 4, 2))
    est = RNNClassifier("lstm", (3,), max_iter=2, random_state=0).fit(X, np.arange(12) % 3)
    with skrnn.config_context(kernels="numba"):
        assert est.stream()._softmax is compiled.softmax_rows
    with skrnn.config_context(kernels="numpy"):
        assert est.stream()._softmax is not compiled.softmax_rows


# -- the setting ---------------------------------------------------------------------------
def test_each_setting_runs_the_kernels_it_names():
    with skrnn.config_context(kernels="numba"):
        assert all(fast.use_compiled(c) for c in ("lstm", "gru", "rnn"))
    with skrnn.config_context(kernels="numpy"):
        assert not any(fast.use_compiled(c) for c in ("lstm", "gru", "rnn"))


def test_auto_without_numba_runs_the_numpy_kernels(monkeypatch):
    monkeypatch.setattr(fast, "numba_available", lambda: False)
    assert not any(fast.use_compiled(c) for c in ("lstm", "gru", "rnn"))


def test_set_config_and_context():
    assert skrnn.get_config()["kernels"] == "auto"
    skrnn.set_config(kernels="numpy")
    try:
        with skrnn.config_context():  # None keeps the value
            assert skrnn.get_config()["kernels"] == "numpy"
        seen = {}
        with skrnn.config_context(kernels="numba"):
            thread = threading.Thread(target=lambda: seen.update(skrnn.get_config()))
            thread.start()
            thread.join()
            assert skrnn.get_config()["kernels"] == "numba"
        assert seen["kernels"] == "numpy"  # a context is the calling thread's only
        assert skrnn.get_config()["kernels"] == "numpy"
    finally:
        skrnn.set_config(kernels="auto")


@pytest.mark.parametrize("call", [lambda: skrnn.set_config(kernels="fast"),
                                  lambda: skrnn.config_context(kernels="C").__enter__()])
def test_bad_settings_are_refused(call):
    with pytest.raises(ValueError, match="kernels must be one of 'auto', 'numba', 'numpy'"):
        call()
    assert skrnn.get_config()["kernels"] == "auto"


def run_python(code, **env):
    import os
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_environment_variable_sets_the_start_value_and_is_checked():
    ok = run_python("import skrnn; print(skrnn.get_config()['kernels'])", SKRNN_KERNELS="numpy")
    assert ok.stdout.strip() == "numpy", ok.stderr
    bad = run_python("import numpy as np, skrnn\n"
                     "skrnn.RNNClassifier('lstm', (2,), max_iter=1)"
                     ".fit(np.zeros((4, 3, 1)), [0, 1, 0, 1])", SKRNN_KERNELS="fastest")
    assert bad.returncode != 0 and "SKRNN_KERNELS" in bad.stderr and "'fastest'" in bad.stderr


def test_without_numba_forcing_the_compiled_kernels_says_how_to_install_them():
    code = ("import sys; sys.modules['numba'] = None\n"
            "import numpy as np, skrnn\n"
            "skrnn.RNNClassifier('lstm', (2,), max_iter=1).fit(np.zeros((4, 3, 1)), [0, 1, 0, 1])\n"
            "print('auto fitted')\n"
            "skrnn.set_config(kernels='numba')\n")
    out = run_python(code)
    assert "auto fitted" in out.stdout, out.stderr
    assert "ImportError" in out.stderr and "pip install 'skrnn[fast]'" in out.stderr


def test_importing_skrnn_does_not_import_numba():
    code = ("import sys, numpy as np, skrnn\n"
            "assert 'numba' not in sys.modules\n"
            "skrnn.RNNClassifier('rnn', (2,), max_iter=1).fit(np.zeros((4, 3, 1)), [0, 1, 0, 1])\n"
            "print('numba' in sys.modules)\n")
    out = run_python(code, SKRNN_KERNELS="numpy")  # ("auto" imports numba at the first fit)
    assert out.stdout.strip() == "False", out.stderr


# -- estimators end to end -----------------------------------------------------------------
@pytest.mark.parametrize("Est,cell", [(RNNClassifier, "lstm"), (RNNRegressor, "gru")])
def test_a_float64_fit_does_not_depend_on_the_kernels(Est, cell):
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 2)) for n in rng.integers(3, 12, size=40)]
    y = np.array([x[:, 0].sum() > 0 for x in X]).astype(int)
    fits = {}
    for kernels in ("numpy", "numba"):
        with skrnn.config_context(kernels=kernels):
            est = Est(cell=cell, hidden_layer_sizes=(6,), bidirectional=True, max_iter=15,
                      batch_size=16, random_state=0).fit(X, y)
            fits[kernels] = (est.theta_, est.predict(X))
    np.testing.assert_allclose(fits["numba"][0], fits["numpy"][0], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(fits["numba"][1], fits["numpy"][1], rtol=1e-9, atol=1e-11)
