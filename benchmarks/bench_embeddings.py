#!/usr/bin/env python
"""Benchmark skrnn's embedding models (token ids) against the same model in PyTorch on CPU.

The sizes of a word-level text task: a vocabulary of V = 8,000 ids, embeddings of E = 64,
one recurrent layer of H = 128, 4 classes, mini-batches of 32. The data is generated
(``make_data``): ``--n`` sequences (default 1,000) of lengths 5-40, ids drawn with Zipf-like
frequencies (the k-th most frequent id has probability proportional to 1 / (k + 2.7)), each
sequence holding two cue ids of its class, so that both fits learn. Ids 0 (padding) and 1
(unknown, as ``TokenEncoder`` reserves it) do not occur; both tables have V rows (skrnn is
given ``n_tokens=8000``). X is what a user holds: a ragged list of 1-D int64 id arrays.

Four measurements, float32 for both libraries, one thread each (threadpoolctl for numpy's and
scipy's OpenBLAS, ``torch.set_num_threads(1)`` and ``torch.set_num_interop_threads(1)``):

1. Whole ``fit`` and ``predict``, for each cell (``--cells``, default lstm gru):

   * skrnn: ``RNNClassifier(cell, (128,), embedding_dim=64, n_tokens=8000, batch_size=32,
     max_iter=E, solver="adam", learning_rate_init=1e-2, alpha=0.0, max_grad_norm=5.0,
     tol=0.0, n_iter_no_change=E+1, shuffle=True, random_state=0).fit(X, y)`` (every one of
     the E epochs runs; ``--epochs``, default 3), then ``predict(X)``.
   * PyTorch: ``nn.Embedding(8000, 64, padding_idx=0)``, ``nn.LSTM``/``nn.GRU``/``nn.RNN``
     (batch_first) and ``nn.Linear`` on the last real step; ``torch.optim.Adam(lr=1e-2)``; per
     epoch a ``randperm`` shuffle and per mini-batch of 32: ``pad_sequence`` of the ids, the
     embedding of the padded batch, ``pack_padded_sequence(..., enforce_sorted=False)``, the
     recurrent layer, the head on ``h_n``, ``cross_entropy``, ``backward``,
     ``clip_grad_norm_(.., 5.0)``, ``step`` and ``loss.item()`` (skrnn keeps a loss curve).
     Prediction: under ``torch.inference_mode()`` in batches of 1,024 sequences (skrnn
     predicts in chunks of the same size), each packed, ``argmax``, ``.numpy()``.

   Model and optimizer construction are inside the timed fit on both sides. Before timing,
   skrnn's fitted weights (the embedding table included) are loaded into the PyTorch model and
   both must give the same probabilities within 1e-4; each side's training accuracy after its
   own fit is printed as a check that both learn.
2. The engine on one mini-batch of 32 of these sequences (``RecurrentNetwork(cell,
   input_size=64, hidden_sizes=(128,), n_outputs=4, n_tokens=8000)``, X of (B, T) ids):
   ``loss_and_grad`` against PyTorch's forward and backward (``zero_grad`` included), the
   optimizer step (clipping by global norm and Adam over every parameter, the 8000 x 64 table
   included, on both sides), and inference on the batch.
3. Where the time of one skrnn fit and one predict goes: the engine's and the training
   loop's functions timed from outside (wrapped with a timer for one call; skrnn's code is
   unchanged), and micro-timings of alternatives for the parts that depend on V (the table's
   gradient scatter, Adam over the table, the lookup and input projection at inference).
4. Peak memory (tracemalloc, which sees numpy's buffers) of one epoch of skrnn's fit on a
   subset (``--memory-n``, default 200 sequences), with embeddings and with the same ids given
   as dense one-hot (T_i, V) float32 arrays (what ``TokenEncoder(output="onehot")`` writes,
   in float32) to a model without embeddings.

skrnn and PyTorch measurements alternate, so background load affects both alike; each time
is the median of ``--repeats`` measurements. The ratio is skrnn time / PyTorch time (below 1:
skrnn is faster); the target is a ratio at or below 1 for fit and predict.

Examples
--------
    python benchmarks/bench_embeddings.py --quick
    python benchmarks/bench_embeddings.py --markdown embeddings.md
    python benchmarks/bench_embeddings.py --cells lstm gru rnn --epochs 5
"""

import argparse
import gc
import math
import os
import statistics
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as torch_F  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence  # noqa: E402

import skrnn  # noqa: E402
from bench_engine import Timers, _time_calls, describe_run, set_threads  # noqa: E402
from skrnn import RNNClassifier  # noqa: E402
from skrnn import _training  # noqa: E402
from skrnn.nn import RecurrentNetwork, network  # noqa: E402
from skrnn.nn._fast.buffers import clear_workspace  # noqa: E402
from skrnn.nn.optimizers import Adam, clip_grad_norm  # noqa: E402

CELLS = ("rnn", "gru", "lstm")
TORCH_MODULES = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}
N_TOKENS = 8000  # V, ids 0 (padding) and 1 (unknown) included
EMBEDDING_DIM = 64  # E
HIDDEN = 128  # H
N_CLASSES = 4
BATCH_SIZE = 32
MIN_LENGTH, MAX_LENGTH = 5, 40
FIRST_ID = 2  # ids 0 and 1 are reserved (padding, unknown)
N_CUES = 30  # cue ids per class
LEARNING_RATE = 1e-2  # skrnn's default learning_rate_init
MAX_GRAD_NORM = 5.0
PREDICT_BATCH = 1024  # sequences per PyTorch inference batch: skrnn's predict chunk
AGREEMENT_TOL = 1e-4


# -- data ------------------------------------------------------------------------------------
def make_data(n, seed=0):
    """n id sequences (a list of 1-D int64 arrays, lengths 5-40) and their labels in [0, 4).

    Ids in [2, V) are drawn with Zipf-Mandelbrot frequencies (rank k: 1 / (k + 2.7)); two steps
    of each sequence hold cue ids of its class (30 per class, among ranks 50-2,000).
    """
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, N_TOKENS - FIRST_ID + 1)
    p = 1.0 / (ranks + 2.7)
    p /= p.sum()
    lengths = rng.integers(MIN_LENGTH, MAX_LENGTH + 1, size=n)
    y = rng.integers(0, N_CLASSES, size=n).astype(np.int64)
    cues = FIRST_ID + rng.choice(np.arange(50, 2000), size=(N_CLASSES, N_CUES), replace=False)
    tokens = FIRST_ID + rng.choice(len(p), size=int(lengths.sum()), p=p)
    X = []
    for ids, label in zip(np.split(tokens.astype(np.int64), np.cumsum(lengths)[:-1]), y):
        ids[rng.choice(len(ids), size=2, replace=False)] = rng.choice(cues[label], size=2)
        X.append(ids)
    return X, y


def describe_data(X):
    lengths = np.array([len(x) for x in X])
    ids = np.concatenate(X)
    return (f"{len(X)} sequences of lengths {lengths.min()}-{lengths.max()} (mean "
            f"{lengths.mean():.1f}, {lengths.sum()} tokens), {len(np.unique(ids))} distinct ids "
            f"of V={N_TOKENS}, {N_CLASSES} classes")


def padded_ids(X):
    """(B, T) int64 ids padded with 0, and the lengths."""
    lengths = np.array([len(x) for x in X])
    ids = np.zeros((len(X), lengths.max()), np.int64)
    for i, x in enumerate(X):
        ids[i, :len(x)] = x
    return ids, lengths


# -- timing ----------------------------------------------------------------------------------
def alternate(fa, fb, repeats, min_time=0.0):
    """Median seconds per call of fa and fb, measured alternately; the caller warms them up.

    Each measurement repeats its function until ``min_time`` has passed (at least once).
    """
    ka = max(1, math.ceil(min_time / max(_time_calls(fa, 1), 1e-7))) if min_time else 1
    kb = max(1, math.ceil(min_time / max(_time_calls(fb, 1), 1e-7))) if min_time else 1
    ta, tb = [], []
    for r in range(repeats):
        pairs = [(fa, ka, ta), (fb, kb, tb)]
        for fn, k, times in pairs if r % 2 == 0 else pairs[::-1]:
            times.append(_time_calls(fn, k))
    return statistics.median(ta), statistics.median(tb)


def best_time(fn, repeats=5, min_time=0.05):
    """Shortest seconds per call of fn over ``repeats`` measurements (a micro-timing)."""
    fn()
    k = max(1, math.ceil(min_time / max(_time_calls(fn, 1), 1e-7)))
    return min(_time_calls(fn, k) for _ in range(repeats))


# -- skrnn -----------------------------------------------------------------------------------
def skrnn_estimator(cell, epochs, embedding=True):
    kwargs = dict(embedding_dim=EMBEDDING_DIM, n_tokens=N_TOKENS) if embedding else {}
    return RNNClassifier(cell, (HIDDEN,), **kwargs, batch_size=BATCH_SIZE, max_iter=epochs,
                         solver="adam", learning_rate_init=LEARNING_RATE, alpha=0.0,
                         max_grad_norm=MAX_GRAD_NORM, tol=0.0, n_iter_no_change=epochs + 1,
                         shuffle=True, random_state=0)


def skrnn_fit(X, y, cell, epochs, embedding=True):
    """A fitted skrnn classifier: E full epochs of Adam, as a user calls it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return skrnn_estimator(cell, epochs, embedding).fit(X, y)


# -- PyTorch ---------------------------------------------------------------------------------
class TorchTextRNN(torch.nn.Module):
    """nn.Embedding(padding_idx=0), one recurrent layer (batch_first) and a linear head on each
    sequence's last real step."""

    def __init__(self, cell):
        super().__init__()
        self.embedding = torch.nn.Embedding(N_TOKENS, EMBEDDING_DIM, padding_idx=0)
        self.rnn = TORCH_MODULES[cell](EMBEDDING_DIM, HIDDEN, batch_first=True)
        self.head = torch.nn.Linear(HIDDEN, N_CLASSES)

    def forward(self, ids, lengths):
        """ids: a (B, T) padded tensor of ids; lengths: a (B,) CPU tensor."""
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True,
                                      enforce_sorted=False)
        _, h_n = self.rnn(packed)
        if isinstance(h_n, tuple):  # LSTM: (h_n, c_n)
            h_n = h_n[0]
        return self.head(h_n[-1])


def _torch_inputs(X):
    """The user's numpy id arrays as tensors without copying, and their lengths."""
    return [torch.from_numpy(x) for x in X], torch.tensor([len(x) for x in X])


def torch_fit(X, y, cell, epochs, seed=0):
    """The same model and training as skrnn_fit in a plain PyTorch loop; returns the model."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = TorchTextRNN(cell)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.999),
                                 eps=1e-8)
    seqs, lengths = _torch_inputs(X)
    yt = torch.from_numpy(y)
    n = len(y)
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator).tolist()
        epoch_loss = 0.0
        for start in range(0, n, BATCH_SIZE):
            idx = order[start:start + BATCH_SIZE]
            optimizer.zero_grad()
            batch = pad_sequence([seqs[i] for i in idx], batch_first=True)
            loss = torch_F.cross_entropy(model(batch, lengths[idx]), yt[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
            optimizer.step()
            epoch_loss += loss.item() * len(idx)
    return model


def torch_logits(model, X):
    """Logits of every sequence, in batches of PREDICT_BATCH, under inference_mode."""
    seqs, lengths = _torch_inputs(X)
    with torch.inference_mode():
        return torch.cat([model(pad_sequence(seqs[s:s + PREDICT_BATCH], batch_first=True),
                                lengths[s:s + PREDICT_BATCH])
                          for s in range(0, len(seqs), PREDICT_BATCH)])


def torch_predict(model, X):
    """The counterpart of skrnn's predict: the class of every sequence."""
    return torch_logits(model, X).argmax(dim=1).numpy()


def torch_model_from(state_dict, cell):
    """A PyTorch model holding skrnn's weights (strict: every name must match)."""
    model = TorchTextRNN(cell)
    state = {(k if k.startswith(("head.", "embedding.")) else f"rnn.{k}"):
             torch.from_numpy(np.array(v)) for k, v in state_dict.items()}
    model.load_state_dict(state, strict=True)
    return model


def check_agreement(est, X, cell):
    """skrnn's probabilities equal PyTorch's with skrnn's fitted weights; the largest
    absolute difference."""
    state = est.state_dict()
    assert {v.dtype for v in state.values()} == {np.dtype(np.float32)}, "not float32"
    assert state["embedding.weight"].shape == (N_TOKENS, EMBEDDING_DIM)
    ours = est.predict_proba(X)
    theirs = torch.softmax(torch_logits(torch_model_from(state, cell), X), dim=1).numpy()
    diff = float(np.max(np.abs(ours - theirs)))
    assert diff <= AGREEMENT_TOL, f"{cell}: probabilities differ by {diff:.2e}"
    return diff


# -- 1. whole fit and predict ----------------------------------------------------------------
def run_estimators(X, y, cell, epochs, repeats, min_time):
    est = skrnn_fit(X, y, cell, epochs)  # also the warm-up of both fits and predicts
    model = torch_fit(X, y, cell, epochs)
    diff = check_agreement(est, X, cell)
    acc_s = float(np.mean(est.predict(X) == y))
    acc_t = float(np.mean(torch_predict(model, X) == y))
    fit_s, fit_t = alternate(lambda: skrnn_fit(X, y, cell, epochs),
                             lambda: torch_fit(X, y, cell, epochs), repeats)
    pred_s, pred_t = alternate(lambda: est.predict(X), lambda: torch_predict(model, X),
                               repeats, min_time)
    return dict(cell=cell, fit_s=fit_s, fit_t=fit_t, pred_s=pred_s, pred_t=pred_t,
                acc_s=acc_s, acc_t=acc_t, diff=diff)


ESTIMATOR_HEADER = (f"{'cell':<5} {'fit sk s':>9} {'fit pt s':>9} {'ratio':>6}  "
                    f"{'pred sk ms':>10} {'pred pt ms':>10} {'ratio':>6}  "
                    f"{'acc sk':>6} {'acc pt':>6}   (ratio = skrnn / PyTorch)")


def _estimator_line(r):
    return (f"{r['cell']:<5} {r['fit_s']:>9.3f} {r['fit_t']:>9.3f} "
            f"{r['fit_s'] / r['fit_t']:>6.2f}  {1e3 * r['pred_s']:>10.2f} "
            f"{1e3 * r['pred_t']:>10.2f} {r['pred_s'] / r['pred_t']:>6.2f}  "
            f"{r['acc_s']:>6.3f} {r['acc_t']:>6.3f}")


# -- 2. the engine on one mini-batch ---------------------------------------------------------
def run_engine(X, y, cell, repeats, min_time):
    """Per mini-batch of 32: forward+backward, optimizer step, train step, inference."""
    ids, lengths = padded_ids(X[:BATCH_SIZE])
    yb = y[:BATCH_SIZE]
    net = RecurrentNetwork(cell, input_size=EMBEDDING_DIM, hidden_sizes=(HIDDEN,),
                           n_outputs=N_CLASSES, n_tokens=N_TOKENS)
    theta = net.init_params(np.random.default_rng(0), dtype=np.float32)
    model = torch_model_from(net.state_dict(theta), cell)
    ids_t, lengths_t, y_t = torch.from_numpy(ids), torch.from_numpy(lengths), torch.from_numpy(yb)
    params = list(model.parameters())

    loss_s, grad = net.loss_and_grad(theta, ids, lengths, yb, "softmax")
    loss_t = torch_F.cross_entropy(model(ids_t, lengths_t), y_t)
    loss_t.backward()
    assert abs(loss_s - loss_t.item()) <= 1e-4 * max(1.0, abs(loss_s)), (loss_s, loss_t.item())
    assert np.allclose(net.unpack(grad)["embedding.weight"],
                       model.embedding.weight.grad.numpy(), atol=1e-5)

    opt_s = Adam(LEARNING_RATE)
    opt_t = torch.optim.Adam(params, lr=LEARNING_RATE)

    def sk_fwd_bwd():
        return net.loss_and_grad(theta, ids, lengths, yb, "softmax")

    def pt_fwd_bwd():
        model.zero_grad()
        loss = torch_F.cross_entropy(model(ids_t, lengths_t), y_t)
        loss.backward()
        return loss

    def sk_opt():
        clip_grad_norm(grad, MAX_GRAD_NORM)
        opt_s.update_params(theta, grad)

    def pt_opt():
        torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
        opt_t.step()

    def sk_step():
        _, g = sk_fwd_bwd()
        clip_grad_norm(g, MAX_GRAD_NORM)
        opt_s.update_params(theta, g)

    def pt_step():
        pt_fwd_bwd().item()
        pt_opt()

    def pt_infer():
        with torch.inference_mode():
            return model(ids_t, lengths_t)

    rows = []
    for what, fa, fb in (("forward + backward", sk_fwd_bwd, pt_fwd_bwd),
                         ("clip + Adam (all parameters)", sk_opt, pt_opt),
                         ("train step", sk_step, pt_step),
                         ("inference", lambda: net.forward(theta, ids, lengths), pt_infer)):
        fa(), fb()
        s, t = alternate(fa, fb, repeats, min_time)
        rows.append(dict(cell=cell, what=what, s=s, t=t))
    return rows, dict(T=int(lengths.max()), tokens=int(lengths.sum()))


# -- 3. where one skrnn fit spends its time --------------------------------------------------
def profile_fit(X, y, cell, epochs):
    """Seconds of one skrnn fit by part (exclusive), and the inputs of one table scatter."""
    timers = Timers()
    captured = {}
    scatter = network._embedding_backward

    def capture(dE, ids, dX, real):  # keeps the inputs of the largest batch
        if np.count_nonzero(real) > captured.get("n", -1):
            captured.update(n=np.count_nonzero(real), dE=dE.copy(), ids=ids.copy(),
                            dX=dX.copy(), real=real.copy())
        return scatter(dE, ids, dX, real)

    timers.wrap(_training, "_run_epoch", "epochs")
    timers.wrap(_training.TrainingData, "take", "take")
    timers.wrap(_training, "_train_step", "train_step")
    timers.wrap(_training, "clip_grad_norm", "clip")
    timers.wrap(Adam, "update_params", "adam")
    timers.wrap(RecurrentNetwork, "loss_and_grad", "loss_and_grad")
    timers.wrap(RecurrentNetwork, "_token_batch", "lookup")
    timers.wrap(RecurrentNetwork, "_forward_layers", "forward")
    timers.wrap(RecurrentNetwork, "_window_loss_and_backward", "head_and_backward")
    timers.wrap(RecurrentNetwork, "_backward_layers", "backward")
    network._embedding_backward = capture
    timers.wrap(network, "_embedding_backward", "scatter")
    try:
        t0 = time.perf_counter()
        est = skrnn_fit(X, y, cell, epochs)
        total = time.perf_counter() - t0
    finally:
        timers.restore()
        network._embedding_backward = scatter
    s, c = timers.seconds, timers.calls
    parts = [
        ("table lookup (_token_batch)", s["lookup"]),
        ("recurrent forward (_forward_layers)", s["forward"]),
        ("head and loss", s["head_and_backward"] - s["backward"]),
        ("recurrent backward (_backward_layers without the scatter)",
         s["backward"] - s["scatter"]),
        ("table gradient scatter (_embedding_backward, np.add.at)", s["scatter"]),
        ("rest of loss_and_grad (zeroed gradient vector, weights, targets)",
         s["loss_and_grad"] - s["lookup"] - s["forward"] - s["head_and_backward"]),
        ("clip_grad_norm (all parameters)", s["clip"]),
        ("Adam.update_params (all parameters)", s["adam"]),
        ("rest of the train step (finiteness check of the weights)",
         s["train_step"] - s["loss_and_grad"] - s["clip"] - s["adam"]),
        ("mini-batch slicing (TrainingData.take)", s["take"]),
        ("rest of the epochs (shuffle, bookkeeping)",
         s["epochs"] - s["take"] - s["train_step"]),
        ("outside the epochs (validation, padding, setup, best-weights copies)",
         total - s["epochs"]),
    ]
    est.predict(X)  # warm-up
    return dict(cell=cell, total=total, steps=c["train_step"], parts=parts,
                n_params=est.theta_.size, predict=profile_predict(est, X)), captured


def profile_predict(est, X):
    """Seconds of one skrnn predict by part (exclusive)."""
    timers = Timers()
    owner = next(c for c in type(est).__mro__ if "_validate_sequences" in vars(c))
    timers.wrap(owner, "_validate_sequences", "validate")
    timers.wrap(RecurrentNetwork, "_token_batch", "lookup")
    timers.wrap(RecurrentNetwork, "_forward_layers", "forward")
    try:
        t0 = time.perf_counter()
        est.predict(X)
        total = time.perf_counter() - t0
    finally:
        timers.restore()
    s = timers.seconds
    parts = [("input validation and padding (_validate_sequences)", s["validate"]),
             ("table lookup (_token_batch)", s["lookup"]),
             ("recurrent forward with the input projection (_forward_layers)", s["forward"]),
             ("rest (head, order, buffers)", total - s["validate"] - s["lookup"] - s["forward"])]
    return dict(total=total, parts=parts)


def _scatter_flat(dE, rows, grads):
    """np.add.at's result with one index per element: numpy's fast path of ufunc.at for 1-D
    operands (same order of additions, so the same floats)."""
    E = dE.shape[1]
    np.add.at(dE.reshape(-1), (rows[:, None] * E + np.arange(E)).ravel(), grads.reshape(-1))


def _scatter_sorted(dE, rows, grads):
    """np.add.at's result by sorting the rows and summing runs (np.add.reduceat)."""
    order = np.argsort(rows, kind="stable")
    r = rows[order]
    starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
    dE[r[starts]] += np.add.reduceat(grads[order], starts, axis=0)


def micro_timings(captured, n_params, X, cell):
    """Micro-timings of the parts that depend on V, and of alternatives (best of 5)."""
    dE, ids, dX, real = captured["dE"], captured["ids"], captured["dX"], captured["real"]
    mask = real.astype(bool)
    rows = ids[mask]
    grads = np.ascontiguousarray(dX.transpose(0, 2, 1)[mask]).astype(np.float32, copy=False)
    n_rows, n_unique = len(rows), len(np.unique(rows))
    out = []

    def add(label, seconds):
        out.append((label, seconds))

    expected = np.zeros_like(dE)
    np.add.at(expected, rows, grads)
    for alternative in (_scatter_flat, _scatter_sorted):
        got = np.zeros_like(dE)
        alternative(got, rows, grads)
        assert np.allclose(got, expected, rtol=1e-5, atol=1e-6), alternative.__name__
    add(f"_embedding_backward as in skrnn (the largest batch: {n_rows} real steps, "
        f"{n_unique} distinct ids)",
        best_time(lambda: network._embedding_backward(dE, ids, dX, real)))
    add("  of which np.add.at(dE, rows, grads) alone",
        best_time(lambda: np.add.at(dE, rows, grads)))
    add("  of which the mask and the gather of dX rows",
        best_time(lambda: dX.transpose(0, 2, 1)[mask]))
    add("  alternative: np.add.at on the flat table, one index per element",
        best_time(lambda: _scatter_flat(dE, rows, grads)))
    add("  alternative: sort the rows and np.add.reduceat",
        best_time(lambda: _scatter_sorted(dE, rows, grads)))
    table_size = N_TOKENS * EMBEDDING_DIM
    full = np.zeros(n_params, np.float32)
    g_full = np.full(n_params, 1e-3, np.float32)
    sparse_size = n_params - table_size + n_unique * EMBEDDING_DIM
    part = np.zeros(sparse_size, np.float32)
    g_part = np.full(sparse_size, 1e-3, np.float32)
    adam_full, adam_part = Adam(LEARNING_RATE), Adam(LEARNING_RATE)
    add(f"Adam.update_params over all {n_params} parameters",
        best_time(lambda: adam_full.update_params(full, g_full)))
    add(f"Adam.update_params over {sparse_size} (the table's {n_unique} touched rows only)",
        best_time(lambda: adam_part.update_params(part, g_part)))
    add(f"np.zeros({n_params}) + clip_grad_norm + np.isfinite(theta).all(), per step",
        best_time(lambda: (np.zeros(n_params, np.float32), clip_grad_norm(g_full, 1e9),
                           np.isfinite(full).all())))
    # inference on one chunk of skrnn's predict (up to 1,024 sequences), in its layout: the
    # lookup into X1 (T, E+1, n) and the input projection of every (t, b) column, padded ones
    # included (the engine projects a few steps at a time, each block over the columns real
    # at its first step: in between the two); against projecting the real columns only, and
    # gathering pre-projected rows
    net = RecurrentNetwork(cell, input_size=EMBEDDING_DIM, hidden_sizes=(HIDDEN,),
                           n_outputs=N_CLASSES, n_tokens=N_TOKENS)
    theta = net.init_params(np.random.default_rng(0), dtype=np.float32)
    P = net.unpack(theta)
    table, W_ih = P["embedding.weight"], P["weight_ih_l0"]
    Wb = np.hstack([W_ih, P["bias_ih_l0"][:, None]])  # the projection with the real-step row
    projected = table @ W_ih.T + P["bias_ih_l0"]  # (V, G*H): every id's projection, once
    chunk = X[:PREDICT_BATCH]
    ids_all, lengths_all = padded_ids(chunk)
    ids_tn = np.ascontiguousarray(ids_all.T)  # (T, n)
    X1 = net.batch(ids_all, lengths_all, theta).X1
    real_cols = np.vstack([np.take(table, np.concatenate(chunk), axis=0).T,
                           np.ones((1, int(lengths_all.sum())), np.float32)])  # (E+1, N)
    add(f"inference on {len(chunk)} sequences, {ids_all.shape[1]} x {len(chunk)} columns of "
        f"which {real_cols.shape[1]} real: lookup into X1 (RecurrentNetwork.batch)",
        best_time(lambda: net.batch(ids_all, lengths_all, theta)))
    G_H, n_real = Wb.shape[0], real_cols.shape[1]
    out_padded = np.empty((X1.shape[0], G_H, X1.shape[2]), np.float32)  # outputs reused, as
    out_real = np.empty((G_H, n_real), np.float32)  # skrnn's buffers are
    out_rows = np.empty(ids_tn.shape + (G_H,), np.float32)  # (mode="clip": np.take with
    # out= and the default mode="raise" gathers into a temporary first)
    add(f"  input projection of every column: matmul(({G_H}, {Wb.shape[1]}), X1 {X1.shape})",
        best_time(lambda: np.matmul(Wb, X1, out=out_padded)))
    add(f"  alternative: one GEMM over the real columns only ({G_H}, {Wb.shape[1]}) "
        f"x {real_cols.shape}", best_time(lambda: np.matmul(Wb, real_cols, out=out_real)))
    add(f"  alternative: gather rows of table @ W_ih^T + b_ih ({projected.nbytes / 2**20:.0f} "
        "MiB) into (T, n, G*H)", best_time(lambda: np.take(projected, ids_tn, axis=0,
                                                           out=out_rows, mode="clip")))
    add("  the same into skrnn's layout (T, G*H, n) (a transposing copy)",
        best_time(lambda: np.copyto(out_padded, np.take(projected, ids_tn, axis=0, out=out_rows,
                                                              mode="clip").transpose(0, 2, 1))))
    return out


# -- 4. memory -------------------------------------------------------------------------------
def peak_fit_memory(X, y, cell, embedding):
    """Peak traced bytes of one epoch of skrnn's fit above what existed before it (the caller's
    X excluded), started with an empty engine workspace."""
    clear_workspace()
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    skrnn_fit(X, y, cell, 1, embedding)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    clear_workspace()
    return peak - base


def one_hot(X):
    """Dense one-hot (T_i, V) float32 arrays of the ids (TokenEncoder(output="onehot") in
    float32)."""
    out = []
    for ids in X:
        a = np.zeros((len(ids), N_TOKENS), np.float32)
        a[np.arange(len(ids)), ids] = 1.0
        out.append(a)
    return out


def run_memory(X, y, cell, n):
    Xs, ys = X[:n], y[:n]
    emb = peak_fit_memory(Xs, ys, cell, True)
    Xo = one_hot(Xs)
    held = sum(a.nbytes for a in Xo)
    onehot = peak_fit_memory(Xo, ys, cell, False)
    del Xo
    return dict(cell=cell, n=n, tokens=sum(len(x) for x in Xs), emb=emb, onehot=onehot,
                held_ids=sum(x.nbytes for x in Xs), held_onehot=held)


# -- output ----------------------------------------------------------------------------------
def markdown(meta, data, est_rows, engine_rows, engine_batch, profiles, micro, micro_cell,
             memory):
    lines = [f"Machine: {meta['machine']}; load average at the start {meta['load']}, "
             f"at the end {_load_average()}", "", f"Date: {meta['date']}; {meta['versions']}",
             "", f"Settings: {meta['settings']}", "", f"Data: {data}", "",
             "### Whole fit and predict (1 thread each)", "",
             "| cell | fit skrnn (s) | fit PyTorch (s) | ratio | predict skrnn (ms) "
             "| predict PyTorch (ms) | ratio | training accuracy skrnn / PyTorch |",
             "|---|---|---|---|---|---|---|---|"]
    for r in est_rows:
        lines.append(f"| {r['cell']} | {r['fit_s']:.3f} | {r['fit_t']:.3f} "
                     f"| {r['fit_s'] / r['fit_t']:.2f} | {1e3 * r['pred_s']:.2f} "
                     f"| {1e3 * r['pred_t']:.2f} | {r['pred_s'] / r['pred_t']:.2f} "
                     f"| {r['acc_s']:.3f} / {r['acc_t']:.3f} |")
    lines.append("")
    if engine_rows:
        lines += [f"### The engine on one mini-batch (B={BATCH_SIZE}, T={engine_batch['T']}, "
                  f"{engine_batch['tokens']} real steps; ms per call)", "",
                  "| cell | what | skrnn | PyTorch | ratio |", "|---|---|---|---|---|"]
        lines += [f"| {r['cell']} | {r['what']} | {1e3 * r['s']:.3f} | {1e3 * r['t']:.3f} "
                  f"| {r['s'] / r['t']:.2f} |" for r in engine_rows]
        lines.append("")
    for p in profiles:
        lines += [f"### Where one skrnn fit goes: {p['cell']}, {p['total']:.3f} s, "
                  f"{p['steps']} train steps, {p['n_params']} parameters", "",
                  "| part | s | share | ms per step |", "|---|---|---|---|"]
        lines += [f"| {label} | {sec:.3f} | {100 * sec / p['total']:.0f}% "
                  f"| {1e3 * sec / p['steps']:.3f} |" for label, sec in p["parts"]]
        pred = p["predict"]
        lines += ["", f"### Where one skrnn predict goes: {p['cell']}, "
                  f"{1e3 * pred['total']:.1f} ms", "", "| part | ms | share |", "|---|---|---|"]
        lines += [f"| {label} | {1e3 * sec:.1f} | {100 * sec / pred['total']:.0f}% |"
                  for label, sec in pred["parts"]]
        lines.append("")
    if micro:
        lines += [f"### Micro-timings ({micro_cell}; best of 5)", "", "| what | ms |",
                  "|---|---|"]
        lines += [f"| {label.strip()} | {1e3 * sec:.3f} |" for label, sec in micro]
        lines.append("")
    if memory:
        lines += ["### Peak memory of one epoch of skrnn's fit (tracemalloc)", "",
                  "| cell | sequences | tokens | embeddings: peak | one-hot: peak | ratio "
                  "| input held by the caller: ids / one-hot |",
                  "|---|---|---|---|---|---|---|"]
        for m in memory:
            lines.append(f"| {m['cell']} | {m['n']} | {m['tokens']} | {m['emb'] / 2**20:.1f} MiB "
                         f"| {m['onehot'] / 2**20:.1f} MiB | {m['onehot'] / m['emb']:.0f}x "
                         f"| {m['held_ids'] / 2**10:.0f} KiB / "
                         f"{m['held_onehot'] / 2**20:.0f} MiB |")
        lines.append("")
    return "\n".join(lines)


def _load_average():
    """The 1, 5 and 15 minute load averages of the machine (other work running on it)."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="600 sequences, 2 epochs, 2 repeats, lstm only, memory on 100")
    p.add_argument("--cells", nargs="+", choices=CELLS, help="default: lstm gru (quick: lstm)")
    p.add_argument("--n", type=int, help="sequences (default 1000, quick 600)")
    p.add_argument("--epochs", type=int, help="epochs per fit (default 3, quick 2)")
    p.add_argument("--repeats", type=int, help="measurements per number (default 5, quick 2)")
    p.add_argument("--min-time", type=float, default=0.2,
                   help="seconds per predict and engine measurement, at least one call "
                        "(default 0.2)")
    p.add_argument("--memory-n", type=int,
                   help="sequences of the memory comparison (default 200, quick 100)")
    p.add_argument("--no-engine", action="store_true", help="skip the engine measurement")
    p.add_argument("--no-profile", action="store_true", help="skip the profile of a fit")
    p.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    p.add_argument("--markdown", metavar="FILE", help="also write the tables as markdown")
    args = p.parse_args(argv)
    args.cells = args.cells or (["lstm"] if args.quick else ["lstm", "gru"])
    args.n = args.n or (600 if args.quick else 1000)
    args.epochs = args.epochs or (2 if args.quick else 3)
    args.repeats = args.repeats or (2 if args.quick else 5)
    args.memory_n = args.memory_n or (100 if args.quick else 200)
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    torch.set_num_interop_threads(1)
    set_threads(1)
    meta = dict(
        describe_run(skrnn.__version__),
        load=_load_average(),
        settings=f"V={N_TOKENS}, E={EMBEDDING_DIM}, H={HIDDEN}, batch {BATCH_SIZE}, "
                 f"epochs={args.epochs}, Adam lr={LEARNING_RATE}, clip {MAX_GRAD_NORM}, "
                 f"repeats={args.repeats}, min_time={args.min_time}s, float32, 1 thread")

    def log(line=""):
        print(line, flush=True)

    X, y = make_data(args.n)
    data = describe_data(X)
    log(f"{meta['machine']}\n{meta['date']}; {meta['versions']}\n{meta['settings']}\n{data}\n"
        f"load average (1, 5, 15 min) at the start: {meta['load']}\n")

    log(ESTIMATOR_HEADER)
    est_rows = []
    for cell in args.cells:
        est_rows.append(run_estimators(X, y, cell, args.epochs, args.repeats, args.min_time))
        log(_estimator_line(est_rows[-1]))
    log(f"largest probability difference with skrnn's weights in PyTorch: "
        f"{max(r['diff'] for r in est_rows):.1e}")
    met = all(r["fit_s"] <= r["fit_t"] and r["pred_s"] <= r["pred_t"] for r in est_rows)
    log(f"target (skrnn at or below PyTorch's time, fit and predict): "
        f"{'met' if met else 'NOT met'}")

    engine_rows, engine_batch = [], None
    if not args.no_engine:
        for cell in args.cells:
            rows, engine_batch = run_engine(X, y, cell, args.repeats, args.min_time)
            engine_rows += rows
        log(f"\nthe engine on one mini-batch: B={BATCH_SIZE}, T={engine_batch['T']}, "
            f"{engine_batch['tokens']} real steps (ms per call; ratio = skrnn / PyTorch)")
        for r in engine_rows:
            log(f"  {r['cell']:<5} {r['what']:<30} skrnn {1e3 * r['s']:8.3f}   "
                f"PyTorch {1e3 * r['t']:8.3f}   ratio {r['s'] / r['t']:5.2f}")

    profiles, micro = [], []
    if not args.no_profile:
        for cell in args.cells:
            prof, captured = profile_fit(X, y, cell, args.epochs)
            profiles.append(prof)
            log(f"\nwhere one skrnn fit goes ({cell}, {prof['total']:.3f} s, {prof['steps']} "
                f"train steps, {prof['n_params']} parameters; s, share, ms per step):")
            for label, sec in prof["parts"]:
                log(f"  {label:<72} {sec:7.3f} {100 * sec / prof['total']:4.0f}% "
                    f"{1e3 * sec / prof['steps']:7.3f}")
            pred = prof["predict"]
            log(f"where one skrnn predict goes ({cell}, {1e3 * pred['total']:.1f} ms; ms, "
                "share):")
            for label, sec in pred["parts"]:
                log(f"  {label:<72} {1e3 * sec:7.1f} {100 * sec / pred['total']:4.0f}%")
        micro = micro_timings(captured, prof["n_params"], X, args.cells[-1])
        log(f"\nmicro-timings ({args.cells[-1]}; best of 5, ms):")
        for label, sec in micro:
            log(f"  {label:<100} {1e3 * sec:8.3f}")

    memory = []
    if not args.no_memory:
        log(f"\npeak memory of one epoch of skrnn's fit on {args.memory_n} sequences "
            "(tracemalloc; the caller's X excluded):")
        for cell in args.cells:
            m = run_memory(X, y, cell, args.memory_n)
            memory.append(m)
            log(f"  {cell:<5} embeddings {m['emb'] / 2**20:8.1f} MiB   one-hot "
                f"{m['onehot'] / 2**20:8.1f} MiB   ({m['onehot'] / m['emb']:.0f}x); input held "
                f"by the caller: ids {m['held_ids'] / 2**10:.0f} KiB, one-hot "
                f"{m['held_onehot'] / 2**20:.0f} MiB")

    log(f"\ntotal time {time.perf_counter() - started:.0f} s; load average at the start "
        f"{meta['load']}, at the end {_load_average()}")
    if args.markdown:
        Path(args.markdown).write_text(markdown(meta, data, est_rows, engine_rows, engine_batch,
                                                profiles, micro, args.cells[-1],
                                                memory) + "\n")
        log(f"markdown written to {args.markdown}")


if __name__ == "__main__":
    main()
