"""PyTorch modules of ``skrnn.interchange`` and their outputs, for ``tests/test_interchange.py``.

Regenerate ``interchange_fixtures.npz`` (next to this file) with::

    python tests/reference/make_interchange_fixtures.py

Each case is the module documented in :mod:`skrnn.interchange` (``.rnn`` and ``.head``), its
weights drawn by PyTorch after ``torch.manual_seed(seed)``, run in float64 on a ragged batch
(packed sequences). Saved under flat keys ``"{case}/{name}"``:

    kind, cell, activation, hidden_sizes, bidirectional    configuration
    X (B, T, D)                                             NaN-padded inputs
    param/{name}                                            the module's state dict
    output (B, K) or (B, T, K)                              head outputs (per step: zero at
                                                            padded steps)

This file imports torch; skrnn never does.
"""

from pathlib import Path

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
CASES = {
    "classifier_lstm_bi_stacked": dict(kind="last", cell="lstm", activation="tanh",
                                       hidden_sizes=(4, 4), bidirectional=True),
    "regressor_gru_two_sizes": dict(kind="last", cell="gru", activation="tanh",
                                    hidden_sizes=(5, 3), bidirectional=False),
    "tagger_rnn_relu_bi": dict(kind="sequence", cell="rnn", activation="relu",
                               hidden_sizes=(4,), bidirectional=True),
}
LENGTHS = (3, 6, 1, 4, 6)
INPUT_SIZE, N_OUTPUTS = 3, 3
PATH = Path(__file__).with_name("interchange_fixtures.npz")


class SkrnnModule(torch.nn.Module):
    """The module of skrnn.interchange: ``.rnn`` (one module, or one per layer when the hidden
    sizes differ) and ``.head``; ``output`` is "last" (classifier, regressor) or "sequence"."""

    def __init__(self, n_features, hidden_sizes, bidirectional, n_outputs, cell="lstm",
                 activation="tanh", output="last", dtype=torch.float64):
        super().__init__()
        kwargs = dict(batch_first=True, bidirectional=bidirectional, dtype=dtype)
        if cell == "rnn":
            kwargs["nonlinearity"] = activation
        nd = 1 + bidirectional
        if len(set(hidden_sizes)) == 1:
            self.rnn = MODULES[cell](n_features, hidden_sizes[0], len(hidden_sizes), **kwargs)
        else:
            inputs = [n_features] + [nd * H for H in hidden_sizes[:-1]]
            self.rnn = torch.nn.ModuleList(MODULES[cell](D, H, 1, **kwargs)
                                           for D, H in zip(inputs, hidden_sizes))
        self.head = torch.nn.Linear(nd * hidden_sizes[-1], n_outputs, dtype=dtype)
        self.output, self.nd = output, nd

    def forward(self, X, lengths):
        """Head outputs for padded X (B, T, D) with lengths (B,)."""
        x = pack_padded_sequence(torch.nan_to_num(X), lengths, batch_first=True,
                                 enforce_sorted=False)
        for module in (self.rnn if isinstance(self.rnn, torch.nn.ModuleList) else [self.rnn]):
            x, h_n = module(x)
        if self.output == "sequence":
            Y, _ = pad_packed_sequence(x, batch_first=True, total_length=X.shape[1])
            real = torch.arange(X.shape[1])[None, :] < torch.as_tensor(lengths)[:, None]
            return self.head(Y) * real[:, :, None]
        h_n = h_n[0] if isinstance(h_n, tuple) else h_n  # the LSTM's (h_n, c_n)
        return self.head(torch.cat(list(h_n[-self.nd:]), dim=1))


def nan_padded(rng, lengths, n_features):
    X = rng.normal(size=(len(lengths), max(lengths), n_features))
    for i, L in enumerate(lengths):
        X[i, L:] = np.nan
    return X


def make_case(seed, kind, cell, activation, hidden_sizes, bidirectional):
    torch.manual_seed(seed)
    module = SkrnnModule(INPUT_SIZE, hidden_sizes, bidirectional, N_OUTPUTS, cell, activation,
                         kind).eval()
    X = nan_padded(np.random.default_rng(seed), LENGTHS, INPUT_SIZE)
    with torch.no_grad():
        output = module(torch.from_numpy(X), torch.tensor(LENGTHS)).numpy()
    case = {"kind": kind, "cell": cell, "activation": activation,
            "hidden_sizes": np.array(hidden_sizes), "bidirectional": bidirectional,
            "X": X, "output": output}
    case.update({f"param/{k}": v.numpy() for k, v in module.state_dict().items()})
    return case


def main():
    arrays = {}
    for seed, (name, config) in enumerate(CASES.items()):
        for key, value in make_case(seed, **config).items():
            arrays[f"{name}/{key}"] = np.asarray(value)
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {len(CASES)} cases to {PATH}")


if __name__ == "__main__":
    main()
