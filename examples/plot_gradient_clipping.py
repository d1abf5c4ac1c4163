"""
Training with and without gradient clipping
===========================================

A vanilla RNN with ReLU units has no saturation to stop its state (and its gradient) from
growing geometrically over many steps: on long sequences a single mini-batch can produce a
gradient so large that one plain SGD step throws the weights where the loss overflows.
Clipping rescales every mini-batch gradient whose global L2 norm exceeds ``max_grad_norm``
down to that norm: the direction is kept, the step is bounded.

The task: read 150 uniform random numbers and output their mean times 10. The regressor is a
ReLU RNN with 16 units trained with SGD and momentum. ``loss_curve_`` holds the training loss
of every epoch and ``grad_norm_curve_`` the mean gradient norm *before* clipping.

The targets are left in their own units (``scale_target=False``): their mean of 5 makes the
first errors, and with them the first gradients, large. With the default standardised
targets the errors start near 1, and these runs (and unclipped ones up to
learning_rate_init=0.1) stay finite.
"""

# %%
# Data and four training runs
# ---------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skrnn import RNNRegressor

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed budget of epochs

rng = np.random.default_rng(0)
n, T = 256, 150
X = rng.uniform(size=(n, T, 1))
y = 10 * X.mean(axis=(1, 2))

runs = {
    "lr=0.005, no clipping": dict(learning_rate_init=0.005, max_grad_norm=None),
    "lr=0.01, no clipping": dict(learning_rate_init=0.01, max_grad_norm=None),
    "lr=0.01, max_grad_norm=5 (default)": dict(learning_rate_init=0.01, max_grad_norm=5.0),
    "lr=0.01, max_grad_norm=1": dict(learning_rate_init=0.01, max_grad_norm=1.0),
}
models = {}
for name, params in runs.items():
    model = RNNRegressor("rnn", (16,), activation="relu", solver="sgd", batch_size=32,
                         max_iter=30, n_iter_no_change=30, scale_target=False,
                         random_state=0, **params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        model.fit(X, y)
    models[name] = model
    note = "".join(f"\n    warning: {w.message}" for w in caught
                   if issubclass(w.category, RuntimeWarning))
    print(f"{name}: {model.n_iter_} epochs, final loss {model.loss_curve_[-1]:.4f}{note}")

# %%
# The curves
# ----------
# A run that stopped on a non-finite loss ends with a cross.
fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
for name, model in models.items():
    epochs = np.arange(1, model.n_iter_ + 1)
    (line,) = ax_loss.semilogy(epochs, model.loss_curve_, marker=".", label=name)
    ax_grad.semilogy(epochs, model.grad_norm_curve_, marker=".", color=line.get_color())
    if model.n_iter_ < model.max_iter:
        ax_loss.plot(epochs[-1], model.loss_curve_[-1], "x", ms=12, mew=3,
                     color=line.get_color())
ax_loss.set_ylabel("training loss (mean squared error)")
ax_grad.set_ylabel("mean gradient norm before clipping")
for ax in (ax_loss, ax_grad):
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3, which="both")
ax_loss.legend(fontsize=8)
fig.suptitle("ReLU RNN on 150-step sequences, SGD with momentum")
fig.tight_layout()
plt.show()

# %%
# Without clipping, the step size that trains (0.005) sits just below one that diverges
# (0.01): the unclipped run overflowed during its second epoch and stopped, keeping its
# last finite weights. With clipping the same step size trains. With the default threshold
# of 5, the gradient norm falls below it after the first epochs, and from then on clipping
# changes nothing; with a threshold of 1 the norm stays near the threshold, and the loss takes
# a few more epochs to come down. Clipping bounds the size of an update; it does nothing for a
# gradient that vanishes (see
# :ref:`sphx_glr_auto_examples_plot_vanishing_exploding_gradients.py`).
