"""
Averaging random seeds with VotingClassifier and VotingRegressor
================================================================

Two fits of the same recurrent network that differ only in ``random_state`` start from
different weights and see the batches in a different order, so they end in different places
and make different mistakes. Averaging the predictions of a few such seeds is a cheap
ensemble, and scikit-learn already has the tools for it:
:class:`~sklearn.ensemble.VotingClassifier` with ``voting="soft"`` averages the members'
``predict_proba``, and :class:`~sklearn.ensemble.VotingRegressor` averages their
``predict``. Both hand ``X`` to every member unchanged, so they take whatever the members
take: here a 3-D array ``(n_sequences, T, n_features)`` and a ragged list of
``(T_i, n_features)`` arrays.

The classification data is ItalyPowerDemand (UCR archive, shipped with aeon, so this
example runs offline): 24 hourly readings of Italy's electricity demand for one day, and the
task is to tell a day from October to March from a day from April to September. The
regression data is the monthly airline passenger series, also from aeon.
"""

# %%
# Load and convert
# ----------------
# aeon returns the equal-length series channels-first, ``(n, n_channels, T)``; skrnn wants
# ``(n, T, n_channels)``.
import itertools
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from aeon.datasets import load_airline, load_classification
from sklearn.base import clone
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import accuracy_score, log_loss

from skrnn import RNNClassifier, RNNRegressor, make_windows
from skrnn.sequences import from_channels_first

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed budget of epochs

X_train_nct, y_train = load_classification("ItalyPowerDemand", split="train")
X_test_nct, y_test = load_classification("ItalyPowerDemand", split="test")
X_train, X_test = X_train_nct.transpose(0, 2, 1), X_test_nct.transpose(0, 2, 1)
print(f"{len(X_train)} training and {len(X_test)} test days, X_train {X_train.shape}, "
      f"classes {np.unique(y_train)}")

# %%
# Five voters: clones of one estimator with different seeds
# ---------------------------------------------------------
# :func:`~sklearn.base.clone` copies the parameters of ``base`` without any fitted state,
# and ``set_params`` changes only the seed, so the five voters differ in nothing else.
base = RNNClassifier("gru", hidden_layer_sizes=(32,), batch_size=16, max_iter=20)
seeds = range(5)
voters = [(f"seed{s}", clone(base).set_params(random_state=s)) for s in seeds]
vote = VotingClassifier(voters, voting="soft")
for name, est in vote.estimators:
    print(f"{name}: random_state={est.random_state}, cell={est.cell!r}, "
          f"hidden_layer_sizes={est.hidden_layer_sizes}, max_iter={est.max_iter}")

# %%
# Fit the vote on the 3-D array
# -----------------------------
# ``VotingClassifier`` fits a clone of every voter (its fitted members are in
# ``estimators_`` and ``named_estimators_``) and predicts the class with the highest mean
# probability. The checks below show that the soft vote's ``predict_proba`` is the plain
# mean of the members' ``predict_proba``, and that the ragged-list form of the same days
# (:func:`skrnn.sequences.from_channels_first`) gives the same probabilities.
vote.fit(X_train, y_train)
proba = vote.predict_proba(X_test)
members_mean = np.mean([est.predict_proba(X_test) for est in vote.estimators_], axis=0)
print("predict_proba of the vote equals the mean of the members':",
      np.allclose(proba, members_mean))
X_test_ragged = from_channels_first(X_test_nct)
print(f"ragged input: a {type(X_test_ragged).__name__} of {len(X_test_ragged)} arrays of "
      f"shape {X_test_ragged[0].shape}, same probabilities:",
      np.allclose(vote.predict_proba(X_test_ragged), proba))

# %%
# Each seed against the vote
# --------------------------
# ``VotingClassifier`` encodes the labels before it fits the members, so a member's
# ``classes_`` are the codes ``0 .. n_classes - 1`` and its predictions are compared with
# ``vote.le_.transform(y_test)``, not with ``y_test``.
y_test_codes = vote.le_.transform(y_test)
print("a member's classes_:", vote.estimators_[0].classes_, "  the vote's:", vote.classes_)
rows = []
for (name, _), est in zip(vote.estimators, vote.estimators_):
    rows.append({"model": name,
                 "accuracy": accuracy_score(y_test_codes, est.predict(X_test)),
                 "log loss": log_loss(y_test_codes, est.predict_proba(X_test))})
seed_table = pd.DataFrame(rows).set_index("model")
vote_accuracy = vote.score(X_test, y_test)
vote_log_loss = log_loss(y_test, proba, labels=vote.classes_)
table = pd.concat([seed_table, pd.DataFrame(
    {"accuracy": [vote_accuracy], "log loss": [vote_log_loss]}, index=["soft vote"])])
table["test errors"] = np.rint((1 - table["accuracy"]) * len(y_test)).astype(int)
print(table.round(4).to_string())

best_seed, worst_seed = seed_table["accuracy"].idxmax(), seed_table["accuracy"].idxmin()
print(f"\nsingle seeds: accuracy {seed_table['accuracy'].min():.4f} ({worst_seed}) to "
      f"{seed_table['accuracy'].max():.4f} ({best_seed}), mean "
      f"{seed_table['accuracy'].mean():.4f}")
print(f"soft vote: accuracy {vote_accuracy:.4f}; at or above the best seed: "
      f"{vote_accuracy >= seed_table['accuracy'].max()}; at or above the mean seed: "
      f"{vote_accuracy >= seed_table['accuracy'].mean()}")
print(f"log loss of the vote {vote_log_loss:.4f}, of the best seed by log loss "
      f"{seed_table['log loss'].min():.4f}, mean over the seeds "
      f"{seed_table['log loss'].mean():.4f}")

# %%
# The log loss of averaged probabilities is never above the mean of the members' log losses
# (the logarithm is concave); whether it beats the best member, and whether the accuracy
# does, depends on the fits.
#
# Every vote of three or four of the five seeds
# ---------------------------------------------
# :class:`~sklearn.frozen.FrozenEstimator` wraps an already fitted member so that
# ``VotingClassifier.fit`` keeps it as it is: the ten 3-seed and five 4-seed votes below
# reuse the five fits above instead of training again. Each vote is compared with the best
# single seed among its own members.
single_accuracy = seed_table["accuracy"].to_numpy()
subset_rows = []
for k in (3, 4):
    for subset in itertools.combinations(range(len(seeds)), k):
        sub_vote = VotingClassifier(
            [(f"seed{s}", FrozenEstimator(vote.estimators_[s])) for s in subset],
            voting="soft").fit(X_train, y_train)
        subset_rows.append({"seeds": subset, "k": k,
                            "vote": sub_vote.score(X_test, y_test),
                            "best member": single_accuracy[list(subset)].max(),
                            "mean member": single_accuracy[list(subset)].mean()})
subsets = pd.DataFrame(subset_rows)
for k, group in subsets.groupby("k"):
    print(f"{k}-seed votes: {(group['vote'] >= group['best member']).sum()} of {len(group)} "
          f"at or above their best member, {(group['vote'] >= group['mean member']).sum()} "
          f"of {len(group)} at or above their members' mean accuracy; vote accuracy "
          f"{group['vote'].min():.4f} to {group['vote'].max():.4f}")

# %%
# Plot: the seeds, the vote and the subsets
# -----------------------------------------
# On the left, the test accuracy of each seed and of the 5-seed vote (one test day is
# about 0.001 of accuracy); on the right, for each 3- and 4-seed vote, how many more test
# days it classifies correctly than the best of its members (bars below zero: fewer).
fig, (ax_bar, ax_sub) = plt.subplots(1, 2, figsize=(11, 4.2))
names = list(table.index)
colors = ["tab:blue"] * len(seed_table) + ["tab:orange"]
ax_bar.bar(names, table["accuracy"], color=colors)
for i, acc in enumerate(table["accuracy"]):
    ax_bar.text(i, acc, f"{acc:.3f}", ha="center", va="bottom", fontsize=8)
low = table["accuracy"].min() - 0.01
ax_bar.set_ylim(low, table["accuracy"].max() + 0.005)
ax_bar.set_ylabel("test accuracy")
ax_bar.set_title("ItalyPowerDemand: five GRU seeds and their soft vote", fontsize=10)
ax_bar.grid(axis="y", alpha=0.3)

gain = np.rint((subsets["vote"] - subsets["best member"]) * len(y_test)).astype(int)
for k, color in [(3, "tab:green"), (4, "tab:purple")]:
    in_k = (subsets["k"] == k).to_numpy()
    ax_sub.bar(np.flatnonzero(in_k), gain[in_k], color=color, label=f"{k}-seed votes")
ax_sub.axhline(0, color="gray", lw=1)
ax_sub.set_xticks(range(len(subsets)))
ax_sub.set_xticklabels(["".join(map(str, sub)) for sub in subsets["seeds"]], fontsize=7)
ax_sub.set_xlabel("seeds in the vote")
ax_sub.set_ylabel("test days the vote gets right\nminus its best member's")
ax_sub.set_title("every 3- and 4-seed vote against its best member (no refitting)",
                 fontsize=10)
ax_sub.legend(fontsize=8)
ax_sub.grid(axis="y", alpha=0.3)
fig.tight_layout()
plt.show()

# %%
# The same with VotingRegressor: one-month-ahead airline passengers
# -----------------------------------------------------------------
# The monthly passenger counts (1949-1960) grow and swing with the seasons. As in the CO2
# forecasting example, the network predicts the 12-month change of the log count,
# ``d_t = log y_t - log y_{t-12}``, from the 12 months of ``d`` before it
# (:func:`~skrnn.make_windows`); the forecast is then ``y_{t-12} * exp(d_t)``. The last 24
# months are the test months, each forecast from the true history before it. ``d`` is
# standardized with the mean and standard deviation of the training months.
passengers = load_airline()
months = np.arange("1949-01", "1961-01", dtype="datetime64[M]")
log_y = np.log(passengers)
change = log_y[12:] - log_y[:-12]  # change[i] is the change at month i + 12
window, n_test = 12, 24
X_win, y_win = make_windows(change, window=window, horizon=1)
target_month = np.arange(len(y_win)) + window + 12  # index into passengers of each target
test = target_month >= len(passengers) - n_test
mean, std = change[:-n_test].mean(), change[:-n_test].std()
X_win, y_win = (X_win - mean) / std, (y_win[:, 0] - mean) / std
print(f"{(~test).sum()} training and {test.sum()} test windows of shape {X_win.shape[1:]}")


def to_passengers(predicted):
    """Standardized change predictions -> passenger counts of the target months."""
    return passengers[target_month[test] - 12] * np.exp(predicted * std + mean)


def rmse(forecast):
    return np.sqrt(np.mean((forecast - passengers[target_month[test]]) ** 2))


reg_base = RNNRegressor("gru", hidden_layer_sizes=(16,), batch_size=16, max_iter=30)
reg_vote = VotingRegressor([(f"seed{s}", clone(reg_base).set_params(random_state=s))
                            for s in seeds])
reg_vote.fit(X_win[~test], y_win[~test])

forecasts = {name: to_passengers(est.predict(X_win[test]))
             for (name, _), est in zip(reg_vote.estimators, reg_vote.estimators_)}
forecasts["vote"] = to_passengers(reg_vote.predict(X_win[test]))
# baseline: last year's count grown by the latest known 12-month change
forecasts["last change"] = to_passengers(X_win[test][:, -1, 0])
reg_table = pd.Series({name: rmse(f) for name, f in forecasts.items()},
                      name="RMSE (passengers, thousands)")
print(reg_table.round(2).to_string())
seed_rmse = reg_table[[f"seed{s}" for s in seeds]]
print(f"\nsingle seeds: RMSE {seed_rmse.min():.2f} to {seed_rmse.max():.2f}, mean "
      f"{seed_rmse.mean():.2f}; vote {reg_table['vote']:.2f}; at or below the best seed: "
      f"{reg_table['vote'] <= seed_rmse.min()}; at or below the mean seed: "
      f"{reg_table['vote'] <= seed_rmse.mean()}")

# %%
# Plot: the test months, each seed and the vote
# ---------------------------------------------
fig, ax = plt.subplots(figsize=(11, 4))
shown = slice(len(passengers) - 48, None)
ax.plot(months[shown], passengers[shown], color="black", lw=2, label="passengers")
test_months = months[target_month[test]]
for s in seeds:
    ax.plot(test_months, forecasts[f"seed{s}"], color="tab:blue", lw=1, alpha=0.5,
            label="single seeds" if s == 0 else None)
ax.plot(test_months, forecasts["vote"], color="tab:orange", lw=2,
        label=f"VotingRegressor of 5 seeds (RMSE {reg_table['vote']:.1f})")
ax.plot(test_months, forecasts["last change"], color="gray", ls="--", lw=1,
        label=f"last year x latest change (RMSE {reg_table['last change']:.1f})")
ax.set_ylabel("passengers (thousands)")
ax.set_title("one-month-ahead forecasts of the last 24 months", fontsize=10)
ax.legend(fontsize=8, loc="upper left")
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %%
# Notes
# -----
# * Soft voting needs ``predict_proba``, which :class:`~skrnn.RNNClassifier` has;
#   ``voting="hard"`` takes the majority of the predicted labels instead.
# * ``VotingClassifier(..., n_jobs=...)`` fits the members in parallel processes.
# * A fitted vote is one scikit-learn estimator: it clones, pickles and goes into a
#   :class:`~sklearn.pipeline.Pipeline` or a cross-validation like any other.
