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

This example measures it with skrnn's engine. For a loss at the last step,
:math:`L = \\langle g, h_T \\rangle` with a random direction :math:`g`, it computes
:math:`\\lVert \\partial L / \\partial h_t \\rVert` for every step :math:`t` with
:func:`skrnn.nn.recurrent.backward`, the reference implementation of backpropagation through
time (training runs the engine's fast path, which is tested against it).
"""

# %%
# Getting dL/dh_t out of the engine
# ---------------------------------
# :func:`~skrnn.nn.recurrent.backward` returns the gradient with respect to the layer's
# inputs ``x_t``. With input weights equal to the identity (one input per gate row), that
# gradient *is* the gradient with respect to the pre-activations ``a_t`` of step ``t``
# (PyTorch's gate order), and since ``h_{t-1}`` enters step ``t`` only through
# ``W_hh h_{t-1}``, the gradient with respect to the previous state is
# ``dL/dh_{t-1} = W_hh^T dL/da_t``. The engine stores a batch step by step with one column per
# sequence: inputs ``X1`` of shape (T, D+1, B), whose last row marks the real steps.
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import ortho_group

from skrnn.nn import RecurrentNetwork, Weights, get_cell
from skrnn.nn import recurrent

H, T, B = 32, 100, 64  # hidden size, steps, sequences averaged over


def state_gradient_norms(cell_name, weight_hh, bias, input_scale=0.5, seed=0):
    """Mean over B random sequences of ||dL/dh_t|| for t = 0..T-1, L = <g, h_T>."""
    cell = get_cell(cell_name)
    n_rows = weight_hh.shape[0]  # G*H: one input per gate pre-activation
    w = recurrent.prepare(cell, Weights(np.eye(n_rows), weight_hh, bias, np.zeros(n_rows)))
    rng = np.random.default_rng(seed)
    X1 = np.ones((T, n_rows + 1, B))  # every step of every sequence is real
    X1[:, :n_rows] = input_scale * rng.normal(size=(T, n_rows, B))
    n_active = [B] * T
    state0 = tuple(np.zeros((H, B)) for _ in cell.state_names)
    forward = recurrent.forward(cell, w, X1, n_active, state0)
    dY = np.zeros((T, H, B))
    dY[-1] = rng.normal(size=(H, B)) / np.sqrt(H)  # the loss reads the last state only
    dX, _ = recurrent.backward(cell, w, forward.cache, dY, n_active)
    dh = np.empty((T, H, B))
    dh[-1] = dY[-1]
    dh[:-1] = weight_hh.T @ dX[1:]  # dL/dh_{t-1} = W_hh^T dL/da_t, every step at once
    return np.linalg.norm(dh, axis=1).mean(axis=1)


# %%
# Four recurrent networks
# -----------------------
# Three vanilla tanh RNNs whose recurrent matrix is a random orthogonal matrix scaled by 0.5,
# 1 and 2, and an LSTM with skrnn's default initialisation (orthogonal recurrent blocks,
# forget-gate bias 1), all with hidden size 32 and inputs of standard deviation 0.5.
Q = ortho_group.rvs(H, random_state=0)
curves = {}
for scale, label in [(0.5, "small"), (1.0, "orthogonal"), (2.0, "large")]:
    curves[f"tanh RNN, W_hh = {scale:g} Q ({label})"] = state_gradient_norms(
        "rnn", scale * Q, np.zeros(H))

lstm = RecurrentNetwork("lstm", input_size=1, hidden_sizes=(H,), n_outputs=1)
params = lstm.unpack(lstm.init_params(np.random.default_rng(0)))
curves["LSTM, default initialisation"] = state_gradient_norms(
    "lstm", params["weight_hh_l0"], params["bias_ih_l0"])

for name, norms in curves.items():
    print(f"{name:40s} ||dL/dh_t|| at t=T-1: {norms[-1]:.2e}, t=T-50: {norms[-50]:.2e}, "
          f"t=0: {norms[0]:.2e}")

# %%
# The plot
# --------
# Read it from right to left: the gradient starts at the last step with norm about 1 and
# travels back in time. The logarithmic axis turns geometric decay and growth into straight
# lines.
fig, ax = plt.subplots(figsize=(8, 4.5))
steps_back = T - 1 - np.arange(T)
for name, norms in curves.items():
    ax.semilogy(steps_back, norms, label=name, lw=2)
ax.invert_xaxis()
ax.set_xlabel("steps back from the loss (T - 1 - t)")
ax.set_ylabel(r"mean $\|\partial L / \partial h_t\|$")
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
