#!/usr/bin/env python
"""Where stopping rules would stop: curves of whole fits, replayed under each rule.

Every fit here runs all ``--epochs`` epochs (nothing stops it) and records, after each epoch,
the training loss, the loss and accuracy on a held-out validation part of the training split
(``--validation`` of it, stratified) and the accuracy on the data set's test split. The
stopping rules are then replayed on those curves: each gives the epoch it would stop at and
the weights it would keep (the last epoch's, or the best validation epoch's), and so the test
accuracy the user would get. Nothing is timed.

Data: aeon's ArrowHead, ItalyPowerDemand and PickupGestureWiimoteZ (train/test splits as
published), and scikit-learn's digits read row by row (8 steps of 8 pixels; a stratified half
for training). Model: ``RNNClassifier`` at its defaults except ``--batch-size``, ``--cell``,
``--pooling`` and the stopping parameters, seeds 0..``--seeds``-1, one BLAS thread.

Rules replayed (n = patience in epochs, tol = 1e-4 unless said):

* ``training loss``: MLPClassifier's rule, and skrnn's: stop after more than n epochs whose
  training loss is not below the best so far minus tol. Before: n=10; now n=50.
* ``loss windows``: stop when the mean training loss of the last n epochs is not below
  ``(1 - tol)`` times the mean of the n epochs before them (a smoothed rule, not adopted).
* ``validation accuracy``: early stopping as it was, on the accuracy of the held-out part,
  best epoch restored.
* ``validation loss``: early stopping as it is now, on the held-out loss, best epoch restored.
* ``none``: all epochs.

The rules on the training loss are replayed on fits of the training part without the
validation part, like the others, so every rule sees the same curves.

Usage::

    python benchmarks/learning_stopping.py --epochs 200 --seeds 3 --batch-size 16
"""

import argparse
import json
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import skrnn
import skrnn._training as training


def load(name):
    if name == "digits":  # scikit-learn's 8x8 digits read row by row: 8 steps of 8 pixels
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        X_tr, X_te, y_tr, y_te = train_test_split((X / 16).reshape(-1, 8, 8), y,
                                                  test_size=0.5, random_state=0, stratify=y)
        return list(X_tr.astype(np.float32)), y_tr, list(X_te.astype(np.float32)), y_te
    from aeon.datasets import load_classification

    out = []
    for split in ("train", "test"):
        X, y = load_classification(name, split=split)
        out += [[np.asarray(x, dtype=np.float32).T for x in X], np.asarray(y)]
    return out


def curves(X, y, X_test, y_test, seed, epochs, batch_size, validation, **params):
    """Fit for every epoch; the per-epoch records described in the module docstring."""
    from sklearn.model_selection import train_test_split

    idx_tr, idx_val = train_test_split(np.arange(len(y)), test_size=validation,
                                       stratify=y, random_state=seed)
    X_tr, y_tr = [X[i] for i in idx_tr], y[idx_tr]
    X_val, y_val = [X[i] for i in idx_val], y[idx_val]
    rec = {"train_loss": [], "val_loss": [], "val_acc": [], "test_acc": []}
    record = training._record_epoch

    def recording(est, loss, *args, **kwargs):
        best = record(est, loss, *args, **kwargs)
        P = est.predict_proba(X_val)
        codes = np.searchsorted(est.classes_, y_val)
        rec["train_loss"].append(float(loss))
        rec["val_loss"].append(float(-np.mean(np.log(np.maximum(P[np.arange(len(codes)),
                                                                  codes], 1e-300)))))
        rec["val_acc"].append(float(np.mean(est.classes_[P.argmax(1)] == y_val)))
        rec["test_acc"].append(float(est.score(X_test, y_test)))
        return best

    est = skrnn.RNNClassifier(random_state=seed, batch_size=batch_size, max_iter=epochs,
                              tol=0.0, n_iter_no_change=epochs + 1, **params)
    training._record_epoch = recording
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X_tr, y_tr)
    finally:
        training._record_epoch = record
    return rec


def stop_loss_abs(c, n, tol):
    best, count = np.inf, 0
    for t, loss in enumerate(c["train_loss"]):
        count = 0 if loss < best - tol else count + 1
        best = min(best, loss)
        if count > n:
            return t, t
    return len(c["train_loss"]) - 1, len(c["train_loss"]) - 1


def stop_loss_window(c, n, tol):
    loss = np.asarray(c["train_loss"])
    for t in range(2 * n - 1, len(loss)):
        if loss[t - n + 1:t + 1].mean() >= (1 - tol) * loss[t - 2 * n + 1:t - n + 1].mean():
            return t, t
    return len(loss) - 1, len(loss) - 1


def stop_validation(values, n, tol, relative):
    best, best_t, count = np.inf, 0, 0
    for t, v in enumerate(values):
        margin = tol * abs(best) if relative and np.isfinite(best) else tol
        count = 0 if v < best - margin else count + 1
        if v < best:
            best, best_t = v, t
        if count > n:
            return t, best_t
    return len(values) - 1, best_t


RULES = {
    "training loss, n=10 (before)": lambda c: stop_loss_abs(c, 10, 1e-4),
    "training loss, n=20": lambda c: stop_loss_abs(c, 20, 1e-4),
    "training loss, n=30": lambda c: stop_loss_abs(c, 30, 1e-4),
    "training loss, n=50 (now)": lambda c: stop_loss_abs(c, 50, 1e-4),
    "loss windows, n=10, tol=1e-2": lambda c: stop_loss_window(c, 10, 1e-2),
    "loss windows, n=50, tol=1e-2": lambda c: stop_loss_window(c, 50, 1e-2),
    "validation accuracy, n=10 (before)": lambda c: stop_validation(-np.asarray(c["val_acc"]),
                                                                    10, 1e-4, False),
    "validation loss, n=10": lambda c: stop_validation(c["val_loss"], 10, 1e-4, False),
    "validation loss, n=50 (now)": lambda c: stop_validation(c["val_loss"], 50, 1e-4, False),
    "none": lambda c: (len(c["train_loss"]) - 1,) * 2,
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+",
                   default=["ItalyPowerDemand", "ArrowHead", "PickupGestureWiimoteZ"])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--batch-size", default="auto")
    p.add_argument("--validation", type=float, default=0.2)
    p.add_argument("--cell", default="gru")
    p.add_argument("--pooling", default="last")
    p.add_argument("--save", help="write the curves to this JSON file")
    p.add_argument("--load", help="replay curves saved by --save instead of fitting")
    args = p.parse_args(argv)
    if args.load:
        with open(args.load) as f:
            saved = json.load(f)
        settings, all_curves = saved["settings"], saved["curves"]
    else:
        settings = {"batch_size": args.batch_size, "epochs": args.epochs,
                    "validation": args.validation, "cell": args.cell, "pooling": args.pooling}
        bs = args.batch_size if args.batch_size == "auto" else int(args.batch_size)
        all_curves = {}
        with threadpool_limits(1):
            for name in args.datasets:
                X, y, X_test, y_test = load(name)
                for seed in range(args.seeds):
                    start = time.perf_counter()
                    all_curves[f"{name}/{seed}"] = curves(X, y, X_test, y_test, seed,
                                                          args.epochs, bs, args.validation,
                                                          cell=args.cell, pooling=args.pooling)
                    print(f"{name} seed {seed}: {time.perf_counter() - start:.0f} s",
                          file=sys.stderr)
        if args.save:
            with open(args.save, "w") as f:
                json.dump({"settings": settings, "curves": all_curves}, f)
    names = sorted({k.split("/")[0] for k in all_curves})
    print(f"cell={settings.get('cell', 'gru')}, pooling={settings.get('pooling', 'last')}, "
          f"batch_size={settings['batch_size']}, {settings['epochs']} epochs, validation "
          f"{settings['validation']}; cells: mean test accuracy at the kept weights "
          "(epochs run, per seed)\n")
    print("| rule | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for rule, fn in RULES.items():
        cells = []
        for name in names:
            accs, stops = [], []
            for key, c in all_curves.items():
                if key.split("/")[0] == name:
                    stop, kept = fn(c)
                    accs.append(c["test_acc"][kept])
                    stops.append(stop + 1)
            cells.append(f"{np.mean(accs):.3f} ({'/'.join(map(str, stops))})")
        print(f"| {rule} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
