#!/usr/bin/env python
"""How fast can a NumPy LSTM inference step be? The floor against PyTorch's fused kernel.

An LSTM step needs, at the least, one GEMM and seven elementwise NumPy calls: one tanh over all
gates, two calls turning three of them into sigmoids, one product [i; f] * [g; c_prev] over
adjacent blocks (the cell state stored right after the g gate, as skrnn stores it), one add of
its halves into c, a tanh of c and ``h = o*tanh(c)``. This script times exactly that sequence
of calls in a bare loop, with every view prepared beforehand (nothing a real implementation
could skip), and compares it with:

* skrnn's whole inference step (``RecurrentNetwork.forward`` divided by T), and
* PyTorch's ``nn.LSTM`` inference (oneDNN's fused kernel) divided by T,

one thread each, float32, T=500, over B in {32, 128} and H in {16, 64, 256} (F=16). The floor's
buffers hold a few steps and are reused, as skrnn's ring is, so they stay in cache. The
"floor / PyTorch" column is the best ratio any NumPy implementation of the step could reach.

    python benchmarks/bench_lstm_floor.py
"""

import sys
import time
from pathlib import Path

import numpy as np
from scipy.linalg.blas import sgemm
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from skrnn.nn import RecurrentNetwork  # noqa: E402

T, F = 500, 16
RING = 10  # steps of the floor's buffers (T is a multiple)


def best_of(fn, repeats=5):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def numpy_floor(B, H, rng):
    """Seconds per step of the bare call sequence (projection excluded), over buffers of
    ``RING`` steps that every ``RING`` steps start over, so that they stay in cache."""
    W = (0.1 * rng.standard_normal((4 * H, H))).astype(np.float32)
    Z = rng.standard_normal((RING + 1, 5 * H, B)).astype(np.float32)  # rows (o, i, f, g, c)
    A, CS = Z[:RING, : 4 * H], Z[:, 4 * H :]
    HS = np.zeros((RING + 1, H, B), np.float32)
    tanh_c, pair = np.empty((H, B), np.float32), np.empty((2 * H, B), np.float32)
    ig, fc = pair[:H], pair[H:]
    half = np.float32(0.5)
    steps = list(zip(list(A.transpose(0, 2, 1)), list(HS[:RING].transpose(0, 2, 1)), list(A),
                     list(A[:, : 3 * H]), list(A[:, :H]), list(A[:, H : 3 * H]),
                     list(Z[:RING, 3 * H :]), list(CS[1:]), list(HS[1:]))) * (T // RING)
    W_T = W.T

    def run():
        for a_T, h_prev_T, a, sig, o, i_f, g_c, c, h in steps:
            sgemm(1.0, h_prev_T, W_T, 1.0, a_T, 0, 0, 1)
            np.tanh(a, a)
            np.multiply(sig, half, sig)
            np.add(sig, half, sig)
            np.multiply(i_f, g_c, pair)
            np.add(fc, ig, c)
            np.tanh(c, tanh_c)
            np.multiply(o, tanh_c, h)

    return best_of(run) / T


def skrnn_step(B, H, rng):
    net = RecurrentNetwork("lstm", input_size=F, hidden_sizes=(H,), n_outputs=10)
    theta = net.init_params(rng, np.float32)
    X = rng.standard_normal((B, T, F)).astype(np.float32)
    lengths = np.full(B, T)
    return best_of(lambda: net.forward(theta, X, lengths)) / T


def torch_step(B, H, rng):
    model = torch.nn.LSTM(F, H, batch_first=True)
    X = torch.from_numpy(rng.standard_normal((B, T, F)).astype(np.float32))

    def run():
        with torch.inference_mode():
            model(X)

    return best_of(run) / T


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(f"LSTM inference, one thread, float32, T={T}, F={F}: microseconds per time step\n")
    print(f"{'B':>4} {'H':>4} {'NumPy floor':>12} {'skrnn':>8} {'PyTorch':>8} "
          f"{'floor/PyTorch':>14} {'skrnn/PyTorch':>14}")
    with threadpool_limits(1):
        for B in (32, 128):
            for H in (16, 64, 256):
                floor, ours, theirs = (fn(B, H, rng) * 1e6 for fn in
                                       (numpy_floor, skrnn_step, torch_step))
                print(f"{B:>4} {H:>4} {floor:>12.2f} {ours:>8.2f} {theirs:>8.2f} "
                      f"{floor / theirs:>14.2f} {ours / theirs:>14.2f}")


if __name__ == "__main__":
    main()
