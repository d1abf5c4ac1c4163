#!/usr/bin/env python
"""How well skrnn's estimators learn: held-out accuracy on public data sets, next to PyTorch.

Accuracy, not speed, is measured here (fit seconds are a side column). Every number is a score
on a held-out test split that the fits never see.

Data (offline, from installed packages):

* classification, aeon's ``load_classification`` (UCR archive): ArrowHead (36 train / 175
  test, T=251, 3 classes), ItalyPowerDemand (67 / 1029, T=24, 2 classes) and
  PickupGestureWiimoteZ (50 / 50, variable lengths 29-361, 10 classes; the raw
  variable-length version, not the archive's padded one). aeon gives (n, 1, T) arrays (a list
  of (1, T_i) arrays for variable lengths); skrnn takes (n, T, 1) arrays or lists of (T_i, 1)
  arrays, float32 here for both libraries. Each series is z-normalised (mean 0, standard
  deviation 1, ``--no-znorm`` to skip): ArrowHead and ItalyPowerDemand already are (means
  below 1e-8, standard deviations .998 and .979, a ddof=1 convention), so this rescales them by
  at most 2%; PickupGestureWiimoteZ is not (means up to 1.0, deviations .13-.57).
* forecasting: aeon's ``load_airline`` (144 months; the last 24 held out) and statsmodels'
  ``co2`` (weekly, resampled to monthly means and interpolated: 526 months; the last 60 held
  out); RMSE of the forecast of the held-out months.

Parts (``--only``; all by default):

``defaults``
    ``RNNClassifier(random_state=s)`` for s = 0, 1, 2, everything else at the installed
    version's defaults: test accuracy (mean and range), epochs run (``n_iter_``), fit seconds.
    ``--set NAME=VALUE ...`` changes some of them (recorded in the results and the table).
``grid``
    ``GridSearchCV`` over skrnn's own parameters on the TRAIN split only (StratifiedKFold, 3
    shuffled folds, seed 0; estimator seed 0; ``n_jobs=1``): cell {gru, lstm} x pooling {last,
    mean} x hidden_layer_sizes {(32,), (64,)} x learning_rate_init {1e-2, 3e-3}, batch_size 16,
    max_iter 200, other parameters at their defaults (alpha 1e-4, the default stopping rule).
    The chosen configuration is refitted on the whole train split with seeds 0, 1, 2 and
    scored on test. ``--grid wide``: bidirectional GRU or LSTM of 64 units, pooling mean or
    max, learning rate 3e-3. ``--grid frames``: a bidirectional GRU of 64 or 128 units with
    max pooling at 3e-3, after a ``Frames`` step in a Pipeline that reads each run of 1, 8
    or 16 consecutive steps as one step of 1, 8 or 16 features (ArrowHead's 251 steps become
    32 or 16; the last frame is completed by repeating the last step); the frame width is
    searched with the rest. ``--grid deep``: two bidirectional GRU layers of 128 units with
    dropout 0.3 or 0.5 between them (PyTorch's ``dropout`` argument is the same: on the
    outputs of every layer but the last, in training only), max pooling, on frames of 8 or 16
    steps. ``--grid deep-cosine``: the deep grid's networks with dropout 0.3 on frames of 4
    or 8, ``learning_rate`` "constant" or "cosine" (decayed to 0 over the 200 epochs) and
    ``alpha`` 1e-4 or 1e-3. ``--grid small-cosine``: the small grid with both schedules.
    ``--grid wide-reg``: the wide grid with both schedules and ``alpha`` 1e-4, 1e-3 or 1e-2.
    ``--select-by vote`` scores each configuration as the soft vote of 5 seeds (0-4) that the
    ``vote`` part refits, scikit-learn's ``VotingClassifier`` of RNNClassifiers in the
    search (one single-candidate grid per configuration, every member set alike), instead of
    one model of seed 0; the refit is the same.
``torch``
    The grid's chosen configuration in a plain PyTorch loop, seeds 0, 1, 2, each for as many
    epochs as skrnn's refit with the same seed ran (and the same learning-rate schedule:
    constant, or skrnn's cosine decay over ``max_iter`` epochs): ``nn.GRU``/``nn.LSTM``
    (batch_first), an ``nn.Linear`` head on the last real step (or on the mean of the outputs
    over the real steps), ``torch.optim.Adam`` with the same learning rate, betas and eps, the
    same batch size over a fresh ``randperm`` every epoch, ``cross_entropy``,
    ``clip_grad_norm_(.., 5.0)``.
    skrnn's ``alpha`` is matched exactly: skrnn adds ``0.5 * alpha / B * ||W||^2`` (B the
    sequences in the mini-batch, W the weight matrices, biases excluded) to each mini-batch's
    loss before clipping, so the loop adds the same term to its loss (Adam's ``weight_decay``
    would decay the biases too and act after clipping). Sequences of a batch are padded to the
    batch's longest (skrnn trims its batches the same way) and not packed: in a
    unidirectional network the outputs at real steps do not depend on the padding after them,
    so the last real step is read by index and the mean is masked; this is the same function
    and gradient as packing (checked to 1e-7 against skrnn's gradient), and PyTorch's GRU and
    LSTM ran 1.4-10 times faster unpacked on these data (one thread). Initial weights:
    PyTorch's own (uniform in +-1/sqrt(H) for every weight and bias).
``vote``
    The grid's chosen configuration as a soft vote of 5 seeds, scikit-learn's
    ``VotingClassifier(voting="soft")`` (behind the same ``Frames`` step when the grid had
    one): seeds 0-4, 5-9 and 10-14, test accuracy of each vote and of its members.
``health``
    Training health, LSTM and GRU side by side (issue 17): H=32, batch 16, Adam at lr 1e-2 and
    3e-3, alpha 0, pooling "last", all 200 epochs (skrnn: ``tol=0``,
    ``n_iter_no_change=max_iter + 1``), seeds 0-4 on each side, on ArrowHead and
    PickupGestureWiimoteZ: skrnn's LSTM and GRU, PyTorch's LSTM, and with
    ``--health-torch-cells lstm gru`` PyTorch's GRU as well (left out by default: on one CPU
    thread it trains 5-8 times slower than PyTorch's LSTM, about 40-120 s a fit here, and
    would double the run). Reported per seed (JSON) and summarised: the final training loss
    (mean cross-entropy of the fitted model's probabilities on the whole training set, the same
    function for both libraries), the number of seeds whose final loss is above 0.1, test
    accuracy; the JSON also holds each fit's loss curve every 10 epochs. Variants that swap
    the initial weights between the libraries (``--health-variants``, off by default; the
    LSTM only) show whether a difference comes from the initialisation: skrnn starting from
    PyTorch's initial weights for the same seed; skrnn's own scheme with a forget-gate bias of
    0 instead of 1; PyTorch starting from skrnn's initial weights; and PyTorch starting from
    them and shuffling the batches in the order of the skrnn fit (a copy of the fit's
    generator taken after the initial weights). skrnn's initial weights are replaced by
    wrapping ``RecurrentNetwork.init_params`` for one fit (the wrapped function still runs and
    draws from the fit's generator, so the shuffling order is that of the plain skrnn fit).
``forecast``
    ``RNNForecaster`` at the installed version's defaults (a window of 12 steps, the default
    regressor) with ``strategy="recursive"`` (the default ``horizon=1`` with "direct" forecasts
    one step only), and with ``horizon`` = the held-out length ("direct"); seeds 0, 1, 2
    through ``np.random.seed`` (the default regressor has ``random_state=None`` and draws from
    NumPy's global generator, so its own defaults stay untouched). References: the
    seasonal-naive forecast (the last 12 months repeated) and statsmodels' Holt-Winters
    (``ExponentialSmoothing``, additive trend, multiplicative season for airline, additive for
    co2).

Only parameters that exist in the installed skrnn are passed (the script runs against older
and newer versions): ``--label`` names the version in the tables and in the results file,
``benchmarks/results/learning_<label>.json``. A run with ``--only`` or ``--datasets`` updates
what it ran in an existing file of the same label (per data set; for the health part per data
set, cell, learning rate, seed and side), and the file's ``history`` lists every run with its
arguments and seconds. ``--report FILE ...`` prints the tables of saved results files, several
labels side by side, without fitting anything.

Everything runs on one thread (threadpoolctl for NumPy's BLAS, ``torch.set_num_threads(1)``),
one fit at a time. Progress goes to stderr, the markdown tables to stdout.

Measured run times, one thread on a shared 2-core machine (AMD EPYC), skrnn 8cc8649: the
full run with the default options about 33 minutes, measured by part (defaults 0.5, grid 11.7,
torch 6.4, health 13-14, forecast 0.3 minutes; the torch part is mostly PyTorch's GRU, about
2 minutes a fit on PickupGestureWiimoteZ). ``--health-torch-cells lstm gru`` adds about 22
minutes, ``--health-variants`` (all four) about 18. ``--quick``: about 15 seconds.

Examples
--------
    python benchmarks/bench_learning.py --quick
    PYTHONPATH=/path/to/skrnn python benchmarks/bench_learning.py --label before
    python benchmarks/bench_learning.py --label after --only defaults forecast
    python benchmarks/bench_learning.py --only health --health-lrs 1e-2 --health-seeds 3
    python benchmarks/bench_learning.py --report benchmarks/results/learning_before.json \\
        benchmarks/results/learning_after.json
"""

import argparse
import ast
import copy
import datetime
import itertools
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import VotingClassifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

import skrnn  # the version on PYTHONPATH (or the installed one): this script never adds paths
from skrnn import RNNClassifier, RNNForecaster, RNNRegressor
from skrnn.nn.optimizers import Adam as SkrnnAdam

import torch
import torch.nn.functional as torch_F

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CLASSIFICATION = ("ArrowHead", "ItalyPowerDemand", "PickupGestureWiimoteZ")
SERIES = {"airline": 24, "co2": 60}  # series -> held-out months
# Published test accuracies on these splits (issue 17): (model, accuracy) pairs.
PUBLISHED = {
    "ArrowHead": (("FCN", 0.843), ("LSTM-FCN", 0.897)),
    "ItalyPowerDemand": (("FCN", 0.963), ("ROCKET", 0.970)),
    "PickupGestureWiimoteZ": (("FCN", 0.744), ("ROCKET", 0.830)),
}
SEEDS = (0, 1, 2)
GRID = {"cell": ["gru", "lstm"], "pooling": ["last", "mean"],
        "hidden_layer_sizes": [(32,), (64,)], "learning_rate_init": [1e-2, 3e-3]}
# --grid wide: bidirectional networks of 64 units, the head reading the mean or the maximum
# over every step (the pooling skrnn 8cc8649 did not have is "max", so run it on newer code)
GRIDS = {"small": GRID,
         "wide": {"cell": ["gru", "lstm"], "pooling": ["mean", "max"], "bidirectional": [True],
                  "hidden_layer_sizes": [(64,)], "learning_rate_init": [3e-3]}}
# --grid frames: the same networks at 64 or 128 units, reading each run of 1, 8 or 16
# consecutive steps as one step (``Frames`` before the classifier in a Pipeline)
GRIDS["frames"] = {"frames": [1, 8, 16], "cell": ["gru"], "pooling": ["max"],
                   "bidirectional": [True], "hidden_layer_sizes": [(64,), (128,)],
                   "learning_rate_init": [3e-3]}
# --grid deep: two such layers of 128 units, dropout 0.3 or 0.5 between them, on frames of
# 8 or 16 steps
GRIDS["deep"] = {"frames": [8, 16], "cell": ["gru"], "pooling": ["max"], "bidirectional": [True],
                 "hidden_layer_sizes": [(128, 128)], "dropout": [0.3, 0.5],
                 "learning_rate_init": [3e-3]}
# --grid deep-cosine: the deep grid's networks on frames of 4 or 8, the learning rate held
# ("constant") or decayed to 0 over the epochs ("cosine"), alpha 1e-4 or 1e-3
GRIDS["deep-cosine"] = {"frames": [4, 8], "cell": ["gru"], "pooling": ["max"],
                        "bidirectional": [True], "hidden_layer_sizes": [(128, 128)],
                        "dropout": [0.3], "learning_rate_init": [3e-3],
                        "learning_rate": ["constant", "cosine"], "alpha": [1e-4, 1e-3]}
# --grid small-cosine: the small grid, each configuration with both schedules
GRIDS["small-cosine"] = dict(GRID, learning_rate=["constant", "cosine"])
# --grid wide-reg: the wide grid with both schedules and alpha 1e-4, 1e-3 or 1e-2
GRIDS["wide-reg"] = dict(GRIDS["wide"], learning_rate=["constant", "cosine"],
                         alpha=[1e-4, 1e-3, 1e-2])
GRID_FIXED = {"batch_size": 16, "max_iter": 200}
CV_FOLDS = 3
MAX_GRAD_NORM = 5.0
HEALTH_DATASETS = ("ArrowHead", "PickupGestureWiimoteZ")
HEALTH_LRS = (1e-2, 3e-3)
HEALTH_SEEDS = 5
HEALTH_EPOCHS = 200
HEALTH_HIDDEN = 32
HEALTH_BATCH = 16
STALLED = 0.1  # a final training loss above this counts as a stalled fit
HEALTH_VARIANTS = ("skrnn+torch-init", "skrnn+fb0", "torch+skrnn-init",
                   "torch+skrnn-init+order")
CELLS = ("lstm", "gru", "rnn")
TORCH_MODULES = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM, "rnn": torch.nn.RNN}
# the refit's parameters the PyTorch loop reproduces
MODEL_KEYS = ("cell", "hidden_layer_sizes", "pooling", "bidirectional", "learning_rate_init",
              "learning_rate", "max_iter", "batch_size",
              "alpha", "solver", "beta_1", "beta_2", "epsilon", "max_grad_norm", "dropout")
PARTS = ("defaults", "grid", "torch", "vote", "health", "forecast")
VOTE_SIZE = 5


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


# -- what runs ---------------------------------------------------------------------------------
def _git_commit(path):
    """The commit (and whether the work tree differs from it) of the checkout holding path."""
    try:
        run = dict(cwd=path, capture_output=True, text=True, timeout=10)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], **run).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               **run).stdout.strip()
        return commit + (" (modified)" if dirty else "") if commit else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def describe_run():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    skrnn_dir = Path(skrnn.__file__).resolve().parent
    import aeon
    return dict(date=datetime.datetime.now().isoformat(timespec="seconds"),
                machine=f"{platform.machine()}, {os.cpu_count()} logical CPUs, {cpu}",
                skrnn_file=str(skrnn_dir), skrnn_commit=_git_commit(skrnn_dir),
                versions=dict(python=platform.python_version(), skrnn=skrnn.__version__,
                              numpy=np.__version__, sklearn=sklearn.__version__,
                              torch=torch.__version__, aeon=aeon.__version__),
                threads=1, kernels=skrnn.get_config().get("kernels")
                if hasattr(skrnn, "get_config") else None)


def supported(cls, params):
    """The parameters of ``params`` that the installed ``cls`` has (the others are dropped,
    and named once on stderr)."""
    names = set(cls().get_params())
    missing = sorted(set(params) - names)
    if missing and (cls, tuple(missing)) not in _WARNED:
        _WARNED.add((cls, tuple(missing)))
        log(f"  [{cls.__name__} of this version has no {', '.join(missing)}: not passed]")
    return {k: v for k, v in params.items() if k in names}


_WARNED = set()


@contextmanager
def quiet():
    """Silence ConvergenceWarning (fixed budgets of epochs) and skrnn's notes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return dict(mean=float(np.mean(values)), median=float(np.median(values)),
                min=float(np.min(values)), max=float(np.max(values)), n=len(values))


# -- data --------------------------------------------------------------------------------------
class Data:
    """A classification split: X as skrnn takes it (an (n, T, F) float32 array, or a list of
    (T_i, F) float32 arrays), labels y (strings), and the padded copy both sides evaluate."""

    def __init__(self, X, y):
        self.X, self.y = X, np.asarray(y)
        self.classes, self.codes = np.unique(self.y, return_inverse=True)
        self.lengths = np.array([len(x) for x in X])
        self.ragged = isinstance(X, list)
        padded = np.zeros((len(X), self.lengths.max(), X[0].shape[1]), np.float32)
        for i, x in enumerate(X):
            padded[i, :len(x)] = x
        self.padded = padded

    def describe(self):
        T = (f"T={self.lengths.min()}-{self.lengths.max()}" if self.ragged
             else f"T={self.lengths[0]}")
        return f"n={len(self.y)} {T}, {len(self.classes)} classes"


def frames(X, width):
    """Each run of ``width`` consecutive steps of X as one step of ``width * F`` features.

    X is an (n, T, F) array or a list of (T_i, F) arrays; a sequence of T steps becomes
    ceil(T / width) steps, its last frame completed by repeating its last step."""
    def one(x):
        T, F = x.shape
        steps = -(-T // width)
        x = np.concatenate([x, np.repeat(x[-1:], steps * width - T, axis=0)])
        return x.reshape(steps, width * F)
    if width == 1:
        return X
    out = [one(np.asarray(x)) for x in X]
    return out if isinstance(X, list) else np.stack(out)


class Frames(TransformerMixin, BaseEstimator):
    """``frames(X, width)`` as a pipeline step (stateless)."""

    def __init__(self, width=1):
        self.width = width

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return frames(X, self.width)


def framed(data, width):
    """A Data split with ``frames(data.X, width)`` as its sequences."""
    return data if width == 1 else Data(frames(data.X, width), data.y)


def _znorm(x):
    std = x.std()
    return (x - x.mean()) / (std if std > 0 else 1.0)


def load_dataset(name, znorm=True):
    """(train, test, notes) of a UCR data set through aeon."""
    from aeon.datasets import load_classification
    splits, stats = [], []
    for split in ("train", "test"):
        X, y = load_classification(name, split=split)
        seqs = [np.asarray(x, dtype=np.float64).T for x in X]  # (1, T) -> (T, 1)
        stats += [(abs(s.mean()), s.std(ddof=1)) for s in seqs]
        if znorm:
            seqs = [_znorm(s) for s in seqs]
        seqs = [s.astype(np.float32) for s in seqs]
        ragged = len({len(s) for s in seqs}) > 1
        splits.append(Data(seqs if ragged else np.stack(seqs), y))
    means, stds = np.array(stats).T
    notes = (f"as loaded: |mean| <= {means.max():.2g}, std (ddof=1) {stds.min():.3f}-"
             f"{stds.max():.3f}; {'z-normalised per series' if znorm else 'not normalised'}")
    return splits[0], splits[1], notes


def load_series(name):
    """A monthly series as a float array."""
    if name == "airline":
        from aeon.datasets import load_airline
        return np.asarray(load_airline(), dtype=np.float64)
    import statsmodels.api as sm
    weekly = sm.datasets.co2.load_pandas().data["co2"]
    return weekly.resample("MS").mean().interpolate().to_numpy(dtype=np.float64)


# -- skrnn -------------------------------------------------------------------------------------
def log_loss(proba, codes):
    """Mean cross-entropy of probabilities (n, K) for the classes ``codes`` (float64)."""
    p = np.asarray(proba, dtype=np.float64)[np.arange(len(codes)), codes]
    return float(-np.mean(np.log(np.clip(p, 1e-15, None))))


def skrnn_fit(params, train, test):
    """Fit an RNNClassifier(**params) (only the parameters this version has) on train: a
    record of its test accuracy, epochs, fit seconds and final training loss."""
    est = RNNClassifier(**supported(RNNClassifier, params))
    with quiet():
        start = time.perf_counter()
        est.fit(train.X, train.y)
        seconds = time.perf_counter() - start
    return est, dict(test_acc=float(est.score(test.X, test.y)), n_iter=int(est.n_iter_),
                     fit_s=seconds, train_loss=log_loss(est.predict_proba(train.X), train.codes),
                     last_epoch_loss=float(est.loss_curve_[-1]))


@contextmanager
def initial_weights(replace):
    """Fits in this block start from ``replace(network, theta)`` instead of skrnn's own initial
    weights ``theta`` (which are still drawn, so the rest of the fit's random draws are those of
    a plain fit)."""
    from skrnn.nn import RecurrentNetwork
    original = RecurrentNetwork.init_params

    def init_params(self, rng, dtype=np.float64, **kwargs):
        return replace(self, original(self, rng, dtype, **kwargs), rng, dtype)

    RecurrentNetwork.init_params = init_params
    try:
        yield
    finally:
        RecurrentNetwork.init_params = original


# -- PyTorch -----------------------------------------------------------------------------------
class TorchClassifier(torch.nn.Module):
    """One recurrent layer (batch_first) and a linear head on the last real step's output, or
    on the mean or the maximum of the outputs over the real steps. A bidirectional layer
    reads packed sequences (its backward direction must start at each sequence's last real
    step); its "last" joins the forward state after the last real step with the backward
    state after the first, as skrnn's does."""

    def __init__(self, cell, n_features, hidden, n_classes, pooling="last",
                 bidirectional=False, num_layers=1, dropout=0.0):
        super().__init__()
        self.rnn = TORCH_MODULES[cell](n_features, hidden, num_layers=num_layers,
                                       dropout=dropout, batch_first=True,
                                       bidirectional=bidirectional)
        self.head = torch.nn.Linear(hidden * (2 if bidirectional else 1), n_classes)
        self.pooling = pooling
        self.bidirectional = bidirectional

    def forward(self, x, lengths):
        """x: (B, T, F) padded after each sequence's end; lengths: (B,) int64."""
        if self.bidirectional:
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                             enforce_sorted=False)
            out, _ = self.rnn(packed)
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                            total_length=x.shape[1])
        else:
            out, _ = self.rnn(x)
        real = torch.arange(out.shape[1])[None, :] < lengths[:, None]
        if self.pooling == "last":
            feats = out[torch.arange(len(lengths)), lengths - 1]
            if self.bidirectional:
                H = out.shape[2] // 2
                feats = torch.cat([feats[:, :H], out[:, 0, H:]], dim=1)
        elif self.pooling == "mean":
            real = real.to(out.dtype)
            feats = (out * real[:, :, None]).sum(dim=1) / lengths[:, None].to(out.dtype)
        elif self.pooling == "max":
            feats = out.masked_fill(~real[:, :, None], float("-inf")).amax(dim=1)
        else:
            raise ValueError(f"pooling {self.pooling!r} is not implemented here")
        return self.head(feats)

    def skrnn_state(self):
        """The weights under skrnn's state-dict names."""
        return {k.removeprefix("rnn."): v.detach().numpy().copy()
                for k, v in self.state_dict().items()}

    def load_skrnn_state(self, state):
        self.load_state_dict({(k if k.startswith("head.") else f"rnn.{k}"):
                              torch.from_numpy(np.asarray(v, dtype=np.float32))
                              for k, v in state.items()}, strict=True)


def torch_model(cell, hidden, n_features, n_classes, pooling, seed, bidirectional=False,
                num_layers=1, dropout=0.0):
    """PyTorch's model with its own initial weights for ``seed``: ``num_layers`` layers of
    ``hidden`` units, ``dropout`` on the outputs of every layer but the last (skrnn's
    ``dropout`` between layers)."""
    torch.manual_seed(seed)
    return TorchClassifier(cell, n_features, hidden, n_classes, pooling, bidirectional,
                           num_layers, dropout)


def torch_proba(model, data):
    model.eval()  # no dropout
    with torch.inference_mode():
        logits = model(torch.from_numpy(data.padded), torch.from_numpy(data.lengths))
        return torch.softmax(logits.double(), dim=1).numpy()


def torch_fit(model, train, test, lr, batch_size, epochs, alpha, seed, order_rng=None,
              schedule="constant", max_iter=None):
    """Train ``model`` as skrnn trains (module docstring); a record like skrnn_fit's.

    Each epoch shuffles with ``torch.randperm`` seeded by ``seed``, or with
    ``order_rng.permutation`` when a NumPy generator is given (a copy of a skrnn fit's
    generator as it was after drawing the initial weights gives that fit's batch order).
    ``schedule`` "cosine" sets each epoch's rate from skrnn's own schedule (its Adam, used
    only for the rate, stepped at the end of every epoch as a fit steps it); "constant" keeps
    ``lr``."""
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"the PyTorch loop implements the constant and cosine schedules, "
                         f"not {schedule!r}")
    rates = SkrnnAdam(lr, lr_schedule=schedule, n_epochs=max_iter)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    weights = [p for name, p in model.named_parameters() if "weight" in name]
    X, L = torch.from_numpy(train.padded), torch.from_numpy(train.lengths)
    y = torch.from_numpy(train.codes.astype(np.int64))
    n, curve = len(y), []
    start = time.perf_counter()
    for epoch in range(epochs):
        rates.iteration_ends(0, epoch)  # the rate of epoch `epoch` (after `epoch` epochs)
        for group in optimizer.param_groups:
            group["lr"] = rates.learning_rate
        order = (torch.randperm(n, generator=generator) if order_rng is None
                 else torch.from_numpy(order_rng.permutation(n)))
        total = 0.0
        for s in range(0, n, batch_size):
            idx = order[s:s + batch_size]
            lengths = L[idx]
            optimizer.zero_grad()
            loss = torch_F.cross_entropy(model(X[idx, :int(lengths.max())], lengths), y[idx])
            if alpha:
                loss = loss + 0.5 * alpha / len(idx) * sum((w * w).sum() for w in weights)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
            optimizer.step()
            total += loss.item() * len(idx)
        curve.append(total / n)
    seconds = time.perf_counter() - start
    test_acc = float(np.mean(torch_proba(model, test).argmax(axis=1) == test.codes))
    return dict(test_acc=test_acc, n_iter=epochs, fit_s=seconds,
                train_loss=log_loss(torch_proba(model, train), train.codes),
                last_epoch_loss=curve[-1] if curve else None), curve


# -- parts -------------------------------------------------------------------------------------
def run_defaults(datasets, seeds, quick, changed=None):
    out = {}
    for name, (train, test, _) in datasets.items():
        runs = []
        for seed in seeds:
            params = dict(changed or {}, random_state=seed,
                          **({"max_iter": 5} if quick else {}))
            _, rec = skrnn_fit(params, train, test)
            runs.append(dict(seed=seed, **rec))
            log(f"  defaults {name} seed {seed}: test acc {rec['test_acc']:.3f}, "
                f"{rec['n_iter']} epochs, {rec['fit_s']:.1f} s")
        out[name] = dict(runs=runs, changed=dict(changed or {}),
                         defaults={k: repr(v) for k, v in RNNClassifier().get_params().items()})
    return out


def _vote_grid(grid, fixed):
    """The estimator and parameter grid that score each configuration of ``grid`` as a soft
    vote of VOTE_SIZE seeds (0 ... VOTE_SIZE - 1): scikit-learn's ``VotingClassifier`` of
    RNNClassifiers, one single-candidate grid per configuration setting every member alike."""
    names = [f"seed{s}" for s in range(VOTE_SIZE)]
    vote = VotingClassifier(
        [(m, RNNClassifier(**supported(RNNClassifier, dict(fixed, random_state=s))))
         for m, s in zip(names, range(VOTE_SIZE))], voting="soft")
    params = supported(RNNClassifier, {k: v for k, v in grid.items() if k != "frames"})
    keys = sorted(params)
    candidates = []
    for values in itertools.product(*(params[k] for k in keys)):
        candidates.append({f"vote__{m}__{k}": [v] for m in names for k, v in zip(keys, values)})
    widths = grid.get("frames", [1])
    candidates = [dict(c, frames__width=[w]) for w in widths for c in candidates]
    return Pipeline([("frames", Frames()), ("vote", vote)]), candidates


def _config_of(params):
    """A candidate's parameters as one configuration: the rnn__ (or vote__seed0__) names
    without their prefix, the frame width as frames__width."""
    out = {}
    for k, v in params.items():
        if k.startswith("vote__"):
            member, _, name = k.removeprefix("vote__").partition("__")
            if member != "seed0":
                continue
            k = name
        out[k.removeprefix("rnn__")] = v
    return out


def run_grid(datasets, seeds, grid, fixed, select_by="single"):
    """GridSearchCV on the train split, each configuration scored as one model
    (``select_by="single"``, seed 0) or as a soft vote of VOTE_SIZE seeds ("vote"); the
    chosen configuration refitted as single models with ``seeds`` and scored on test."""
    out = {}
    for name, (train, test, _) in datasets.items():
        rnn = RNNClassifier(**supported(RNNClassifier, dict(fixed, random_state=0)))
        rnn_grid = supported(RNNClassifier, {k: v for k, v in grid.items() if k != "frames"})
        if select_by == "vote":
            base, param_grid = _vote_grid(grid, fixed)
        elif "frames" in grid:  # Frames -> RNNClassifier, the width searched with the rest
            base = Pipeline([("frames", Frames()), ("rnn", rnn)])
            param_grid = {"frames__width": grid["frames"],
                          **{f"rnn__{k}": v for k, v in rnn_grid.items()}}
        else:
            base, param_grid = rnn, rnn_grid
        cv = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=0)
        search = GridSearchCV(base, param_grid, cv=cv, n_jobs=1,
                              refit=False, error_score="raise")
        start = time.perf_counter()
        with quiet():
            search.fit(train.X, train.y)
        cv_s = time.perf_counter() - start
        best = _config_of(search.best_params_)
        width = best.pop("frames__width", 1)
        log(f"  grid {name}: best {best}, frames of {width}, CV accuracy "
            f"{search.best_score_:.3f} ({len(search.cv_results_['params'])} configurations, "
            f"{cv_s:.0f} s)")
        runs = []
        for seed in seeds:
            est, rec = skrnn_fit(dict(fixed, **best, random_state=seed), framed(train, width),
                                 framed(test, width))
            runs.append(dict(seed=seed, **rec))
            effective = {k: _jsonable(v) for k, v in est.get_params().items() if k in MODEL_KEYS}
            log(f"  grid refit {name} seed {seed}: test acc {rec['test_acc']:.3f}, "
                f"{rec['n_iter']} epochs, {rec['fit_s']:.1f} s")
        if "frames" in grid:
            effective["frames"] = best["frames"] = width
        table = [dict(params={k.replace("frames__width", "frames"): _jsonable(v)
                              for k, v in _config_of(p).items()}, cv_mean=float(m),
                      cv_std=float(s), fit_s=float(t))
                 for p, m, s, t in zip(search.cv_results_["params"],
                                       search.cv_results_["mean_test_score"],
                                       search.cv_results_["std_test_score"],
                                       search.cv_results_["mean_fit_time"])]
        out[name] = dict(best_params={k: _jsonable(v) for k, v in best.items()},
                         fixed={k: _jsonable(v) for k, v in fixed.items()},
                         effective=effective, cv_score=float(search.best_score_),
                         cv_folds=CV_FOLDS, cv_s=cv_s, select_by=select_by,
                         cv_results=table, runs=runs)
    return out


def _jsonable(v):
    return list(v) if isinstance(v, tuple) else v


def grid_choices(datasets, grid_results, part):
    """(name, train, test, the grid part's result) of each data set the grid part has run."""
    for name, (train, test, _) in datasets.items():
        if name not in grid_results:
            log(f"  {part} {name}: no grid result for this label; run --only grid first")
            continue
        yield name, train, test, grid_results[name]


def run_torch(datasets, grid_results):
    """The grid's chosen configuration in PyTorch, as many epochs as each skrnn refit ran."""
    out = {}
    for name, train, test, g in grid_choices(datasets, grid_results, "torch"):
        c = g["effective"]  # the refit's parameters
        if (c["solver"], c["beta_1"], c["beta_2"], c["epsilon"], c["max_grad_norm"]) != \
                ("adam", 0.9, 0.999, 1e-8, MAX_GRAD_NORM):
            raise ValueError(f"the PyTorch loop implements Adam(0.9, 0.999, 1e-8) and clipping "
                             f"at {MAX_GRAD_NORM} only, not {c}")
        sizes = np.atleast_1d(c["hidden_layer_sizes"])
        if len(set(sizes.tolist())) != 1:
            raise ValueError(f"the PyTorch model has layers of one size only, not {sizes}")
        width = c.get("frames", 1)  # the grid's Frames step, applied to both splits
        train, test = framed(train, width), framed(test, width)
        runs = []
        for r in g["runs"]:
            model = torch_model(c["cell"], int(sizes[0]), train.padded.shape[2],
                                len(train.classes), c.get("pooling", "last"), r["seed"],
                                bool(c.get("bidirectional", False)), len(sizes),
                                float(c.get("dropout", 0.0)))
            rec, _ = torch_fit(model, train, test, c["learning_rate_init"], c["batch_size"],
                               r["n_iter"], c["alpha"], r["seed"],
                               schedule=c.get("learning_rate", "constant"),
                               max_iter=c.get("max_iter"))
            runs.append(dict(seed=r["seed"], **rec))
            log(f"  torch {name} seed {r['seed']}: test acc {rec['test_acc']:.3f}, "
                f"{rec['n_iter']} epochs, {rec['fit_s']:.1f} s")
        out[name] = dict(config=c, runs=runs)
    return out


def run_vote(datasets, seeds, grid_results):
    """The grid's chosen configuration as a soft vote of VOTE_SIZE seeds, seeds
    VOTE_SIZE * r ... VOTE_SIZE * r + VOTE_SIZE - 1 for each r in ``seeds``."""
    out = {}
    for name, train, test, g in grid_choices(datasets, grid_results, "vote"):
        params = dict(g["fixed"], **g["best_params"])
        width = params.pop("frames", 1)
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        tr, te = framed(train, width), framed(test, width)
        runs = []
        for r in seeds:
            members = [(f"seed {s}", RNNClassifier(**supported(
                RNNClassifier, dict(params, random_state=s))))
                for s in range(VOTE_SIZE * r, VOTE_SIZE * (r + 1))]
            vote = VotingClassifier(members, voting="soft")
            with quiet():
                start = time.perf_counter()
                vote.fit(tr.X, tr.y)
                seconds = time.perf_counter() - start
            codes = vote.le_.transform(te.y)
            member_accs = [float(m.score(te.X, codes)) for m in vote.estimators_]
            runs.append(dict(seeds=[s for s in range(VOTE_SIZE * r, VOTE_SIZE * (r + 1))],
                             test_acc=float(vote.score(te.X, te.y)), member_accs=member_accs,
                             n_iter=float(np.mean([m.n_iter_ for m in vote.estimators_])),
                             fit_s=seconds))
            log(f"  vote {name} seeds {runs[-1]['seeds']}: test acc {runs[-1]['test_acc']:.3f} "
                f"(members {np.round(member_accs, 3).tolist()}), {seconds:.0f} s")
        out[name] = dict(config=dict(g["effective"], frames=width), size=VOTE_SIZE, runs=runs)
    return out


def _health_params(cell, lr, seed, epochs):
    return dict(cell=cell, hidden_layer_sizes=(HEALTH_HIDDEN,), batch_size=HEALTH_BATCH,
                learning_rate_init=lr, alpha=0.0, max_iter=epochs, tol=0.0,
                n_iter_no_change=epochs + 1, max_grad_norm=MAX_GRAD_NORM, pooling="last",
                random_state=seed)


def _curve_points(curve, every=10):
    """Every ``every``-th epoch's loss, and the last."""
    points = list(curve[every - 1::every])
    if curve and len(curve) % every:
        points.append(curve[-1])
    return [float(v) for v in points]


def run_health(datasets, cells, torch_cells, lrs, seeds, epochs, variants):
    """skrnn's fits of ``cells`` and PyTorch's of ``torch_cells``, each seed side by side."""
    out = []
    for name, (train, test, _) in datasets.items():
        n_features, n_classes = train.padded.shape[2], len(train.classes)
        for lr in lrs:
            for cell in dict.fromkeys(list(cells) + list(torch_cells)):
                for seed in seeds:
                    params = _health_params(cell, lr, seed, epochs)
                    inits, fits = {}, []

                    def remember(net, theta, rng, dtype):
                        inits["skrnn"] = net.state_dict(theta)
                        inits["rng"] = copy.deepcopy(rng)  # as the fit's shuffling starts
                        return theta

                    if cell in cells:
                        with initial_weights(remember):
                            est, rec = skrnn_fit(params, train, test)
                        fits.append(("skrnn", rec, est.loss_curve_))
                    model = torch_model(cell, HEALTH_HIDDEN, n_features, n_classes, "last", seed)
                    torch_init = model.skrnn_state()
                    if cell in torch_cells:
                        rec, curve = torch_fit(model, train, test, lr, HEALTH_BATCH, epochs, 0.0,
                                               seed)
                        fits.append(("torch", rec, curve))
                    if cell == "lstm":
                        fits += _init_variants(variants, params, train, test, lr, epochs, seed,
                                               inits.get("skrnn"), torch_init, inits.get("rng"))
                    for side, r, curve in fits:
                        out.append(dict(dataset=name, cell=cell, lr=lr, seed=seed, side=side,
                                        **r, curve_every_10=_curve_points(curve)))
                    log(f"  health {name} {cell} lr {lr:g} seed {seed}: final train loss "
                        + ", ".join(f"{side} {r['train_loss']:.4f}" for side, r, _ in fits)
                        + "; test acc "
                        + ", ".join(f"{side} {r['test_acc']:.3f}" for side, r, _ in fits)
                        + " (" + ", ".join(f"{r['fit_s']:.0f}" for _, r, _ in fits) + " s)")
    return out


def _init_variants(variants, params, train, test, lr, epochs, seed, skrnn_init, torch_init,
                   skrnn_rng):
    """The LSTM fits of the variants that swap initial weights (module docstring)."""
    fits = []
    if "skrnn+torch-init" in variants:
        def from_torch(net, theta, rng, dtype):
            return net.params_from_state_dict(torch_init, dtype)

        with initial_weights(from_torch):
            est, rec = skrnn_fit(params, train, test)
        fits.append(("skrnn+torch-init", rec, est.loss_curve_))
    if "skrnn+fb0" in variants:
        def no_forget_bias(net, theta, rng, dtype):
            state = net.state_dict(theta)
            H = state["bias_ih_l0"].shape[0] // 4
            state["bias_ih_l0"][H:2 * H] = 0.0  # PyTorch's gate order: i, f, g, o
            return net.params_from_state_dict(state, dtype)

        with initial_weights(no_forget_bias):
            est, rec = skrnn_fit(params, train, test)
        fits.append(("skrnn+fb0", rec, est.loss_curve_))
    if "torch+skrnn-init" in variants and skrnn_init is not None:
        model = torch_model("lstm", HEALTH_HIDDEN, train.padded.shape[2], len(train.classes),
                            "last", seed)
        model.load_skrnn_state(skrnn_init)
        rec, curve = torch_fit(model, train, test, lr, HEALTH_BATCH, epochs, 0.0, seed)
        fits.append(("torch+skrnn-init", rec, curve))
    if "torch+skrnn-init+order" in variants and skrnn_init is not None:
        model = torch_model("lstm", HEALTH_HIDDEN, train.padded.shape[2], len(train.classes),
                            "last", seed)
        model.load_skrnn_state(skrnn_init)
        rec, curve = torch_fit(model, train, test, lr, HEALTH_BATCH, epochs, 0.0, seed,
                               order_rng=copy.deepcopy(skrnn_rng))
        fits.append(("torch+skrnn-init+order", rec, curve))
    return fits


def rmse(forecast, truth):
    return float(np.sqrt(np.mean((np.asarray(forecast, dtype=np.float64) - truth) ** 2)))


def run_forecast(series_names, seeds, quick):
    out = {}
    for name in series_names:
        y = load_series(name)
        h = SERIES[name]
        train, truth = y[:-h], y[-h:]
        rows = {}
        configs = {"recursive": dict(strategy="recursive"),
                   "direct": dict(horizon=h)}
        for label, params in configs.items():
            runs = []
            for seed in seeds:
                kwargs = supported(RNNForecaster, params)
                if quick:
                    kwargs["estimator"] = RNNRegressor(batch_size=32, max_iter=5, random_state=0)
                np.random.seed(seed)  # the default regressor draws from NumPy's global generator
                forecaster = RNNForecaster(**kwargs)
                with quiet():
                    start = time.perf_counter()
                    forecaster.fit(train)
                    seconds = time.perf_counter() - start
                    pred = forecaster.predict(steps=h)
                runs.append(dict(seed=seed, rmse=rmse(pred, truth),
                                 n_iter=int(forecaster.estimator_.n_iter_), fit_s=seconds))
                log(f"  forecast {name} {label} seed {seed}: RMSE {runs[-1]['rmse']:.2f}, "
                    f"{runs[-1]['n_iter']} epochs, {seconds:.1f} s")
            rows[label] = dict(params={k: _jsonable(v) for k, v in kwargs.items()
                                       if k != "estimator"}, runs=runs,
                               regressor=repr(forecaster.estimator_))
        rows["seasonal naive"] = dict(rmse=rmse(np.resize(train[-12:], h), truth))
        rows["Holt-Winters"] = dict(rmse=_holt_winters(name, train, h, truth))
        out[name] = dict(n_train=len(train), horizon=h, models=rows)
    return out


def _holt_winters(name, train, h, truth):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    seasonal = "mul" if name == "airline" else "add"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(train, trend="add", seasonal=seasonal,
                                   seasonal_periods=12).fit()
    return rmse(fit.forecast(h), truth)


# -- tables ------------------------------------------------------------------------------------
def _acc(s):
    return "-" if s is None else f"{s['mean']:.3f} [{s['min']:.3f}, {s['max']:.3f}]"


def _num(s, fmt=".0f"):
    if s is None:
        return "-"
    if s["min"] == s["max"]:
        return format(s["mean"], fmt)
    return f"{format(s['mean'], fmt)} [{format(s['min'], fmt)}-{format(s['max'], fmt)}]"


def _config(p):
    if not p:
        return ""
    hidden = p.get("hidden_layer_sizes")
    parts = [f"frames of {p['frames']}" if p.get("frames", 1) != 1 else "",
             ("bidirectional " if p.get("bidirectional") else "") + p.get("cell", ""),
             "H=" + "+".join(str(h) for h in np.atleast_1d(hidden)) if hidden else "",
             p.get("pooling", ""), f"lr {p['learning_rate_init']:g}"
             if "learning_rate_init" in p else "",
             f"{p['learning_rate']} schedule" if p.get("learning_rate", "constant") != "constant"
             else "", f"batch {p['batch_size']}"
             if "batch_size" in p else "", f"alpha {p['alpha']:g}" if "alpha" in p else "",
             f"dropout {p['dropout']:g}" if p.get("dropout") else ""]
    return ", ".join(x for x in parts if x)


def classification_table(results):
    """One row per (data set, model, label); results: list of loaded results files."""
    lines = ["| data set | model | version | config | test accuracy, mean [min, max] "
             "| epochs | fit s | published |",
             "|---|---|---|---|---|---|---|---|"]
    names = [n for n in CLASSIFICATION
             if any(n in r["parts"].get(p, {}) for r in results for p in
                    ("defaults", "grid", "torch", "vote"))]
    for name in names:
        published = " / ".join(f"{m} {a:.3f}" for m, a in PUBLISHED.get(name, ()))
        rows = []
        for part, model in (("defaults", "skrnn defaults"), ("grid", "skrnn grid-searched"),
                            ("torch", "PyTorch, grid's config"),
                            ("vote", f"skrnn grid's config, soft vote of {VOTE_SIZE} seeds")):
            for r in results:
                d = r["parts"].get(part, {}).get(name)
                if d is None:
                    continue
                runs = d["runs"]
                changed = "".join(f"{k}={v!r}, " for k, v in d.get("changed", {}).items())
                config = (f"`RNNClassifier({changed}random_state=s)`" if part == "defaults"
                          else _config(d.get("config") or d["effective"]))
                rows.append(f"| {name} | {model} | {r['label']} | {config} "
                            f"| {_acc(summary([x['test_acc'] for x in runs]))} "
                            f"| {_num(summary([x['n_iter'] for x in runs]))} "
                            f"| {_num(summary([x['fit_s'] for x in runs]), '.1f')} "
                            f"| {published} |")
        lines += rows
    return "\n".join(lines)


def grid_table(results):
    lines = ["| data set | version | chosen by CV | CV accuracy | CV s | "
             "best CV accuracy per cell (gru / lstm) |", "|---|---|---|---|---|---|"]
    for r in results:
        for name, d in r["parts"].get("grid", {}).items():
            per_cell = {}
            for row in d["cv_results"]:
                cell = row["params"].get("cell")
                per_cell[cell] = max(per_cell.get(cell, 0.0), row["cv_mean"])
            cells = " / ".join(f"{per_cell[c]:.3f}" for c in ("gru", "lstm") if c in per_cell)
            by = (f" (scored as soft votes of {VOTE_SIZE} seeds)"
                  if d.get("select_by") == "vote" else "")
            lines.append(f"| {name} | {r['label']} | {_config(d['best_params'])}{by} "
                         f"| {d['cv_score']:.3f} | {d['cv_s']:.0f} | {cells} |")
    return "\n".join(lines)


def health_table(results):
    lines = ["| data set | cell | lr | side | version | final train loss, median [min, max] "
             f"| seeds > {STALLED} | test accuracy, median [min, max] | fit s |",
             "|---|---|---|---|---|---|---|---|---|"]
    order = ("skrnn", "torch") + HEALTH_VARIANTS
    for r in results:
        rows = r["parts"].get("health", [])
        keys = sorted(dict.fromkeys((x["dataset"], x["cell"], x["lr"]) for x in rows),
                      key=lambda k: (_rank(CLASSIFICATION, k[0]), -k[2], _rank(CELLS, k[1])))
        for dataset, cell, lr in keys:
            for side in order:
                sel = [x for x in rows if (x["dataset"], x["cell"], x["lr"], x["side"])
                       == (dataset, cell, lr, side)]
                if not sel:
                    continue
                loss = summary([x["train_loss"] for x in sel])
                acc = summary([x["test_acc"] for x in sel])
                stalled = sum(x["train_loss"] > STALLED for x in sel)
                lines.append(
                    f"| {dataset} | {cell} | {lr:g} | {SIDE_NAMES.get(side, side)} "
                    f"| {r['label']} | {loss['median']:.4f} [{loss['min']:.4f}, "
                    f"{loss['max']:.4f}] | {stalled} of {len(sel)} "
                    f"| {acc['median']:.3f} [{acc['min']:.3f}, {acc['max']:.3f}] "
                    f"| {_num(summary([x['fit_s'] for x in sel]), '.1f')} |")
    return "\n".join(lines)


def _rank(order, x):
    return order.index(x) if x in order else len(order)


SIDE_NAMES = {"skrnn": "skrnn", "torch": "PyTorch",
              "skrnn+torch-init": "skrnn from PyTorch's initial weights",
              "skrnn+fb0": "skrnn, forget-gate bias 0",
              "torch+skrnn-init": "PyTorch from skrnn's initial weights",
              "torch+skrnn-init+order": "PyTorch from skrnn's initial weights, in skrnn's "
                                        "batch order"}


def forecast_table(results):
    lines = ["| series | held out | model | version | RMSE, mean [min, max] | epochs | fit s |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        for name, d in r["parts"].get("forecast", {}).items():
            for model, m in d["models"].items():
                if "runs" in m:
                    params = ", ".join(f"{k}={v!r}" for k, v in m["params"].items())
                    s = summary([x["rmse"] for x in m["runs"]])
                    lines.append(
                        f"| {name} | last {d['horizon']} of {d['n_train'] + d['horizon']} "
                        f"| `RNNForecaster({params})` | {r['label']} "
                        f"| {s['mean']:.2f} [{s['min']:.2f}, {s['max']:.2f}] "
                        f"| {_num(summary([x['n_iter'] for x in m['runs']]))} "
                        f"| {_num(summary([x['fit_s'] for x in m['runs']]), '.1f')} |")
                else:
                    lines.append(f"| {name} | last {d['horizon']} of "
                                 f"{d['n_train'] + d['horizon']} | {model} | - "
                                 f"| {m['rmse']:.2f} | - | - |")
    return "\n".join(lines)


def print_tables(results):
    def has(part):
        return any(r["parts"].get(part) for r in results)

    for r in results:
        m = r["meta"]
        print(f"<!-- {r['label']}: skrnn {m['skrnn_commit']} ({m['skrnn_file']}), {m['date']}, "
              f"{m['machine']}, one thread; "
              + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + " -->")
    print()
    if has("defaults") or has("grid") or has("torch") or has("vote"):
        print("### Classification: test accuracy over seeds (0-2 unless the text says "
              "otherwise)\n")
        print(classification_table(results) + "\n")
    if has("grid"):
        print(f"### The grid search ({CV_FOLDS}-fold CV on the train split)\n")
        print(grid_table(results) + "\n")
    if has("health"):
        print(f"### Training health: final training loss after all epochs (H={HEALTH_HIDDEN}, "
              f"batch {HEALTH_BATCH}, alpha 0)\n")
        print(health_table(results) + "\n")
    if has("forecast"):
        print("### Forecasting: RMSE on the held-out months\n")
        print(forecast_table(results) + "\n")
    for r in results:
        runs = r.get("history") or [dict(argv=None, seconds=r.get("seconds", {}))]
        for run in runs:
            args = "" if run.get("argv") is None else f" (`{' '.join(run['argv'])}`)"
            when = f" {run['date']}" if run.get("date") else ""
            print(f"Run time, {r['label']}{when}{args}: " + ", ".join(
                f"{part} {v / 60:.1f} min" for part, v in run["seconds"].items()))


def merge(old, new):
    """A part's saved results updated with a new run's: per data set (or series), and for the
    health part per (data set, cell, lr, seed, side)."""
    if old is None:
        return new
    if isinstance(new, dict):
        return {**old, **new}

    def key(x):
        return x["dataset"], x["cell"], x["lr"], x["seed"], x["side"]

    replaced = {key(x) for x in new}
    return [x for x in old if key(x) not in replaced] + new


# -- main --------------------------------------------------------------------------------------
def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--label", default="run",
                   help="the version's name in the tables and the results file (default: run)")
    p.add_argument("--only", nargs="+", metavar="PART",
                   help=f"parts to run, among {', '.join(PARTS)} (commas also accepted)")
    p.add_argument("--datasets", nargs="+", metavar="NAME",
                   help=f"among {', '.join(CLASSIFICATION + tuple(SERIES))} (default: all, "
                        f"and for the health part {' and '.join(HEALTH_DATASETS)})")
    p.add_argument("--set", nargs="+", default=[], metavar="NAME=VALUE",
                   help="the defaults part: change these parameters (a Python literal each, "
                        "e.g. learning_rate_init=0.003); the rest stay at the defaults")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: ItalyPowerDemand and airline, 5 epochs, one seed, a grid "
                        "of 2 configurations; no results file unless --out")
    p.add_argument("--grid", choices=sorted(GRIDS), default="small",
                   help="the grid part's configurations (GRIDS; default: small)")
    p.add_argument("--select-by", choices=("single", "vote"), default="single",
                   help="the grid part scores each configuration as one model (seed 0; the "
                        f"default) or as a soft vote of {VOTE_SIZE} seeds (VotingClassifier)")
    p.add_argument("--seeds", type=int, default=len(SEEDS),
                   help="seeds 0..N-1 for the defaults, grid, torch and forecast parts (default 3)")
    p.add_argument("--health-lrs", nargs="+", type=float, default=list(HEALTH_LRS))
    p.add_argument("--health-seeds", type=int, default=HEALTH_SEEDS)
    p.add_argument("--health-epochs", type=int, default=HEALTH_EPOCHS)
    p.add_argument("--health-cells", nargs="*", default=["lstm", "gru"],
                   choices=["lstm", "gru"], help="skrnn's cells (default: lstm gru)")
    p.add_argument("--health-torch-cells", nargs="*", default=["lstm"],
                   choices=["lstm", "gru"],
                   help="PyTorch's cells (default: lstm; PyTorch's GRU trains 5-8 times slower "
                        "than its LSTM on one CPU thread: gru adds about 20 minutes)")
    p.add_argument("--health-variants", nargs="*", choices=HEALTH_VARIANTS,
                   help=f"LSTM fits from swapped initial weights (default none; no value: "
                        f"{' '.join(HEALTH_VARIANTS)})")
    p.add_argument("--no-znorm", action="store_true",
                   help="do not z-normalise the classification series")
    p.add_argument("--out", help="results file (default benchmarks/results/learning_<label>.json)")
    p.add_argument("--report", nargs="+", metavar="FILE",
                   help="print the tables of saved results files and exit")
    args = p.parse_args(argv)
    args.changed = {}
    for item in args.set:
        name, eq, value = item.partition("=")
        if not (eq and name):
            p.error(f"--set {item}: expected NAME=VALUE, e.g. learning_rate_init=0.003")
        try:
            args.changed[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            p.error(f"--set {item}: the value must be a Python literal, e.g. 0.003 or (64,)")
    if args.health_variants is None:
        args.health_variants = []
    elif not args.health_variants:
        args.health_variants = list(HEALTH_VARIANTS)
    if args.only:
        args.only = [x for part in args.only for x in part.split(",") if x]
        bad = set(args.only) - set(PARTS)
        if bad:
            p.error(f"unknown parts {sorted(bad)}; choose among {PARTS}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.report:
        print_tables([json.loads(Path(f).read_text()) for f in args.report])
        return
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    parts = args.only or list(PARTS)
    if args.quick:
        names = args.datasets or ["ItalyPowerDemand", "airline"]
        seeds, grid, fixed = [0], {"cell": ["gru", "lstm"]}, dict(GRID_FIXED, max_iter=5)
        health_lrs, health_seeds, health_epochs = args.health_lrs[:1], 1, 5
    else:
        names = args.datasets or list(CLASSIFICATION + tuple(SERIES))
        seeds, grid, fixed = list(range(args.seeds)), GRIDS[args.grid], GRID_FIXED
        health_lrs, health_seeds = args.health_lrs, args.health_seeds
        health_epochs = args.health_epochs
    unknown = set(names) - set(CLASSIFICATION) - set(SERIES)
    if unknown:
        raise SystemExit(f"unknown data sets {sorted(unknown)}")
    out_path = Path(args.out) if args.out else (
        None if args.quick else RESULTS_DIR / f"learning_{args.label}.json")
    meta = describe_run()
    log(f"skrnn {meta['skrnn_file']} ({meta['skrnn_commit']}), label {args.label!r}, "
        f"parts {', '.join(parts)}")

    results = dict(label=args.label, meta=meta, parts={}, seconds={})
    if out_path is not None and out_path.exists():
        old = json.loads(out_path.read_text())
        results["parts"], results["seconds"] = old.get("parts", {}), old.get("seconds", {})
        results["history"] = old.get("history", [])
    results["meta"] = meta
    results["settings"] = dict(quick=args.quick, znorm=not args.no_znorm, seeds=seeds,
                               grid={k: [_jsonable(v) for v in vs] for k, vs in grid.items()},
                               grid_fixed=fixed, cv_folds=CV_FOLDS, select_by=args.select_by,
                               health=dict(lrs=health_lrs, seeds=health_seeds,
                                           epochs=health_epochs, hidden=HEALTH_HIDDEN,
                                           batch=HEALTH_BATCH, cells=args.health_cells,
                                           torch_cells=args.health_torch_cells,
                                           variants=args.health_variants))
    classification = [n for n in names if n in CLASSIFICATION]
    datasets = {}
    for name in classification:
        train, test, notes = load_dataset(name, znorm=not args.no_znorm)
        datasets[name] = (train, test, notes)
        log(f"{name}: train {train.describe()}, test {test.describe()}; {notes}")
    results.setdefault("data", {}).update(
        {n: dict(train=d[0].describe(), test=d[1].describe(), notes=d[2])
         for n, d in datasets.items()})
    ran = {}
    started = time.perf_counter()
    with threadpool_limits(1):
        for part in PARTS:
            if part not in parts:
                continue
            log(f"-- {part}")
            t0 = time.perf_counter()
            if part == "defaults":
                ran[part] = run_defaults(datasets, seeds, args.quick, args.changed)
            elif part == "grid":
                ran[part] = run_grid(datasets, seeds, grid, fixed, args.select_by)
            elif part == "torch":
                grid_results = ran.get("grid", results["parts"].get("grid", {}))
                ran[part] = run_torch(datasets, grid_results)
            elif part == "vote":
                grid_results = ran.get("grid", results["parts"].get("grid", {}))
                ran[part] = run_vote(datasets, seeds, grid_results)
            elif part == "health":
                chosen = {n: d for n, d in datasets.items()
                          if args.quick or args.datasets or n in HEALTH_DATASETS}
                ran[part] = run_health(chosen, args.health_cells, args.health_torch_cells,
                                       health_lrs,
                                       list(range(health_seeds)), health_epochs,
                                       args.health_variants)
            elif part == "forecast":
                ran[part] = run_forecast([n for n in names if n in SERIES], seeds, args.quick)
            results["parts"][part] = merge(results["parts"].get(part), ran[part])
            results["seconds"][part] = time.perf_counter() - t0
            log(f"   {part}: {results['seconds'][part]:.0f} s")
            if out_path is not None:  # after every part, so that an interrupted run keeps it
                out_path.parent.mkdir(parents=True, exist_ok=True)
                out_path.write_text(json.dumps(results, indent=1) + "\n")
    total = time.perf_counter() - started
    results.setdefault("history", []).append(
        dict(date=meta["date"], argv=sys.argv[1:] if argv is None else list(argv),
             seconds={p: results["seconds"][p] for p in ran}))
    if out_path is not None:
        out_path.write_text(json.dumps(results, indent=1) + "\n")
    log(f"total {total:.0f} s" + (f"; results in {out_path}" if out_path else ""))
    print_tables([dict(results, parts=ran,
                       seconds={p: results["seconds"][p] for p in ran})])


if __name__ == "__main__":
    main()
