#!/usr/bin/env python
"""Benchmark whole ``fit`` and ``predict`` calls of skrnn's estimators against PyTorch on CPU.

``bench_engine.py`` times the engine alone; users call the estimators, which also validate and
pad their input, shuffle and slice mini-batches, keep loss curves and trim the engine's
reusable buffers. This script times what a user gets: whole calls, on four small generated tasks.

Tasks (fixed seeds; the labels are a simple function of each sequence, so the fits learn):

1. ``ragged``: classification, 300 multivariate sequences of lengths 7-29, 9 features,
   9 classes (the feature with the largest mean); LSTM, H=64, batch 32. A ragged list.
2. ``multi``: classification, 150 sequences, T=100, 6 features, 4 classes (signs of the means
   of two features); GRU, H=32, batch 16. A 3-D array (n, T, F).
3. ``binary``: classification, 100 univariate sequences, T=150, 2 classes (a slow or a fast
   noisy sine); LSTM, H=32, batch 16. A 3-D array (n, T, 1).
4. ``forecast``: regression, 150 univariate sequences, T=84, 1 output (the next value of a
   noisy sine); GRU, H=32, batch 16. A 3-D array (n, T, 1).

``--cells`` runs every task with each of rnn/gru/lstm instead of its own cell;
``--batch-sizes`` runs every task at batch sizes 1, 16, 32 and 128 (or those given) besides its
own. A fit at batch size 1 runs ``--batch1-epochs`` epochs (default 1) instead of ``--epochs``:
it takes 16-32 times as many steps per epoch, and its ratio does not depend on the number of
epochs.

``--kernels`` chooses the engine's kernels skrnn runs with (``skrnn.config_context(kernels=)``):
``numpy``, ``numba`` (the compiled kernels), or both, the default when numba is installed. Each
kernels setting is timed against the same PyTorch measurements, all interleaved in one run.

What is timed on each side, float32 data for both (skrnn keeps float32 input as float32):

* skrnn ``fit``: ``RNNClassifier``/``RNNRegressor(cell, hidden_layer_sizes=(H,),
  batch_size=B, max_iter=E, solver="adam", learning_rate_init=1e-3, alpha=0.0,
  max_grad_norm=5.0, tol=0.0, n_iter_no_change=E+1, shuffle=True, random_state=0).fit(X, y)``
  (so every one of the E epochs runs; its ConvergenceWarning is silenced), X given as the user
  holds it: a list of (T_i, F) arrays or a 3-D array.
* PyTorch ``fit``: from the same numpy X and y, building ``nn.LSTM``/``nn.GRU``/``nn.RNN``
  (batch_first) with an ``nn.Linear`` head on the last real step, ``torch.optim.Adam(lr=1e-3,
  betas=(0.9, 0.999), eps=1e-8)``, then E epochs of: a ``torch.randperm`` shuffle, and per
  mini-batch of B sequences ``zero_grad``, forward, ``cross_entropy`` (classification) or
  ``mse_loss`` (regression; skrnn's squared loss is half of it, which does not matter for
  timing), ``backward``, ``clip_grad_norm_(.., 5.0)``, ``step``, and ``loss.item()`` to
  accumulate the epoch's loss as a user loop that logs it does (skrnn keeps a loss curve).
  Data handling: fixed-length data is converted once (``torch.from_numpy``) and each batch is
  gathered by index (``X[idx]``); ragged data is converted once to a list of tensors and each
  batch is padded per batch (``pad_sequence``) and packed (``pack_padded_sequence(...,
  enforce_sorted=False)``), the last real step read from the packed ``h_n``. No
  ``DataLoader`` (its per-sample collation would only add to PyTorch's time).
* ``predict``: skrnn ``predict_proba`` (classifiers) or ``predict`` (regressor) on the whole
  training set; PyTorch: the same conversion from numpy (padded and packed when ragged), the
  model under ``torch.inference_mode()`` on the whole set in one batch, softmax for
  classifiers, ``.numpy()``. Called repeatedly, each measurement at least ``--min-time``.
  ``predict`` does not depend on the batch size of training: it is timed in the rows of each
  task's own batch size only.

Before timing, skrnn's fitted weights are copied into a PyTorch model and the predictions of
both are compared (float32, tolerance 1e-4), so both sides compute the same function. The
training score of each side after its fit (accuracy, or R^2 for the regression) is printed as
a check that both learn; it is not a measure of quality after a handful of epochs.

Differences that remain, by design: the two sides start from different initial weights (skrnn:
orthogonal recurrent weights and a forget-gate bias of 1; PyTorch: its uniform default) and
shuffle in a different order, so their losses differ while their work per epoch is the same;
skrnn validates and pads its input in ``fit`` and ``predict`` (a user's PyTorch loop usually
does not validate), keeps its loss curve and best weights, and trims its engine's reusable
buffers to a bounded size at the end of each call. These are part of what a user of the estimators pays.

Both libraries run with the same number of threads (``--threads``): numpy's and scipy's
OpenBLAS through threadpoolctl, PyTorch through ``torch.set_num_threads`` (and
``torch.set_num_interop_threads(1)``). skrnn and PyTorch measurements alternate, so background
load affects both alike; each time is the median of ``--repeats`` measurements. The ratio is
skrnn time / PyTorch time (below 1: skrnn is faster). The summary gives, per kernels setting,
the geometric mean of the ratios of the four tasks in their own configuration (own cell and
batch size) against the targets for a whole fit: at most 0.8 with the compiled kernels and
1.0 with the NumPy kernels (``FIT_TARGETS``).

``--overhead`` measures the estimator's own time around the engine in each fit: the same fit
with ``RecurrentNetwork.loss_and_grad`` replaced by a stub returning a fixed gradient, timed by
part (see :func:`estimator_time`), and the input validation of one predict.

With numba among the kernels, the script first reports what the compiled kernels cost at
their first use: the seconds to import numba, and what the first training step of an LSTM and
of a GRU (float32) costs beyond a second one, which is when their loops are compiled, in a
fresh process with an empty numba cache (compilation) and again with the cache that left
(loading it), the cache in a new temporary directory (``NUMBA_CACHE_DIR``) so that an existing
cache next to the module is not used (``--no-compile-cost`` skips this).

Examples
--------
    python benchmarks/bench_estimators.py --quick
    python benchmarks/bench_estimators.py --threads 1 2 --markdown estimators.md
    python benchmarks/bench_estimators.py --cells --epochs 10
    python benchmarks/bench_estimators.py --kernels numpy numba --batch-sizes
"""

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as torch_F  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence  # noqa: E402

import skrnn  # noqa: E402
from bench_engine import Timers, describe_run, set_threads, time_group, with_kernels  # noqa: E402
from skrnn import RNNClassifier, RNNRegressor, _training  # noqa: E402
from skrnn.interchange import to_torch_state_dict  # noqa: E402
from skrnn._base import BaseRNN  # noqa: E402
from skrnn.nn import RecurrentNetwork  # noqa: E402
from skrnn.nn._fast import numba_available  # noqa: E402
from skrnn.nn.optimizers import Adam  # noqa: E402

CELLS = ("rnn", "gru", "lstm")
TORCH_MODULES = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}
LEARNING_RATE = 1e-3
MAX_GRAD_NORM = 5.0
AGREEMENT_TOL = 1e-4
SWEEP_BATCH_SIZES = (1, 16, 32, 128)
# Targets for the geometric mean of skrnn / PyTorch time of a whole fit over the four tasks in
# their own configuration, one thread, float32, per kernels setting.
FIT_TARGETS = {"numba": 0.8, "numpy": 1.0}


# -- tasks -----------------------------------------------------------------------------------
@dataclass
class Task:
    name: str
    kind: str  # "classification" or "regression"
    cell: str
    hidden: int
    batch_size: int
    X: object  # a list of (T_i, F) float32 arrays (ragged) or a float32 (n, T, F) array
    y: np.ndarray  # int64 labels in [0, K) or float32 targets

    @property
    def ragged(self):
        return isinstance(self.X, list)

    @property
    def n_features(self):
        return self.X[0].shape[-1]

    @property
    def n_outputs(self):
        return int(self.y.max()) + 1 if self.kind == "classification" else 1

    def describe(self):
        n = len(self.X)
        if self.ragged:
            lengths = [len(x) for x in self.X]
            shape = f"n={n} T={min(lengths)}-{max(lengths)}"
        else:
            shape = f"n={n} T={self.X.shape[1]}"
        out = f"{self.n_outputs} classes" if self.kind == "classification" else "1 output"
        return (f"{self.name}: {self.kind}, {shape} F={self.n_features}, {out}; "
                f"own cell {self.cell}, H={self.hidden}, batch {self.batch_size}")


def ragged_task(seed=1):
    """300 sequences of lengths 7-29, 9 features; the label is the feature with the largest
    mean over the sequence."""
    rng = np.random.default_rng(seed)
    X = [rng.standard_normal((int(T), 9), dtype=np.float32) for T in rng.integers(7, 30, 300)]
    y = np.array([int(np.argmax(x.mean(axis=0))) for x in X], dtype=np.int64)
    return Task("ragged", "classification", "lstm", 64, 32, X, y)


def multi_task(seed=2):
    """150 sequences, T=100, 6 features; 4 classes from the signs of the means of features 0
    and 1 (each shifted by a random offset per sequence so that the signs are learnable)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((150, 100, 6), dtype=np.float32)
    X[:, :, :2] += rng.normal(0, 0.3, size=(150, 1, 2)).astype(np.float32)
    means = X[:, :, :2].mean(axis=1)
    y = (2 * (means[:, 0] > 0) + (means[:, 1] > 0)).astype(np.int64)
    return Task("multi", "classification", "gru", 32, 16, X, y)


def binary_task(seed=3):
    """100 univariate sequences, T=150: a noisy sine of period 30 (class 0) or 15 (class 1)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 100).astype(np.int64)
    t = np.arange(150)
    phase = rng.uniform(0, 2 * np.pi, size=(100, 1))
    X = np.sin(2 * np.pi * t / np.where(y == 1, 15, 30)[:, None] + phase)
    X += rng.normal(0, 0.3, size=X.shape)
    return Task("binary", "classification", "lstm", 32, 16, X[:, :, None].astype(np.float32), y)


def forecast_task(seed=4):
    """150 univariate sequences, T=84, of a noisy sine with random period and phase; the target
    is the next, noise-free value."""
    rng = np.random.default_rng(seed)
    t = np.arange(85)
    period = rng.uniform(10, 30, size=(150, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(150, 1))
    clean = np.sin(2 * np.pi * t / period + phase)
    X = clean[:, :84] + rng.normal(0, 0.1, size=(150, 84))
    return Task("forecast", "regression", "gru", 32, 16, X[:, :, None].astype(np.float32),
                clean[:, 84].astype(np.float32))


TASKS = {"ragged": ragged_task, "multi": multi_task, "binary": binary_task,
         "forecast": forecast_task}


# -- skrnn -----------------------------------------------------------------------------------
def skrnn_fit(task, cell, epochs):
    """A fitted skrnn estimator: E full epochs of Adam, as a user calls it."""
    estimator = RNNClassifier if task.kind == "classification" else RNNRegressor
    est = estimator(cell, hidden_layer_sizes=(task.hidden,), batch_size=task.batch_size,
                    max_iter=epochs, solver="adam", learning_rate_init=LEARNING_RATE,
                    alpha=0.0, max_grad_norm=MAX_GRAD_NORM, tol=0.0,
                    n_iter_no_change=epochs + 1, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(task.X, task.y)


def skrnn_predict(est, task):
    """Class probabilities (classifier) or predictions (regressor) for the whole set."""
    return est.predict_proba(task.X) if task.kind == "classification" else est.predict(task.X)


def fitted_state_dict(est):
    """The fitted weights of a skrnn estimator under the names of TorchRNN
    (``rnn.weight_ih_l0``, ..., ``head.weight``, ``head.bias``), a regressor's target scaling
    folded into the head."""
    return to_torch_state_dict(est)


# -- PyTorch ---------------------------------------------------------------------------------
class TorchRNN(torch.nn.Module):
    """One recurrent layer (batch_first) and a linear head on each sequence's last real step."""

    def __init__(self, cell, n_features, hidden, n_outputs):
        super().__init__()
        self.rnn = TORCH_MODULES[cell](n_features, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, n_outputs)

    def forward(self, x):
        """x: a padded (B, T, F) tensor of full-length sequences, or a PackedSequence."""
        _, h_n = self.rnn(x)
        if isinstance(h_n, tuple):  # LSTM: (h_n, c_n)
            h_n = h_n[0]
        return self.head(h_n[-1])


def _torch_inputs(task):
    """The user's numpy X as tensors without copying: a list of (T_i, F) tensors and their
    lengths (ragged), or one (n, T, F) tensor."""
    if task.ragged:
        seqs = [torch.from_numpy(x) for x in task.X]
        return seqs, torch.tensor([len(x) for x in task.X])
    return torch.from_numpy(task.X), None


def _torch_batch(inputs, lengths, idx):
    """Rows idx (a list of ints) as the model's input: padded per batch and packed when
    ragged, gathered by index otherwise."""
    if lengths is None:
        return inputs[idx]
    padded = pad_sequence([inputs[i] for i in idx], batch_first=True)
    return pack_padded_sequence(padded, lengths[idx], batch_first=True, enforce_sorted=False)


def torch_fit(task, cell, epochs, seed=0):
    """The same model and training as skrnn_fit in a plain PyTorch loop; returns the model."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = TorchRNN(cell, task.n_features, task.hidden, task.n_outputs)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.999),
                                 eps=1e-8)
    loss_fn = torch_F.cross_entropy if task.kind == "classification" else torch_F.mse_loss
    inputs, lengths = _torch_inputs(task)
    y = torch.from_numpy(task.y)
    if task.kind == "regression":
        y = y[:, None]
    n = len(task.y)
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator).tolist()
        epoch_loss = 0.0
        for start in range(0, n, task.batch_size):
            idx = order[start:start + task.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(_torch_batch(inputs, lengths, idx)), y[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
            optimizer.step()
            epoch_loss += loss.item() * len(idx)
    return model


def torch_predict(model, task):
    """The counterpart of skrnn_predict: one forward pass over the whole set."""
    with torch.inference_mode():
        inputs, lengths = _torch_inputs(task)
        if lengths is None:
            out = model(inputs)
        else:
            padded = pad_sequence(inputs, batch_first=True)
            out = model(pack_padded_sequence(padded, lengths, batch_first=True,
                                             enforce_sorted=False))
        if task.kind == "classification":
            return torch.softmax(out, dim=1).numpy()
        return out.numpy().ravel()


def torch_model_from(est, task, cell):
    """A PyTorch model holding skrnn's fitted weights (strict: every name must match)."""
    model = TorchRNN(cell, task.n_features, task.hidden, task.n_outputs)
    state = {k: torch.from_numpy(np.array(v)) for k, v in fitted_state_dict(est).items()}
    model.load_state_dict(state, strict=True)
    return model


# -- checks ----------------------------------------------------------------------------------
def check_agreement(est, task, cell):
    """skrnn's predictions equal those of PyTorch with skrnn's fitted weights (float32).

    Returns the largest absolute difference."""
    state = fitted_state_dict(est)
    dtypes = {v.dtype for v in state.values()}
    assert dtypes == {np.dtype(np.float32)}, f"skrnn did not fit in float32: {dtypes}"
    ours = skrnn_predict(est, task)
    theirs = torch_predict(torch_model_from(est, task, cell), task)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    diff = float(np.max(np.abs(ours - theirs)))
    assert diff <= AGREEMENT_TOL, f"{task.name}/{cell}: predictions differ by {diff:.2e}"
    return diff


def training_score(pred, task):
    """Accuracy (classification) or R^2 (regression) on the training set: a sanity check that
    the fits learn, not a measure of quality after a handful of epochs."""
    if task.kind == "classification":
        return float(np.mean(pred.argmax(axis=1) == task.y))
    return float(1 - np.sum((pred - task.y) ** 2) / np.sum((task.y - task.y.mean()) ** 2))


# -- one task --------------------------------------------------------------------------------
def run_task(task, cell, kernels, threads, epochs, repeats, min_time, settle, own_batch):
    """Check agreement, then time fit (and predict, at the task's own batch size) of skrnn
    under each kernels setting and of PyTorch, all interleaved. One row per kernels setting."""
    fits = [with_kernels(k, lambda: skrnn_fit(task, cell, epochs)) for k in kernels]
    ests = [fit() for fit in fits]  # also the warm-up of every fit and predict
    model = torch_fit(task, cell, epochs)
    diffs, scores = [], []
    for k, est in zip(kernels, ests):
        with skrnn.config_context(kernels=k):
            diffs.append(check_agreement(est, task, cell))
            scores.append(training_score(skrnn_predict(est, task), task))
    score_t = training_score(torch_predict(model, task), task)

    *fit_s, fit_t = time_group(fits + [lambda: torch_fit(task, cell, epochs)], repeats, 0.0,
                               settle, warm_up=False)
    pred_s, pred_t = [None] * len(kernels), None
    if own_batch:
        predicts = [with_kernels(k, lambda est=est: skrnn_predict(est, task))
                    for k, est in zip(kernels, ests)]
        *pred_s, pred_t = time_group(predicts + [lambda: torch_predict(model, task)], repeats,
                                     min_time, settle, warm_up=False)
    own = own_batch and cell == TASKS[task.name]().cell
    return [dict(task=task.name, cell=cell, batch=task.batch_size, own_batch=own_batch, own=own,
                 kernels=k, threads=threads, epochs=epochs, fit_s=fs, fit_t=fit_t, pred_s=ps,
                 pred_t=pred_t, score_s=score, score_t=score_t, diff=diff)
            for k, fs, ps, score, diff in zip(kernels, fit_s, pred_s, scores, diffs)]


def batch_sizes(task, sweep):
    """The batch sizes to run a task at: its own and those of the sweep, ascending."""
    return sorted({task.batch_size, *sweep})


# -- the estimator's own time -------------------------------------------------------------------
def _fixed_gradient(network, theta, *args, **kwargs):
    """Stands in for RecurrentNetwork.loss_and_grad: a loss and a gradient, no computation."""
    return 0.5, np.full(theta.size, 1e-3, theta.dtype)


def estimator_time(task, cell, epochs, repeats):
    """Seconds the estimator spends around the engine in one fit, by part, and in the input
    validation of one predict (medians of ``repeats`` measurements).

    The fit runs with the engine's ``loss_and_grad`` replaced by :func:`_fixed_gradient`, so
    that everything else (validation, setup, mini-batch slicing, the checks of every step,
    the records of every epoch, clipping and Adam) runs as in a real fit, timed by part.
    """
    samples = []
    for _ in range(repeats + 1):  # the first one warms up
        timers = Timers()
        timers.wrap(RecurrentNetwork, "loss_and_grad", "engine", _fixed_gradient)
        timers.wrap(BaseRNN, "_validate_sequences", "validate")
        timers.wrap(_training, "_run_epoch", "epochs")
        timers.wrap(_training.TrainingData, "take", "take")
        timers.wrap(_training, "clip_grad_norm", "clip")
        timers.wrap(Adam, "update_params", "adam")
        try:
            t0 = time.perf_counter()
            est = skrnn_fit(task, cell, epochs)
            total = time.perf_counter() - t0
        finally:
            timers.restore()
        s = timers.seconds
        samples.append(dict(
            validate=s["validate"], setup=total - s["epochs"] - s["validate"], take=s["take"],
            steps=s["epochs"] - s["take"] - s["engine"] - s["clip"] - s["adam"],
            optimizer=s["clip"] + s["adam"]))
    out = {k: statistics.median(x[k] for x in samples[1:]) for k in samples[0]}
    out["estimator"] = out["validate"] + out["setup"] + out["take"] + out["steps"]
    out["predict_validate"] = time_group([lambda: est._validate_sequences(task.X, reset=False)],
                                         repeats, 0.05)[0]
    return out


OVERHEAD_HEADER = (f"{'task':<9} {'cell':<5} {'batch':>5} {'validate':>8} {'setup':>6} "
                   f"{'slicing':>7} {'steps':>6} {'total':>7}  {'share of fit':>14}  "
                   f"{'clip+Adam':>9}  {'predict validate':>16} {'share':>12}")


def _overhead_line(rows):
    """One line of the estimator's own time (ms) for the rows of one case (one per kernels
    setting), with its share of their whole fit and predict times."""
    r, o = rows[0], rows[0]["overhead"]
    fit_share = " / ".join(f"{100 * o['estimator'] / x['fit_s']:.1f}%" for x in rows)
    pred_share = (" / ".join(f"{100 * o['predict_validate'] / x['pred_s']:.1f}%" for x in rows)
                  if r["pred_s"] is not None else "-")
    batch = f"{r['batch']}{'*' if r['own_batch'] else ''}"
    return (f"{r['task']:<9} {r['cell']:<5} {batch:>5} {1e3 * o['validate']:>8.2f} "
            f"{1e3 * o['setup']:>6.2f} {1e3 * o['take']:>7.2f} {1e3 * o['steps']:>6.2f} "
            f"{1e3 * o['estimator']:>7.2f}  {fit_share:>14}  {1e3 * o['optimizer']:>9.2f}  "
            f"{1e3 * o['predict_validate']:>16.3f} {pred_share:>12}")


# -- the cost of the compiled kernels before their first use -----------------------------------
_IMPORT_COMPILED = """
import sys, time
sys.path.insert(0, {root!r})
import numpy as np
import skrnn  # scikit-learn and skrnn itself, outside the measurement
from skrnn.nn import RecurrentNetwork
t0 = time.perf_counter()
import numba
numba_s = time.perf_counter() - t0
first_use = 0.0
with skrnn.config_context(kernels="numba"):
    for cell in ("lstm", "gru"):  # the first training step compiles (or loads) its loops
        net = RecurrentNetwork(cell, 2, (8,), 2)
        theta = net.init_params(np.random.default_rng(0), np.float32)
        X, lengths, y = np.ones((4, 3, 2), np.float32), np.full(4, 3), np.zeros(4, int)
        calls = []
        for _ in range(2):
            t = time.perf_counter()
            net.loss_and_grad(theta, X, lengths, y, "softmax")
            calls.append(time.perf_counter() - t)
        first_use += calls[0] - calls[1]
print(numba_s, first_use)
"""


def compile_cost():
    """Seconds to import numba, and what the first training step of an LSTM and of a GRU in
    float32 costs beyond a second one (their compiled loops, forward and backward) with an
    empty numba cache and then with the cache that run left, each in a fresh process:
    (numba, empty, cached)."""
    code = _IMPORT_COMPILED.format(root=str(Path(__file__).resolve().parents[1]))
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        runs = [subprocess.run([sys.executable, "-c", code], env=env, check=True, text=True,
                               capture_output=True).stdout.split() for _ in range(2)]
    (numba_s, empty_s), (_, cached_s) = [map(float, run) for run in runs]
    return numba_s, empty_s, cached_s


# -- summary ---------------------------------------------------------------------------------
def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summarize(rows, thread_counts, kernels, cells=None, sweep=()):
    """Geometric means of the fit and predict ratios per thread count and kernels setting: over
    the four tasks in their own configuration (against ``FIT_TARGETS``), per cell at the
    tasks' own batch sizes when the tasks ran with several cells, and per batch size of the
    sweep (fit only: predict does not depend on the batch size of training)."""
    groups = [("own", lambda r: r["own"])]
    groups += [(cell, lambda r, c=cell: r["cell"] == c and r["own_batch"]) for cell in cells or ()]
    groups += [(f"batch {b}", lambda r, b=b: r["batch"] == b) for b in sweep]
    out = []
    for threads in thread_counts:
        for k in kernels:
            for label, member in groups:
                sel = [r for r in rows
                       if r["threads"] == threads and r["kernels"] == k and member(r)]
                if not sel:
                    continue
                timed = [r for r in sel if r["pred_s"] is not None
                         and not label.startswith("batch")]
                out.append(dict(threads=threads, kernels=k, group=label, n=len(sel),
                                fit=geomean([r["fit_s"] / r["fit_t"] for r in sel]),
                                pred=(geomean([r["pred_s"] / r["pred_t"] for r in timed])
                                      if timed else None),
                                target=FIT_TARGETS[k] if label == "own" else None))
    return out


def _target_text(s):
    if s["target"] is None:
        return ""
    met = "met" if s["fit"] <= s["target"] else "NOT met"
    return f" (target {s['target']}: {met})"


# -- output ----------------------------------------------------------------------------------
HEADER = (f"{'task':<9} {'cell':<5} {'batch':>5} {'kernels':<7} {'th':>2} {'fit sk s':>9} "
          f"{'fit pt s':>9} {'ratio':>6}  {'pred sk ms':>10} {'pred pt ms':>10} {'ratio':>6}  "
          f"{'score sk':>8} {'score pt':>8}   (ratio = skrnn / PyTorch; * = the task's own "
          "batch size)")


def _row_line(r):
    batch = f"{r['batch']}{'*' if r['own_batch'] else ''}"
    if r["pred_s"] is None:
        pred = f"{'-':>10} {'-':>10} {'-':>6}"
    else:
        pred = (f"{1e3 * r['pred_s']:>10.3f} {1e3 * r['pred_t']:>10.3f} "
                f"{r['pred_s'] / r['pred_t']:>6.2f}")
    return (f"{r['task']:<9} {r['cell']:<5} {batch:>5} {r['kernels']:<7} {r['threads']:>2} "
            f"{r['fit_s']:>9.3f} {r['fit_t']:>9.3f} {r['fit_s'] / r['fit_t']:>6.2f}  {pred}  "
            f"{r['score_s']:>8.3f} {r['score_t']:>8.3f}")


def _summary_line(s):
    pred = "" if s["pred"] is None else f"   predict {s['pred']:.2f}"
    return (f"  {s['threads']} thr, {s['kernels']:<5}, {s['group']:<9} ({s['n']:>2} runs): "
            f"fit {s['fit']:.2f}{_target_text(s)}{pred}")


def markdown(rows, summary, tasks, meta, settings):
    lines = [f"Machine: {meta['machine']}", "",
             f"Date: {meta['date']}; {meta['versions']}", "",
             f"Settings: {settings}", "", "Tasks:", ""]
    lines += [f"- {t.describe()}" for t in tasks] + [""]
    lines += ["### Summary: geometric mean of skrnn time / PyTorch time", "",
              "\"own\": the four tasks with their own cell and batch size, against the target "
              "for a whole fit.", "",
              "| threads | kernels | rows (runs) | fit | target | predict |",
              "|---|---|---|---|---|---|"]
    for s in summary:
        target = "" if s["target"] is None else \
            f"{s['target']} {'met' if s['fit'] <= s['target'] else 'NOT met'}"
        pred = "" if s["pred"] is None else f"**{s['pred']:.2f}**"
        lines.append(f"| {s['threads']} | {s['kernels']} | {s['group']} ({s['n']}) "
                     f"| **{s['fit']:.2f}** | {target} | {pred} |")
    lines.append("")
    for threads in sorted({r["threads"] for r in rows}):
        lines += [f"### {threads} thread{'s' if threads > 1 else ''}", "",
                  "| task | cell | batch | kernels | epochs | fit skrnn (s) | fit PyTorch (s) "
                  "| ratio | predict skrnn (ms) | predict PyTorch (ms) | ratio "
                  "| training score skrnn / PyTorch |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if r["threads"] != threads:
                continue
            if r["pred_s"] is None:
                pred = "| - | - | - "
            else:
                pred = (f"| {1e3 * r['pred_s']:.3f} | {1e3 * r['pred_t']:.3f} "
                        f"| {r['pred_s'] / r['pred_t']:.2f} ")
            batch = f"{r['batch']} (own)" if r["own_batch"] else str(r["batch"])
            lines.append(
                f"| {r['task']} | {r['cell']} | {batch} | {r['kernels']} | {r['epochs']} "
                f"| {r['fit_s']:.3f} | {r['fit_t']:.3f} | {r['fit_s'] / r['fit_t']:.2f} "
                f"{pred}| {r['score_s']:.3f} / {r['score_t']:.3f} |")
        lines.append("")
    if all("overhead" in r for r in rows):
        lines += _overhead_markdown(rows)
    return "\n".join(lines)


def _overhead_markdown(rows):
    kernels = list(dict.fromkeys(r["kernels"] for r in rows))
    lines = ["### The estimator's own time in one fit (ms)", "",
             "The fit with the engine's `loss_and_grad` replaced by a fixed gradient, timed by "
             "part (median of the repeats); the share is of the row's whole fit (or predict) "
             f"with the {' / '.join(kernels)} kernels, from the table above. Setup: the fit "
             "outside its loops over mini-batches besides validation (parameter and target "
             "checks, initial weights, the record of each epoch). Clipping and Adam are the "
             "engine's optimizer, given apart.", "",
             "| task | cell | batch | threads | validation | setup | mini-batch slicing "
             "| rest of the steps | total | share of the fit | clip + Adam "
             "| predict: validation | share of the predict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for i in range(0, len(rows), len(kernels)):
        case = rows[i:i + len(kernels)]
        r, o = case[0], case[0]["overhead"]
        fit_share = " / ".join(f"{100 * o['estimator'] / x['fit_s']:.1f}%" for x in case)
        pred_share = (" / ".join(f"{100 * o['predict_validate'] / x['pred_s']:.1f}%"
                                 for x in case) if r["pred_s"] is not None else "-")
        batch = f"{r['batch']} (own)" if r["own_batch"] else str(r["batch"])
        lines.append(f"| {r['task']} | {r['cell']} | {batch} | {r['threads']} "
                     f"| {1e3 * o['validate']:.2f} | {1e3 * o['setup']:.2f} "
                     f"| {1e3 * o['take']:.2f} | {1e3 * o['steps']:.2f} "
                     f"| {1e3 * o['estimator']:.2f} | {fit_share} | {1e3 * o['optimizer']:.2f} "
                     f"| {1e3 * o['predict_validate']:.3f} | {pred_share} |")
    return lines + [""]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="2 epochs, 3 repeats, 0.05 s per predict measurement (about a minute "
                        "per kernels setting)")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    p.add_argument("--cells", nargs="*", choices=CELLS,
                   help="run every task with these cells instead of its own "
                        "(no value: rnn gru lstm)")
    p.add_argument("--batch-sizes", nargs="*", type=int,
                   help="also run every task at these batch sizes besides its own "
                        f"(no value: {' '.join(map(str, SWEEP_BATCH_SIZES))})")
    p.add_argument("--kernels", nargs="+", choices=("numpy", "numba"),
                   help="the engine's kernels to time skrnn with, each against the same "
                        "PyTorch measurements (default: numpy, and numba when it is installed)")
    p.add_argument("--threads", nargs="+", type=int, default=[1],
                   help="thread counts to run with (default: 1)")
    p.add_argument("--epochs", type=int, help="epochs per fit (default 5, quick 2)")
    p.add_argument("--batch1-epochs", type=int, default=1,
                   help="epochs per fit at batch size 1 (default 1)")
    p.add_argument("--repeats", type=int, help="measurements per number (default 5, quick 3)")
    p.add_argument("--min-time", type=float,
                   help="seconds per predict measurement, at least one call "
                        "(default 0.2, quick 0.05)")
    p.add_argument("--settle", type=float, default=0.02,
                   help="seconds to sleep before each measurement when running with more than "
                        "one thread, so that the other library's spinning worker threads go "
                        "idle (default 0.02)")
    p.add_argument("--overhead", action="store_true",
                   help="also measure the estimator's own time around the engine in every fit "
                        "(and in the input validation of predict), by part")
    p.add_argument("--no-compile-cost", action="store_true",
                   help="skip the measurement of the compiled kernels' import and compilation")
    p.add_argument("--markdown", metavar="FILE", help="also write the tables as markdown")
    args = p.parse_args(argv)
    if args.cells is not None and not args.cells:
        args.cells = list(CELLS)
    if args.batch_sizes is not None and not args.batch_sizes:
        args.batch_sizes = list(SWEEP_BATCH_SIZES)
    args.batch_sizes = args.batch_sizes or []
    args.kernels = args.kernels or (["numpy", "numba"] if numba_available() else ["numpy"])
    args.epochs = args.epochs or (2 if args.quick else 5)
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.min_time = args.min_time or (0.05 if args.quick else 0.2)
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    torch.set_num_interop_threads(1)
    set_threads(1)
    meta = describe_run(skrnn.__version__)
    settings = (f"kernels {' '.join(args.kernels)}, epochs={args.epochs} "
                f"({args.batch1_epochs} at batch size 1), repeats={args.repeats}, "
                f"predict min_time={args.min_time}s, settle={args.settle}s (more than one "
                "thread), float32")
    if args.cells:
        settings += f"; cells {' '.join(args.cells)} instead of each task's own"
    if args.batch_sizes:
        settings += f"; batch sizes {' '.join(map(str, args.batch_sizes))} besides each task's own"

    def log(line=""):
        print(line, flush=True)

    tasks = [TASKS[name]() for name in args.tasks]
    log(f"{meta['machine']}\n{meta['date']}; {meta['versions']}\n{settings}\n")
    if "numba" in args.kernels and not args.no_compile_cost:
        numba_s, empty_s, cached_s = compile_cost()
        compiled = (f"compiled kernels at their first use, each in a fresh process: "
                    f"import numba {numba_s:.2f} s; the first LSTM and GRU training steps "
                    f"(float32) {empty_s:.2f} s more than later ones with an empty numba "
                    f"cache (compiling), {cached_s:.2f} s with numba's on-disk cache")
        settings += f"; {compiled}"
        log(compiled + "\n")
    for task in tasks:
        log(f"  {task.describe()}")
    log()
    log(HEADER)
    rows = []
    for threads in args.threads:
        set_threads(threads)
        settle = args.settle if threads > 1 else 0.0
        for task in tasks:
            for cell in args.cells or [task.cell]:
                for batch in batch_sizes(task, args.batch_sizes):
                    epochs = args.batch1_epochs if batch == 1 else args.epochs
                    case = replace(task, batch_size=batch)
                    new = run_task(case, cell, args.kernels, threads, epochs, args.repeats,
                                   args.min_time, settle, own_batch=batch == task.batch_size)
                    for row in new:
                        log(_row_line(row))
                    if args.overhead:
                        overhead = estimator_time(case, cell, epochs, args.repeats)
                        for row in new:
                            row["overhead"] = overhead
                    rows += new
    set_threads(1)

    if args.overhead:
        log("\nthe estimator's own time in one fit, ms (the engine's loss_and_grad replaced by a "
            "fixed gradient; median of the repeats): input validation; setup, the rest of the "
            "fit outside the epochs' loops over mini-batches (parameter and target checks, "
            "initial weights, the record of each epoch); mini-batch slicing; the rest of the "
            "steps (checks, sums); their "
            f"total and its share of the whole fit ({' / '.join(args.kernels)} kernels, from "
            "the table above); clipping and Adam (the engine's optimizer, apart); the input "
            "validation of one predict and its share of the whole predict")
        log(OVERHEAD_HEADER)
        for i in range(0, len(rows), len(args.kernels)):
            log(_overhead_line(rows[i:i + len(args.kernels)]))

    summary = summarize(rows, args.threads, args.kernels, args.cells, args.batch_sizes)
    log("\ngeometric mean of skrnn / PyTorch time (own: the four tasks in their own "
        "configuration):")
    for s in summary:
        log(_summary_line(s))
    log(f"largest prediction difference with skrnn's weights in PyTorch: "
        f"{max(r['diff'] for r in rows):.1e}")
    log(f"total time {time.perf_counter() - started:.0f} s")
    if args.markdown:
        Path(args.markdown).write_text(markdown(rows, summary, tasks, meta, settings) + "\n")
        log(f"markdown written to {args.markdown}")


if __name__ == "__main__":
    main()
