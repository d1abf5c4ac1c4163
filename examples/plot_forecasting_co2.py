"""
Forecasting a monthly series against a seasonal-naive baseline
==============================================================

The Mauna Loa CO2 record (shipped with statsmodels) rises every year and swings with the
seasons. The *seasonal-naive* forecast, "the same month last year", captures the season but
misses the yearly rise. Here a GRU forecasts what seasonal-naive leaves out: the change over
12 months, ``d_t = y_t - y_{t-12}``. The forecast of ``y`` is then last year's value plus the
predicted change, so the network improves on the baseline exactly where the baseline is blind.

:class:`~skrnn.RNNForecaster` cuts the series into windows of 24 months
(:func:`~skrnn.make_windows`), fits an :class:`~skrnn.RNNRegressor` that predicts the next
12 months at once (``strategy="direct"``), and returns pandas Series with the future dates.
"""

# %%
# The monthly series and its yearly change
# ----------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import statsmodels.api as sm
from sklearn.exceptions import ConvergenceWarning

from skrnn import RNNForecaster, RNNRegressor, make_windows

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed budget of epochs

weekly = sm.datasets.co2.load_pandas().data["co2"]
co2 = weekly.resample("MS").mean().interpolate()  # monthly means; fills the few gaps
last_year = co2.shift(12)
change = (co2 - last_year).dropna()  # d_t, the 12-month change
print(f"{len(co2)} months, {co2.index[0]:%Y-%m} to {co2.index[-1]:%Y-%m}")

# %%
# What the regressor sees
# -----------------------
# Each training example is 24 months of ``d`` followed by the 12 months to predict.
X_windows, y_windows = make_windows(change[:"1996-12"], window=24, horizon=12)
print("windows:", X_windows.shape, "targets:", y_windows.shape)

# %%
# Fit on the data up to 1996, then forecast five years, one year at a time
# ------------------------------------------------------------------------
# ``predict(y=...)`` forecasts from the end of the series it is given, without refitting:
# at the end of each December from 1996 to 2000, the next 12 months.
forecaster = RNNForecaster(RNNRegressor("gru", hidden_layer_sizes=(16,), max_iter=50,
                                        random_state=0),
                           window=24, horizon=12)
forecaster.fit(change[:"1996-12"])

origins = pd.date_range("1996-12-01", "2000-12-01", freq="12MS")
rnn, naive, drift = [], [], []
for origin in origins:
    predicted_change = forecaster.predict(y=change[:origin])  # Series, the next 12 months
    months = predicted_change.index
    rnn.append(last_year[months] + predicted_change)
    naive.append(last_year[months])
    # a second baseline: seasonal naive plus the last observed 12-month change
    drift.append(last_year[months] + change[origin])
rnn, naive, drift = pd.concat(rnn), pd.concat(naive), pd.concat(drift)
truth = co2[rnn.index]


def mae(forecast):
    return float(np.mean(np.abs(forecast - truth)))


for name, forecast in [("GRU on the 12-month change", rnn), ("seasonal naive", naive),
                       ("seasonal naive + last 12-month change", drift)]:
    print(f"{name:40s} mean absolute error 1997-2001: {mae(forecast):.3f} ppm")

# %%
# The forecasts
# -------------
fig, (ax_all, ax_test) = plt.subplots(2, 1, figsize=(10, 7))
ax_all.plot(co2.index, co2, color="0.3", lw=1)
ax_all.axvspan(rnn.index[0], rnn.index[-1], color="tab:orange", alpha=0.2,
               label="forecast period")
ax_all.set_ylabel("CO2 (ppm)")
ax_all.set_title("Mauna Loa CO2, monthly means")
ax_all.legend(loc="upper left")

shown = co2["1995-01":]
ax_test.plot(shown.index, shown, color="k", lw=2, label="observed")
ax_test.plot(naive.index, naive, color="tab:gray", ls="--",
             label=f"seasonal naive (MAE {mae(naive):.2f})")
ax_test.plot(drift.index, drift, color="tab:green", ls=":",
             label=f"seasonal naive + last change (MAE {mae(drift):.2f})")
for k, origin in enumerate(origins):
    part = rnn[origin + pd.DateOffset(months=1):origin + pd.DateOffset(months=12)]
    ax_test.plot(part.index, part, color="tab:orange", lw=2,
                 label=f"GRU, 12 months at a time (MAE {mae(rnn):.2f})" if k == 0 else None)
for origin in origins:
    ax_test.axvline(origin, color="0.8", lw=0.8, zorder=0)
ax_test.set_ylabel("CO2 (ppm)")
ax_test.set_title("12-month forecasts from each December, 1996 to 2000")
ax_test.legend(loc="upper left", fontsize=8)
fig.tight_layout()
plt.show()
