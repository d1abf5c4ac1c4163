"""Time one step of a stream against one step inside a sequence, for skrnn and PyTorch.

A stream consumes one time step per call (``RNNClassifier.stream().step(x_t)``): its cost per
step is compared with the cost per step of predicting a whole sequence at once, and with
PyTorch calling its module with one step and the state ``hx`` carried from call to call (plus
the same linear head and softmax), and PyTorch's own cost per step inside a sequence. One
sequence (B=1) unless ``--streams`` says otherwise, float32, one thread for both libraries.

Run::

    python benchmarks/bench_streaming.py             # LSTM and GRU, H in 16 64 256
    python benchmarks/bench_streaming.py --H 64 --cells lstm --markdown out.md
"""

import argparse
import platform
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from skrnn import RNNClassifier


def best_of(fn, repeats, number):
    """Microseconds per call: the best of ``repeats`` timings of ``number`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best * 1e6


def skrnn_model(cell, H, F, K, rng):
    X = rng.normal(size=(32, 10, F)).astype(np.float32)
    y = np.arange(32) % K
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return RNNClassifier(cell, (H,), max_iter=1, random_state=0).fit(X, y)


def torch_model(torch, est):
    """PyTorch's module and head with the estimator's weights."""
    net = est.network_
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[net.cell](
        net.input_size, net.hidden_sizes[0], batch_first=True)
    head = torch.nn.Linear(net.hidden_sizes[0], net.n_outputs)
    weights = {k: torch.from_numpy(v.copy()) for k, v in est.state_dict().items()}
    module.load_state_dict({k: v for k, v in weights.items() if not k.startswith("head.")})
    head.load_state_dict({"weight": weights["head.weight"], "bias": weights["head.bias"]})
    return module, head


def measure(cell, H, n, args, torch, rng):
    F, K, T = args.F, 3, args.T
    est = skrnn_model(cell, H, F, K, rng)
    X = rng.normal(size=(n, T, F)).astype(np.float32)
    stream = est.stream(n)
    t = [0]

    def sk_step():
        stream.step(X[:, t[0] % T])
        t[0] += 1

    row = {"skrnn stream": best_of(sk_step, args.repeats, T),
           "skrnn in sequence": best_of(lambda: est.predict_proba(X), args.repeats, 3) / T}
    check = stream.reset().update(X)[:, -1]
    assert np.allclose(check, est.predict_proba(X), atol=1e-5)
    if torch is not None:
        module, head = torch_model(torch, est)
        Xt = torch.from_numpy(X)
        state = [None]

        def pt_step():
            with torch.inference_mode():
                out, state[0] = module(Xt[:, t[0] % T:t[0] % T + 1], state[0])
                torch.softmax(head(out[:, -1]), dim=-1).numpy()
            t[0] += 1

        def pt_sequence():
            with torch.inference_mode():
                out, _ = module(Xt)
                torch.softmax(head(out[:, -1]), dim=-1).numpy()

        row["PyTorch stream"] = best_of(pt_step, args.repeats, T)
        row["PyTorch in sequence"] = best_of(pt_sequence, args.repeats, 3) / T
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru"],
                        choices=["rnn", "lstm", "gru"])
    parser.add_argument("--H", nargs="+", type=int, default=[16, 64, 256])
    parser.add_argument("--streams", type=int, default=1, help="sequences side by side (B)")
    parser.add_argument("--F", type=int, default=8, help="features per step (default 8)")
    parser.add_argument("--T", type=int, default=500, help="steps per timing (default 500)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--markdown", help="also write the table as markdown to this file")
    args = parser.parse_args()
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    print(f"{platform.machine()}, numpy {np.__version__}"
          + (f", torch {torch.__version__}" if torch else ", no torch"))
    print(f"B={args.streams}, F={args.F}, one thread, float32; microseconds per step, best of "
          f"{args.repeats}")
    cols = ["skrnn stream", "skrnn in sequence", "PyTorch stream", "PyTorch in sequence"]
    header = ["cell", "H"] + cols + ["skrnn stream / in sequence",
                                     "skrnn stream / PyTorch stream"]
    rows = []
    with threadpool_limits(1):
        for cell in args.cells:
            for H in args.H:
                r = measure(cell, H, args.streams, args, torch, rng)
                ratio = r["skrnn stream"] / r["skrnn in sequence"]
                vs = r["skrnn stream"] / r["PyTorch stream"] if torch else float("nan")
                rows.append([cell, str(H)] + [f"{r.get(c, float('nan')):.1f}" for c in cols]
                            + [f"{ratio:.2f}", f"{vs:.2f}"])
                print("  ".join(rows[-1]))
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n")
            for row in rows:
                f.write("| " + " | ".join(row) + " |\n")


if __name__ == "__main__":
    main()
