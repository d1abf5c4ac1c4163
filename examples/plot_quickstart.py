"""
Quick start: handwritten digits read row by row
===============================================

scikit-learn's bundled digits are 8x8 images. Read top to bottom, each image is a sequence of
8 steps with 8 features (the pixels of one row), and an :class:`~skrnn.RNNClassifier`
classifies the digit from the state after the last row, exactly like any scikit-learn
classifier: ``fit``, ``predict``, ``score``.
"""

# %%
# Data: 1797 sequences of 8 steps x 8 features
# --------------------------------------------
# A 3-D array ``(n_sequences, T, n_features)`` is one of the input forms every skrnn method
# accepts (see :doc:`/user_guide/input_forms`).
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split

from skrnn import RNNClassifier

digits = load_digits()
X = digits.images / 16.0  # (1797, 8, 8), scaled to [0, 1]
y = digits.target
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0)
print(X_train.shape, X_test.shape)

# %%
# Fit a GRU
# ---------
# ``max_iter`` counts epochs. Fifteen epochs of a GRU with 32 units take a few seconds.
clf = RNNClassifier("gru", hidden_layer_sizes=(32,), max_iter=15, random_state=0)
clf.fit(X_train, y_train)
print(f"{clf.n_iter_} epochs, final training loss {clf.loss_curve_[-1]:.3f}")
print(f"test accuracy: {clf.score(X_test, y_test):.3f}")

# %%
# Loss curve and confusion matrix
# -------------------------------
# ``loss_curve_`` holds the training loss of every epoch, as in ``MLPClassifier``.
fig, (ax_loss, ax_cm) = plt.subplots(1, 2, figsize=(10, 4.2))
ax_loss.plot(range(1, clf.n_iter_ + 1), clf.loss_curve_, marker="o")
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("training loss (cross-entropy)")
ax_loss.set_title("GRU(32) on digits as row sequences")
ax_loss.grid(alpha=0.3)
ConfusionMatrixDisplay.from_predictions(y_test, clf.predict(X_test), ax=ax_cm, colorbar=False)
ax_cm.set_title("test set confusion matrix")
fig.tight_layout()
plt.show()
