"""
Vanishing and exploding gradients, measured
===========================================

Backpropagation through time sends the gradient of a loss at the last step back through every
earlier step. Each step back multiplies it by the Jacobian of one recurrent step,
:math:`\\partial h_t / \\partial h_{t-1} = \\operatorname{diag}(\\tanh'(a_t))\\, W_{hh}` for a
vanilla tanh RNN. Over many steps that product shrinks geometrically when the recurrent weights
are small (the gradient *vanishes*: early steps get no learning signal) and grows geometrically
when they are large (the gradient *explodes*: one update can wreck the weights). The LSTM's
additive cell state, ``c_t = f * c_{t-1} + i * g``, gives the gradient a path that is only
multiplied by the forget gate.

This example measures it on fitted estimators, with their public methods: for a loss at the
last step (a regressor's squared error), ``state_gradients(X, y)`` returns
:math:`\partial L / \partial h_t` at every step, and the weights are set with
``load_state_dict``.
"""

# %%
# dL/dh_t from an estimator
# -------------------------
# ``state_gradients`` backpropagates the loss that ``fit`` minimises through the head and
# every step, and returns one (T, H) array per sequence. Its norm over the units, relative to
# its norm at the last step, shows how much of the gradient survives each step back.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import ortho_group

from skrnn import RNNRegressor

H, T, B = 32, 100, 64  # hidden size, steps, sequences averaged over
rng = np.random.default_rng(0)
X = 0.5 * rng.normal(size=(B, T, 1))
y = rng.normal(size=B)


def fitted(cell):
    """A regressor of hidden size H fitted for one epoch (the weights are set afterwards)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch does not converge, on purpose
        return RNNRegressor(cell, (H,), max_iter=1, random_state=0).fit(X, y)


def relative_gradient_norms(reg):
    """Mean over the sequences of ||dL/dh_t|| / ||dL/dh_{T-1}||, t = 0..T-1."""
    norms = np.stack([np.linalg.norm(g, axis=1) for g in reg.state_gradients(X, y)])
    return (norms / norms[:, -1:]).mean(axis=0)


# %%
# Four recurrent networks
# -----------------------
# Three vanilla tanh RNNs whose recurrent matrix is a random orthogonal matrix scaled by 0.5,
# 1 and 2 (input weights of standard deviation 1, zero biases), and an LSTM with skrnn's
# default initialisation (orthogonal recurrent blocks, forget-gate bias 1) after one epoch.
Q = ortho_group.rvs(H, random_state=0)
curves = {}
rnn = fitted("rnn")
for scale, label in [(0.5, "small"), (1.0, "orthogonal"), (2.0, "large")]:
    weights = rnn.state_dict()
    weights["weight_hh_l0"] = scale * Q
    weights["weight_ih_l0"] = rng.normal(size=(H, 1))
    weights["bias_ih_l0"] = weights["bias_hh_l0"] = np.zeros(H)
    curves[f"tanh RNN, W_hh = {scale:g} Q ({label})"] = relative_gradient_norms(
        rnn.load_state_dict(weights))
curves["LSTM, default initialisation"] = relative_gradient_norms(fitted("lstm"))

for name, norms in curves.items():
    print(f"{name:40s} relative ||dL/dh_t|| at t=T-50: {norms[-50]:.2e}, t=0: {norms[0]:.2e}")

# %%
# The plot
# --------
# Read it from right to left: the gradient starts at the last step (relative norm 1) and
# travels back in time. The logarithmic axis turns geometric decay and growth into straight
# lines.
fig, ax = plt.subplots(figsize=(8, 4.5))
steps_back = T - 1 - np.arange(T)
for name, norms in curves.items():
    ax.semilogy(steps_back, norms, label=name, lw=2)
ax.invert_xaxis()
ax.set_xlabel("steps back from the loss (T - 1 - t)")
ax.set_ylabel(r"mean $\|\partial L / \partial h_t\| \,/\, \|\partial L / \partial h_{T-1}\|$")
ax.set_title("Gradient norm flowing back through time, loss at the last step")
ax.grid(True, which="major", alpha=0.3)
ax.legend(loc="best", fontsize=9)
fig.tight_layout()
plt.show()

# %%
# With small recurrent weights the gradient from 50 steps back is many orders of magnitude
# below the gradient at the last step: nothing 50 steps back can be learned. With large
# weights it explodes instead: gradient clipping (``max_grad_norm``, see
# :ref:`sphx_glr_auto_examples_plot_gradient_clipping.py`) keeps such steps from wrecking the
# weights, but it cannot bring back a gradient that has vanished. The orthogonal tanh RNN
# decays too, because every :math:`\tanh' < 1` shrinks the gradient. The LSTM's gradient
# decays much more slowly, because of the cell state path.
