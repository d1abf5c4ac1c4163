"""
Tagging every step: regimes of a hidden Markov process
======================================================

A series switches between a calm regime (small steps) and a volatile regime (large steps)
according to a hidden two-state Markov chain that stays in its state with probability 0.97.
Only the series is observed; the task is to label every step with the regime it was drawn
from. A single step says little (a volatile step can be small), but the recent past says a
lot, and with ``bidirectional=True`` the near future helps too.

:class:`~skrnn.RNNSequenceTagger` predicts one label per step: ``y`` is a list of per-step
label arrays, ``predict`` returns one, and ``score`` is the accuracy over all real steps.
"""

# %%
# Simulated sequences of different lengths
# ----------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skrnn import RNNSequenceTagger

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epoch budgets here

rng = np.random.default_rng(0)
STAY, SCALES = 0.97, np.array([0.3, 1.5])  # P(stay in regime); step std of each regime


def simulate(n_steps):
    regime = np.empty(n_steps, dtype=int)
    regime[0] = rng.integers(2)
    for t in range(1, n_steps):
        regime[t] = regime[t - 1] if rng.random() < STAY else 1 - regime[t - 1]
    return rng.normal(scale=SCALES[regime]), regime


sequences = [simulate(n) for n in rng.integers(60, 150, size=200)]
X = [x for x, _ in sequences]  # ragged: 1-D arrays of 60..149 steps
y = [r for _, r in sequences]
X_train, X_test, y_train, y_test = X[:150], X[150:], y[:150], y[150:]
print(f"{len(X_train)} training and {len(X_test)} test sequences, "
      f"{sum(map(len, X_train))} training steps")

# %%
# Two taggers and a baseline
# --------------------------
# The baseline thresholds the absolute value of each step on its own, at the point where the
# two regimes' densities cross: the best any rule that sees one step can do.
threshold = np.sqrt(2 * np.log(SCALES[1] / SCALES[0]) / (SCALES[0] ** -2 - SCALES[1] ** -2))
baseline = np.mean(np.concatenate([(np.abs(x) > threshold) == r
                                   for x, r in zip(X_test, y_test)]))
print(f"one step at a time (|x| > {threshold:.2f}): accuracy {baseline:.3f}")

taggers = {
    "GRU, past only": RNNSequenceTagger("gru", (16,), max_iter=20, random_state=0),
    "bidirectional GRU": RNNSequenceTagger("gru", (16,), bidirectional=True, max_iter=20,
                                           random_state=0),
}
for name, tagger in taggers.items():
    tagger.fit(X_train, y_train)
    print(f"{name}: test accuracy over all steps {tagger.score(X_test, y_test):.3f}")

# %%
# One test sequence, step by step
# -------------------------------
# ``predict_proba`` gives the probability of each regime at every step.
x, regime = X_test[0], y_test[0]
proba = {name: t.predict_proba([x])[0][:, 1] for name, t in taggers.items()}

fig, (ax_x, ax_p) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
t = np.arange(len(x))
ax_x.plot(t, x, color="0.2", lw=1)
ax_x.fill_between(t, x.min(), x.max(), where=regime == 1, color="tab:red", alpha=0.15,
                  step="mid", label="volatile regime (truth)")
ax_x.set_ylabel("observed series")
ax_x.legend(loc="upper right")
for name, p in proba.items():
    ax_p.plot(t, p, lw=2, label=name)
ax_p.step(t, regime, where="mid", color="k", ls="--", lw=1, label="true regime")
ax_p.set_ylabel("P(volatile)")
ax_p.set_xlabel("step")
ax_p.legend(loc="upper right", fontsize=9)
fig.suptitle("Regime tagging with RNNSequenceTagger")
fig.tight_layout()
plt.show()
