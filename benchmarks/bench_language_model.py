#!/usr/bin/env python
"""Benchmark skrnn's RNNLanguageModel against the same language model trained in PyTorch.

Two models, float32, one thread for each library (``threadpoolctl.threadpool_limits(1)`` for
numpy's and scipy's BLAS, ``torch.set_num_threads(1)`` and ``torch.set_num_interop_threads(1)``):

* **char**: characters of the documentation strings of ``pydoc_data.topics.topics`` (the
  standard library's, offline), sorted by key; every fifth topic is held out, the others are
  the training texts. About 100 distinct characters (+ 4 markers), E = 64, one LSTM layer of
  H = 256, batch 32, windows of 100 steps.
* **word**: generated pre-tokenized text (``analyzer=None``): 9,996 word types ``w0`` ...
  ``w9995`` with Zipf-Mandelbrot frequencies (rank k: 1 / (k + 2.7)), each word followed with
  probability 0.6 by one of its 4 own successors (a sparse bigram structure the models can
  learn) and else by a unigram draw; texts of 200-800 tokens. The training texts start with
  one text listing every type once (shuffled), so that the vocabulary is exactly 10,000 ids
  with the 4 markers. E = H = 200, two LSTM layers, batch 20, windows of 35 steps (PyTorch's
  word_language_model example's sizes).

skrnn: ``RNNLanguageModel("lstm", sizes, embedding_dim=E, analyzer="char" or None,
mode="stream", batch_size=B, tbptt_steps=bptt, solver="adam", learning_rate_init=LR,
max_grad_norm=5.0, random_state=0, max_iter=epochs)``.

PyTorch: ``nn.Embedding(V, E)`` + ``nn.LSTM(E, H, layers)`` (time-major) + ``nn.Linear(H, V)``;
the same id stream (skrnn's encoder's ids of the same texts, joined) cut into B rows as the
example's ``batchify``; per window of bptt steps (the last one shorter, as skrnn's):
``zero_grad``, forward from the previous window's detached state (zero at the start of each
epoch, as skrnn), ``cross_entropy`` (mean over the window's tokens), ``backward``,
``clip_grad_norm_(.., 5.0)``, ``Adam(lr=LR).step()`` and ``loss.item()``.

What is timed:

1. **Training throughput.** skrnn: one whole ``fit(texts)`` of ``--epochs`` epochs (default 1)
   on a fixed list of texts; the vocabulary building inside it
   (``TokenEncoder.fit_transform``, timed by a wrapper) is reported separately and subtracted:
   "training" = fit - vocabulary. PyTorch: model and optimizer construction, ``batchify`` of
   the (precomputed) id stream, and the same epochs. Tokens per second = predicted tokens of
   an epoch (B x (N - 1) for rows of N ids) x epochs / seconds. Measurements alternate
   between the libraries (the order reversed every other round); best of ``--repeats``.
2. **Sampling.** skrnn: ``lm.sample(n_samples=1, max_length=..., temperature=1.0,
   random_state=seed)`` called until ``--sample-tokens`` tokens are drawn (a sample ends at
   ``<eos>``; the ``<eos>`` drawn counts as a token). PyTorch: under ``torch.inference_mode``,
   from ``<bos>`` with the hidden state carried, one token at a time: embedding, LSTM, linear,
   softmax, ``torch.multinomial``, ``.item()``, until ``<eos>`` or the length, the ids then
   decoded into tokens; until the same number of tokens. The PyTorch model holds skrnn's
   fitted weights (from item 1), so both draw from the same distributions. Tokens per second;
   alternating, best of ``--repeats``.
3. **Perplexity after the same budget.** skrnn fitted for ``--ppl-epochs`` epochs on the
   training texts; PyTorch trained for the same epochs on the same id stream **from skrnn's
   initial weights** (captured from ``RecurrentNetwork.init_params`` during skrnn's fit and
   loaded into the PyTorch model). Both are scored on held-out texts by skrnn's
   ``perplexity`` (PyTorch's trained weights loaded into a copy of the estimator); PyTorch's
   own computation of its model's held-out perplexity is printed next to it as a check. The
   word model's fit here runs with the profile's timers (item 4); its time is printed too.
4. **Profile of skrnn's word model fit** (the fit of item 3): functions of the engine and the
   training loop wrapped with timers (skrnn's code unchanged): the embedding lookup, the
   recurrent forward (``_forward_layers``), the output layer (the softmax loss, and the rest
   of ``_window_loss_and_backward`` outside ``_backward_layers``: the gather of the real
   steps, the logits, the head gradients, the gradient into the top layer's outputs),
   the recurrent backward, the embedding scatter, clipping, Adam, and the rest. Then
   micro-timings (best of 3) of each NumPy operation of the output layer on one window's
   arrays (T=35, B=20, H=200, V=10,000), of PyTorch's
   ``nn.Linear`` + ``cross_entropy`` forward and backward on the same sizes, and of the parts
   of one sampling step (``Stream.step`` and the draw).

Before the timings, each model's loss and gradient on the first window at skrnn's initial
weights are compared with PyTorch's with the same weights. The ratios are skrnn time /
PyTorch time (tokens per second: PyTorch's / skrnn's); the target is a ratio at or below 1.

Examples
--------
    python benchmarks/bench_language_model.py --quick
    python benchmarks/bench_language_model.py --markdown lm.md
"""

import argparse
import copy
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as torch_F  # noqa: E402

import skrnn  # noqa: E402
from bench_engine import Timers, describe_run  # noqa: E402
from skrnn import RNNLanguageModel, _training, language_model  # noqa: E402
from skrnn.nn import RecurrentNetwork, network  # noqa: E402
from skrnn.nn.losses import softmax_cross_entropy  # noqa: E402
from skrnn.nn.optimizers import Adam  # noqa: E402
from skrnn.text import TokenEncoder  # noqa: E402

LR = 2e-3
MAX_GRAD_NORM = 5.0
BOS, EOS = 2, 3  # skrnn's ids of <bos> and <eos>
MODELS = {
    "char": dict(sizes=(256,), E=64, B=32, bptt=100, analyzer="char"),
    "word": dict(sizes=(200, 200), E=200, B=20, bptt=35, analyzer=None),
}
N_WORDS = 9996  # word types: with the 4 markers, V = 10,000
N_SUCCESSORS = 4
P_SUCCESSOR = 0.6


# -- data ------------------------------------------------------------------------------------
def char_texts():
    """(training texts, held-out texts): the pydoc topics, every fifth one held out."""
    from pydoc_data.topics import topics
    texts = [topics[k] for k in sorted(topics)]
    return ([t for i, t in enumerate(texts) if i % 5 != 4],
            [t for i, t in enumerate(texts) if i % 5 == 4])


def first_chars(texts, n):
    """The first texts whose lengths add up to at least n characters (the last one cut)."""
    out, total = [], 0
    for t in texts:
        out.append(t[:n - total])
        total += len(out[-1])
        if total >= n:
            break
    return out


class WordSource:
    """Generated word texts: Zipf-Mandelbrot unigrams and a sparse bigram structure."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        p = 1.0 / (np.arange(N_WORDS) + 2.7)
        self.p = p / p.sum()
        # each word's successors: frequent-ish words (ranks below 3,000)
        self.successors = rng.integers(0, 3000, size=(N_WORDS, N_SUCCESSORS))
        self.words = np.array([f"w{i}" for i in range(N_WORDS)], dtype=object)

    def texts(self, n_tokens, seed):
        rng = np.random.default_rng(seed)
        out, made = [], 0
        while made < n_tokens:
            n = min(int(rng.integers(200, 801)), n_tokens - made)
            uni = rng.choice(N_WORDS, size=n, p=self.p)
            follow = rng.random(n) < P_SUCCESSOR
            pick = rng.integers(0, N_SUCCESSORS, size=n)
            ids = np.empty(n, np.int64)
            prev = uni[0]
            for t in range(n):
                prev = self.successors[prev, pick[t]] if (t and follow[t]) else uni[t]
                ids[t] = prev
            out.append(list(self.words[ids]))
            made += n
        return out

    def listing(self, seed=1):
        """One text of every word type once, shuffled."""
        return list(self.words[np.random.default_rng(seed).permutation(N_WORDS)])


# -- skrnn -----------------------------------------------------------------------------------
def skrnn_model(kind, epochs):
    m = MODELS[kind]
    return RNNLanguageModel("lstm", m["sizes"], embedding_dim=m["E"], analyzer=m["analyzer"],
                            mode="stream", batch_size=m["B"], tbptt_steps=m["bptt"],
                            solver="adam", learning_rate_init=LR, max_grad_norm=MAX_GRAD_NORM,
                            max_iter=epochs, random_state=0)


def skrnn_fit(kind, texts, epochs, timers=None):
    """(fitted model, seconds of the whole fit, seconds of its vocabulary building)."""
    own = timers is None
    timers = timers or Timers()
    timers.wrap(TokenEncoder, "fit_transform", "vocabulary")
    lm = skrnn_model(kind, epochs)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            lm.fit(texts)
            total = time.perf_counter() - t0
    finally:
        if own:
            timers.restore()
    return lm, total, timers.seconds["vocabulary"]


def id_stream(lm, texts):
    """The framed texts' ids joined, as skrnn's stream mode reads them."""
    return np.concatenate(lm.encoder_.transform(texts)).astype(np.int64)


def predicted_tokens(n_ids, B):
    return B * (n_ids // B - 1)


# -- PyTorch ---------------------------------------------------------------------------------
class TorchLM(torch.nn.Module):
    def __init__(self, V, E, sizes):
        super().__init__()
        self.embedding = torch.nn.Embedding(V, E)
        self.rnn = torch.nn.LSTM(E, sizes[0], len(sizes))
        self.head = torch.nn.Linear(sizes[-1], V)

    def forward(self, x, hidden=None):
        """x (T, B) ids; returns logits (T, B, V) and the state."""
        out, hidden = self.rnn(self.embedding(x), hidden)
        return self.head(out), hidden


def torch_from_state(state, V, E, sizes):
    model = TorchLM(V, E, sizes)
    model.load_state_dict({(k if k.startswith(("head.", "embedding.")) else f"rnn.{k}"):
                           torch.from_numpy(np.array(v, np.float32)) for k, v in state.items()},
                          strict=True)
    return model


def torch_state(model):
    """PyTorch's weights under skrnn's names."""
    return {k.removeprefix("rnn."): v.detach().numpy().copy()
            for k, v in model.state_dict().items()}


def batchify(ids, B):
    """(N, B) as the example's batchify: column b is row b of skrnn's stream."""
    N = len(ids) // B
    return torch.from_numpy(ids[:B * N].reshape(B, N).T.copy())


def torch_train(kind, ids, V, epochs, state=None):
    """The PyTorch loop (module docstring); returns (model, last epoch's mean loss)."""
    m = MODELS[kind]
    torch.manual_seed(0)
    model = (TorchLM(V, m["E"], m["sizes"]) if state is None
             else torch_from_state(state, V, m["E"], m["sizes"]))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    data = batchify(ids, m["B"])
    N, bptt = data.shape[0], m["bptt"]
    mean = float("nan")
    for _ in range(epochs):
        hidden, total, count = None, 0.0, 0
        for i in range(0, N - 1, bptt):
            n = min(bptt, N - 1 - i)
            x, y = data[i:i + n], data[i + 1:i + 1 + n]
            if hidden is not None:
                hidden = tuple(h.detach() for h in hidden)
            opt.zero_grad()
            out, hidden = model(x, hidden)
            loss = torch_F.cross_entropy(out.reshape(-1, V), y.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
            opt.step()
            total += loss.item() * y.numel()
            count += y.numel()
        mean = total / count
    return model, mean


def torch_perplexity(model, id_texts):
    """exp of the mean negative log-likelihood of every framed text's predicted tokens, each
    text read from the zero state (as skrnn's perplexity)."""
    model.eval()
    nll, n = 0.0, 0
    with torch.inference_mode():
        for ids in id_texts:
            x = torch.from_numpy(np.asarray(ids[:-1], np.int64))[:, None]
            y = torch.from_numpy(np.asarray(ids[1:], np.int64))
            logits, _ = model(x)
            nll += float(torch_F.cross_entropy(logits[:, 0], y, reduction="sum"))
            n += len(y)
    return float(np.exp(nll / n))


# -- sampling --------------------------------------------------------------------------------
def skrnn_sampler(lm, n_tokens):
    def run():
        made, seed = 0, 0
        while made < n_tokens:
            limit = n_tokens - made
            out = lm.sample(1, max_length=limit, temperature=1.0, random_state=seed)[0]
            made += len(out) + (len(out) < limit)  # the <eos> drawn counts
            seed += 1
        return made
    return run


def torch_sampler(model, classes, n_tokens, joiner):
    itos = list(classes)
    gen = torch.Generator().manual_seed(0)

    def one(limit):
        ids = []
        with torch.inference_mode():
            x, hidden = torch.tensor([[BOS]]), None
            for _ in range(limit):
                logits, hidden = model(x, hidden)
                probs = torch.softmax(logits[0, 0], dim=-1)
                i = int(torch.multinomial(probs, 1, generator=gen).item())
                if i == EOS:
                    return joiner([itos[j] for j in ids]), len(ids) + 1
                ids.append(i)
                x = torch.tensor([[i]])
        return joiner([itos[j] for j in ids]), len(ids)

    def run():
        model.eval()
        made = 0
        while made < n_tokens:
            made += one(n_tokens - made)[1]
        return made
    return run


# -- timing ----------------------------------------------------------------------------------
def alternate(fns, repeats):
    """Each function's results over ``repeats`` rounds, in turn, the order reversed every
    other round: lists of (seconds, value returned)."""
    out = [[] for _ in fns]
    for r in range(repeats):
        for i in (range(len(fns)) if r % 2 == 0 else range(len(fns) - 1, -1, -1)):
            t0 = time.perf_counter()
            value = fns[i]()
            out[i].append((time.perf_counter() - t0, value))
    return out


def best_time(fn, repeats=3):
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


# -- 0. agreement ----------------------------------------------------------------------------
def check_agreement(kind, lm, ids, theta0):
    """Loss and gradient of the first window at theta0: skrnn's against PyTorch's."""
    m = MODELS[kind]
    B, bptt = m["B"], m["bptt"]
    N = len(ids) // B
    rows = ids[:B * N].reshape(B, N)
    X, Y = rows[:, :bptt], rows[:, 1:bptt + 1]
    net = lm.network_
    loss, grad = net.loss_and_grad(theta0, X, np.full(B, bptt), Y, "softmax",
                                   np.ones((B, bptt)))
    V = len(lm.classes_)
    model = torch_from_state(net.state_dict(theta0), V, m["E"], m["sizes"])
    out, _ = model(torch.from_numpy(np.ascontiguousarray(X.T)))
    t_loss = torch_F.cross_entropy(out.reshape(-1, V), torch.from_numpy(
        np.ascontiguousarray(Y.T)).reshape(-1))
    t_loss.backward()
    G = net.state_dict(grad)
    t_grads = {k.removeprefix("rnn."): p.grad.numpy() for k, p in model.named_parameters()}
    scale = max(float(np.abs(g).max()) for g in G.values())
    diff = max(float(np.abs(G[k] - t_grads[k]).max()) for k in G)
    return abs(loss - float(t_loss.detach())), diff / scale


# -- 4. profile ------------------------------------------------------------------------------
def profile_timers():
    """Timers on the parts of skrnn's fit (the module docstring, item 4)."""
    timers = Timers()
    N = RecurrentNetwork
    timers.wrap(language_model, "_run_stream_epoch", "epochs")
    timers.wrap(N, "loss_and_grad", "loss_and_grad")
    timers.wrap(N, "_batch", "lookup")
    timers.wrap(N, "_forward_layers", "forward")
    timers.wrap(N, "_window_loss_and_backward", "window")
    timers.wrap(N, "_backward_layers", "backward")
    timers.wrap(network, "_embedding_backward", "scatter")
    timers.wrap(_training, "clip_grad_norm", "clip")
    timers.wrap(Adam, "update_params", "adam")
    # the softmax loss is an entry of a dict: wrapped through an attribute of a holder
    holder = _Holder()
    holder.f = original = network.LOSSES["softmax"]
    timers.wrap(holder, "f", "softmax loss")
    network.LOSSES["softmax"] = holder.f

    def undo():
        timers.restore()
        network.LOSSES["softmax"] = original
    return timers, undo


class _Holder:
    """An object whose attribute Timers can wrap."""


def profile_parts(s, fit_total):
    """(label, seconds) of the profile, from the timers' inclusive seconds ``s``."""
    output_rest = s["window"] - s["backward"] - s["softmax loss"]
    parts = [
        ("vocabulary (TokenEncoder.fit_transform)", s["vocabulary"]),
        ("embedding lookup (RecurrentNetwork._batch)", s["lookup"]),
        ("recurrent forward (_forward_layers)", s["forward"]),
        ("output layer: softmax loss and its gradient (LOSSES['softmax'])", s["softmax loss"]),
        ("output layer: rest of _window_loss_and_backward (gather of the real steps, logits "
         "feats @ W_out^T, head gradients, dZ @ W_out, scatter into the top outputs' "
         "gradients)", output_rest),
        ("recurrent backward (_backward_layers without the scatter)",
         s["backward"] - s["scatter"]),
        ("embedding gradient scatter (_embedding_backward)", s["scatter"]),
        ("rest of loss_and_grad (gradient vector, targets, final state)",
         s["loss_and_grad"] - s["lookup"] - s["forward"] - s["window"]),
        ("clip_grad_norm", s["clip"]),
        ("Adam.update_params", s["adam"]),
        ("rest of the epochs (windows, bookkeeping)",
         s["epochs"] - s["loss_and_grad"] - s["clip"] - s["adam"]),
        ("outside the epochs (setup, initial weights, best-weights copies)",
         fit_total - s["epochs"] - s["vocabulary"]),
    ]
    return parts, s["softmax loss"] + output_rest


def output_layer_micro(repeats=3):
    """(label, seconds) of the output layer's operations on one window's arrays."""
    m = MODELS["word"]
    T, B, H, V = m["bptt"], m["B"], m["sizes"][-1], N_WORDS + 4
    rng = np.random.default_rng(0)
    W = (rng.standard_normal((V, H), dtype=np.float32) * 0.05)
    b = np.zeros(V, np.float32)
    Y = rng.standard_normal((T, H, B), dtype=np.float32)
    y = rng.integers(4, V, (T, B))
    real = np.ones((T, B), bool)
    w = np.full((T, B), 1 / (T * B), np.float32)
    feats = Y.transpose(0, 2, 1)[real]
    Zr = feats @ W.T
    _, dZ = softmax_cross_entropy(Zr.copy(), y[real], w[real])
    dfeats = dZ @ W
    dY = np.empty((T, H, B), np.float32)

    def scatter():
        dY[...] = 0
        dY.transpose(0, 2, 1)[real] = dfeats

    lin = torch.nn.Linear(H, V)
    ft = torch.from_numpy(feats.copy()).requires_grad_()
    yt = torch.from_numpy(y[real])

    def torch_head():
        ft.grad = None
        lin.zero_grad()
        torch_F.cross_entropy(lin(ft), yt).backward()

    rows = [
        ("skrnn: gather of the real steps' top outputs, Y.transpose(0, 2, 1)[real]",
         lambda: Y.transpose(0, 2, 1)[real]),
        ("skrnn: logits, one GEMM feats (T*B, H) @ W_out.T, plus the bias",
         lambda: np.add(feats @ W.T, b, out=Zr)),
        ("skrnn: softmax_cross_entropy on (T*B, V), gradient written over the logits",
         lambda: softmax_cross_entropy(Zr, y[real], w[real], overwrite=True)),
        ("skrnn: head weight gradient (feats.T @ dZ).T", lambda: (feats.T @ dZ).T),
        ("skrnn: gradient of the top outputs, one GEMM dZ (T*B, V) @ W_out", lambda: dZ @ W),
        ("skrnn: scatter of that gradient into dY (T, H, B)", scatter),
        ("PyTorch: nn.Linear + cross_entropy, forward and backward (T*B rows)", torch_head),
    ]
    return [(label, best_time(fn, repeats)) for label, fn in rows]


def sampling_micro(lm, repeats=3):
    """(label, seconds) of one sampling step's parts for a fitted model."""
    stream = lm.stream(1)
    proba = stream.update(np.array([[BOS]]))[:, -1]
    rng = np.random.RandomState(0)
    k = 50

    def steps():
        for _ in range(k):
            stream.step(np.array([4]))

    def draws():
        for _ in range(k):
            language_model._draw(proba, 1.0, None, None, rng)

    V = proba.shape[1]
    return [(f"Stream.step (one token, V={V})", best_time(steps, repeats) / k),
            (f"_draw at temperature 1 (float64 copy, one cumulative sum over V={V})",
             best_time(draws, repeats) / k)]


# -- runs ------------------------------------------------------------------------------------
def run_throughput(kind, texts, epochs, repeats, log):
    m = MODELS[kind]
    encoder = TokenEncoder(analyzer=m["analyzer"], lowercase=False, begin_end=True)
    ids = np.concatenate(encoder.fit_transform(texts)).astype(np.int64)  # skrnn's stream
    V = len(encoder.get_feature_names_out())
    # warm-up of both (compiled kernels, buffers, oneDNN) on the first windows only
    skrnn_fit(kind, first_chars(texts, 3 * m["B"] * m["bptt"]) if kind == "char"
              else [texts[-1]], 1)
    torch_train(kind, ids[:m["B"] * (m["bptt"] + 2)], V, 1)
    results = alternate([lambda: skrnn_fit(kind, texts, epochs),
                         lambda: torch_train(kind, ids, V, epochs)], repeats)
    sk = min(results[0], key=lambda r: r[1][1] - r[1][2])
    lm = sk[1][0]
    assert np.array_equal(id_stream(lm, texts), ids), "the streams differ"
    fit_s, vocab_s = sk[1][1], sk[1][2]
    train_s = fit_s - vocab_s
    torch_s = min(t for t, _ in results[1])
    n = predicted_tokens(len(ids), m["B"]) * epochs
    row = dict(kind=kind, V=V, ids=len(ids), tokens=n, epochs=epochs, fit=fit_s,
               vocab=vocab_s, train=train_s, torch=torch_s,
               loss_s=sk[1][0].loss_curve_[-1], loss_t=results[1][0][1][1])
    log(f"  {kind}: V={V}, {len(ids)} ids, {n} predicted tokens x 1; skrnn fit {fit_s:.2f} s "
        f"(vocabulary {vocab_s:.3f} s, training {train_s:.2f} s = {n / train_s:.0f} tok/s); "
        f"PyTorch {torch_s:.2f} s = {n / torch_s:.0f} tok/s; ratio {train_s / torch_s:.2f}")
    return row, lm, ids


def run_sampling(kind, lm, n_tokens, repeats, log):
    m = MODELS[kind]
    V = len(lm.classes_)
    model = torch_from_state(lm.state_dict(), V, m["E"], m["sizes"])
    joiner = "".join if kind == "char" else list
    fs, ft = skrnn_sampler(lm, n_tokens), torch_sampler(model, lm.classes_, n_tokens, joiner)
    fs(), ft()  # warm-up
    results = alternate([fs, ft], repeats)
    s, t = min(r[0] for r in results[0]), min(r[0] for r in results[1])
    log(f"  {kind}: {n_tokens} tokens; skrnn {1e3 * s / n_tokens:.3f} ms/token "
        f"({n_tokens / s:.0f} tok/s); PyTorch {1e3 * t / n_tokens:.3f} ms/token "
        f"({n_tokens / t:.0f} tok/s); ratio {s / t:.2f}")
    return dict(kind=kind, n=n_tokens, skrnn=s, torch=t)


def run_perplexity(kind, train_texts, held_out, epochs, log, timers=None, undo=None):
    """Item 3 (and, with ``timers``, the profile of item 4); ``undo`` ends the timing."""
    m = MODELS[kind]
    captured = {}
    timers = timers or Timers()
    original = RecurrentNetwork.init_params

    def capture(net, *args, **kwargs):
        theta = original(net, *args, **kwargs)
        captured["theta0"] = theta.copy()
        return theta

    timers.wrap(RecurrentNetwork, "init_params", "init_params", capture)
    try:
        lm, fit_s, vocab_s = skrnn_fit(kind, train_texts, epochs, timers)
    finally:
        (undo or timers.restore)()
    theta0 = captured["theta0"]
    ids = id_stream(lm, train_texts)
    V = len(lm.classes_)
    agree = check_agreement(kind, lm, ids, theta0)
    t0 = time.perf_counter()
    model, loss_t = torch_train(kind, ids, V, epochs, lm.network_.state_dict(theta0))
    torch_s = time.perf_counter() - t0
    twin = copy.deepcopy(lm)
    twin.theta_ = lm.network_.params_from_state_dict(torch_state(model), np.float32)
    ppl_s, ppl_t = lm.perplexity(held_out), twin.perplexity(held_out)
    ppl_t_own = torch_perplexity(model, lm.encoder_.transform(held_out))
    n = predicted_tokens(len(ids), m["B"]) * epochs
    held_tokens = sum(len(s) - 1 for s in lm.encoder_.transform(held_out))
    row = dict(kind=kind, epochs=epochs, tokens=n, ids=len(ids), held=held_tokens,
               updates=lm.t_, ppl_s=ppl_s, ppl_t=ppl_t, ppl_t_own=ppl_t_own,
               loss_s=lm.loss_curve_[-1], loss_t=loss_t, fit=fit_s, vocab=vocab_s,
               torch=torch_s, agree=agree, V=V)
    log(f"  {kind}: {epochs} epochs, {lm.t_} updates on {len(ids)} ids, held-out "
        f"{held_tokens} tokens: perplexity skrnn {ppl_s:.3f}, PyTorch {ppl_t:.3f} (PyTorch's "
        f"own computation {ppl_t_own:.3f}); last epoch's training loss skrnn {row['loss_s']:.4f}"
        f", PyTorch {loss_t:.4f}; fit skrnn {fit_s:.1f} s, PyTorch {torch_s:.1f} s; first "
        f"window at the initial weights: |loss diff| {agree[0]:.1e}, max grad diff / max grad "
        f"{agree[1]:.1e}")
    return row, timers, fit_s


# -- output ----------------------------------------------------------------------------------
def tables(meta, thr, smp, ppl, prof, micro):
    L = [f"Machine: {meta['machine']}; load average at the start {meta['load']}, at the end "
         f"{_load_average()}", "", f"Date: {meta['date']}; {meta['versions']}", "",
         f"Settings: {meta['settings']}", ""]
    L += ["### Training throughput (1 thread each, best of the alternating measurements)", "",
          "| model | V | predicted tokens | skrnn fit (s) | of which vocabulary (s) "
          "| skrnn training (s) | PyTorch (s) | skrnn tok/s | PyTorch tok/s "
          "| ratio skrnn / PyTorch time |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in thr:
        L.append(f"| {r['kind']} | {r['V']} | {r['tokens']} | {r['fit']:.2f} | {r['vocab']:.3f} "
                 f"| {r['train']:.2f} | {r['torch']:.2f} | {r['tokens'] / r['train']:.0f} "
                 f"| {r['tokens'] / r['torch']:.0f} | {r['train'] / r['torch']:.2f} |")
    L += ["", "### Sampling (one sample at a time, temperature 1)", "",
          "| model | tokens | skrnn ms/token | PyTorch ms/token | skrnn tok/s | PyTorch tok/s "
          "| ratio |", "|---|---|---|---|---|---|---|"]
    for r in smp:
        L.append(f"| {r['kind']} | {r['n']} | {1e3 * r['skrnn'] / r['n']:.3f} "
                 f"| {1e3 * r['torch'] / r['n']:.3f} | {r['n'] / r['skrnn']:.0f} "
                 f"| {r['n'] / r['torch']:.0f} | {r['skrnn'] / r['torch']:.2f} |")
    L += ["", "### Held-out perplexity after the same budget (same initial weights)", "",
          "| model | epochs | updates | training ids | held-out tokens | perplexity skrnn "
          "| perplexity PyTorch (its own computation) | last epoch's loss skrnn / PyTorch "
          "| fit skrnn / PyTorch (s) | first window: loss diff, grad diff / max |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for r in ppl:
        L.append(f"| {r['kind']} | {r['epochs']} | {r['updates']} | {r['ids']} | {r['held']} "
                 f"| {r['ppl_s']:.3f} | {r['ppl_t']:.3f} ({r['ppl_t_own']:.3f}) "
                 f"| {r['loss_s']:.4f} / {r['loss_t']:.4f} | {r['fit']:.1f} / {r['torch']:.1f} "
                 f"| {r['agree'][0]:.1e}, {r['agree'][1]:.1e} |")
    if prof:
        parts, total, output, windows = prof
        L += ["", f"### Where skrnn's word-model fit goes ({total:.1f} s, {windows} windows)", "",
              "| part | s | share | ms per window |", "|---|---|---|---|"]
        L += [f"| {label} | {sec:.2f} | {100 * sec / total:.1f}% | {1e3 * sec / windows:.1f} |"
              for label, sec in parts]
        L.append(f"| **output layer, all three parts** | {output:.2f} "
                 f"| {100 * output / total:.1f}% | {1e3 * output / windows:.1f} |")
    if micro:
        L += ["", "### Micro-timings (best of 3; ms per call)", "", "| what | ms |", "|---|---|"]
        L += [f"| {label} | {1e3 * sec:.3f} |" for label, sec in micro]
    return "\n".join(L)


def _load_average():
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller data, fewer repeats")
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--repeats", type=int, help="alternating rounds (default 3, quick 2)")
    p.add_argument("--epochs", type=int, default=1, help="epochs of the timed fits")
    p.add_argument("--ppl-epochs", type=int, help="epochs before the perplexity "
                                                  "(default 2, quick 1)")
    p.add_argument("--no-profile", action="store_true", help="skip the micro-timings")
    p.add_argument("--markdown", metavar="FILE", help="also write the tables as markdown")
    args = p.parse_args(argv)
    q = args.quick
    args.repeats = args.repeats or (2 if q else 3)
    args.ppl_epochs = args.ppl_epochs or (1 if q else 2)
    args.char_chars = 30_000 if q else 100_000  # throughput stream
    args.char_ppl_chars = 40_000 if q else None  # None: every training topic
    args.char_held = 1_000 if q else 5_000  # characters of each held-out topic
    args.word_tokens = 1_200 if q else 4_000  # generated tokens after the listing
    args.word_ppl_tokens = 1_200 if q else 20_000
    args.word_held = 2_000 if q else 5_000
    args.sample_tokens = {"char": 200 if q else 1000, "word": 60 if q else 300}
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    def log(line=""):
        print(line, flush=True)

    with threadpool_limits(1):
        meta = dict(describe_run(skrnn.__version__), load=_load_average(),
                    settings=f"LSTM; char: E=64, H=256, 1 layer, batch 32, bptt 100; word: "
                             f"E=H=200, 2 layers, batch 20, bptt 35; Adam lr={LR}, clip "
                             f"{MAX_GRAD_NORM}; {args.repeats} alternating rounds; timed fits "
                             f"of {args.epochs} epoch(s); perplexity after {args.ppl_epochs} "
                             f"epoch(s); float32, 1 thread")
        log(f"{meta['machine']}\n{meta['date']}; {meta['versions']}\n{meta['settings']}\n"
            f"load average at the start: {meta['load']}")
        char_train, char_held = char_texts()
        char_held = [t[:args.char_held] for t in char_held]
        source = WordSource()
        data = {
            "char": (first_chars(char_train, args.char_chars),
                     char_train if args.char_ppl_chars is None
                     else first_chars(char_train, args.char_ppl_chars), char_held),
            "word": ([source.listing()] + source.texts(args.word_tokens, seed=10),
                     [source.listing()] + source.texts(args.word_ppl_tokens, seed=11),
                     source.texts(args.word_held, seed=12)),
        }
        thr, smp, ppl, fitted = [], [], [], {}
        log("\ntraining throughput (seconds: best of the rounds):")
        for kind in args.models:
            row, lm, _ = run_throughput(kind, data[kind][0], args.epochs, args.repeats, log)
            thr.append(row)
            fitted[kind] = lm
        log("\nsampling (best of the rounds):")
        for kind in args.models:
            smp.append(run_sampling(kind, fitted[kind], args.sample_tokens[kind],
                                    args.repeats, log))
        log("\nheld-out perplexity after the same budget from the same initial weights:")
        prof = None
        for kind in args.models:
            timers, undo = profile_timers() if kind == "word" else (None, None)
            row, timers, fit_s = run_perplexity(kind, data[kind][1], data[kind][2],
                                                args.ppl_epochs, log, timers, undo)
            ppl.append(row)
            if kind == "word":
                windows = timers.calls["window"]
                parts, output = profile_parts(timers.seconds, fit_s)
                prof = (parts, fit_s, output, windows)
                log(f"\nwhere skrnn's word-model fit goes ({fit_s:.1f} s, {windows} windows; "
                    "s, share, ms per window):")
                for label, sec in parts:
                    log(f"  {label:<100} {sec:7.2f} {100 * sec / fit_s:5.1f}% "
                        f"{1e3 * sec / windows:8.1f}")
                log(f"  {'output layer, all three parts':<100} {output:7.2f} "
                    f"{100 * output / fit_s:5.1f}% {1e3 * output / windows:8.1f}")
        micro = []
        if not args.no_profile and "word" in fitted:
            micro = output_layer_micro() + sampling_micro(fitted["word"])
            if "char" in fitted:
                micro += sampling_micro(fitted["char"])
            log("\nmicro-timings (best of 3, ms):")
            for label, sec in micro:
                log(f"  {label:<100} {1e3 * sec:9.3f}")
    log(f"\ntotal time {time.perf_counter() - started:.0f} s; load average at the end "
        f"{_load_average()}")
    if args.markdown:
        Path(args.markdown).write_text(tables(meta, thr, smp, ppl, prof, micro) + "\n")
        log(f"markdown written to {args.markdown}")


if __name__ == "__main__":
    main()
