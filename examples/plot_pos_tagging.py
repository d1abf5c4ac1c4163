"""
Part-of-speech tagging of Turkish web sentences
===============================================

Every token of a sentence gets its part of speech: noun, verb, adjective, punctuation...
Most words almost always carry the same tag, so a lookup table of each word's most frequent
tag in the training sentences is a strong baseline. It fails on two kinds of tokens: words
whose tag depends on the sentence around them, and words it has never seen. Turkish, which
builds long words from many suffixes, has plenty of the second kind.

A bidirectional recurrent tagger reads the whole sentence in both directions before it tags
a token, so the words around an unknown one can still say what it is. Here
:class:`~skrnn.TokenEncoder` with ``analyzer=None`` gives every token of the already
tokenized sentences an integer id, and :class:`~skrnn.RNNSequenceTagger` with
``embedding_dim`` reads those ids through a learned table of word vectors. The data is the
web section of the Turkish Web Treebank, from :func:`skrnn.datasets.load_turkish_pos`.
"""

# %%
# The data: tokens and their tags
# -------------------------------
# Each sentence is a list of tokens and comes with a list of tags of the same length. The
# treebank's tokens are inflectional groups: a word with a derivational suffix is split at
# the suffix, and each part has its own tag.
import time
import warnings
from collections import Counter, defaultdict

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from skrnn import RNNSequenceTagger, TokenEncoder
from skrnn.datasets import load_turkish_pos

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epoch budgets here

X_train, y_train = load_turkish_pos(split="train", return_X_y=True)
X_test, y_test = load_turkish_pos(split="test", return_X_y=True)
print(f"train: {len(X_train)} sentences, {sum(map(len, X_train))} tokens")
print(f"test:  {len(X_test)} sentences, {sum(map(len, X_test))} tokens")
print(pd.DataFrame({"token": X_train[1], "tag": y_train[1]}).T.to_string(header=False))

tag_counts = Counter(tag for tags in y_train for tag in tags)
print("training tags:", ", ".join(f"{tag} {n}" for tag, n in tag_counts.most_common()))

# %%
# The baseline: each word's most frequent tag
# -------------------------------------------
# Count the tags of every word in the training sentences and predict the most frequent one;
# a word never seen in training gets the most frequent tag overall. Words are lowercased,
# as :class:`~skrnn.TokenEncoder` lowercases them by default, so both models see the same
# words.
counts_by_word = defaultdict(Counter)
for tokens, tags in zip(X_train, y_train):
    for token, tag in zip(tokens, tags):
        counts_by_word[token.lower()][tag] += 1
most_frequent = {word: counts.most_common(1)[0][0] for word, counts in counts_by_word.items()}
overall = tag_counts.most_common(1)[0][0]
baseline_pred = [np.array([most_frequent.get(token.lower(), overall) for token in tokens])
                 for tokens in X_test]

truth = np.concatenate(y_test)
baseline_flat = np.concatenate(baseline_pred)
seen = np.array([token.lower() in most_frequent for tokens in X_test for token in tokens])
print(f"most frequent tag per word: test accuracy {np.mean(baseline_flat == truth):.3f}")
print(f"{np.mean(~seen):.1%} of the test tokens are not in the training sentences; "
      f"on those the baseline scores {np.mean(baseline_flat[~seen] == truth[~seen]):.3f}")

# %%
# The tagger: token ids, embeddings, a bidirectional GRU
# ------------------------------------------------------
# ``TokenEncoder(analyzer=None)`` takes the sentences as they are, lists of tokens, and
# gives each token exactly one id, so the ids line up with the tags. The tagger's
# ``embedding_dim=32`` learns a vector of 32 numbers for each of the training vocabulary's
# words; a test word outside it becomes the unknown id 1. With ``bidirectional=True`` the
# tag of a token depends on the whole sentence, before and after it. Most of the words
# occur only once or twice in training, so their vectors are learned from very little: a
# small L2 penalty (``alpha``) keeps them from memorising those few sentences. Ten epochs
# is a fixed budget.
tagger = make_pipeline(
    TokenEncoder(analyzer=None),
    RNNSequenceTagger("gru", (32,), embedding_dim=32, bidirectional=True, alpha=0.03,
                      max_iter=10, random_state=0))
start = time.perf_counter()
tagger.fit(X_train, y_train)
print(f"fit in {time.perf_counter() - start:.1f} s, "
      f"vocabulary of {tagger[0].n_tokens_} ids")

# %%
# ``predict`` returns one array of tags per sentence, and ``score`` is the accuracy over
# all tokens, the same number as the baseline's.
tagger_pred = tagger.predict(X_test)
tagger_flat = np.concatenate(tagger_pred)
print(f"bidirectional GRU tagger:   test accuracy {tagger.score(X_test, y_test):.3f}")
print(f"most frequent tag per word: test accuracy {np.mean(baseline_flat == truth):.3f}")

by_kind = pd.DataFrame({
    "tokens": [seen.sum(), (~seen).sum()],
    "baseline": [np.mean(baseline_flat[seen] == truth[seen]),
                 np.mean(baseline_flat[~seen] == truth[~seen])],
    "GRU tagger": [np.mean(tagger_flat[seen] == truth[seen]),
                   np.mean(tagger_flat[~seen] == truth[~seen])],
}, index=["seen in training", "unknown"])
print(by_kind.round(3).to_string())

# %%
# Accuracy tag by tag
# -------------------
# The fraction of the test tokens of each true tag that each model tags right, for the tags
# with at least 20 test tokens. The baseline sends every unknown word to the most frequent
# tag, which flatters that tag and costs the others.
per_tag = pd.DataFrame({"true tag": truth, "baseline": baseline_flat == truth,
                        "GRU tagger": tagger_flat == truth})
per_tag = per_tag.groupby("true tag").agg(
    tokens=("baseline", "size"), baseline=("baseline", "mean"),
    gru=("GRU tagger", "mean")).rename(columns={"gru": "GRU tagger"})
per_tag = per_tag[per_tag.tokens >= 20].sort_values("tokens", ascending=False)
print(per_tag.round(3).to_string())

fig, ax = plt.subplots(figsize=(10, 4))
x = np.arange(len(per_tag))
ax.bar(x - 0.2, per_tag["baseline"], 0.4, label="most frequent tag per word",
       color="tab:gray")
ax.bar(x + 0.2, per_tag["GRU tagger"], 0.4, label="bidirectional GRU on embeddings",
       color="tab:blue")
ax.set_xticks(x)
ax.set_xticklabels([f"{tag}\n({n})" for tag, n in zip(per_tag.index, per_tag.tokens)])
ax.set_ylabel("test accuracy on the tag")
ax.set_ylim(0, 1.05)
ax.grid(axis="y", alpha=0.3)
ax.legend(loc="lower left", fontsize=9)
ax.set_title("Turkish web POS tagging, accuracy by true tag (test token counts below)")
fig.tight_layout()
plt.show()

# %%
# One test sentence, token by token
# ---------------------------------
# The test sentence with the most unknown tokens among those of at most 12 tokens, with
# the true tags and both models' tags (``*`` marks a token the baseline has never seen).
unknown_counts = [sum(token.lower() not in most_frequent for token in tokens)
                  if len(tokens) <= 12 else -1 for tokens in X_test]
i = int(np.argmax(unknown_counts))
sentence = pd.DataFrame({
    "token": [token + ("" if token.lower() in most_frequent else " *")
              for token in X_test[i]],
    "true": y_test[i], "baseline": baseline_pred[i], "GRU tagger": tagger_pred[i]})
print(sentence.to_string(index=False))
