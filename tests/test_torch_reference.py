"""skrnn's engine against PyTorch's nn.RNN (tanh, relu), nn.LSTM and nn.GRU with the same weights.

Outputs, final states, losses and every parameter gradient must agree to round-off, for one and
several layers, one and two directions, equal and variable lengths (PyTorch packed sequences).

The saved cases (``reference/torch_fixtures.npz``, made by ``reference/make_torch_fixtures.py``)
need no torch; the live cases build fresh ones with torch and are skipped without it.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from skrnn.nn import RecurrentNetwork

REFERENCE = Path(__file__).with_name("reference")
FIXTURES = REFERENCE / "torch_fixtures.npz"
OBJECTIVES = {"sequence": "squared", "last": "softmax"}  # output kind -> loss name
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
RTOL = {"float64": 1e-10, "float32": 1e-4}


def load_fixture_cases(path=FIXTURES):
    """{case: {name: array}} from the flat ``"{case}/{name}"`` keys."""
    cases = {}
    with np.load(path) as data:
        for key in data.files:
            case, name = key.split("/", 1)
            cases.setdefault(case, {})[name] = data[key]
    return cases


FIXTURE_CASES = load_fixture_cases()


# -- comparison, shared by saved and live cases -------------------------------------------------
def relative_error(actual, expected):
    """Largest absolute difference relative to the largest reference magnitude."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    return float(np.max(np.abs(actual - expected), initial=0.0)
                 / max(np.max(np.abs(expected), initial=0.0), 1e-300))


def assert_close(actual, expected, rtol, what):
    error = relative_error(actual, expected)
    assert error <= rtol, f"{what}: relative error {error:.3g} > {rtol:g}"


def network(case, output):
    return RecurrentNetwork(str(case["cell"]), int(case["input_size"]),
                            tuple(int(h) for h in case["hidden_sizes"]), int(case["n_outputs"]),
                            bidirectional=bool(case["bidirectional"]), output=output,
                            activation=str(case["activation"]))


def parameters(case, prefix="param/"):
    return {key[len(prefix):]: value for key, value in case.items() if key.startswith(prefix)}


def check_states(case, rtol, net=None, X=None):
    """Per-step outputs and every layer's final states (h_n, and c_n for the LSTM), of the
    case's network and input unless ``net`` and ``X`` are given."""
    net = network(case, "sequence") if net is None else net
    theta = net.params_from_state_dict(parameters(case))
    outputs, h_n, c_n = net.final_states(theta, case["X"] if X is None else X, case["lengths"])
    assert_close(outputs, case["outputs"], rtol, "outputs")
    assert (c_n is None) == ("c_n/l0" not in case)
    nd = net.n_directions
    for k in range(len(net.hidden_sizes)):
        layer = slice(k * nd, (k + 1) * nd)
        assert_close(np.stack(h_n[layer]), case[f"h_n/l{k}"], rtol, f"h_n of layer {k}")
        if c_n is not None:
            assert_close(np.stack(c_n[layer]), case[f"c_n/l{k}"], rtol, f"c_n of layer {k}")


def check_gradients(case, output, rtol):
    """Loss and the gradient of every parameter, head included, for one output kind."""
    net = network(case, output)
    theta = net.params_from_state_dict(parameters(case))
    loss, grad = net.loss_and_grad(theta, case["X"], case["lengths"], case[f"y/{output}"],
                                   OBJECTIVES[output])
    assert_close(loss, case[f"loss/{output}"], rtol, "loss")
    expected = parameters(case, f"grad/{output}/")
    assert set(expected) == {name for name, _ in net.layout}
    for name, g in net.unpack(grad).items():
        assert_close(g, expected[name], rtol, f"d loss / d {name}")


def check_case(case, rtol):
    check_states(case, rtol)
    for output in OBJECTIVES:
        check_gradients(case, output, rtol)


# -- saved cases (no torch) -----------------------------------------------------------------------
def layout(case):
    """(bidirectional, number of layers, variable lengths) of a case."""
    variable = bool((case["lengths"] < case["X"].shape[1]).any())
    return bool(case["bidirectional"]), len(case["hidden_sizes"]), variable


def test_fixtures_cover_every_cell_and_layout():
    assert FIXTURES.stat().st_size < 1_000_000
    expected = {(False, 1, False), (True, 2, True), (False, 1, True)}
    for cell, activation in CELLS:
        cases = [c for c in FIXTURE_CASES.values()
                 if (c["cell"], c["activation"]) == (cell, activation)]
        assert {layout(c) for c in cases} == expected


@pytest.mark.parametrize("name", sorted(FIXTURE_CASES))
def test_fixture_padding_is_nan(name):
    """Inputs and sequence targets are NaN at padded steps: skrnn must never read them."""
    case = FIXTURE_CASES[name]
    padded = np.arange(case["X"].shape[1])[None, :] >= case["lengths"][:, None]
    for key in ("X", "y/sequence"):
        assert np.isnan(case[key][padded]).all() and np.isfinite(case[key][~padded]).all()


@pytest.mark.parametrize("name", sorted(FIXTURE_CASES))
def test_states_match_torch_fixture(name):
    check_states(FIXTURE_CASES[name], RTOL["float64"])


@pytest.mark.parametrize("output", sorted(OBJECTIVES))
@pytest.mark.parametrize("name", sorted(FIXTURE_CASES))
def test_gradients_match_torch_fixture(name, output):
    check_gradients(FIXTURE_CASES[name], output, RTOL["float64"])


# -- live cases (torch) ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference():
    """The fixture script as a module (it imports torch); skips when torch is missing."""
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("make_torch_fixtures",
                                                  REFERENCE / "make_torch_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("cell,activation", CELLS)
@pytest.mark.parametrize("dtype", sorted(RTOL))
def test_live_two_layers_bidirectional(reference, cell, activation, dtype):
    case = reference.make_case(cell, activation, (4, 4), True, T=6, lengths=(2, 6, 1, 5, 3),
                               seed=101, dtype=getattr(reference.torch, dtype))
    assert case["X"].dtype == np.dtype(dtype)
    check_case(case, RTOL[dtype])


@pytest.mark.parametrize("cell,activation", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_live_three_layers_of_different_sizes(reference, cell, activation, bidirectional):
    # the longest sequence is shorter than T: the last step is padding for every row
    case = reference.make_case(cell, activation, (3, 5, 4), bidirectional, T=6,
                               lengths=(4, 2, 5, 1), seed=202)
    check_case(case, RTOL["float64"])
