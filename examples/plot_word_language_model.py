"""
A word-level language model: perplexity and word order
======================================================

A word-level language model predicts the next word (or punctuation mark) from the ones
before it. This example trains an LSTM :class:`~skrnn.RNNLanguageModel` with
``analyzer="word"`` on sentences of Python's reference documentation (the texts of
``help()``, shipped in the standard library module ``pydoc_data.topics``), and asks two
questions of it on held-out sentences:

- How well does it predict them? The measure is perplexity, the exponential of the mean
  negative log-likelihood per predicted token, set against a smoothed trigram model counted
  on the same training sentences.
- Does it know word order? Each held-out sentence is scored as written and with its words
  shuffled: a model of language should find the real sentence far more likely.
"""

# %%
# Sentences of the language reference
# -----------------------------------
# The topics are cut into paragraphs, indented blocks (code and grammar rules) are left out,
# and each paragraph is split into sentences after a full stop, question or exclamation mark
# followed by a capital letter. Sentences of 4 to 40 tokens are kept, shuffled with a fixed
# seed, and a fifth of them is held out as the test set.
import re
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from pydoc_data.topics import topics
from sklearn.exceptions import ConvergenceWarning

from skrnn import RNNLanguageModel

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed budget of epochs

TOKEN = r"(?u)\w+|[^\w\s]"  # RNNLanguageModel's default token_pattern: words and marks
paragraphs = [" ".join(p.split()) for name in sorted(topics)
              for p in topics[name].split("\n\n") if p.strip() and not p.startswith(" ")]
sentences = [s for p in paragraphs for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", p)
             if 4 <= len(re.findall(TOKEN, s)) <= 40]
sentences = sorted(set(sentences))  # some topics repeat others: each sentence once
np.random.default_rng(0).shuffle(sentences)
n_test = len(sentences) // 5
train, test = sentences[n_test:], sentences[:n_test]
n_train_tokens = sum(len(re.findall(TOKEN, s)) for s in train)
distinct = {t for s in train for t in re.findall(TOKEN, s)}
print(f"{len(train)} training sentences ({n_train_tokens} tokens, {len(distinct)} distinct), "
      f"{len(test)} test sentences")
print("for example:", *train[:3], sep="\n  ")

# %%
# Train the model
# ---------------
# ``max_features=2000`` keeps the 2,000 most frequent tokens of the training sentences (the
# number of distinct ones is printed above); the rarer ones become ``<unk>``, which the model
# learns to predict like any other token. Each sentence is a text of its own
# (``mode="documents"``), framed as ``<bos> w_1 ... w_n <eos>``. With ``tie_weights=True`` the
# output layer reuses the embedding table, which needs ``embedding_dim`` equal to the hidden
# size. Early stopping holds out a tenth of the training sentences and keeps the best epoch.
lm = RNNLanguageModel("lstm", hidden_layer_sizes=(64,), embedding_dim=64, tie_weights=True,
                      analyzer="word", max_features=2000, learning_rate_init=0.01,
                      max_iter=20, early_stopping=True, n_iter_no_change=2, random_state=0)
start = time.perf_counter()
lm.fit(train)
train_ids = lm.encoder_.transform(train)
test_ids = lm.encoder_.transform(test)
unk = 1  # the id of <unk>
share_unk = np.mean(np.concatenate([ids[1:-1] for ids in test_ids]) == unk)
print(f"{len(lm.classes_)} tokens in the vocabulary (4 of them markers); "
      f"{100 * share_unk:.1f}% of the test tokens are <unk>")
print(f"{lm.n_iter_} epochs in {time.perf_counter() - start:.0f} s")

# %%
# A smoothed trigram baseline, on the same tokens
# -----------------------------------------------
# The comparison is fair only if both models predict the same tokens: the trigram model is
# counted on the training sentences as ``lm.encoder_`` frames and encodes them (the same
# vocabulary, the same ``<unk>`` for the rest), and scores every token of a test sentence and
# its ``<eos>``, exactly the tokens that :meth:`~skrnn.RNNLanguageModel.perplexity` averages
# over. It is smoothed by Witten-Bell interpolation, which mixes the trigram, bigram and
# unigram estimates and finally a uniform distribution over the tokens that can be predicted.
V = len(lm.classes_) - 2  # <pad> and <bos> are never predicted
BOS = 2


def count_ngrams(sequences, order):
    """counts[k][history][token] for histories of k = 0 .. order - 1 tokens."""
    counts = [{} for _ in range(order)]
    for s in sequences:
        padded = [BOS] * (order - 1) + list(s)
        for t in range(order, len(padded)):
            for k in range(order):
                table = counts[k].setdefault(tuple(padded[t - k:t]), {})
                table[padded[t]] = table.get(padded[t], 0) + 1
    return counts


def witten_bell_log_likelihoods(counts, sequences):
    """The log-likelihood (nats) of each sequence's predicted tokens, and their number."""
    order = len(counts)
    lls, n = [], 0
    for s in sequences:
        padded = [BOS] * (order - 1) + list(s)
        ll = 0.0
        for t in range(order, len(padded)):
            p = 1.0 / V
            for k in range(order):  # from the empty history up to the longest
                table = counts[k].get(tuple(padded[t - k:t]))
                if table:
                    seen, distinct = sum(table.values()), len(table)
                    p = (table.get(padded[t], 0) + distinct * p) / (seen + distinct)
            ll += np.log(p)
            n += 1
        lls.append(ll)
    return np.array(lls), n


trigram = count_ngrams(train_ids, 3)
results = {}
for name, order in [("unigram", 1), ("bigram (Witten-Bell)", 2), ("trigram (Witten-Bell)", 3)]:
    lls, n = witten_bell_log_likelihoods(count_ngrams(train_ids, order), test_ids)
    results[name] = np.exp(-lls.sum() / n)
results["LSTM language model"] = lm.perplexity(test)
print(f"held-out perplexity over {n} predicted tokens:")
for name, ppl in results.items():
    print(f"  {name:<22} {ppl:7.1f}")

# %%
# The training set is small (its number of tokens is printed at the top), a setting in
# which a well-smoothed trigram is a strong baseline; the bar chart sets the models side by
# side.
fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(list(results), list(results.values()), color=["0.7"] * 3 + ["C0"])
for i, ppl in enumerate(results.values()):
    ax.text(ppl, i, f" {ppl:.1f}", va="center")
ax.invert_yaxis()
ax.set_xlabel("held-out perplexity (lower is better)")
ax.set_xlim(0, max(results.values()) * 1.15)
fig.tight_layout()
plt.show()

# %%
# Real sentences against the same words shuffled
# ----------------------------------------------
# :meth:`~skrnn.RNNLanguageModel.score_samples` gives the log-likelihood of each text in
# nats. A shuffled sentence has the same tokens and so the same number of predictions; only
# the order differs. The words are joined by spaces, which the word tokenizer splits again
# into the same tokens.
rng = np.random.default_rng(1)


def scrambled(sentence):
    tokens = re.findall(TOKEN, sentence)
    return " ".join(rng.permutation(tokens))


shuffled = [scrambled(s) for s in test]
real_ll, shuffled_ll = lm.score_samples(test), lm.score_samples(shuffled)
short = [i for i, s in enumerate(test) if len(re.findall(TOKEN, s)) <= 10][:6]
table = pd.DataFrame({"sentence": [test[i] for i in short],
                      "log P(real)": real_ll[short].round(1),
                      "shuffled": [shuffled[i] for i in short],
                      "log P(shuffled)": shuffled_ll[short].round(1)})
with pd.option_context("display.max_colwidth", 60, "display.width", 200):
    print(table.to_string(index=False))

# %%
# Over every held-out sentence, how often is the real order the more likely one? The
# trigram model, which sees two tokens back, answers the same question for comparison.
tri_real, _ = witten_bell_log_likelihoods(trigram, test_ids)
tri_shuffled, _ = witten_bell_log_likelihoods(trigram, lm.encoder_.transform(shuffled))
for name, real, shuf in [("LSTM", real_ll, shuffled_ll), ("trigram", tri_real, tri_shuffled)]:
    wins = int((real > shuf).sum())
    print(f"{name:<8} real more likely than shuffled in {wins} of {len(test)} sentences "
          f"({100 * wins / len(test):.1f}%); median gap "
          f"{np.median(real - shuf):.1f} nats")

# %%
fig, ax = plt.subplots(figsize=(5, 5))
ax.scatter(shuffled_ll, real_ll, s=8, alpha=0.5)
lims = [min(real_ll.min(), shuffled_ll.min()), 0]
ax.plot(lims, lims, "k--", lw=1, label="equally likely")
ax.set_xlabel("log-likelihood of the shuffled sentence (nats)")
ax.set_ylabel("log-likelihood of the real sentence (nats)")
ax.set_title("LSTM: held-out sentences, real against shuffled")
ax.legend()
fig.tight_layout()
plt.show()
