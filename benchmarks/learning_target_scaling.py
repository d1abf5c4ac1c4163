"""Forecast error with and without the regressors' target scaling (``scale_target``).

:class:`~skrnn.RNNForecaster` at its defaults (window 12, one step ahead, each series divided
by its mean absolute value, an ``RNNRegressor(batch_size=32)``) on two monthly series: the
airline passengers (aeon) and the Mauna Loa CO2 record (statsmodels, weekly means averaged
per month, gaps interpolated). Each is fitted on all but its last ``--tail`` months; the
forecaster then predicts each held-out month from the true months before it (one-step-ahead,
the forecaster's default horizon), and the RMSE over the tail is in the series' units. The
regressor is the default one with ``scale_target`` True (the default) or False, three seeds
each, one BLAS thread.

    python benchmarks/learning_target_scaling.py          # about two minutes

It prints a markdown table; the seasonal-naive forecast (the same month a year before) is
given for scale.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skrnn import RNNForecaster, RNNRegressor


def airline():
    from aeon.datasets import load_airline

    return np.asarray(load_airline(), dtype=float)


def co2():
    import statsmodels.api as sm

    weekly = sm.datasets.co2.load_pandas().data["co2"]
    return weekly.resample("MS").mean().interpolate().to_numpy()


def one_step_rmse(series, tail, scale_target, seed):
    """RMSE of the one-step-ahead forecasts of the last ``tail`` values, and the epochs."""
    regressor = RNNRegressor(batch_size=32, scale_target=scale_target, random_state=seed)
    forecaster = RNNForecaster(regressor).fit(series[:-tail])
    histories = [series[:t] for t in range(len(series) - tail, len(series))]
    forecasts = np.array(forecaster.predict(y=histories)).ravel()
    error = forecasts - series[-tail:]
    return float(np.sqrt(np.mean(error ** 2))), forecaster.estimator_.n_iter_


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tail", type=int, default=24, help="held-out months")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = []
    with threadpool_limits(1):
        for name, series in [("airline", airline()), ("co2", co2())]:
            naive = series[-args.tail - 12:-12] - series[-args.tail:]
            naive_rmse = float(np.sqrt(np.mean(naive ** 2)))
            for scale_target in (True, False):
                start = time.perf_counter()
                runs = [one_step_rmse(series, args.tail, scale_target, seed)
                        for seed in range(args.seeds)]
                rows.append((name, scale_target, [r for r, _ in runs], [n for _, n in runs],
                             naive_rmse, time.perf_counter() - start))
    print(f"RNNForecaster defaults, one-step-ahead RMSE over the last {args.tail} months, "
          f"seeds 0-{args.seeds - 1}\n")
    print("| series | scale_target | RMSE per seed | mean RMSE | epochs | seasonal naive | "
          "seconds |")
    print("|---|---|---|---|---|---|---|")
    for name, scale_target, rmse, epochs, naive_rmse, seconds in rows:
        print(f"| {name} | {scale_target} | {', '.join(f'{r:.3f}' for r in rmse)} | "
              f"{np.mean(rmse):.3f} | {', '.join(map(str, epochs))} | {naive_rmse:.3f} | "
              f"{seconds:.0f} |")


if __name__ == "__main__":
    main()
