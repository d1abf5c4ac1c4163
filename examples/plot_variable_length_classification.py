"""
Variable-length multivariate sequences: Japanese vowels
=======================================================

The JapaneseVowels data set (Kudo, Toyama and Shimbo, 1999; UCR/UEA archive) holds
recordings of nine male speakers uttering the Japanese vowels /ae/. Each recording is a
sequence of 12 LPC cepstrum coefficients per frame, and the recordings last from 7 to 29
frames. The task is to tell the speaker from the recording. The aeon package ships the data
set, so this example runs offline.

aeon returns sequences channels-first, a list of ``(n_channels, T_i)`` arrays;
:func:`skrnn.sequences.from_channels_first` turns them into the ragged list of
``(T_i, n_channels)`` arrays that skrnn estimators take, without padding anything.
"""

# %%
# Load and convert
# ----------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from aeon.datasets import load_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skrnn import RNNClassifier, SequenceScaler
from skrnn.sequences import from_channels_first

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed budget of epochs

X_train_nct, y_train = load_classification("JapaneseVowels", split="train")
X_test_nct, y_test = load_classification("JapaneseVowels", split="test")
X_train, X_test = from_channels_first(X_train_nct), from_channels_first(X_test_nct)
lengths = np.array([len(x) for x in X_train + X_test])
print(f"{len(X_train)} training and {len(X_test)} test recordings, "
      f"{X_train[0].shape[1]} features per step, {lengths.min()} to {lengths.max()} steps")

# %%
# A bidirectional GRU behind a sequence scaler
# --------------------------------------------
# :class:`~skrnn.SequenceScaler` standardizes every feature over all real steps of all
# sequences and returns the ragged list it was given, so it sits in a pipeline in front of
# the classifier. No padding is added: each recording is read for exactly its own length.
rnn = make_pipeline(
    SequenceScaler(),
    RNNClassifier("gru", hidden_layer_sizes=(32,), bidirectional=True, max_iter=40,
                  random_state=0),
)
rnn.fit(X_train, y_train)
rnn_accuracy = rnn.score(X_test, y_test)
print(f"bidirectional GRU: test accuracy {rnn_accuracy:.3f}")

# %%
# A baseline that ignores the order of the frames
# -----------------------------------------------
# Logistic regression on the mean and standard deviation of every coefficient over the
# recording (24 numbers per recording) sees the same data without the order of the steps.


def summary(X):
    return np.array([np.concatenate([x.mean(axis=0), x.std(axis=0)]) for x in X])


baseline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
baseline.fit(summary(X_train), y_train)
baseline_accuracy = baseline.score(summary(X_test), y_test)
print(f"logistic regression on per-recording mean and std: test accuracy "
      f"{baseline_accuracy:.3f}")

# %%
# Two recordings and the confusion matrix
# ---------------------------------------
fig = plt.figure(figsize=(11, 4.5))
grid = fig.add_gridspec(2, 2, width_ratios=[1.2, 1])
for row, i in enumerate([int(np.argmin(lengths[:len(X_train)])),
                         int(np.argmax(lengths[:len(X_train)]))]):
    ax = fig.add_subplot(grid[row, 0])
    ax.imshow(X_train[i].T, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xlim(-0.5, lengths.max() - 0.5)
    ax.set_ylabel("coefficient")
    ax.set_yticks([0, 5, 10])
    ax.set_title(f"speaker {y_train[i]}: {len(X_train[i])} frames", fontsize=10)
ax.set_xlabel("frame")
ax_cm = fig.add_subplot(grid[:, 1])
ConfusionMatrixDisplay.from_predictions(y_test, rnn.predict(X_test), ax=ax_cm, colorbar=False)
ax_cm.set_title(f"GRU test accuracy {rnn_accuracy:.3f} (baseline {baseline_accuracy:.3f})",
                fontsize=10)
fig.tight_layout()
plt.show()
