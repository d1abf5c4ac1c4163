"""
A character-level language model of Python's documentation
==========================================================

A character-level language model reads text one character at a time and learns the
probability of the next character given all the ones before it. This example trains an LSTM
:class:`~skrnn.RNNLanguageModel` on prose from Python's own reference documentation, the texts
that ``help()`` shows for keywords and topics. They ship with every Python installation in
the standard library module ``pydoc_data.topics``, so the example needs no download.

The model is measured in bits per character: the average number of bits it would take to
encode each held-out character with the model's probabilities. Two simple count-based
character models, computed below from the same training text, show what the recurrent
network adds. Finally the model writes new text at three temperatures.
"""

# %%
# The text: paragraphs of the language reference
# ----------------------------------------------
# Each topic is cut into paragraphs; indented blocks (code and grammar rules) are left out,
# so what remains is English prose about Python. Line breaks inside a paragraph are turned
# into spaces. The paragraphs are shuffled with a fixed seed, and a share of them is held
# out as the test text: the model never reads it while training.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from pydoc_data.topics import topics
from sklearn.exceptions import ConvergenceWarning

from skrnn import RNNLanguageModel

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed budget of epochs

TOPICS = ["assignment", "calls", "class", "comparisons", "compound", "execmodel", "for",
          "function", "import", "naming", "raise", "specialnames", "try", "types", "with"]
paragraphs = [" ".join(p.split())
              for name in TOPICS if name in topics
              for p in topics[name].split("\n\n")
              if p.strip() and not p.startswith(" ")]
paragraphs = [p for p in paragraphs if len(p) > 80]
np.random.default_rng(0).shuffle(paragraphs)

# about 40,000 characters to train on and 6,000 to test on
n_chars = np.cumsum([len(p) + 2 for p in paragraphs])  # each text also predicts its end
train = paragraphs[:np.searchsorted(n_chars, 40_000)]
rest = paragraphs[len(train):]
test = rest[:np.searchsorted(np.cumsum([len(p) for p in rest]), 6_000)]
print(f"{len(train)} paragraphs, {sum(map(len, train))} characters to train on; "
      f"{len(test)} paragraphs, {sum(map(len, test))} characters to test on")
print("a training paragraph:", train[0][:300], "...")

# %%
# Train an LSTM on the stream of text
# -----------------------------------
# With ``mode="stream"`` the paragraphs are joined (each framed by its begin and end
# markers) into one long stream, which is cut into ``batch_size`` rows read side by side.
# Each row is read in windows of ``tbptt_steps`` characters, with the state carried from one
# window to the next and an update after every window: truncated backpropagation through
# time, the way char-rnn trains. ``early_stopping=True`` holds out the end of the stream,
# scores it after every epoch and keeps the weights of the best epoch.
lm = RNNLanguageModel("lstm", hidden_layer_sizes=(128,), embedding_dim=32, mode="stream",
                      tbptt_steps=64, batch_size=32, learning_rate_init=0.01, max_iter=16,
                      early_stopping=True, n_iter_no_change=3, random_state=0)
start = time.perf_counter()
lm.fit(train)
print(f"{len(lm.classes_)} tokens in the vocabulary (characters and 4 markers); "
      f"{lm.n_iter_} epochs, {lm.t_} updates in {time.perf_counter() - start:.0f} s")

# %%
# The learning curve in bits per character
# ----------------------------------------
# ``loss_curve_`` holds the training loss of each epoch, the negative log-likelihood per
# character in nats; ``validation_scores_`` holds the log-likelihood per character of the
# held-out end of the stream. Dividing by ln 2 turns nats into bits.
train_bpc = np.array(lm.loss_curve_) / np.log(2)
val_bpc = -np.array(lm.validation_scores_) / np.log(2)
best = int(np.argmax(lm.validation_scores_))
print(f"best epoch {best + 1}: {train_bpc[best]:.3f} bits per character on the training "
      f"stream, {val_bpc[best]:.3f} on the held-out end of the stream")

# %%
# Count-based baselines
# ---------------------
# A unigram model predicts every character from its frequency alone; a trigram model from
# the two characters before it. Both are counted on the same training texts, framed and
# encoded by the model's own encoder (``lm.encoder_``), so they predict the same tokens:
# every character of a test paragraph and its end marker, with characters never seen in
# training mapped to ``<unk>``. The trigram is smoothed with Witten-Bell interpolation,
# which backs off to the bigram, the unigram and finally a uniform distribution over the
# tokens that can be predicted.
V = len(lm.classes_) - 2  # every token but <pad> and <bos>, which are never predicted
BOS = 2


def count_ngrams(sequences, order):
    """counts[k][history][token] for histories of k = 0 .. order - 1 tokens."""
    counts = [{} for _ in range(order)]
    for s in sequences:
        padded = [BOS] * (order - 1) + list(s)
        for t in range(order, len(padded)):
            for k in range(order):
                history = tuple(padded[t - k:t])
                table = counts[k].setdefault(history, {})
                table[padded[t]] = table.get(padded[t], 0) + 1
    return counts


def witten_bell_log_likelihood(counts, sequences):
    """Total log-probability (nats) of every predicted token, and how many there are."""
    order = len(counts)
    total, n = 0.0, 0
    for s in sequences:
        padded = [BOS] * (order - 1) + list(s)
        for t in range(order, len(padded)):
            p = 1.0 / V
            for k in range(order):  # from the empty history up to the longest
                table = counts[k].get(tuple(padded[t - k:t]))
                if table:
                    seen, distinct = sum(table.values()), len(table)
                    p = (table.get(padded[t], 0) + distinct * p) / (seen + distinct)
            total += np.log(p)
            n += 1
    return total, n


train_ids = lm.encoder_.transform(train)
test_ids = lm.encoder_.transform(test)
baselines = {}
for name, order in [("unigram", 1), ("trigram (Witten-Bell)", 3)]:
    ll, n = witten_bell_log_likelihood(count_ngrams(train_ids, order), test_ids)
    baselines[name] = -ll / n / np.log(2)
rnn_bpc = lm.bits_per_character(test)
print(f"held-out bits per character over {n} predicted tokens:")
for name, bpc in baselines.items():
    print(f"  {name:<22} {bpc:.3f}")
print(f"  {'LSTM language model':<22} {rnn_bpc:.3f}")

# %%
# The learning curve is drawn with the held-out scores of the baselines for reference.
epochs = np.arange(1, lm.n_iter_ + 1)
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(epochs, train_bpc, "o-", label="LSTM, training stream")
ax.plot(epochs, val_bpc, "s-", label="LSTM, held-out end of the stream")
ax.axvline(best + 1, color="gray", lw=0.8, ls=":")
for (name, bpc), style in zip(baselines.items(), ["--", "-."]):
    ax.axhline(bpc, color="k", ls=style, lw=1, label=f"{name}, test text")
ax.axhline(rnn_bpc, color="C2", lw=1, label="LSTM (best epoch), test text")
ax.set_xlabel("epoch")
ax.set_ylabel("bits per character")
ax.set_title("Character-level LSTM on Python's reference documentation")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
# Writing text at three temperatures
# ----------------------------------
# :meth:`~skrnn.RNNLanguageModel.sample` continues a prefix one character at a time, each
# drawn from the model's next-character distribution after the logits are divided by the
# temperature. A low temperature sharpens the distribution (safe, repetitive text); a high
# one flattens it (more varied text, with more invented words). The seed makes the draws
# repeatable.
prefix = "The "
for temperature in (0.5, 1.0, 1.5):
    text = lm.sample(1, prefix=prefix, max_length=240, temperature=temperature,
                     random_state=0)[0]
    print(f"temperature {temperature}:\n  {prefix}{text}\n")
