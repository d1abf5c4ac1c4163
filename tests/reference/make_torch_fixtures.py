"""Reference cases computed by PyTorch, for ``tests/test_torch_reference.py``.

Regenerate ``torch_fixtures.npz`` (next to this file) with::

    python tests/reference/make_torch_fixtures.py

The saved cases are float64, each drawn after ``torch.manual_seed(seed)`` with a fixed seed, so
regenerating gives the same arrays. They are saved under flat keys ``"{case}/{name}"``:

    cell, activation, input_size, hidden_sizes, bidirectional, n_outputs   configuration
    X (B, T, D), lengths (B,)                 inputs; NaN at padded steps (they must be ignored)
    param/{name}                              PyTorch state-dict names, plus head.weight/head.bias
    outputs (B, T, nd*H_last)                 top layer outputs, zero at padded steps
    h_n/l{k}, c_n/l{k} (nd, B, H_k)           final states of layer k (c_n: LSTM only), the
                                              slice [k*nd:(k+1)*nd] of PyTorch's h_n, c_n
    y/sequence (B, T, K), y/last (B,)         targets (NaN at padded steps of y/sequence)
    loss/{objective}, grad/{objective}/{name} loss and the gradient of every parameter

with two objectives on the same forward pass: "sequence" (a linear head at every real step,
squared error ``0.5 * mean_k (z_k - y_k)^2`` averaged over all real steps) and "last" (the head
on the top layer's h_n, ``[forward, backward]``, softmax cross-entropy averaged over sequences).

Equal lengths run PyTorch on the padded tensor; variable lengths run it on a packed sequence
(``pack_padded_sequence(..., enforce_sorted=False)``). Layers of equal hidden sizes are one
PyTorch module with ``num_layers``; different hidden sizes stack one single-layer module per
layer on the packed output of the previous one.

This file imports torch; skrnn never does.
"""

import re
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
CELLS = {"rnn_tanh": ("rnn", "tanh"), "rnn_relu": ("rnn", "relu"), "lstm": ("lstm", "tanh"),
         "gru": ("gru", "tanh")}
LAYOUTS = {
    "uni_equal": dict(hidden_sizes=(4,), bidirectional=False, T=5, lengths=(5, 5, 5)),
    "bi2_variable": dict(hidden_sizes=(5, 5), bidirectional=True, T=6, lengths=(3, 6, 1, 4)),
    "uni_variable": dict(hidden_sizes=(4,), bidirectional=False, T=5, lengths=(2, 5, 1, 4)),
}
INPUT_SIZE, N_OUTPUTS = 3, 3
PATH = Path(__file__).with_name("torch_fixtures.npz")


def recurrent_layers(cell, activation, input_size, hidden_sizes, bidirectional, dtype):
    """[(module, first layer index)]: one module if all hidden sizes agree, else one per layer."""
    kwargs = dict(batch_first=True, bidirectional=bidirectional, dtype=dtype)
    if cell == "rnn":
        kwargs["nonlinearity"] = activation
    if len(set(hidden_sizes)) == 1:
        module = MODULES[cell](input_size, hidden_sizes[0], len(hidden_sizes), **kwargs)
        return [(module, 0)]
    layers, d_in = [], input_size
    for k, H in enumerate(hidden_sizes):
        layers.append((MODULES[cell](d_in, H, 1, **kwargs), k))
        d_in = H * (2 if bidirectional else 1)
    return layers


def named_parameters(layers, head):
    """State-dict names of the whole stack (layer indices shifted to their place) and head."""
    params = {}
    for module, first in layers:
        for name, p in module.named_parameters():
            params[re.sub(r"_l(\d+)", lambda m: f"_l{int(m.group(1)) + first}", name)] = p
    params.update({f"head.{name}": p for name, p in head.named_parameters()})
    return params


def run_layers(layers, X, lengths):
    """Top outputs (B, T, nd*H) zero where padded, and per layer the final states h_n and
    c_n (None but for the LSTM) of shape (nd, B, H_k), as PyTorch orders them."""
    T = X.shape[1]
    packed = bool((lengths < T).any())
    inp = pack_padded_sequence(X, lengths, batch_first=True, enforce_sorted=False) if packed else X
    h_n, c_n = [], []
    for module, _ in layers:
        inp, state = module(inp)
        h, c = state if isinstance(state, tuple) else (state, None)
        nd = 2 if module.bidirectional else 1
        h_n += h.split(nd)
        c_n += c.split(nd) if c is not None else []
    outputs = pad_packed_sequence(inp, batch_first=True, total_length=T)[0] if packed else inp
    return outputs, h_n, (c_n or None)


def sequence_loss(Z, y, lengths):
    """Mean over real steps of 0.5 * mean_k (z_k - y_k)^2 (padded steps masked, not summed)."""
    real = (torch.arange(Z.shape[1])[None, :] < lengths[:, None])[..., None]
    diff = torch.where(real, Z - torch.where(real, y, 0), 0)
    return 0.5 * (diff**2).mean(dim=2).sum() / lengths.sum()


def last_features(h_n):
    """The top layer's final states, [forward, backward] for a bidirectional stack."""
    return torch.cat(list(h_n[-1]), dim=1)


def case_inputs(cell, activation, hidden_sizes, bidirectional, T, lengths, seed, input_size,
                n_outputs, dtype):
    """A case's layers, head, named parameters, lengths, padding mask (B, T, 1) and input X
    (B, T, input_size), NaN at padded steps, drawn from ``seed`` in this order."""
    torch.manual_seed(seed)
    layers = recurrent_layers(cell, activation, input_size, hidden_sizes, bidirectional, dtype)
    nd = 2 if bidirectional else 1
    head = torch.nn.Linear(nd * hidden_sizes[-1], n_outputs, dtype=dtype)
    params = named_parameters(layers, head)
    lengths = torch.tensor(lengths, dtype=torch.int64)
    padded = (torch.arange(T)[None, :] >= lengths[:, None])[..., None]
    X = torch.randn(len(lengths), T, input_size, dtype=dtype).masked_fill(padded, float("nan"))
    return layers, head, params, lengths, padded, X


def make_case(cell, activation, hidden_sizes, bidirectional, T, lengths, seed,
              input_size=INPUT_SIZE, n_outputs=N_OUTPUTS, dtype=torch.float64):
    """One reference case as a flat dict of NumPy arrays (see the module docstring)."""
    layers, head, params, lengths, padded, X = case_inputs(
        cell, activation, hidden_sizes, bidirectional, T, lengths, seed, input_size, n_outputs,
        dtype)
    B = len(lengths)
    y = {"sequence": torch.randn(B, T, n_outputs, dtype=dtype).masked_fill(padded, float("nan")),
         "last": torch.randint(0, n_outputs, (B,))}

    case = {"cell": cell, "activation": activation, "input_size": input_size,
            "hidden_sizes": hidden_sizes, "bidirectional": bidirectional,
            "n_outputs": n_outputs, "X": X}
    return finish_case(case, params, head, run_layers(layers, X, lengths), y, lengths)


def finish_case(case, params, head, run, y, lengths, losses=None):
    """``case`` with the forward pass ``run`` (outputs, h_n, c_n), both objectives' losses
    and their gradients with respect to ``params``, as a flat dict of NumPy arrays.
    ``losses`` ({objective: loss on ``run``}, targets in ``y[objective]``) replaces the two
    objectives above."""
    outputs, h_n, c_n = run
    if losses is None:
        losses = {"sequence": sequence_loss(head(outputs), y["sequence"], lengths),
                  "last": torch.nn.functional.cross_entropy(head(last_features(h_n)),
                                                            y["last"])}
    case = {**case, "lengths": lengths, "outputs": outputs}
    case.update({f"h_n/l{k}": h for k, h in enumerate(h_n)})
    case.update({f"c_n/l{k}": c for k, c in enumerate(c_n or [])})
    case.update({f"param/{name}": p for name, p in params.items()})
    for objective, loss in losses.items():
        grads = torch.autograd.grad(loss, list(params.values()), retain_graph=True)
        case.update({f"grad/{objective}/{name}": g for name, g in zip(params, grads)})
        case[f"loss/{objective}"] = loss
        case[f"y/{objective}"] = y[objective]
    return {key: _numpy(value) for key, value in case.items()}


def _numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    return np.asarray(value)


def fixture_cases():
    """The saved cases: every cell under every layout, name ``"{cell}-{layout}"``."""
    cases = {}
    for i, (cell_name, (cell, activation)) in enumerate(CELLS.items()):
        for j, (layout_name, layout) in enumerate(LAYOUTS.items()):
            cases[f"{cell_name}-{layout_name}"] = make_case(cell, activation, seed=10 * i + j,
                                                            **layout)
    return cases


def save(cases, path):
    """Write cases as the flat ``"{case}/{name}"`` keys of one .npz file."""
    np.savez_compressed(path, **{f"{case}/{key}": value for case, arrays in cases.items()
                                 for key, value in arrays.items()})
    print(f"wrote {len(cases)} cases to {path} ({path.stat().st_size} bytes)")


def main():
    save(fixture_cases(), PATH)


if __name__ == "__main__":
    main()
