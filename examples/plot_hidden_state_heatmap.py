"""
Looking inside: a hidden-state heatmap
======================================

Character-level RNN write-ups famously show single hidden units that track something
interpretable, such as whether the text is inside quotes or how deep the brackets are nested.
This example reproduces that on a small scale: a GRU tagger reads strings of ``(``, ``)`` and
filler characters and labels every character with the current bracket depth. Then
``hidden_states(X)`` returns the top layer's state at every step, drawn as a heatmap of units
by time with the input characters on top.
"""

# %%
# Balanced bracket strings, one-hot encoded
# -----------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skrnn import RNNSequenceTagger

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed budget of epochs

rng = np.random.default_rng(0)
ALPHABET = "()."
MAX_DEPTH = 4


def random_string(n_steps):
    """Random walk of bracket depth in [0, MAX_DEPTH], with filler characters."""
    chars, depth = [], 0
    for _ in range(n_steps):
        u = rng.random()
        if u < 0.3 and depth < MAX_DEPTH:
            chars.append("(")
            depth += 1
        elif u < 0.6 and depth > 0:
            chars.append(")")
            depth -= 1
        else:
            chars.append(".")
    return "".join(chars)


def encode(s):
    """(T, 3) one-hot array, one row per character."""
    return np.eye(len(ALPHABET))[[ALPHABET.index(c) for c in s]]


def depths(s):
    """Bracket depth after each character."""
    return np.cumsum([{"(": 1, ")": -1, ".": 0}[c] for c in s])


strings = [random_string(n) for n in rng.integers(20, 60, size=300)]
X = [encode(s) for s in strings]
y = [depths(s) for s in strings]

# %%
# Train a small GRU tagger
# ------------------------
# The depth (0 to 4) is the class of every step; getting it right needs a counter.
tagger = RNNSequenceTagger("gru", hidden_layer_sizes=(12,), max_iter=80, random_state=0)
tagger.fit(X[:250], y[:250])
print(f"per-character depth accuracy on held-out strings: {tagger.score(X[250:], y[250:]):.3f}")

# %%
# The heatmap
# -----------
# Units are sorted by the correlation of their activation with the depth over the held-out
# strings, so the units that count sit at the top.
states = np.concatenate(tagger.hidden_states(X[250:]))  # (total steps, 12)
depth_all = np.concatenate(y[250:])
corr = np.array([np.corrcoef(states[:, k], depth_all)[0, 1] for k in range(states.shape[1])])
order = np.argsort(-np.abs(corr))
print("correlation of each unit with the depth, strongest first:",
      np.round(corr[order], 2))

s = random_string(70)
h = tagger.hidden_states([encode(s)])[0]  # (70, 12)
fig, (ax_d, ax_h) = plt.subplots(2, 1, figsize=(12, 5.5), sharex=True,
                                 gridspec_kw={"height_ratios": [1, 3]})
ax_d.step(np.arange(len(s)), depths(s), where="mid", color="k")
ax_d.set_ylabel("depth")
ax_d.set_yticks(range(MAX_DEPTH + 1))
ax_d.set_title("input: " + s, family="monospace", fontsize=9)
im = ax_h.imshow(h[:, order].T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                 interpolation="nearest")
ax_h.set_xticks(np.arange(len(s)))
ax_h.set_xticklabels(list(s), family="monospace", fontsize=7)
ax_h.set_yticks(np.arange(len(order)))
ax_h.set_yticklabels([f"unit {k} (r={corr[k]:+.2f})" for k in order], fontsize=7)
ax_h.set_xlabel("input character (time)")
fig.colorbar(im, ax=[ax_d, ax_h], label="hidden state", fraction=0.03)
plt.show()
