"""How the estimators train: mini-batch epochs with early stopping, and full-batch L-BFGS.

The functions here take a fitted-to-be estimator and change its fitted state only: its weights
``theta_``, its optimizer (which keeps its own learning-rate schedule) and the records of the
fit (``loss_curve_``, ``n_iter_``, ...). What is optimised is the estimator's ``_objective``;
the math is in :mod:`skrnn.nn`.

One epoch is a pass over shuffled mini-batches; after each epoch the training loss (or, with
early stopping, the loss on the held-out sequences) is compared with the best so far, the best
weights are kept, and more than ``n_iter_no_change`` epochs without an improvement of ``tol``
ask the optimizer whether to stop (scikit-learn's ``trigger_stopping``). A non-finite loss,
gradient or weight stops the fit with the weights of the best epoch; so does an interrupt
(Ctrl-C).
"""

import sys
import time
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from .nn.optimizers import clip_grad_norm, minimize_lbfgs

__all__ = ["TrainingData", "fit_stochastic", "fit_lbfgs", "split_validation",
           "run_minibatch_epoch", "update", "diverged", "RECORDS", "start_records"]


class TrainingData(NamedTuple):
    """Training sequences with their targets and loss weights (rows are sequences)."""

    X3: np.ndarray  # (n, T, n_features), zero at padded steps
    lengths: np.ndarray  # (n,)
    Y: np.ndarray  # targets as the network takes them, one row per sequence
    weights: np.ndarray  # (n,) or (n, T): loss weights

    def take(self, rows):
        """The sequences ``rows``, their padding trimmed to the longest of them."""
        lengths = self.lengths[rows]
        T = int(lengths.max())
        return TrainingData(self.X3[rows, :T], lengths, self.Y[rows], self.weights[rows])


# batch_size="auto": every sequence in one batch up to FULL_BATCH_UP_TO sequences, else
# batches of AUTO_BATCH. MLP's min(200, n) gave tutorial-sized data one update per epoch;
# batches of 32 (Keras's default) trained better on small text and digit tasks (see the
# parameter's documentation), and data of at most 64 sequences keep full-batch steps, under
# which integer sample weights and repeated sequences give the same fit.
FULL_BATCH_UP_TO = 64
AUTO_BATCH = 32


# The records of a stochastic fit, declared once for every estimator's ``_fitted_state``:
# what skrnn.persistence saves, with the kind of value each holds.
RECORDS = {
    "n_iter_": "int",
    "t_": "int",
    "loss_curve_": "floats",
    "grad_norm_curve_": "floats",
    "best_loss_": "float",
    "validation_scores_": "floats or None",
    "best_validation_score_": "float or None",
    # files written before early stopping watched the validation loss lack these two
    "validation_loss_curve_": "floats or None, optional",
    "best_validation_loss_": "float or None, optional",
    "_no_improvement_count": "int",
}


def start_records(est):
    """The records of a new fit (:data:`RECORDS`), empty."""
    est.n_iter_ = 0
    est.t_ = 0
    est.loss_curve_ = []
    est.grad_norm_curve_ = []
    est.best_loss_ = np.inf
    est.validation_scores_ = [] if est.early_stopping else None
    est.best_validation_score_ = -np.inf if est.early_stopping else None
    est.validation_loss_curve_ = [] if est.early_stopping else None
    est.best_validation_loss_ = np.inf if est.early_stopping else None
    est._no_improvement_count = 0


def _start_validation_records(est):
    """The validation records of a warm start that turns early stopping on (or of a model
    loaded from a file that predates the validation loss)."""
    if getattr(est, "validation_scores_", None) is None:
        est.validation_scores_, est.best_validation_score_ = [], -np.inf
    if getattr(est, "validation_loss_curve_", None) is None:
        est.validation_loss_curve_, est.best_validation_loss_ = [], np.inf


def auto_batch_size(n):
    """The mini-batch size of batch_size="auto" for n training sequences."""
    return n if n <= FULL_BATCH_UP_TO else AUTO_BATCH


def fit_stochastic(est, data, rng, incremental, run_epoch=None, split=None):
    """Train with est's optimizer on mini-batches: ``max_iter`` epochs, or one for
    ``partial_fit`` (``incremental``), stopping early as the module docstring says.

    ``run_epoch(est, train, rng, best)`` and ``split(est, data, rng, incremental)`` replace
    the epoch of shuffled mini-batches (:func:`run_minibatch_epoch`) and the validation split
    of whole sequences (:func:`split_validation`): a language model trained on one stream
    cuts it into windows read in order, and holds out its end.
    """
    run_epoch = run_epoch or run_minibatch_epoch
    train, validation = (split or split_validation)(est, data, rng, incremental)
    if validation is not None:
        _start_validation_records(est)
    best = est.theta_.copy()  # the weights of the best epoch so far
    progress = Progress(est.verbose, 1 if incremental else est.max_iter)
    try:
        for _ in range(1 if incremental else est.max_iter):
            start = time.perf_counter()
            loss, grad_norm, best = run_epoch(est, train, rng, best)
            if loss is None:  # diverged: the best epoch's weights are back
                return
            best = _record_epoch(est, loss, grad_norm, validation, best,
                                 time.perf_counter() - start, progress)
            if _should_stop(est, progress):
                break
        else:
            if not incremental:
                progress.end()
                warnings.warn(f"Stochastic optimizer: maximum iterations ({est.max_iter}) "
                              "reached and the optimization hasn't converged yet.",
                              ConvergenceWarning)
    except KeyboardInterrupt:
        progress.end()
        est.theta_ = best
        warnings.warn(f"fit was interrupted (KeyboardInterrupt) during epoch {est.n_iter_ + 1}; "
                      "the model keeps the weights of its best epoch so far.", UserWarning)
        return
    finally:
        progress.end()
    if est.early_stopping and not incremental:
        est.theta_ = best


def split_validation(est, data, rng, incremental):
    """Hold out ``validation_fraction`` of the sequences for early stopping: (train,
    validation or None)."""
    if not est.early_stopping or incremental:
        return data, None
    idx_train, idx_val = train_test_split(np.arange(len(data.lengths)),
                                          test_size=est.validation_fraction,
                                          random_state=int(rng.integers(2**31)),
                                          stratify=est._stratify_labels(data.Y))
    if len(idx_val) == 0:
        raise ValueError("validation_fraction leaves no sequence for validation")
    return data.take(idx_train), data.take(idx_val)


def run_minibatch_epoch(est, data, rng, best):
    """One pass over the data in shuffled mini-batches. Returns (mean loss, mean gradient
    norm, best), or (None, None, best) after a non-finite loss, gradient or weight."""
    n = len(data.lengths)
    batch_size = auto_batch_size(n) if est.batch_size == "auto" else min(est.batch_size, n)
    order = rng.permutation(n) if est.shuffle else np.arange(n)
    total_loss, total_weight, norms = 0.0, 0.0, []
    for start in range(0, n, batch_size):
        batch = data.take(order[start:start + batch_size])
        loss, grad_norm = _train_step(est, batch, rng)
        if loss is None:
            return None, None, diverged(est, grad_norm, best)
        w = batch.weights.sum()
        total_loss += loss * w
        total_weight += w
        norms.append(grad_norm)
        est.t_ += len(batch.lengths)
    return total_loss / total_weight, float(np.mean(norms)), best


def _train_step(est, batch, rng):
    """Forward, backward, clipping and the optimizer's update for one mini-batch. Returns
    (loss, gradient norm), or (None, what became non-finite)."""
    with np.errstate(over="ignore", invalid="ignore"):  # reported in one message instead
        loss, grad = est._objective(est.theta_, batch, rng if est.dropout > 0 else None)
    return update(est, loss, grad)


def update(est, loss, grad):
    """Clip the gradient and let the optimizer update ``est.theta_``. Returns (loss,
    gradient norm), or (None, what became non-finite)."""
    grad_norm = clip_grad_norm(grad, est.max_grad_norm)
    if not np.isfinite(loss):
        return None, "loss"
    if not np.isfinite(grad_norm):
        return None, "gradient"
    est._optimizer.update_params(est.theta_, grad)
    if not np.isfinite(est.theta_).all():
        return None, "weights"
    return loss, grad_norm


def diverged(est, what, best):
    """Stop after a non-finite loss, gradient or weight: back to the best epoch's weights."""
    est.theta_ = best.copy()
    warnings.warn(f"Training stopped at epoch {est.n_iter_ + 1}: the {what} became non-finite "
                  "(inf or nan). The model keeps the weights of its best epoch. Lower "
                  "learning_rate_init, set max_grad_norm, or scale the inputs.", RuntimeWarning)
    return best


def _record_epoch(est, loss, grad_norm, validation, best, seconds, progress):
    """Append to the curves, keep the best weights, count the epochs without progress and
    run the optimizer's schedule. Returns the best weights."""
    est.n_iter_ += 1
    est.loss_curve_.append(float(loss))
    est.grad_norm_curve_.append(grad_norm)
    improved, is_best = loss < est.best_loss_ - est.tol, loss < est.best_loss_
    est.best_loss_ = min(est.best_loss_, float(loss))
    if validation is not None:
        score, validation_loss = est._evaluate_validation(validation)
        est.validation_scores_.append(score)
        est.validation_loss_curve_.append(validation_loss)
        est.best_validation_score_ = max(est.best_validation_score_, score)
        improved = validation_loss < est.best_validation_loss_ - est.tol
        is_best = validation_loss < est.best_validation_loss_
        est.best_validation_loss_ = min(est.best_validation_loss_, validation_loss)
    if is_best:
        best = est.theta_.copy()
    est._no_improvement_count = 0 if improved else est._no_improvement_count + 1
    learning_rate = est._optimizer.learning_rate  # the rate this epoch ran with
    est._optimizer.iteration_ends(est.t_, est.n_iter_)
    progress.epoch(est, loss, grad_norm, learning_rate, seconds)
    return best


class Progress:
    """What ``verbose`` prints during a mini-batch fit.

    ``verbose=2``, or ``True``/1 when the output is not interactive (a log file, a pipe): one
    line per epoch (loss, validation score, gradient norm, learning rate, seconds), as
    MLPClassifier prints. ``True``/1 in a terminal or a notebook: one line that each epoch
    rewrites (epoch of max_iter, loss, validation score, learning rate, time so far), ended
    when the fit ends. Messages about stopping go on their own line.
    """

    def __init__(self, verbose, max_epochs):
        self.level = int(verbose)
        self.max_epochs = max_epochs
        self.rewrite = self.level == 1 and _interactive(sys.stdout)
        self.open = False  # a rewritten line is on screen
        self.start = time.perf_counter()

    def epoch(self, est, loss, grad_norm, learning_rate, seconds):
        """Report the epoch just recorded in ``est``."""
        if not self.level:
            return
        scores = est.validation_scores_
        if not self.rewrite:
            val = "" if not scores else f", validation score = {scores[-1]:.6f}"
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}{val}, "
                  f"gradient norm = {grad_norm:.4g}, learning rate = {learning_rate:.3g}, "
                  f"time = {seconds:.3f}s")
            return
        val = "" if not scores else f"  validation {scores[-1]:.4f}"
        total = time.perf_counter() - self.start
        print(f"\repoch {est.n_iter_}/{self.max_epochs}  loss {loss:.5g}{val}  "
              f"learning rate {learning_rate:.3g}  {total:.1f} s ({seconds:.2f} s/epoch)  ",
              end="", flush=True)
        self.open = True

    def end(self):
        """End the rewritten line, if one is open."""
        if self.open:
            print()
            self.open = False


def _interactive(stream):
    """Whether ``stream`` shows a rewritten line as one line: a terminal or a notebook."""
    isatty = getattr(stream, "isatty", None)
    try:
        if isatty is not None and isatty():
            return True
    except ValueError:  # a closed stream
        return False
    return type(stream).__module__.startswith("ipykernel")


def _should_stop(est, progress):
    """After more than ``n_iter_no_change`` epochs without improvement, the optimizer decides
    (the "adaptive" schedule lowers its learning rate instead, until it is too small)."""
    if est._no_improvement_count <= est.n_iter_no_change:
        return False
    what = "Validation loss" if est.early_stopping else "Training loss"
    msg = (f"{what} did not improve more than tol={est.tol} for {est.n_iter_no_change} "
           "consecutive epochs.")
    progress.end()
    if est._optimizer.trigger_stopping(msg, est.verbose):
        return True
    est._no_improvement_count = 0
    return False


def fit_lbfgs(est, data):
    """Full-batch L-BFGS. Every iteration is recorded in ``loss_curve_``; an interrupt keeps
    the lowest-loss weights evaluated so far."""
    best = {"loss": np.inf, "theta": est.theta_.copy()}

    def fun(theta):
        value, grad = est._objective(theta, data)
        if not np.isfinite(value):
            return np.inf, np.zeros_like(grad)  # makes the line search step back
        if value < best["loss"]:
            best.update(loss=value, theta=theta.copy())
        return value, grad

    def record(intermediate_result):
        est.n_iter_ += 1
        est.t_ += len(data.lengths)
        est.loss_curve_.append(float(intermediate_result.fun))
        est.best_loss_ = min(est.best_loss_, est.loss_curve_[-1])

    try:
        _, result = minimize_lbfgs(fun, est.theta_, est.max_iter, est.tol, est.max_fun,
                                   callback=record)
    except KeyboardInterrupt:
        est.theta_ = best["theta"]
        warnings.warn(f"fit was interrupted (KeyboardInterrupt) after {est.n_iter_} L-BFGS "
                      "iterations; the model keeps the lowest-loss weights so far.", UserWarning)
        return
    est.theta_ = best["theta"]
    if result.status == 1:
        warnings.warn(f"lbfgs failed to converge after {result.nit} iterations. "
                      "Increase max_iter or scale the data.", ConvergenceWarning)
