"""
Which language is a surname from? Characters in, embeddings inside
===================================================================

"Virtanen", "Johansson", "Kowalski", "Esposito": a reader guesses the language of most
surnames from a few letters, and often from the ending alone. This example teaches a
recurrent network to do the same, one character per step, on twelve languages of surnames
from :func:`skrnn.datasets.load_surnames`.

Text does not go into a network as it is. :class:`~skrnn.TokenEncoder` turns every name
into a sequence of integer character ids, and ``embedding_dim`` makes the
:class:`~skrnn.RNNClassifier` read those ids through a learned table of one small vector per
character. Both sit in one :class:`~sklearn.pipeline.Pipeline`, so the model takes the list
of strings and predicts a language for each.

Two comparisons follow: with a character n-gram TF-IDF and a logistic regression, the
standard answer for short strings, and with the same network fed one-hot character vectors
instead of embeddings, the input that many tutorials on this task use.
"""

# %%
# The data: about six thousand surnames, twelve languages
# --------------------------------------------------------
# Surnames found in more than one language's list are dropped as ambiguous, so every name
# has one answer. The classes are unbalanced (Portuguese has about a hundred names, Italian
# over a thousand), so the split is stratified: the test set keeps every language's share.
import time
import tracemalloc
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skrnn import RNNClassifier, TokenEncoder
from skrnn.datasets import load_surnames
from skrnn.nn import clear_workspace

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epoch budgets here

surnames = load_surnames()
X, y = surnames.data, surnames.target
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                    random_state=0)
languages, counts = np.unique(y, return_counts=True)
print(f"{len(X)} surnames: {len(X_train)} to train on, {len(X_test)} to test on")
rng = np.random.default_rng(0)
for language, count in zip(languages, counts):
    examples = rng.choice(np.asarray(X)[y == language], size=4, replace=False)
    print(f"  {language:<11} {count:>5}   e.g. {', '.join(examples)}")

# %%
# Always answering the most frequent language is the floor any model has to clear.
majority = pd.Series(y_train).value_counts().index[0]
print(f"always {majority!r}: test accuracy {np.mean(y_test == majority):.3f}")

# %%
# The baseline: character n-grams and a linear model
# --------------------------------------------------
# TF-IDF over the character 1- to 3-grams of each name (``char_wb`` pads every word with
# spaces, so "en " marks a name ending in "en") and a logistic regression. It sees which
# short pieces occur in a name, not their order beyond three characters.
ngram_model = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)),
                            LogisticRegression(C=1.0, max_iter=1000))
ngram_model.fit(X_train, y_train)
ngram_accuracy = ngram_model.score(X_test, y_test)
print(f"char 1-3-gram TF-IDF + logistic regression: test accuracy {ngram_accuracy:.3f}")

# %%
# The recurrent network: characters in, embeddings inside
# -------------------------------------------------------
# ``TokenEncoder(analyzer="char")`` lowercases each name and gives every character an id:
# 0 is padding, 1 an unknown character, and the characters seen in fit follow, the most
# frequent first.
encoder = TokenEncoder(analyzer="char").fit(X_train)
print(f"{encoder.n_tokens_} ids, the first ones:", encoder.get_feature_names_out()[:12])
print("'Kowalski' ->", encoder.transform(["Kowalski"])[0])

# %%
# With ``embedding_dim=16`` the classifier's first layer is a table of ``n_tokens_`` rows
# of 16 numbers, learned with the rest of the network: the GRU reads row ``id`` at every
# step. Names are short and the data is small, so a GRU of 32 units trained for a fixed 10
# epochs with Adam's step size at 0.003 is enough here: on a few thousand names, a longer
# budget mostly lets the network memorise the training names.
embedding_model = make_pipeline(
    TokenEncoder(analyzer="char"),
    RNNClassifier("gru", (32,), embedding_dim=16, learning_rate_init=0.003, max_iter=10,
                  random_state=0))
start = time.perf_counter()
embedding_model.fit(X_train, y_train)
embedding_time = time.perf_counter() - start
embedding_accuracy = embedding_model.score(X_test, y_test)
print(f"GRU on character embeddings: test accuracy {embedding_accuracy:.3f} "
      f"(fit in {embedding_time:.1f} s)")
print(f"char n-gram baseline:        test accuracy {ngram_accuracy:.3f}")
print("a few test names, true and predicted language:")
for name, truth, guess in zip(X_test[:8], y_test[:8], embedding_model.predict(X_test[:8])):
    print(f"  {name:<14} {truth:<11} {guess:<11} {'' if guess == truth else 'x'}")

# %%
# Which languages get confused?
# -----------------------------
# Each row of the matrix is a true language and shows where its test names went, as a
# fraction of that row. Look for the off-diagonal cells: related languages (the Romance
# ones, or Dutch and German) share spellings, while a language with letters of its own
# stands apart.
fig, ax = plt.subplots(figsize=(8.5, 7.5))
ConfusionMatrixDisplay.from_estimator(
    embedding_model, X_test, y_test, normalize="true", values_format=".2f",
    xticks_rotation="vertical", cmap="Blues", colorbar=False, ax=ax)
for text in ax.texts:
    text.set_fontsize(7)
ax.set_title("GRU on character embeddings: test names by true and predicted language")
fig.tight_layout()
plt.show()

# %%
# The same network on one-hot characters
# --------------------------------------
# Without ``embedding_dim``, the classifier reads numbers: ``TokenEncoder(output="onehot")``
# turns each name of ``T`` characters into a ``(T, n_tokens_)`` array with a single 1 per
# row. The GRU's input weights then have one column per character, where the embedding
# model has a small table in front of input weights with one column per embedding
# dimension. The network is otherwise the same: same cell, size, steps and seed.
onehot_model = make_pipeline(
    TokenEncoder(analyzer="char", output="onehot"),
    RNNClassifier("gru", (32,), learning_rate_init=0.003, max_iter=10, random_state=0))
start = time.perf_counter()
onehot_model.fit(X_train, y_train)
onehot_time = time.perf_counter() - start
onehot_accuracy = onehot_model.score(X_test, y_test)
print(f"GRU on one-hot characters: test accuracy {onehot_accuracy:.3f} "
      f"(fit in {onehot_time:.1f} s)")

# %%
# Peak memory is measured with :mod:`tracemalloc`, which sees NumPy's buffers, on a fit of
# one epoch of each pipeline from the raw strings, so the encoded input is counted too.
# One epoch is enough: the peak comes in the first one, when the input is converted and the
# engine's buffers are allocated, and later epochs reuse those buffers. It is not measured
# on the timed fits above because tracing every allocation slows a fit down several times.
# :func:`skrnn.nn.clear_workspace` first frees the buffers that the engine keeps between
# calls, so each measurement starts from nothing.


def peak_fit_memory(model):
    """Peak memory (MiB) allocated by one epoch of ``model``'s fit on the training names."""
    model = clone(model).set_params(rnnclassifier__max_iter=1)
    clear_workspace()
    tracemalloc.start()
    model.fit(X_train, y_train)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    clear_workspace()
    return peak / 2**20


def n_parameters(model):
    return sum(weights.size for weights in model[-1].state_dict().values())


comparison = pd.DataFrame({
    "test accuracy": [embedding_accuracy, onehot_accuracy],
    "fit time (s, 10 epochs)": [embedding_time, onehot_time],
    "peak memory (MiB, 1 epoch)": [peak_fit_memory(embedding_model),
                                   peak_fit_memory(onehot_model)],
    "parameters": [n_parameters(embedding_model), n_parameters(onehot_model)],
}, index=["embedding_dim=16", "one-hot"])
print(comparison.round(3).to_string())

# %%
# Where the one-hot input costs: every step of every name is a row of ``n_tokens_``
# float64 numbers, all zeros but one, and the network multiplies them all by its input
# weights. The embedding model keeps one integer per step and looks its row up; it also
# computes in float32, half the bytes of float64. Accuracy is a question of what the
# network learns, and for a vocabulary of a few dozen characters both inputs can
# represent the same function (a one-hot vector times the input weights *is* a table
# lookup), so compare the printed accuracies rather than expect one to win, and change
# ``random_state`` to see how much each moves from one seed to the next. Embeddings
# matter most when the vocabulary is large, as for words, where a one-hot row would be
# thousands of numbers long.
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
colors = ["tab:blue", "tab:orange"]
for ax, column in zip(axes, comparison.columns[:3]):
    ax.bar(comparison.index, comparison[column], color=colors)
    ax.set_title(column, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
axes[0].axhline(ngram_accuracy, color="0.3", ls="--", lw=1, label="char n-gram LR")
axes[0].set_ylim(0, 1)
axes[0].legend(loc="lower right", fontsize=8)
fig.suptitle("The same GRU on surnames: character embeddings against one-hot characters")
fig.tight_layout()
plt.show()
