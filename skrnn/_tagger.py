"""RNNSequenceTagger: one label per time step."""

import numpy as np
from scipy.special import softmax
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils.validation import (check_consistent_length,
                                      check_is_fitted, column_or_1d)

from ._classifier import ClassifierRNN
from ._docs import fill_doc
from .sequences import check_step_labels


def _real_steps(lengths, T):
    """(n, T) boolean mask of real steps; in row-major order it lists the steps of sequence 0,
    then sequence 1, ... exactly as concatenated per-step labels are."""
    return np.arange(T)[None, :] < lengths[:, None]


@fill_doc
class RNNSequenceTagger(ClassifierMixin, ClassifierRNN):
    """Recurrent neural network sequence tagger: one label per time step.

    A dense softmax layer classifies the top layer's state at every real step (for a
    bidirectional network, the two directions' states at that step joined), so a label can
    depend on the whole past (and, bidirectionally, the whole future) of its sequence.

    {input_forms}

    Labels ``y`` are a list of per-step label arrays, a padded 2-D array (n_sequences, T)
    (entries past each length are ignored) or, for 2-D X, a 1-D array with one label per row.
    ``sample_weight`` weighs sequences (one weight each) or steps (one array of per-step
    weights per sequence, or a padded (n, T) array).
    :meth:`predict` returns a list of per-step label arrays (a 1-D array for 2-D X), and
    :meth:`score` is the accuracy over all real steps.

    Parameters
    ----------
    {parameters}
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying the weight of every step.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    {attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn import RNNSequenceTagger
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(size=T) for T in rng.integers(4, 10, size=40)]
    >>> y = [(np.cumsum(x) > 0).astype(int) for x in X]  # the sign of the running sum
    >>> tagger = RNNSequenceTagger("gru", (8,), random_state=0).fit(X, y)
    >>> [p.shape for p in tagger.predict(X[:2])] == [x.shape for x in X[:2]]
    True
    """

    _output = "sequence"
    _two_d = "steps"

    def _validate_targets(self, y, seqs, sample_weight, reset, classes=None):
        lengths = seqs.lengths
        if seqs.table:  # one label per row
            check_consistent_length(lengths, y)
            labels, codes = self._labels(y, reset, classes)
        else:
            labels, codes = self._labels(check_step_labels(y, lengths), reset, classes)
        step_weights = self._step_weights(sample_weight, seqs)
        step_weights = self._label_weights(labels, codes, step_weights, reset)
        real = _real_steps(lengths, lengths.max())
        Y = np.zeros(real.shape, dtype=np.intp)
        W = np.zeros(real.shape)
        Y[real], W[real] = codes, step_weights
        return Y, W, len(self.classes_)

    def _per_step(self, X, values_fn, initial_state=None):
        """``values_fn`` of the head outputs at the real steps, in the caller's form."""
        check_is_fitted(self)
        seqs = self._validate_sequences(X, reset=False)
        Z = self._network_outputs(seqs, initial_state=initial_state)
        return seqs.per_step(values_fn(Z[_real_steps(seqs.lengths, Z.shape[1])]))

    def predict_proba(self, X, initial_state=None):
        """Class probabilities at every real step.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        initial_state : ndarray, list or tuple, default=None
            Where each sequence starts, in the form :meth:`final_state` returns (one row per
            sequence); None starts from zero.

        Returns
        -------
        list of ndarray of shape (T_i, n_classes), or ndarray of shape (n_rows, n_classes)
            One array per sequence; for 2-D X, one row per row.
        """
        return self._per_step(X, lambda Z: softmax(Z, axis=1), initial_state)

    def predict_log_proba(self, X, initial_state=None):
        """Logarithm of the class probabilities at every real step.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        initial_state : ndarray, list or tuple, default=None
            Where each sequence starts, in the form :meth:`final_state` returns (one row per
            sequence); None starts from zero.

        Returns
        -------
        list of ndarray of shape (T_i, n_classes), or ndarray of shape (n_rows, n_classes)
            ``np.log`` of :meth:`predict_proba`, shaped like it.
        """
        return self._per_step(X, lambda Z: np.log(softmax(Z, axis=1)), initial_state)

    def predict(self, X, initial_state=None):
        """The predicted label at every real step.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        initial_state : ndarray, list or tuple, default=None
            Where each sequence starts, in the form :meth:`final_state` returns (one row per
            sequence); None starts from zero.

        Returns
        -------
        list of ndarray of shape (T_i,), or ndarray of shape (n_rows,)
            Labels from ``classes_``, one array per sequence; for 2-D X, one per row.
        """
        return self._per_step(X, lambda Z: self.classes_[Z.argmax(axis=1)], initial_state)

    def score(self, X, y, sample_weight=None):
        """Accuracy over all real steps.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        y : list of array-like or array-like
            True labels per step, in any form :meth:`fit` accepts.
        sample_weight : array-like, default=None
            Weights of the sequences (each weighs every one of its steps), or of every step,
            as :meth:`fit` takes them.

        Returns
        -------
        float
            The weighted fraction of real steps labelled correctly.
        """
        check_is_fitted(self)
        seqs = self._validate_sequences(X, reset=False)
        Z = self._network_outputs(seqs)
        pred = self.classes_[Z[_real_steps(seqs.lengths, Z.shape[1])].argmax(axis=1)]
        truth = column_or_1d(y) if seqs.table else check_step_labels(y, seqs.lengths)
        weights = None if sample_weight is None else self._step_weights(sample_weight, seqs)
        return float(accuracy_score(truth, pred, sample_weight=weights))
