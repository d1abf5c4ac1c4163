#!/usr/bin/env python
"""Benchmark skrnn's NumPy engine against PyTorch on CPU, float32.

Measures, for each cell (vanilla RNN with tanh, GRU, LSTM) over a grid of batch size B, sequence
length T, input size F and hidden size H:

* a training step: forward, backward, gradient clipping by global norm (1.0) and an Adam update.
  skrnn: ``RecurrentNetwork.loss_and_grad`` (softmax loss on the last step, 10 classes),
  ``clip_grad_norm``, ``Adam.update_params``. PyTorch: ``nn.LSTM``/``nn.GRU``/``nn.RNN`` (batch_first)
  and an ``nn.Linear`` head on the last step, ``cross_entropy``, ``backward``,
  ``clip_grad_norm_``, ``torch.optim.Adam`` (``zero_grad`` included);
* inference: ``RecurrentNetwork.forward`` against the PyTorch forward under
  ``torch.inference_mode()``.

All sequences have length T. Both libraries run with the same number of threads (``--threads``):
numpy's and scipy's OpenBLAS through threadpoolctl, PyTorch through ``torch.set_num_threads``.
skrnn and PyTorch measurements alternate, so background load affects both alike; each time is
the median over ``--repeats`` measurements of several calls.

Also reported: skrnn's achieved GEMM rate at H=256 against this machine's single-thread float32
GEMM rate measured in the same run, and the peak memory of one training step with full and with
truncated backpropagation through time (tracemalloc, which sees numpy's buffers).

Examples
--------
    python benchmarks/bench_engine.py --quick
    python benchmarks/bench_engine.py --threads 1 2 --markdown results.md
    python benchmarks/bench_engine.py --cells lstm --B 32 --T 100 --F 16 --H 16 64
"""

import argparse
import datetime
import gc
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as torch_F  # noqa: E402

from skrnn.nn import RecurrentNetwork  # noqa: E402
from skrnn.nn._fast import numba_available  # noqa: E402
from skrnn.nn.config import config_context  # noqa: E402
from skrnn.nn.optimizers import Adam, clip_grad_norm  # noqa: E402
from skrnn.nn._fast.buffers import clear_workspace, workspace  # noqa: E402


def workspace_bytes():
    return workspace().nbytes

CELLS = ("rnn", "gru", "lstm")
N_GATES = {"rnn": 1, "gru": 3, "lstm": 4}
TORCH_MODULES = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}
# Targets for the geometric mean of skrnn time / PyTorch time: (training, inference).
TARGETS = {"rnn": (0.4, 0.6), "gru": (0.55, 0.8), "lstm": (1.0, 1.2)}
FLAG_RATIO = 1.5
N_CLASSES = 10

FULL_GRID = {"B": (32, 128), "T": (20, 100, 500), "F": (1, 16), "H": (16, 64, 256)}
QUICK_GRID = {"B": (32,), "T": (20, 100), "F": (1, 16), "H": (16, 64, 256)}


# -- threads ---------------------------------------------------------------------------------
_CONTROLLER = ThreadpoolController()


def set_threads(n):
    """Use n threads in numpy's and scipy's BLAS and in PyTorch (intra-op)."""
    _CONTROLLER.select(user_api="blas").limit(limits=n)
    torch.set_num_threads(n)


def blas_description():
    return ", ".join(f"{Path(i['filepath']).name.split('-')[0]} {i['version']} "
                     f"({i['num_threads']} thr)"
                     for i in _CONTROLLER.select(user_api="blas").info())


# -- timing ----------------------------------------------------------------------------------
def _time_calls(fn, k):
    t0 = time.perf_counter()
    for _ in range(k):
        fn()
    return (time.perf_counter() - t0) / k


def time_group(fns, repeats, min_time, settle=0.0, warm_up=True):
    """Median seconds per call of each function, measured in turn (interleaved, the order
    reversed every other round).

    Each measurement repeats its function until ``min_time`` has passed (at least once; with
    ``min_time=0`` every measurement is one call). ``settle`` seconds of sleep before each
    measurement let the other library's worker threads, which spin for a while after their last
    task, go idle first. ``warm_up=False`` when the caller has already run every function.
    """
    if warm_up:
        for fn in fns:
            fn()  # allocations, optimizer state, oneDNN primitives, compiled kernels
    ks = [max(1, math.ceil(min_time / max(_time_calls(fn, 1), 1e-7))) if min_time else 1
          for fn in fns]
    times = [[] for _ in fns]
    for r in range(repeats):
        order = range(len(fns)) if r % 2 == 0 else range(len(fns) - 1, -1, -1)
        for i in order:
            time.sleep(settle)
            times[i].append(_time_calls(fns[i], ks[i]))
    return [statistics.median(t) for t in times]


def time_pair(fa, fb, repeats, min_time, settle=0.0):
    """Median seconds per call of fa and fb, measured alternately (:func:`time_group`)."""
    return tuple(time_group([fa, fb], repeats, min_time, settle))


def with_kernels(kernels, fn):
    """``fn`` run with the engine's ``kernels`` setting (skrnn.config_context)."""
    def run():
        with config_context(kernels=kernels):
            return fn()
    return run


class Timers:
    """Inclusive seconds and calls of functions wrapped for a while (then restored)."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)
        self._undo = []

    def wrap(self, owner, name, label, replacement=None):
        """Time the calls of ``owner.name`` under ``label``; with a ``replacement``, call it
        instead of the original until :meth:`restore`."""
        original = getattr(owner, name)
        had_own = name in vars(owner)
        called = original if replacement is None else replacement

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return called(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - t0
                self.calls[label] += 1

        setattr(owner, name, timed)
        self._undo.append((owner, name, original if had_own else None))

    def restore(self):
        for owner, name, original in reversed(self._undo):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._undo.clear()


# -- the two implementations -----------------------------------------------------------------
class TorchModel(torch.nn.Module):
    def __init__(self, cell, F, H):
        super().__init__()
        kwargs = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        self.rnn = TORCH_MODULES[cell](F, H, batch_first=True, **kwargs)
        self.head = torch.nn.Linear(H, N_CLASSES)

    def forward(self, X):
        out, _ = self.rnn(X)
        return self.head(out[:, -1])


def make_problem(cell, B, T, F, H, seed=0):
    """skrnn network, its float32 parameters, the PyTorch model with the same weights, data."""
    rng = np.random.default_rng(seed)
    net = RecurrentNetwork(cell, input_size=F, hidden_sizes=(H,), n_outputs=N_CLASSES)
    theta = net.init_params(rng, dtype=np.float32)
    model = TorchModel(cell, F, H)
    sd = {k: torch.from_numpy(v.copy()) for k, v in net.state_dict(theta).items()}
    model.rnn.load_state_dict({k: v for k, v in sd.items() if not k.startswith("head.")})
    model.head.load_state_dict({"weight": sd["head.weight"], "bias": sd["head.bias"]})
    X = rng.standard_normal((B, T, F), dtype=np.float32)
    y = rng.integers(0, N_CLASSES, size=B)
    lengths = np.full(B, T)
    return net, theta, model, X, y, lengths


def skrnn_train_step(net, theta, X, lengths, y, tbptt_steps=None):
    opt = Adam(learning_rate_init=1e-3)

    def step():
        loss, grad = net.loss_and_grad(theta, X, lengths, y, "softmax", tbptt_steps=tbptt_steps)
        clip_grad_norm(grad, 1.0)
        opt.update_params(theta, grad)
        return loss

    return step


def torch_train_step(model, X, y):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    params = list(model.parameters())
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = torch_F.cross_entropy(model(Xt), yt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss

    return step


def check_agreement(net, theta, model, X, lengths, y):
    """Both libraries compute the same loss and outputs before any update."""
    loss, _ = net.loss_and_grad(theta, X, lengths, y, "softmax")
    with torch.inference_mode():
        out_t = model(torch.from_numpy(X))
        loss_t = float(torch_F.cross_entropy(out_t, torch.from_numpy(y)))
    out = net.forward(theta, X, lengths)
    assert abs(loss - loss_t) <= 1e-3 * max(1.0, abs(loss_t)), (loss, loss_t)
    assert np.allclose(out, out_t.numpy(), atol=1e-3), np.abs(out - out_t.numpy()).max()


def train_gemm_flops(cell, B, T, F, H):
    """GEMM flops of one training step of one layer (+ the head, negligible).

    Forward: input projection 2*B*T*F*G*H and per-step recurrent GEMMs 2*B*T*H*G*H.
    Backward: per-step dh_prev = dZ @ W_hh (2*B*T*G*H*H), weight gradients dW_ih and dW_hh
    (2*G*H*B*T*(F+H)). dX is not needed for the first layer, so neither library computes it.
    """
    G = N_GATES[cell]
    return 2 * B * T * G * H * (F + H) * 2 + 2 * B * T * G * H * H + 2 * B * H * N_CLASSES * 2


def measure_gemm_peak(n=2048, repeats=3):
    """Single-thread float32 GEMM rate (GFLOP/s) of numpy's BLAS on n x n matrices."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), np.float32)
    np.matmul(a, b, out=c)
    best = min(_time_calls(lambda: np.matmul(a, b, out=c), 2) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def peak_memory(cell, B, T, F, H, tbptt_steps):
    """Peak traced memory (bytes) of one skrnn training step above what existed before it, and
    what the engine's workspace keeps for reuse afterwards (bytes)."""
    net, theta, _, X, y, lengths = make_problem(cell, B, T, F, H)
    step = skrnn_train_step(net, theta, X, lengths, y, tbptt_steps)
    clear_workspace()  # every buffer of the step is allocated while tracing
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base, workspace_bytes()


# -- running the grid ------------------------------------------------------------------------
def run_grid(cells, grid, threads, repeats, min_time, log, settle=0.0, kernels=("numpy",)):
    """One row per grid point and ``kernels`` setting; the settings and PyTorch are timed
    interleaved at each point."""
    rows = []
    for cell in cells:
        for B in grid["B"]:
            for T in grid["T"]:
                for F in grid["F"]:
                    for H in grid["H"]:
                        net, theta, model, X, y, lengths = make_problem(cell, B, T, F, H)
                        check_agreement(net, theta, model, X, lengths, y)
                        *s_train, t_train = time_group(
                            [with_kernels(k, skrnn_train_step(net, theta, X, lengths, y))
                             for k in kernels] + [torch_train_step(model, X, y)],
                            repeats, min_time, settle)
                        Xt = torch.from_numpy(X)

                        def torch_infer():
                            with torch.inference_mode():
                                return model(Xt)

                        *s_inf, t_inf = time_group(
                            [with_kernels(k, lambda: net.forward(theta, X, lengths))
                             for k in kernels] + [torch_infer], repeats, min_time, settle)
                        flops = train_gemm_flops(cell, B, T, F, H)
                        for k, s_tr, s_in in zip(kernels, s_train, s_inf):
                            row = dict(cell=cell, kernels=k, threads=threads, B=B, T=T, F=F,
                                       H=H, s_train=s_tr, t_train=t_train, s_inf=s_in,
                                       t_inf=t_inf, gflops_s=flops / s_tr / 1e9,
                                       gflops_t=flops / t_train / 1e9)
                            rows.append(row)
                            log(_row_line(row))
    return rows


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _row_line(r):
    rt, ri = r["s_train"] / r["t_train"], r["s_inf"] / r["t_inf"]
    flag = " !" if max(rt, ri) > FLAG_RATIO else ""
    return (f"{r['cell']:<5} {r['kernels']:<5} {r['threads']:>2} {r['B']:>4} {r['T']:>4} {r['F']:>3} {r['H']:>4} "
            f"{1e3 * r['s_train']:>10.3f} {1e3 * r['t_train']:>10.3f} {rt:>6.2f}  "
            f"{1e3 * r['s_inf']:>9.3f} {1e3 * r['t_inf']:>9.3f} {ri:>6.2f}{flag}")


HEADER = (f"{'cell':<5} {'kern':<5} {'th':>2} {'B':>4} {'T':>4} {'F':>3} {'H':>4} "
          f"{'train sk':>10} {'train pt':>10} {'ratio':>6}  {'infer sk':>9} {'infer pt':>9} "
          f"{'ratio':>6}   (ms per step; ratio = skrnn / PyTorch; ! = ratio > {FLAG_RATIO})")


def summarize(rows, cells, thread_counts, kernels=("numpy",)):
    """Per cell, kernels setting and thread count: geometric means of the ratios."""
    out = []
    for threads in thread_counts:
        for cell, k in ((c, k) for c in cells for k in kernels):
            sel = [r for r in rows
                   if r["cell"] == cell and r["threads"] == threads and r["kernels"] == k]
            if not sel:
                continue
            rt = [r["s_train"] / r["t_train"] for r in sel]
            ri = [r["s_inf"] / r["t_inf"] for r in sel]
            out.append(dict(cell=cell, kernels=k, threads=threads, n=len(sel),
                            train=geomean(rt), train_min=min(rt), train_max=max(rt),
                            infer=geomean(ri), infer_min=min(ri), infer_max=max(ri),
                            flagged=[r for r in sel
                                     if max(r["s_train"] / r["t_train"],
                                            r["s_inf"] / r["t_inf"]) > FLAG_RATIO]))
    return out


# -- output ----------------------------------------------------------------------------------
def markdown(rows, summary, gemm_peak, gflops_rows, memory, meta):
    lines = [f"Machine: {meta['machine']}", "",
             f"Date: {meta['date']}; {meta['versions']}", "",
             f"Single-thread float32 GEMM (2048 x 2048, numpy): **{gemm_peak:.1f} GFLOP/s**", ""]
    if summary:
        lines += ["### Summary: geometric mean of skrnn time / PyTorch time", "",
                  "| cell | kernels | threads | points | train | (min-max) | target | inference "
                  "| (min-max) | target | points > 1.5 |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for s in summary:
            tt, ti = TARGETS[s["cell"]]
            lines.append(
                f"| {s['cell']} | {s['kernels']} | {s['threads']} | {s['n']} "
                f"| **{s['train']:.2f}** "
                f"| {s['train_min']:.2f}-{s['train_max']:.2f} | {tt} "
                f"{'met' if s['train'] <= tt else 'MISSED'} | **{s['infer']:.2f}** "
                f"| {s['infer_min']:.2f}-{s['infer_max']:.2f} | {ti} "
                f"{'met' if s['infer'] <= ti else 'MISSED'} | {len(s['flagged'])} |")
        lines.append("")
    if gflops_rows:
        lines += ["### Achieved GEMM rate of a training step at H=256 (1 thread)", "",
                  "GEMM flops counted: input projection, per-step recurrent GEMMs, per-step "
                  "dh_prev = dZ W_hh, weight-gradient GEMMs (dX is not computed for the first "
                  "layer).", "",
                  "| cell | kernels | B | T | F | skrnn GFLOP/s | share of GEMM peak "
                  "| PyTorch GFLOP/s |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in gflops_rows:
            lines.append(f"| {r['cell']} | {r['kernels']} | {r['B']} | {r['T']} | {r['F']} | {r['gflops_s']:.1f} "
                         f"| {100 * r['gflops_s'] / gemm_peak:.0f}% | {r['gflops_t']:.1f} |")
        lines.append("")
    if memory:
        lines += ["### Peak memory of one skrnn training step (B=128, T=500, F=16, H=256)", "",
                  "Measured with tracemalloc, which sees numpy's array buffers: the peak of "
                  "traced allocations during one step (loss_and_grad, clipping, Adam), started "
                  "with an empty engine workspace. \"Kept\" is what the workspace holds for "
                  "reuse after the step (at most 1 GiB, no single buffer above 512 MiB).", "",
                  "| cell | full BPTT | truncated BPTT (tbptt_steps=50) | ratio | kept (full / "
                  "truncated) |",
                  "|---|---|---|---|---|"]
        for cell, (full, trunc, kept_full, kept_trunc) in memory.items():
            lines.append(f"| {cell} | {full / 2**20:.1f} MiB | {trunc / 2**20:.1f} MiB "
                         f"| {full / trunc:.1f}x | {kept_full / 2**20:.1f} / "
                         f"{kept_trunc / 2**20:.1f} MiB |")
        lines.append("")
    for threads in sorted({r["threads"] for r in rows}):
        lines += [f"### Every grid point, {threads} thread{'s' if threads > 1 else ''} "
                  "(ms per step)", "",
                  "| cell | kernels | B | T | F | H | train skrnn | train PyTorch | ratio "
                  "| infer skrnn | infer PyTorch | ratio |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if r["threads"] != threads:
                continue
            rt, ri = r["s_train"] / r["t_train"], r["s_inf"] / r["t_inf"]
            fmt = lambda v: f"**{v:.2f}**" if v > FLAG_RATIO else f"{v:.2f}"  # noqa: E731
            lines.append(f"| {r['cell']} | {r['kernels']} | {r['B']} | {r['T']} | {r['F']} "
                         f"| {r['H']} "
                         f"| {1e3 * r['s_train']:.3f} | {1e3 * r['t_train']:.3f} | {fmt(rt)} "
                         f"| {1e3 * r['s_inf']:.3f} | {1e3 * r['t_inf']:.3f} | {fmt(ri)} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"small grid {QUICK_GRID}, 3 repeats (a fast check)")
    p.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2],
                   help="thread counts to run the grid with (default: 1 2)")
    for axis in "BTFH":
        p.add_argument(f"--{axis}", nargs="+", type=int, help=f"override the grid's {axis} values")
    p.add_argument("--repeats", type=int, help="measurements per point (default 5, quick 3)")
    p.add_argument("--min-time", type=float, default=0.05,
                   help="seconds per measurement, at least one call (default 0.05)")
    p.add_argument("--settle", type=float, default=0.02,
                   help="seconds to sleep before each measurement when running with more than "
                        "one thread, so that the other library's spinning worker threads go "
                        "idle (default 0.02)")
    p.add_argument("--kernels", nargs="+", choices=("numpy", "numba"),
                   help="the engine's kernels to time, each against PyTorch (default: numpy, "
                        "and numba when it is installed)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak memory measurement")
    p.add_argument("--one-gemm-call", action="store_true",
                   help="compiled kernels: every recurrent GEMM in one BLAS call, never cut "
                        "into blocks for OpenBLAS's small-matrix kernels (to compare with)")
    p.add_argument("--markdown", metavar="FILE", help="also write the tables as markdown")
    args = p.parse_args(argv)

    grid = dict(QUICK_GRID if args.quick else FULL_GRID)
    for axis in "BTFH":
        if getattr(args, axis):
            grid[axis] = tuple(getattr(args, axis))
    repeats = args.repeats or (3 if args.quick else 5)
    kernels = tuple(args.kernels or (("numpy", "numba") if numba_available() else ("numpy",)))
    torch.set_num_interop_threads(1)
    set_threads(1)
    meta = describe_run()

    def log(line):
        print(line, flush=True)

    log(f"{meta['machine']}\n{meta['date']}; {meta['versions']}")
    gemm_peak = measure_gemm_peak()
    log(f"single-thread float32 GEMM 2048x2048: {gemm_peak:.1f} GFLOP/s")
    if "numba" in kernels:
        from skrnn.nn._fast import compiled
        if args.one_gemm_call:
            compiled._small_gemm_limit = 0
        log(f"compiled kernels: numba {compiled.numba.__version__} (each loop compiled, or "
            "loaded from numba's cache, at its first call: the warm-up before timing); "
            f"recurrent GEMMs cut into blocks of at most {compiled.small_gemm_limit()} "
            "multiply-adds (0: one call each)")
    log(f"grid: {grid}, repeats={repeats}, min_time={args.min_time}s, "
        f"settle={args.settle}s (more than one thread)\n")

    rows = []
    log(HEADER)
    for threads in args.threads:
        set_threads(threads)
        rows += run_grid(args.cells, grid, threads, repeats, args.min_time, log,
                         args.settle if threads > 1 else 0.0, kernels)
    set_threads(1)

    summary = summarize(rows, args.cells, args.threads, kernels)
    log("\ngeometric mean of skrnn / PyTorch time (target), range:")
    for s in summary:
        tt, ti = TARGETS[s["cell"]]
        log(f"  {s['cell']:<5} {s['kernels']:<5} {s['threads']} thr ({s['n']} points): "
            f"train {s['train']:.2f} ({tt}, {'met' if s['train'] <= tt else 'MISSED'}) "
            f"[{s['train_min']:.2f}-{s['train_max']:.2f}]   "
            f"infer {s['infer']:.2f} ({ti}, {'met' if s['infer'] <= ti else 'MISSED'}) "
            f"[{s['infer_min']:.2f}-{s['infer_max']:.2f}]")
        for r in s["flagged"]:
            log(f"    above {FLAG_RATIO}: " + _row_line(r))

    gflops_rows = [r for r in rows if r["H"] == 256 and r["threads"] == 1]
    if gflops_rows:
        log(f"\nachieved GEMM rate at H=256, 1 thread (peak {gemm_peak:.1f} GFLOP/s):")
        for r in gflops_rows:
            log(f"  {r['cell']:<5} {r['kernels']:<5} B={r['B']:<4} T={r['T']:<4} F={r['F']:<3} "
                f"skrnn {r['gflops_s']:6.1f} GFLOP/s ({100 * r['gflops_s'] / gemm_peak:3.0f}%)"
                f"   PyTorch {r['gflops_t']:6.1f} GFLOP/s")

    memory = {}
    if not args.no_memory:
        log("\npeak memory of one skrnn training step, B=128 T=500 F=16 H=256 "
            "(tracemalloc; numpy reports its buffers to it):")
        for cell in args.cells:
            full, kept_full = peak_memory(cell, 128, 500, 16, 256, None)
            trunc, kept_trunc = peak_memory(cell, 128, 500, 16, 256, 50)
            memory[cell] = (full, trunc, kept_full, kept_trunc)
            log(f"  {cell:<5} full BPTT {full / 2**20:8.1f} MiB   "
                f"tbptt_steps=50 {trunc / 2**20:7.1f} MiB   ({full / trunc:.1f}x less); "
                f"kept for reuse after the step: {kept_full / 2**20:.1f} / "
                f"{kept_trunc / 2**20:.1f} MiB")

    if args.markdown:
        Path(args.markdown).write_text(
            markdown(rows, summary, gemm_peak, gflops_rows, memory, meta) + "\n")
        log(f"\nmarkdown written to {args.markdown}")


def describe_run(skrnn_version=None):
    """The machine, the date and the versions of a run, as the benchmark scripts print them
    (dict with "machine", "date", "versions")."""
    skrnn_part = f", skrnn {skrnn_version}" if skrnn_version else ""
    return dict(
        machine=f"{platform.processor() or platform.machine()}, "
                f"{os.cpu_count()} logical CPUs, {_cpu_model()}",
        date=datetime.date.today().isoformat(),
        versions=f"Python {platform.python_version()}{skrnn_part}, numpy {np.__version__}, "
                 f"torch {torch.__version__}; BLAS: {blas_description()}")


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
