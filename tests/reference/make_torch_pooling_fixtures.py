"""Reference cases of pooled many-to-one heads computed by PyTorch, for
``tests/test_pooling.py``.

Regenerate ``torch_pooling_fixtures.npz`` (next to this file) with::

    python tests/reference/make_torch_pooling_fixtures.py

The recurrent layers, the linear head, the packed sequences and the saved arrays are those of
``make_torch_fixtures.py``, whose helpers this script imports; only the objectives differ.
The head reads the top layer's outputs ``Y`` (B, T, nd*H) of ``pad_packed_sequence`` (zero
at padded steps) pooled over each sequence's real steps:

    "mean"   Y.sum(dim=1) / lengths[:, None]
    "max"    Y.masked_fill(padded, -inf).max(dim=1).values (the gradient reaches the step
             holding the maximum; the random draws hold no ties)

and each objective is the softmax cross-entropy of ``head(pooled)`` averaged over sequences,
with targets ``y/{objective}`` (B,). Besides the keys of ``make_torch_fixtures.py``
(``outputs``, ``h_n/l{k}``, ``c_n/l{k}``, ``param/{name}``, ``loss/{objective}``,
``grad/{objective}/{name}``), each case holds ``logits/{objective}`` (B, K), the head
outputs. Every case has variable lengths, and in some the longest sequence is shorter than
T (every row padded at the last step). The inputs are NaN at padded steps. The cases are
float64, each drawn after ``torch.manual_seed(seed)`` with a fixed seed, so regenerating
gives the same arrays.

This file imports torch; skrnn never does.
"""

from pathlib import Path

import torch
from make_torch_fixtures import case_inputs, finish_case, run_layers, save

CELLS = {"rnn_tanh": ("rnn", "tanh"), "lstm": ("lstm", "tanh"), "gru": ("gru", "tanh")}
LAYOUTS = {
    "uni": dict(hidden_sizes=(4,), bidirectional=False, T=6, lengths=(3, 6, 1, 4)),
    "bi2": dict(hidden_sizes=(3, 2), bidirectional=True, T=6, lengths=(2, 5, 1, 4)),
}
INPUT_SIZE, N_OUTPUTS = 3, 3
POOLINGS = ("mean", "max")
PATH = Path(__file__).with_name("torch_pooling_fixtures.npz")


def pool(Y, lengths, pooling):
    """The top outputs Y (B, T, F), zero at padded steps, pooled over the real steps (B, F)."""
    if pooling == "mean":
        return Y.sum(dim=1) / lengths[:, None].to(Y.dtype)
    padded = torch.arange(Y.shape[1])[None, :] >= lengths[:, None]
    return Y.masked_fill(padded[..., None], float("-inf")).max(dim=1).values


def make_case(cell, activation, hidden_sizes, bidirectional, T, lengths, seed,
              input_size=INPUT_SIZE, n_outputs=N_OUTPUTS, dtype=torch.float64):
    """One reference case as a flat dict of NumPy arrays (see the module docstring)."""
    layers, head, params, lengths, padded, X = case_inputs(
        cell, activation, hidden_sizes, bidirectional, T, lengths, seed, input_size, n_outputs,
        dtype)
    B = len(lengths)
    y = {pooling: torch.randint(0, n_outputs, (B,)) for pooling in POOLINGS}

    run = run_layers(layers, X, lengths)
    logits = {pooling: head(pool(run[0], lengths, pooling)) for pooling in POOLINGS}
    losses = {pooling: torch.nn.functional.cross_entropy(logits[pooling], y[pooling])
              for pooling in POOLINGS}
    case = {"cell": cell, "activation": activation, "input_size": input_size,
            "hidden_sizes": hidden_sizes, "bidirectional": bidirectional,
            "n_outputs": n_outputs, "X": X,
            **{f"logits/{pooling}": Z for pooling, Z in logits.items()}}
    return finish_case(case, params, head, run, y, lengths, losses)


def fixture_cases():
    """The saved cases: every cell under every layout, name ``"{cell}-{layout}"``."""
    cases = {}
    for i, (cell_name, (cell, activation)) in enumerate(CELLS.items()):
        for j, (layout_name, layout) in enumerate(LAYOUTS.items()):
            cases[f"{cell_name}-{layout_name}"] = make_case(cell, activation,
                                                            seed=1000 + 10 * i + j, **layout)
    return cases


def main():
    save(fixture_cases(), PATH)


if __name__ == "__main__":
    main()
