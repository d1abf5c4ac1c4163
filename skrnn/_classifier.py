"""RNNClassifier: one label per sequence."""

import numpy as np
from scipy.special import softmax
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils._available_if import available_if
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from ._base import BaseRNN, _stochastic_solver
from ._docs import fill_doc
from .nn.network import POOLINGS


def _weighted_mean(correct, weights):
    """The mean of ``correct`` weighted by ``weights`` (plain if every weight is 0)."""
    total = float(np.sum(weights))
    if total == 0:
        return float(np.mean(correct))
    return float(np.dot(correct.astype(np.float64), weights) / total)


class ClassifierRNN(BaseRNN):
    """Label handling shared by the sequence classifier and the sequence tagger."""

    _loss = "softmax"
    _stream_output = "proba"
    _fitted_state = {**BaseRNN._fitted_state, "classes_": "labels"}
    _parameter_constraints: dict = {
        **BaseRNN._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, cell="gru", hidden_layer_sizes=(32,), *, bidirectional=False,
                 activation="tanh", dropout=0.0, embedding_dim=None, n_tokens=None,
                 solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.01,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=50, max_fun=15000, max_grad_norm=5.0,
                 tbptt_steps=None, class_weight=None):
        super().__init__(
            cell, hidden_layer_sizes, bidirectional=bidirectional, activation=activation,
            dropout=dropout, embedding_dim=embedding_dim, n_tokens=n_tokens, solver=solver,
            alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state,
            tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            max_grad_norm=max_grad_norm, tbptt_steps=tbptt_steps)
        self.class_weight = class_weight

    @available_if(_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over the given data, keeping the current weights (solvers "adam", "sgd").

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences, as in :meth:`fit`.
        y : array-like
            Labels, as in :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            Every label ``y`` may ever hold; required at the first call.
        sample_weight : array-like of shape (n_sequences,), default=None
            Weights of the sequences, as in :meth:`fit`.

        Returns
        -------
        object
            The estimator (``self``), trained for one more epoch.
        """
        if not hasattr(self, "theta_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if self.class_weight == "balanced":
            raise ValueError("class_weight='balanced' is not supported for partial_fit: the "
                             "class frequencies of the whole data are unknown. Pass a dict.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _validation_score(self, Z, Y, weights):
        """Accuracy, weighted as the loss is (sample and class weights)."""
        return _weighted_mean(Z.argmax(axis=1) == Y, weights)

    # -- labels ---------------------------------------------------------------------------------
    def _set_classes(self, y, classes):
        if classes is not None:
            self.classes_ = np.unique(np.asarray(classes))
            self._encode(y)  # every label must be among the given classes
        else:
            self.classes_ = np.unique(y)

    def _check_classes_argument(self, classes):
        if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={np.unique(classes)!r} differs from the classes of the "
                             f"first call to partial_fit: {self.classes_!r}")

    def _check_fitted_state(self):
        super()._check_fitted_state()
        if len(self.classes_) != self.network_.n_outputs or \
                len(np.unique(self.classes_)) != len(self.classes_):
            raise ValueError(f"classes_ holds {len(self.classes_)} labels for a network with "
                             f"{self.network_.n_outputs} outputs; they must be distinct, one "
                             "per output.")

    def _encode(self, labels):
        """Labels -> indices into classes_; unknown labels are an error."""
        codes = np.searchsorted(self.classes_, labels)
        codes = np.minimum(codes, len(self.classes_) - 1)
        unknown = self.classes_[codes] != labels
        if np.any(unknown):
            raise ValueError(f"y contains labels not seen in the classes {self.classes_!r}: "
                             f"{np.unique(np.asarray(labels)[unknown])!r}")
        return codes

    def _label_weights(self, labels, codes, sample_weight, reset):
        """Sample weights times class weights; at fit time at least two classes must remain."""
        weights = compute_class_weight(self.class_weight, classes=self.classes_, y=labels) \
            if self.class_weight is not None else np.ones(len(self.classes_))
        weights = sample_weight * weights[codes]
        if reset and len(np.unique(codes[weights > 0])) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes with "
                             f"positive weight; the data holds {len(np.unique(codes))} class(es) "
                             f"and {len(np.unique(codes[weights > 0]))} with positive weight.")
        return weights

    def _labels(self, y, reset, classes):
        """Validate 1-D labels and encode them, fixing classes_ when ``reset``."""
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if reset:
            self._set_classes(y, classes)
        else:
            self._check_classes_argument(classes)
        return y, self._encode(y)



@fill_doc
class RNNClassifier(ClassifierMixin, ClassifierRNN):
    """Recurrent neural network classifier: one label per sequence.

    The network reads each sequence step by step; a dense softmax layer classifies the top
    layer's state after the sequence's last real step (for a bidirectional network, joined
    with the backward direction's state at the first step), or with ``pooling`` the mean or
    maximum of the top layer's outputs over the real steps.

    {input_forms}

    Parameters
    ----------
    {parameters}
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying the sample weights. "balanced" uses
        n_samples / (n_classes * np.bincount(y)).
    {pooling}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    {attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn import RNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(size=(rng.integers(3, 9), 2)) for _ in range(60)]
    >>> y = [int(x[0, 0] > 0) for x in X]  # remember the first step
    >>> clf = RNNClassifier("gru", (8,), random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    """

    _parameter_constraints: dict = {
        **ClassifierRNN._parameter_constraints,
        "pooling": [StrOptions(set(POOLINGS))],
    }

    def __init__(self, cell="gru", hidden_layer_sizes=(32,), *, bidirectional=False,
                 activation="tanh", dropout=0.0, embedding_dim=None, n_tokens=None,
                 solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.01,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=50, max_fun=15000, max_grad_norm=5.0,
                 tbptt_steps=None, class_weight=None, pooling="last"):
        super().__init__(
            cell, hidden_layer_sizes, bidirectional=bidirectional, activation=activation,
            dropout=dropout, embedding_dim=embedding_dim, n_tokens=n_tokens, solver=solver,
            alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state,
            tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            max_grad_norm=max_grad_norm, tbptt_steps=tbptt_steps, class_weight=class_weight)
        self.pooling = pooling

    def _validate_targets(self, y, seqs, sample_weight, reset, classes=None):
        check_consistent_length(seqs.lengths, y)
        labels, codes = self._labels(y, reset, classes)
        weights = self._label_weights(labels, codes,
                                      self._sample_weight(sample_weight, seqs.lengths), reset)
        return codes, weights, len(self.classes_)

    def _stratify_labels(self, Y):
        counts = np.bincount(Y)
        return Y if counts[counts > 0].min() >= 2 else None

    def predict_proba(self, X, initial_state=None):
        """Class probabilities of each sequence.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        initial_state : ndarray, list or tuple, default=None
            Where each sequence starts, in the form :meth:`final_state` returns (one row per
            sequence); None starts from zero.

        Returns
        -------
        ndarray of shape (n_sequences, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        seqs = self._validate_sequences(X, reset=False)
        return softmax(self._network_outputs(seqs, initial_state=initial_state), axis=-1)

    def predict_log_proba(self, X, initial_state=None):
        """Logarithm of the class probabilities of each sequence.

        Equals ``np.log(predict_proba(X))``, including -inf where a probability underflows.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        initial_state : ndarray, list or tuple, default=None
            Where each sequence starts, in the form :meth:`final_state` returns (one row per
            sequence); None starts from zero.

        Returns
        -------
        ndarray of shape (n_sequences, n_classes)
            Log-probabilities, columns in the order of ``classes_``.
        """
        return np.log(self.predict_proba(X, initial_state))

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of :meth:`predict` over the sequences.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        y : array-like of shape (n_sequences,)
            True labels.
        sample_weight : array-like of shape (n_sequences,), default=None
            Weights of the sequences.

        Returns
        -------
        float
            The (weighted) fraction of sequences labelled correctly, as
            :func:`sklearn.metrics.accuracy_score` computes it.
        """
        return super().score(X, y, sample_weight=sample_weight)

    def predict(self, X, initial_state=None):
        """The predicted label of each sequence.

        Parameters
        ----------
        X : list of array-like, ndarray or DataFrame
            Sequences in any accepted form (see the class docstring).
        initial_state : ndarray, list or tuple, default=None
            Where each sequence starts, in the form :meth:`final_state` returns (one row per
            sequence); None starts from zero.

        Returns
        -------
        ndarray of shape (n_sequences,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X, initial_state)
        return self.classes_[proba.argmax(axis=1)]
