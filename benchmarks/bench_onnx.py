#!/usr/bin/env python
"""Inference of an exported model in onnxruntime against skrnn's own ``predict_proba``.

For each configuration, an ``RNNClassifier`` (4 classes) is fitted for one epoch on
generated data (the weights' values do not change the time), exported with
:func:`skrnn.onnx.to_onnx`, and both sides compute the class probabilities of the same batch:
B ragged sequences (lengths drawn uniformly from T/2 to T), F features per step, given as the
NaN-padded array (B, T, F) that the ONNX graph takes. float32 models run ONNX's recurrent
operators; float64 models a ``Scan`` of the cell's equations (onnxruntime's recurrent
operators are float32 only).

* skrnn: ``clf.predict_proba(X)``, input validation and padding detection included.
* onnxruntime: ``session.run(None, {"X": X})`` of an ``InferenceSession`` created once, with
  ``intra_op_num_threads=1``, ``inter_op_num_threads=1`` and the CPU provider.

Both run on one thread (numpy's and scipy's BLAS limited by threadpoolctl). Before timing,
both results are compared (largest difference of the probabilities, printed). Measurements
alternate between the two sides; each time is the median of ``--repeats`` measurements of at
least ``--min-time`` seconds each (as many calls as fit, averaged).

Usage::

    python benchmarks/bench_onnx.py            # the grid below, about a minute
    python benchmarks/bench_onnx.py --quick    # two configurations
"""

import argparse
import time
import warnings

import numpy as np
import onnxruntime
from threadpoolctl import threadpool_limits

from skrnn import RNNClassifier
from skrnn.onnx import to_onnx
from skrnn.sequences import to_nan_padded

GRID = [  # cell, bidirectional, H, B, T, dtype
    ("lstm", False, 32, 32, 20, "float32"), ("lstm", False, 32, 256, 100, "float32"),
    ("lstm", False, 128, 256, 100, "float32"), ("lstm", True, 32, 256, 100, "float32"),
    ("gru", False, 32, 32, 20, "float32"), ("gru", False, 32, 256, 100, "float32"),
    ("gru", True, 32, 256, 100, "float32"), ("rnn", False, 32, 256, 100, "float32"),
    ("lstm", False, 32, 256, 100, "float64"), ("gru", False, 32, 256, 100, "float64"),
]
QUICK = [GRID[0], GRID[1]]
F, N_CLASSES = 8, 4


def data(B, T, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=(L, F)).astype(dtype) for L in rng.integers(T // 2, T + 1, B)]
    y = rng.integers(0, N_CLASSES, B)
    return X, y


def per_call(fn, min_time):
    """Seconds per call of fn, over as many calls as fill min_time."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / calls


def run(cell, bidirectional, H, B, T, dtype, repeats, min_time):
    X, y = data(B, T, dtype)
    clf = RNNClassifier(cell, (H,), bidirectional=bidirectional, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(to_onnx(clf).SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    padded = to_nan_padded(X).astype(dtype)
    difference = np.abs(session.run(None, {"X": padded})[1] - clf.predict_proba(padded)).max()
    times = {"skrnn": [], "onnxruntime": []}
    for _ in range(repeats):
        times["skrnn"].append(per_call(lambda: clf.predict_proba(padded), min_time))
        times["onnxruntime"].append(per_call(lambda: session.run(None, {"X": padded}),
                                             min_time))
    skrnn, ort = (float(np.median(times[k])) for k in ("skrnn", "onnxruntime"))
    return skrnn, ort, difference


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two configurations")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.2)
    args = parser.parse_args()
    print(f"onnxruntime {onnxruntime.__version__}, F={F}, {N_CLASSES} classes, "
          "one thread each; milliseconds per predict_proba of the whole batch")
    print()
    print("| cell | directions | H | B | T | dtype | skrnn (ms) | onnxruntime (ms) | "
          "skrnn / onnxruntime | largest difference |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with threadpool_limits(limits=1):
        for cell, bidirectional, H, B, T, dtype in (QUICK if args.quick else GRID):
            skrnn, ort, difference = run(cell, bidirectional, H, B, T, dtype, args.repeats,
                                         args.min_time)
            print(f"| {cell} | {2 if bidirectional else 1} | {H} | {B} | {T} | {dtype} | "
                  f"{1e3 * skrnn:.2f} | {1e3 * ort:.2f} | {skrnn / ort:.2f} | "
                  f"{difference:.1e} |", flush=True)


if __name__ == "__main__":
    main()
