"""
Grid search over cell, hidden size and learning rate
====================================================

skrnn estimators are ordinary scikit-learn estimators, so
:class:`~sklearn.model_selection.GridSearchCV` tunes them like any other: here the cell type,
the hidden size and Adam's step size of an :class:`~skrnn.RNNClassifier` on the digits read
row by row (8 steps of 8 pixels), with 3-fold cross-validation.
"""

# %%
# The search
# ----------
# A budget of 10 epochs per fit keeps the 36 fits (12 combinations x 3 folds) to a few
# seconds each.
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split

from skrnn import RNNClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed budget of epochs

digits = load_digits()
X_train, X_test, y_train, y_test = train_test_split(
    digits.images / 16.0, digits.target, train_size=450, stratify=digits.target,
    random_state=0)

param_grid = {
    "cell": ["rnn", "gru", "lstm"],
    "hidden_layer_sizes": [(8,), (32,)],
    "learning_rate_init": [0.003, 0.03],
}
search = GridSearchCV(RNNClassifier(max_iter=10, random_state=0), param_grid, cv=3)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"best cross-validated accuracy: {search.best_score_:.3f}")
print(f"test accuracy of the refitted best model: {search.score(X_test, y_test):.3f}")

# %%
# The results table
# -----------------
results = pd.DataFrame(search.cv_results_)
results["hidden"] = results["param_hidden_layer_sizes"].map(lambda h: h[0])
table = results.pivot_table(index=["param_cell", "hidden"],
                            columns="param_learning_rate_init", values="mean_test_score")
print(table.round(3))

# %%
# Plot: accuracy and fit time of every combination
# ------------------------------------------------
# With 10 epochs on 300 training sequences per fit, the search finds the combination that
# learns fastest under this budget, not the best cell for the problem in general: give
# every combination more epochs (or ``early_stopping=True``) for that.
fig, (ax_acc, ax_time) = plt.subplots(1, 2, figsize=(11, 4.2))
cells = param_grid["cell"]
combos = [(h[0], lr) for h in param_grid["hidden_layer_sizes"]
          for lr in param_grid["learning_rate_init"]]
width = 0.8 / len(combos)
for k, (hidden, lr) in enumerate(combos):
    rows = [results[(results.param_cell == c) & (results.hidden == hidden)
                    & (results.param_learning_rate_init == lr)].iloc[0] for c in cells]
    x = np.arange(len(cells)) + (k - (len(combos) - 1) / 2) * width
    label = f"hidden={hidden}, lr={lr:g}"
    ax_acc.bar(x, [r.mean_test_score for r in rows], width,
               yerr=[r.std_test_score for r in rows], capsize=2, label=label)
    ax_time.bar(x, [r.mean_fit_time for r in rows], width, label=label)
for ax, ylabel in [(ax_acc, "mean CV accuracy (3 folds)"), (ax_time, "mean fit time (s)")]:
    ax.set_xticks(np.arange(len(cells)))
    ax.set_xticklabels(cells)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
ax_acc.set_ylim(0, 1)
ax_acc.legend(fontsize=8, loc="lower right")
fig.suptitle("GridSearchCV over an RNNClassifier, digits as row sequences, 10 epochs per fit")
fig.tight_layout()
plt.show()
