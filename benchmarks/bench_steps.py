#!/usr/bin/env python
"""The compiled elementwise steps alone, with 512-bit vectors preferred and with LLVM's default.

The step functions of ``skrnn.nn._fast.compiled`` (a cell's elementwise work for one time step,
forward or backward, without the recurrent GEMM) that evaluate tanh or many products per
element ask LLVM to prefer 512-bit vectors (``_wide_vectors``). LLVM's own tuning prefers
256-bit vectors on Intel's AVX-512 cores, so on those this is where the two differ; on a CPU
without AVX-512, or one whose tuning already prefers 512 bits (AMD Zen 4), the two columns
should be the same. The RNN's tanh backward step asked too at commit 9dcc4b3, where this script
measured it slower with 512-bit vectors at 32 sequences (benchmarks/README.md); it no longer
asks, so it is not timed here (both copies would be the same code).

This script compiles two private copies of each step (numba, no disk cache), one with the
preference and one with LLVM's default, and times both in the same run, interleaved: the step
called ``k`` times inside a compiled loop that first restores the arrays the step overwrites,
minus that loop with the restores alone. float32, one thread, B in {32, 128}, H in {16, 64,
256}; microseconds per step, best of 7.

    python benchmarks/bench_steps.py [--B 32 128] [--H 16 64 256] [--markdown FILE]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numba  # noqa: E402
import llvmlite.binding as llvm  # noqa: E402

from skrnn.nn._fast import compiled  # noqa: E402


@numba.njit
def _repeat(step, k, args, d1, s1, d2, s2):
    """``k`` times: restore d1 and d2 from s1 and s2, then ``step(*args)``."""
    for _ in range(k):
        d1[:] = s1
        d2[:] = s2
        step(*args)


@numba.njit
def _restores(k, d1, s1, d2, s2):
    """The restores of :func:`_repeat` alone."""
    for _ in range(k):
        d1[:] = s1
        d2[:] = s2


def compile_step(name, width):
    """A private copy of the step ``name`` compiled with ``_PREFER_VECTOR_WIDTH`` = width."""
    saved = compiled._PREFER_VECTOR_WIDTH
    compiled._PREFER_VECTOR_WIDTH = width
    try:
        step = numba.njit(cache=False, nogil=True, fastmath=compiled._FASTMATH,
                          error_model="numpy", boundscheck=False)(
            getattr(compiled, name).py_func)
        problem = PROBLEMS[name](2, 16, np.random.default_rng(0))
        _repeat(step, 1, *problem)  # compile now, while the width is set
    finally:
        compiled._PREFER_VECTOR_WIDTH = saved
    return step


def _arrays(rng, *shapes, scale=1.0):
    return [(scale * rng.standard_normal(s)).astype(np.float32) for s in shapes]


def _lstm_forward(B, H, rng):
    a, c_prev, c, tc, h = _arrays(rng, (4 * H, B), (H, B), (H, B), (H, B), (H, B), scale=2)
    a0 = a.copy()
    return (a, c_prev, c, tc, h, B), a, a0, c, c.copy()


def _lstm_backward(B, H, rng):
    a = rng.uniform(0.05, 0.95, (4 * H, B)).astype(np.float32)  # gates
    c_prev, tc, dh, dc = _arrays(rng, (H, B), (H, B), (H, B), (H, B))
    return (a, c_prev, tc, dh, dc, B), a, a.copy(), dc, dc.copy()


def _gru_forward(B, H, rng):
    a, hn, h_prev, h = _arrays(rng, (3 * H, B), (H, B), (H, B), (H, B), scale=2)
    return (a, hn, h_prev, h, B), a, a.copy(), h, h.copy()


def _gru_backward(B, H, rng):
    a = rng.uniform(0.05, 0.95, (3 * H, B)).astype(np.float32)
    hn, h_prev, dh, dh_prev = _arrays(rng, (H, B), (H, B), (H, B), (H, B))
    dGh = np.zeros((3 * H, B), np.float32)
    return (a, hn, h_prev, dh, dGh, dh_prev, B, B), a, a.copy(), dh_prev, dh_prev.copy()


def _rnn_forward(B, H, rng):
    (h,) = _arrays(rng, (H, B), scale=2)
    return (h, B), h, h.copy(), h, h.copy()


PROBLEMS = {
    "lstm_forward_step": _lstm_forward, "lstm_backward_step": _lstm_backward,
    "gru_forward_step": _gru_forward, "gru_backward_step": _gru_backward,
    "rnn_tanh_forward_step": _rnn_forward,
}


def time_step(steps, problem, repeats=7, min_time=0.02):
    """Microseconds per call of each step in ``steps`` on ``problem``, interleaved, best of
    ``repeats``, the restores subtracted."""
    args, d1, s1, d2, s2 = problem
    k = 1
    while True:  # calls per measurement: at least min_time for the first step
        t0 = time.perf_counter()
        _repeat(steps[0], k, args, d1, s1, d2, s2)
        if time.perf_counter() - t0 >= min_time:
            break
        k *= 2
    best = [np.inf] * (len(steps) + 1)
    for _ in range(repeats):
        for i, step in enumerate(steps):
            t0 = time.perf_counter()
            _repeat(step, k, args, d1, s1, d2, s2)
            best[i] = min(best[i], time.perf_counter() - t0)
        t0 = time.perf_counter()
        _restores(k, d1, s1, d2, s2)
        best[-1] = min(best[-1], time.perf_counter() - t0)
    return [(b - best[-1]) / k * 1e6 for b in best[:-1]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--B", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--H", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--markdown", metavar="FILE")
    args = parser.parse_args(argv)
    print(f"LLVM host CPU: {llvm.get_host_cpu_name()}, numba {numba.__version__}")
    print("compiled steps alone, float32, one thread: microseconds per step\n")
    header = f"{'step':24s} {'B':>4s} {'H':>4s} {'512-bit':>9s} {'default':>9s} {'ratio':>6s}"
    print(header)
    lines = ["| step | B | H | 512-bit preferred (us) | LLVM default (us) | ratio |",
             "|---|---|---|---|---|---|"]
    for name in PROBLEMS:
        steps = [compile_step(name, 512), compile_step(name, 0)]
        for B in args.B:
            for H in args.H:
                wide, default = time_step(steps, PROBLEMS[name](B, H, np.random.default_rng(1)))
                print(f"{name:24s} {B:4d} {H:4d} {wide:9.2f} {default:9.2f} {wide / default:6.2f}",
                      flush=True)
                lines.append(f"| {name} | {B} | {H} | {wide:.2f} | {default:.2f} | "
                             f"{wide / default:.2f} |")
    if args.markdown:
        Path(args.markdown).write_text("\n".join(lines) + "\n")
        print(f"\nmarkdown written to {args.markdown}")


if __name__ == "__main__":
    main()
