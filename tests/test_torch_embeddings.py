"""Networks of token ids against PyTorch: ``nn.Embedding(n_tokens, E, padding_idx=0)`` read by
nn.RNN (tanh), nn.LSTM or nn.GRU and a linear head, with the same weights.

Outputs, final states, losses and every parameter gradient, the embedding table's included,
must agree to round-off, for one and two layers, one and two directions and variable lengths
(PyTorch packed sequences); the comparison and the objectives are those of
``test_torch_reference.py``.

The saved cases (``reference/torch_embedding_fixtures.npz``, made by
``reference/make_torch_embedding_fixtures.py``) need no torch; the live cases build fresh ones
with torch and are skipped without it.
"""

import importlib.util
import sys
from dataclasses import replace

import numpy as np
import pytest

from test_torch_reference import check_states as check_reference_states
from test_torch_reference import (OBJECTIVES, REFERENCE, RTOL, assert_close, load_fixture_cases,
                                  network, parameters)

FIXTURES = REFERENCE / "torch_embedding_fixtures.npz"
CELLS = [("rnn", "tanh"), ("lstm", "tanh"), ("gru", "tanh")]

FIXTURE_CASES = load_fixture_cases(FIXTURES)


# -- comparison, shared by saved and live cases -------------------------------------------------
def token_network(case, output):
    return replace(network(case, output), n_tokens=int(case["n_tokens"]))


def padded(case):
    """(B, T) mask of the steps after each sequence's end."""
    return np.arange(case["ids"].shape[1])[None, :] >= case["lengths"][:, None]


def check_states(case, rtol, ids):
    """Per-step outputs and every layer's final states of the token network."""
    check_reference_states(case, rtol, token_network(case, "sequence"), ids)


def check_forward(case, output, rtol, ids):
    """The head outputs: per step (zero at padded steps), or on the top layer's h_n."""
    net = token_network(case, output)
    theta = net.params_from_state_dict(parameters(case))
    Z = net.forward(theta, ids, case["lengths"])
    W, b = case["param/head.weight"], case["param/head.bias"]
    if output == "sequence":
        expected = np.where(padded(case)[..., None], 0.0, case["outputs"] @ W.T + b)
    else:
        top = len(case["hidden_sizes"]) - 1
        expected = np.concatenate(list(case[f"h_n/l{top}"]), axis=1) @ W.T + b
    assert_close(Z, expected, rtol, f"forward ({output})")


def check_gradients(case, output, rtol, ids):
    """Loss and the gradient of every parameter, embedding and head included."""
    net = token_network(case, output)
    theta = net.params_from_state_dict(parameters(case))
    loss, grad = net.loss_and_grad(theta, ids, case["lengths"], case[f"y/{output}"],
                                   OBJECTIVES[output])
    assert_close(loss, case[f"loss/{output}"], rtol, "loss")
    expected = parameters(case, f"grad/{output}/")
    assert set(expected) == {name for name, _ in net.layout}
    grads = net.unpack(grad)
    assert not grads["embedding.weight"][0].any()  # the padding row gets no gradient
    for name, g in grads.items():
        assert_close(g, expected[name], rtol, f"d loss / d {name}")


def check_case(case, rtol, ids=None):
    ids = case["ids"] if ids is None else ids
    check_states(case, rtol, ids)
    for output in OBJECTIVES:
        check_forward(case, output, rtol, ids)
        check_gradients(case, output, rtol, ids)


# -- saved cases (no torch) -----------------------------------------------------------------------
def test_fixtures_cover_every_cell_and_layout():
    assert FIXTURES.stat().st_size < 300_000
    expected = {(cell, activation, bidirectional, hidden_sizes) for cell, activation in CELLS
                for bidirectional in (False, True) for hidden_sizes in ((3,), (3, 2))}
    assert {(str(c["cell"]), str(c["activation"]), bool(c["bidirectional"]),
             tuple(int(h) for h in c["hidden_sizes"])) for c in FIXTURE_CASES.values()} == expected
    for case in FIXTURE_CASES.values():
        assert padded(case).any()  # variable lengths: PyTorch ran packed sequences


@pytest.mark.parametrize("name", sorted(FIXTURE_CASES))
def test_fixture_ids_and_padding_row(name):
    """Real steps hold ids in [1, n_tokens), padded steps the padding id 0; PyTorch keeps the
    padding row zero and gives it no gradient."""
    case = FIXTURE_CASES[name]
    ids, mask = case["ids"], padded(case)
    assert (ids[mask] == 0).all() and (ids[~mask] >= 1).all()
    assert (ids < case["n_tokens"]).all()
    assert not case["param/embedding.weight"][0].any()
    for output in OBJECTIVES:
        assert not case[f"grad/{output}/embedding.weight"][0].any()


@pytest.mark.parametrize("name", sorted(FIXTURE_CASES))
def test_states_match_torch_fixture(name):
    case = FIXTURE_CASES[name]
    check_states(case, RTOL["float64"], case["ids"])


@pytest.mark.parametrize("output", sorted(OBJECTIVES))
@pytest.mark.parametrize("name", sorted(FIXTURE_CASES))
def test_forward_and_gradients_match_torch_fixture(name, output):
    case = FIXTURE_CASES[name]
    check_forward(case, output, RTOL["float64"], case["ids"])
    check_gradients(case, output, RTOL["float64"], case["ids"])


@pytest.mark.parametrize("name", sorted(FIXTURE_CASES))
def test_ids_after_the_end_are_ignored(name):
    """Any ids at padded steps, not only 0, give PyTorch's packed results."""
    case = FIXTURE_CASES[name]
    ids = case["ids"].copy()
    mask = padded(case)
    ids[mask] = np.random.default_rng(0).integers(0, case["n_tokens"], size=mask.sum())
    check_case(case, RTOL["float64"], ids)


# -- live cases (torch) ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference():
    """The fixture script as a module (it imports torch and its sibling make_torch_fixtures);
    skips when torch is missing. PyTorch runs on one thread meanwhile, like the BLAS of the
    test processes (conftest.py): a pool of threads makes its tiny backward passes slow."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(REFERENCE))
    try:
        spec = importlib.util.spec_from_file_location(
            "make_torch_embedding_fixtures", REFERENCE / "make_torch_embedding_fixtures.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REFERENCE))
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield module
    torch.set_num_threads(n_threads)


@pytest.mark.parametrize("cell,activation", CELLS)
@pytest.mark.parametrize("dtype", sorted(RTOL))
def test_live_two_layers_bidirectional(reference, cell, activation, dtype):
    # the longest sequence is shorter than T: the last step is padding for every row; a
    # larger vocabulary leaves rows no sequence reads (zero gradient in both)
    case = reference.make_case(cell, activation, (3, 2), True, T=6, lengths=(4, 2, 5, 1),
                               seed=303, n_tokens=12, dtype=getattr(reference.torch, dtype))
    assert case["param/embedding.weight"].dtype == np.dtype(dtype)
    check_case(case, RTOL[dtype])


@pytest.mark.parametrize("cell,activation", CELLS)
@pytest.mark.parametrize("dtype", sorted(RTOL))
def test_live_one_layer(reference, cell, activation, dtype):
    case = reference.make_case(cell, activation, (4,), False, T=5, lengths=(2, 5, 1, 4, 3),
                               seed=404, dtype=getattr(reference.torch, dtype))
    check_case(case, RTOL[dtype])


@pytest.mark.parametrize("cell,activation", CELLS)
def test_live_equal_lengths_one_module_of_two_layers(reference, cell, activation):
    # no padding: PyTorch runs the padded tensor; equal hidden sizes make one module
    case = reference.make_case(cell, activation, (3, 3), True, T=4, lengths=(4, 4, 4),
                               seed=505)
    check_case(case, RTOL["float64"])
