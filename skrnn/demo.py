"""Quick-start demo: classify handwritten digits read as sequences, row by row.

scikit-learn's bundled digits are 8x8 images; each becomes a sequence of 8 steps (the rows)
with 8 features (the pixels of a row). A GRU reads the rows top to bottom and classifies the
digit from its final state. Run with ``python -m skrnn.demo``.
"""

import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skrnn import RNNClassifier


def main():
    digits = load_digits()
    X = digits.images / 16.0  # (1797, 8 steps, 8 features)
    X_train, X_test, y_train, y_test = train_test_split(
        X, digits.target, test_size=0.25, stratify=digits.target, random_state=0)
    clf = RNNClassifier("gru", hidden_layer_sizes=(64,), max_iter=40, random_state=0,
                        verbose=True)  # one progress line in a terminal, a line per epoch in a log
    start = time.perf_counter()
    with warnings.catch_warnings():  # a fixed budget of 40 epochs is the point of a demo
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    print(f"digits as sequences: {len(X_train)} training and {len(X_test)} test sequences "
          f"of {X.shape[1]} steps x {X.shape[2]} features")
    print(f"GRU(64) trained {clf.n_iter_} epochs in {seconds:.1f} s, "
          f"final training loss {clf.loss_curve_[-1]:.4f}")
    print(f"test accuracy: {clf.score(X_test, y_test):.3f}")


if __name__ == "__main__":
    main()
