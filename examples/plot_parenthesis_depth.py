"""
A language model that learns to count brackets
==============================================

To predict the next character of ``(a(bc)(d))``, a language model has to know how many
brackets are open: a ``)`` cannot come when none is, and the text cannot end while one is.
Nobody tells the model about depth; it only learns to predict the next character. This
example trains a small character-level :class:`~skrnn.RNNLanguageModel` on random
well-formed bracket strings, then looks inside: it finds the hidden unit whose activation
follows the nesting depth most closely, draws it over a string, and measures with
:meth:`~skrnn.RNNLanguageModel.predict_proba` how much chance the model gives ``)`` where
every bracket is closed, against where one is open.
"""

# %%
# Random well-formed bracket strings
# ----------------------------------
# Each string is a random walk: open a bracket, close one (only if one is open) or write a
# letter, up to a random length; the brackets still open are then closed. Every string is
# balanced, with depths up to ``MAX_DEPTH``.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skrnn import RNNLanguageModel

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed budget of epochs

rng = np.random.default_rng(0)
MAX_DEPTH = 5
LETTERS = "abcd"


def random_string(n_steps):
    """A balanced string of brackets and letters."""
    chars, depth = [], 0
    for _ in range(n_steps):
        u = rng.random()
        if u < 0.35 and depth < MAX_DEPTH:
            chars.append("(")
            depth += 1
        elif u < 0.7 and depth > 0:
            chars.append(")")
            depth -= 1
        else:
            chars.append(rng.choice(list(LETTERS)))
    return "".join(chars) + ")" * depth


def depths(s):
    """The nesting depth after each character."""
    return np.cumsum([{"(": 1, ")": -1}.get(c, 0) for c in s])


strings = [random_string(n) for n in rng.integers(10, 50, size=1000)]
train, test = strings[:800], strings[800:]
print("a few training strings:", *strings[:4], sep="\n  ")
print(f"deepest nesting in the training strings: {max(depths(s).max() for s in train)}")

# %%
# A small GRU language model
# --------------------------
# Each string is a text of its own (``mode="documents"``): the model reads ``<bos>`` and the
# characters and predicts every character and the end marker. It trains for all 40 epochs
# (``n_iter_no_change=40``): the training loss of such a small task flattens for a few
# epochs long before the counting is learned well, and the default stopping rule would
# stop there.
lm = RNNLanguageModel("gru", hidden_layer_sizes=(24,), embedding_dim=8, batch_size=16,
                      max_iter=40, n_iter_no_change=40, learning_rate_init=0.01,
                      random_state=0)
lm.fit(train)
print(f"held-out perplexity: {lm.perplexity(test):.3f} per predicted token")

# %%
# Which unit tracks the depth?
# ----------------------------
# ``lm.encoder_.transform`` gives each string as framed token ids ``[<bos>, ids..., <eos>]``.
# The network reads the ids without the last one (``<bos>`` and the characters), and
# ``network_.hidden_states`` returns the top layer's state after every step, so step t
# holds the state after reading character t. Its correlation with the depth after that
# character is measured over all held-out strings.
def states_of(texts):
    """The hidden states after each character of each text, concatenated: (n_chars, H)."""
    out = []
    for ids in lm.encoder_.transform(texts):
        inputs = ids[None, :-1]  # <bos> and the characters
        h, _ = lm.network_.hidden_states(lm.theta_, inputs, [inputs.shape[1]])
        out.append(h[0, 1:])  # drop the state after <bos>: one row per character
    return np.concatenate(out)


H = states_of(test)
depth = np.concatenate([depths(s) for s in test])
corr = np.array([np.corrcoef(H[:, k], depth)[0, 1] for k in range(H.shape[1])])
unit = int(np.argmax(np.abs(corr)))
print("correlation of each unit with the depth:", np.round(corr, 2))
print(f"unit {unit} follows the depth best: correlation {corr[unit]:+.3f} "
      f"over {len(depth)} held-out characters")

# %%
# The unit over one string
# ------------------------
# A longer string than any seen in training, with the unit's activation drawn against the
# depth on a second axis.
s = random_string(70)
h = states_of([s])[:, unit]
x = np.arange(len(s))
fig, ax = plt.subplots(figsize=(12, 3.5))
ax.step(x, depths(s), where="mid", color="k", label="depth")
ax.set_ylabel("depth")
ax.set_xticks(x)
ax.set_xticklabels(list(s), family="monospace", fontsize=7)
ax.set_xlabel("character read")
ax2 = ax.twinx()
ax2.plot(x, h, "o-", color="C3", ms=3, label=f"unit {unit}")
ax2.set_ylabel(f"activation of unit {unit}", color="C3")
ax.set_title(f"unit {unit} against the nesting depth "
             f"(correlation on this string {np.corrcoef(h, depths(s))[0, 1]:+.3f})")
fig.tight_layout()
plt.show()

# %%
# How likely is ``)`` where no bracket is open?
# ---------------------------------------------
# :meth:`~skrnn.RNNLanguageModel.predict_proba` gives the distribution of the next
# character after each prefix (its columns are ``classes_``). After a balanced prefix
# the model should give ``)`` almost no probability, and after an unbalanced one a fair
# share of it. The end marker ``<eos>`` is the other way round: a text cannot end while a
# bracket is open.
prefixes = ["", "ab", "(a)", "((b)c)", "(a(b)(c))d", "(", "((a)", "(a(b(c", "((((("]
proba = lm.predict_proba(prefixes)
close, end = list(lm.classes_).index(")"), list(lm.classes_).index("<eos>")
print(f"{'prefix':<12} {'depth':>5} {'P())':>8} {'P(<eos>)':>9}")
for prefix, p in zip(prefixes, proba):
    d = depths(prefix)[-1] if prefix else 0
    print(f"{prefix!r:<12} {d:>5} {p[close]:>8.4f} {p[end]:>9.4f}")

# %%
# The same over every prefix of the held-out strings: the probability of ``)`` grouped by
# the depth before it.
all_prefixes = [s[:t] for s in test for t in range(len(s) + 1)]
prefix_depth = np.array([depths(p)[-1] if p else 0 for p in all_prefixes])
p_close = lm.predict_proba(all_prefixes)[:, close]
print(f"{'depth':>5} {'prefixes':>8} {'mean P())':>10} {'max P())':>9}")
for d in range(MAX_DEPTH + 1):
    sel = prefix_depth == d
    if sel.any():
        print(f"{d:>5} {sel.sum():>8} {p_close[sel].mean():>10.4f} {p_close[sel].max():>9.4f}")
closed = prefix_depth == 0
print(f"where every bracket is closed, P()) < 0.01 after {np.mean(p_close[closed] < 0.01):.1%} "
      f"of the prefixes; where one is open, P()) < 0.01 after "
      f"{np.mean(p_close[~closed] < 0.01):.1%}")
