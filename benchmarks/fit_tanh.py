#!/usr/bin/env python
"""Fit the rational tanh of the compiled float32 kernels and measure its error.

tanh(x) ~ x P(x^2) / Q(x^2) on [0, 9], P of degree 6 and Q of degree 3 in x^2 with Q(0) = 1,
fitted by iteratively reweighted linear least squares on the relative error (the weights grow
where the error is largest, pushing the fit towards minimax). Past 9, float32 tanh is 1 to
half a unit in the last place, and the kernel returns +-1.

Prints the coefficients (as ``skrnn/nn/_fast/compiled.py`` holds them) and the error of the
float32 evaluation, by the compiled kernel when numba is installed, against float64 tanh, next
to numpy's float32 tanh.

Example
-------
    python benchmarks/fit_tanh.py
"""

import numpy as np

CLAMP = 9.0
DEG_P, DEG_Q = 7, 3  # coefficients of P (x^0..x^12 in x) and of Q beyond its constant 1


def fit(iterations=60):
    x = np.linspace(0, CLAMP, 200_001)[1:]
    y, s = np.tanh(x), x * x
    w = np.ones_like(x)
    for it in range(iterations):
        # x P(s) - y (Q(s) - 1) = y, each row divided by y: the relative error
        A = np.concatenate([x[:, None] * s[:, None] ** np.arange(DEG_P),
                            -y[:, None] * s[:, None] ** np.arange(1, DEG_Q + 1)], axis=1)
        A = A / y[:, None] * w[:, None]
        scale = np.abs(A).max(axis=0)
        c = np.linalg.lstsq(A / scale, w, rcond=None)[0] / scale
        p, q = c[:DEG_P], np.concatenate([[1.0], c[DEG_P:]])
        rel = np.abs(x * np.polyval(p[::-1], s) / np.polyval(q[::-1], s) - y) / y
        if it > 5:
            w = w * (rel / rel.max()) ** 0.3 + 1e-12
            w /= w.mean()
    return p, q, rel.max()


def float32_error(x, approx):
    exact = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    err = np.abs(approx.astype(np.float64) - exact)
    return err.max(), (err / ulp).max()


def main():
    p, q, rel = fit()
    print(f"relative error of the fit in float64: {rel:.2e}")
    print("P:", ", ".join(repr(float(v)) for v in p))
    print("Q (after 1):", ", ".join(repr(float(v)) for v in q[1:]))
    x = np.random.default_rng(0).uniform(-12, 12, 2_000_000).astype(np.float32)
    print(f"np.tanh float32: max abs error {float32_error(x, np.tanh(x))[0]:.2e}, "
          f"{float32_error(x, np.tanh(x))[1]:.1f} ulp")
    try:
        from skrnn.nn._fast.compiled import rnn_tanh_forward_step
    except ImportError:
        print("numba is not installed: the kernel's own evaluation is not measured")
        return
    y = x.reshape(1, -1).copy()
    rnn_tanh_forward_step(y, y.shape[1])
    err, ulps = float32_error(x, y[0])
    print(f"compiled kernel's tanh float32: max abs error {err:.2e}, {ulps:.1f} ulp")


if __name__ == "__main__":
    main()
