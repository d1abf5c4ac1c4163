"""Reference cases of networks of token ids computed by PyTorch, for
``tests/test_torch_embeddings.py``.

Regenerate ``torch_embedding_fixtures.npz`` (next to this file) with::

    python tests/reference/make_torch_embedding_fixtures.py

The model is ``nn.Embedding(n_tokens, input_size, padding_idx=0)`` read by the recurrent
layers and the linear head of ``make_torch_fixtures.py``, whose helpers this script imports:
the same parameter names, objectives ("sequence": squared error over real steps; "last":
softmax cross-entropy on the top layer's h_n) and packed sequences. Every case has variable
lengths. The cases are float64, each drawn after ``torch.manual_seed(seed)`` with a fixed seed,
so regenerating gives the same arrays. They are saved under flat keys ``"{case}/{name}"``:

    cell, activation, n_tokens, input_size, hidden_sizes, bidirectional, n_outputs
                                              configuration
    ids (B, T), lengths (B,)                  token ids in [1, n_tokens) at real steps, 0 (the
                                              padding id) after each sequence's end
    param/embedding.weight (n_tokens, E)      PyTorch's standard normal draw, row 0 zero
    param/{name}                              the recurrent layers' state-dict names, plus
                                              head.weight/head.bias
    outputs, h_n/l{k}, c_n/l{k}, y/{objective}, loss/{objective}, grad/{objective}/{name}
                                              as in ``make_torch_fixtures.py``; the gradients
                                              include grad/{objective}/embedding.weight (row 0
                                              zero: the padding row gets no gradient)

This file imports torch; skrnn never does.
"""

from pathlib import Path

import torch
from make_torch_fixtures import (finish_case, named_parameters, recurrent_layers, run_layers,
                                 save)

CELLS = {"rnn_tanh": ("rnn", "tanh"), "lstm": ("lstm", "tanh"), "gru": ("gru", "tanh")}
HIDDEN_SIZES = [(3,), (3, 2)]
T, LENGTHS = 6, (3, 6, 1, 4)
N_TOKENS, INPUT_SIZE, N_OUTPUTS = 7, 3, 3
PATH = Path(__file__).with_name("torch_embedding_fixtures.npz")


def make_case(cell, activation, hidden_sizes, bidirectional, T, lengths, seed,
              n_tokens=N_TOKENS, input_size=INPUT_SIZE, n_outputs=N_OUTPUTS,
              dtype=torch.float64):
    """One reference case as a flat dict of NumPy arrays (see the module docstring)."""
    torch.manual_seed(seed)
    embedding = torch.nn.Embedding(n_tokens, input_size, padding_idx=0, dtype=dtype)
    layers = recurrent_layers(cell, activation, input_size, hidden_sizes, bidirectional, dtype)
    nd = 2 if bidirectional else 1
    head = torch.nn.Linear(nd * hidden_sizes[-1], n_outputs, dtype=dtype)
    params = {"embedding.weight": embedding.weight, **named_parameters(layers, head)}
    lengths = torch.tensor(lengths, dtype=torch.int64)
    B = len(lengths)
    padded = torch.arange(T)[None, :] >= lengths[:, None]
    ids = torch.randint(1, n_tokens, (B, T)).masked_fill(padded, 0)
    y = {"sequence": torch.randn(B, T, n_outputs, dtype=dtype).masked_fill(padded[..., None],
                                                                           float("nan")),
         "last": torch.randint(0, n_outputs, (B,))}

    case = {"cell": cell, "activation": activation, "n_tokens": n_tokens,
            "input_size": input_size, "hidden_sizes": hidden_sizes,
            "bidirectional": bidirectional, "n_outputs": n_outputs, "ids": ids}
    return finish_case(case, params, head, run_layers(layers, embedding(ids), lengths), y,
                       lengths)


def case_name(cell_name, bidirectional, hidden_sizes):
    """``"{cell}-{uni|bi}-{sizes}"``, e.g. ``"gru-bi-3x2"``."""
    return f"{cell_name}-{'bi' if bidirectional else 'uni'}-{'x'.join(map(str, hidden_sizes))}"


def fixture_cases():
    """The saved cases: every cell, one and two directions, one and two layers."""
    cases = {}
    for i, (cell_name, (cell, activation)) in enumerate(CELLS.items()):
        for j, bidirectional in enumerate((False, True)):
            for k, hidden_sizes in enumerate(HIDDEN_SIZES):
                cases[case_name(cell_name, bidirectional, hidden_sizes)] = make_case(
                    cell, activation, hidden_sizes, bidirectional, T, LENGTHS,
                    seed=100 * i + 10 * j + k)
    return cases


def main():
    save(fixture_cases(), PATH)


if __name__ == "__main__":
    main()
