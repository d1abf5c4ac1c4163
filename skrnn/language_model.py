"""Language models: the probability of the next token given the tokens before it.

:class:`RNNLanguageModel` reads text (characters or words, through the options of
:class:`~skrnn.text.TokenEncoder`), learns to predict every token from the ones before it, and
then scores texts (log-likelihood, perplexity, bits per character), gives the distribution of
the next token after a prefix, and writes new text one token at a time through a
:class:`~skrnn.streaming.Stream`.

Every text is framed as ``<bos> t_1 ... t_n <eos>``: the model reads ``<bos> t_1 ... t_n`` and
predicts ``t_1 ... t_n <eos>``, so a text of n tokens has n + 1 predicted tokens, and ``<eos>``
ends a generated text.

.. rubric:: Two ways to train

- ``mode="documents"``: each text is its own sequence, batched with padding, every sequence
  starting from the zero state (sentences, names, short documents).
- ``mode="stream"``: the framed texts are joined into one stream, which is cut into
  ``batch_size`` rows read side by side; each row is read in windows of ``tbptt_steps``
  tokens, in order, with the state carried from one window to the next (truncated
  backpropagation through time) and one update after every window. This is how char-rnn and
  PyTorch's word language model train on a corpus that is one long text.
"""

import numbers
import warnings
from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import _fit_rng
from ._training import (RECORDS, TrainingData, diverged, fit_stochastic, start_records,
                        update)
from .nn import RecurrentNetwork
from .nn._fast.buffers import trim_workspace
from .nn.optimizers import SGD, Adam
from .streaming import Stream, _softmax_rows
from .text import _BOS_ID, _EOS_ID, _PAD_ID, _TOKEN_PATTERN, TokenEncoder

__all__ = ["RNNLanguageModel"]

# The window of mode="stream" when tbptt_steps is None: that of PyTorch's word language model
# example (--bptt 35).
STREAM_WINDOW = 35

# Scoring computes the log-probabilities of at most this many (step, sequence, token) entries
# at once: 2**22 float32 values are 16 MB, whatever the vocabulary.
_SCORE_ELEMENTS = 1 << 22


class RNNLanguageModel(BaseEstimator):
    """A recurrent language model of characters or words.

    Learns the probability of each token given the tokens before it, from a list of texts.
    It scores texts (:meth:`score`, :meth:`score_samples`, :meth:`perplexity`,
    :meth:`bits_per_character`), predicts the next token after a prefix
    (:meth:`predict_proba`, :meth:`predict`) and writes text (:meth:`sample`). Like
    scikit-learn's density estimators, ``score`` is higher for a better model, so
    :class:`~sklearn.model_selection.GridSearchCV` can tune it on held-out texts.

    Every text is framed as ``<bos> t_1 ... t_n <eos>`` (see :mod:`skrnn.language_model`):
    the model predicts the n tokens and the end marker.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        The recurrent cell.
    hidden_layer_sizes : int or tuple of int, default=(128,)
        Hidden size of each stacked layer.
    embedding_dim : int, default=64
        Size of each token's learned embedding.
    analyzer : {"char", "word"} or callable, default="char"
        What the tokens of a text are, as in :class:`~skrnn.text.TokenEncoder`: its
        characters (whitespace included), its words and punctuation marks, or what a callable
        returns for it. With ``analyzer=None`` the texts are lists of tokens already.
    lowercase : bool, default=False
        Lowercase the texts first. Off by default, unlike TokenEncoder's: generated text
        keeps its case.
    token_pattern : str, default=r"(?u)\\w+|[^\\w\\s]"
        With ``analyzer="word"``, the regular expression whose matches are the tokens.
    max_features : int, default=None
        Keep the ``max_features`` most frequent tokens; the others become ``"<unk>"``.
    min_df : int or float, default=1
        Keep the tokens found in at least this many texts (or this share of them).
    mode : {"documents", "stream"}, default="documents"
        How the texts are read in training (see :mod:`skrnn.language_model`): each text its
        own sequence, or all of them joined into one stream read in windows with the state
        carried.
    tbptt_steps : int, default=None
        The window of truncated backpropagation through time. With ``mode="stream"``, the
        tokens per window (None: 35); with ``mode="documents"``, the windows each sequence is
        cut into within a mini-batch (None: full backpropagation through time).
    tie_weights : bool, default=False
        Use the embedding table as the output layer's weights (Press & Wolf, 2017): one
        table of (n_tokens, embedding_dim) instead of two, which needs ``embedding_dim``
        equal to the top layer's size. The two copies in ``theta_`` are kept equal: each
        update gives both the sum of their gradients.
    dropout : float, default=0.0
        Dropout on the inputs of the layers after the first, in training.
    solver : {"adam", "sgd"}, default="adam"
        The optimizer.
    alpha : float, default=0.0
        L2 penalty on the weights (divided by the number of predicted tokens of a batch).
    batch_size : int, default=32
        Texts per mini-batch (``mode="documents"``), or rows of the stream read side by side
        (``mode="stream"``).
    learning_rate_init : float, default=0.003
        The step size.
    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.
    max_iter : int, default=20
        Epochs (passes over the training tokens).
    shuffle : bool, default=True
        Shuffle the texts every epoch (``mode="documents"``; a stream is read in order).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling, the validation split and dropout.
    tol : float, default=1e-4
        Improvement of the training loss (or, with early stopping, of the held-out loss)
        that counts as progress.
    verbose : bool or int, default=False
        Report each epoch (as the other estimators do).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the texts (``mode="documents"``) or the end of the
        stream (``mode="stream"``), stop when their loss per token (the negative
        log-likelihood) has not improved by ``tol`` for ``n_iter_no_change`` epochs, and
        restore the weights of the best epoch.
    validation_fraction : float, default=0.1
        The share held out for early stopping.
    n_iter_no_change : int, default=5
        Epochs without progress before stopping.
    max_grad_norm : float or None, default=5.0
        Clip the gradient's norm at this value before each update; None does not clip.

    Attributes
    ----------
    encoder_ : TokenEncoder
        The vocabulary, fitted on the training texts with ``begin_end=True``.
    classes_ : ndarray of str of shape (n_tokens,)
        The tokens in the order of their ids: the columns of :meth:`predict_proba`. The first
        four are ``"<pad>"``, ``"<unk>"``, ``"<bos>"`` and ``"<eos>"``; ``<pad>`` and
        ``<bos>`` are never predicted targets, and :meth:`sample` never draws them.
    network_ : RecurrentNetwork
        The network: an embedding, the recurrent layers and a head of n_tokens outputs at
        every step.
    theta_ : ndarray of shape (n_params,)
        The weights, float32 (:meth:`state_dict` names them).
    n_iter_ : int
        Epochs run.
    t_ : int
        Updates made.
    loss_curve_ : list of float
        Mean training loss of each epoch: the negative log-likelihood per predicted token
        (nats).
    validation_scores_ : list of float or None
        With early stopping, the held-out log-likelihood per token after each epoch.
    best_validation_score_ : float or None
        The best of them.
    validation_loss_curve_ : list of float or None
        With early stopping, the held-out loss per token after each epoch (the negative of
        ``validation_scores_``), which early stopping watches.
    best_validation_loss_ : float or None
        The lowest of them; the fitted weights are that epoch's.

    See Also
    --------
    skrnn.text.TokenEncoder : The vocabulary and the options of the tokens.
    skrnn.RNNSequenceTagger : One label per step, for tagging rather than generating.

    Examples
    --------
    >>> from skrnn import RNNLanguageModel
    >>> texts = ["abcabcabc", "abcabc", "cabcab"] * 10
    >>> lm = RNNLanguageModel("gru", (16,), embedding_dim=8, max_iter=30,
    ...                       random_state=0).fit(texts)
    >>> lm.predict(["ab", "abca"]).tolist()
    ['c', 'b']
    >>> bool(lm.perplexity(["abcabc"]) < lm.perplexity(["acbbca"]))
    True
    >>> lm.sample(2, prefix="ab", max_length=7, temperature=0, random_state=0)
    ['cabcabc', 'cabcabc']
    """

    _parameter_constraints: dict = {
        "cell": [StrOptions({"lstm", "gru", "rnn"})],
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "analyzer": [StrOptions({"char", "word"}), callable, None],
        "lowercase": ["boolean"],
        "token_pattern": [str],
        "max_features": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "min_df": [Interval(numbers.Real, 0, 1, closed="both"),
                   Interval(numbers.Integral, 1, None, closed="left")],
        "mode": [StrOptions({"documents", "stream"})],
        "tbptt_steps": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "tie_weights": ["boolean"],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "solver": [StrOptions({"adam", "sgd"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_grad_norm": [Interval(numbers.Real, 0, None, closed="neither"), None],
    }

    # The fitted state, declared once as in the other estimators: what skrnn.persistence
    # saves and loads, each attribute with the kind of value it holds.
    _fitted_state = {
        "encoder_": "estimator",
        "classes_": "labels",
        "network_": "network",
        "theta_": "params",
        "_optimizer": "optimizer",
        **RECORDS,
    }

    # what stream() steps return: the next token's probabilities
    _stream_output = "proba"

    def __init__(self, cell="lstm", hidden_layer_sizes=(128,), *, embedding_dim=64,
                 analyzer="char", lowercase=False, token_pattern=_TOKEN_PATTERN,
                 max_features=None, min_df=1, mode="documents", tbptt_steps=None,
                 tie_weights=False, dropout=0.0, solver="adam", alpha=0.0, batch_size=32,
                 learning_rate_init=0.003, momentum=0.9, max_iter=20, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=5, max_grad_norm=5.0):
        self.cell = cell
        self.hidden_layer_sizes = hidden_layer_sizes
        self.embedding_dim = embedding_dim
        self.analyzer = analyzer
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.max_features = max_features
        self.min_df = min_df
        self.mode = mode
        self.tbptt_steps = tbptt_steps
        self.tie_weights = tie_weights
        self.dropout = dropout
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.max_grad_norm = max_grad_norm

    # -- fit ------------------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the vocabulary and the model from texts.

        Parameters
        ----------
        X : list of str, or list of lists of str
            The training texts (lists of tokens with ``analyzer=None``).
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        RNNLanguageModel
            The fitted model (``self``).
        """
        self._warn_no_effect()
        sizes = tuple(int(h) for h in np.atleast_1d(self.hidden_layer_sizes))
        if self.tie_weights and self.embedding_dim != sizes[-1]:
            raise ValueError(f"tie_weights=True uses the embedding table as the output "
                             f"weights, so embedding_dim ({self.embedding_dim}) must equal the "
                             f"top layer's size ({sizes[-1]})")
        encoder = TokenEncoder(analyzer=self.analyzer, lowercase=self.lowercase,
                               token_pattern=self.token_pattern, max_features=self.max_features,
                               min_df=self.min_df, begin_end=True)
        ids = encoder.fit_transform(_texts(X))  # bad texts raise here, before any change
        if self.mode == "stream" and sum(len(s) for s in ids) < 4:
            raise ValueError(f"the stream holds {sum(len(s) for s in ids)} tokens: too few to "
                             "train on")
        self.encoder_, self.classes_ = encoder, encoder.get_feature_names_out()
        rng = _fit_rng(self.random_state)
        self._initialize(sizes, len(self.classes_), rng)
        try:
            if self.mode == "stream":
                fit_stochastic(self, _stream_of(ids), rng, False, _run_stream_epoch,
                               _split_stream)
            else:
                fit_stochastic(self, _documents(ids), rng, False)
        finally:
            trim_workspace()
        return self

    def _check_fitted_state(self):
        """Raise ValueError if the fitted attributes do not fit together (checked after
        :func:`skrnn.persistence.load` has set them)."""
        net, V = self.network_, len(self.classes_)
        if (net.output != "sequence" or net.n_tokens != V or net.n_outputs != V
                or net.bidirectional or self.encoder_.n_tokens_ != V
                or list(self.encoder_.get_feature_names_out()) != list(self.classes_)):
            raise ValueError(f"The network {net}, the encoder and classes_ ({V} tokens) do not "
                             "fit together.")

    def _warn_no_effect(self):
        """Warn about each parameter set away from its default where it does nothing."""
        sizes = np.atleast_1d(self.hidden_layer_sizes)
        idle = [("dropout", self.dropout != 0 and len(sizes) < 2,
                 "between stacked layers (two or more hidden layers)"),
                ("momentum", self.momentum != 0.9 and self.solver != "sgd", "with solver='sgd'"),
                ("shuffle", not self.shuffle and self.mode == "stream",
                 "with mode='documents' (a stream is read in order)"),
                ("validation_fraction", self.validation_fraction != 0.1
                 and not self.early_stopping, "with early_stopping=True"),
                ("token_pattern", self.token_pattern != _TOKEN_PATTERN
                 and self.analyzer != "word", "with analyzer='word'")]
        for name, unused, where in idle:
            if unused:
                warnings.warn(f"{name}={getattr(self, name)!r} has no effect here: it acts "
                              f"only {where}.", UserWarning, stacklevel=3)

    def _initialize(self, sizes, n_tokens, rng):
        """A new network, its weights and optimizer, and empty records of the fit."""
        self.network_ = RecurrentNetwork(self.cell, self.embedding_dim, sizes, n_tokens,
                                         output="sequence", dropout=self.dropout,
                                         n_tokens=n_tokens)
        self.theta_ = self.network_.init_params(rng, np.float32)
        if self.tie_weights:  # one table for both: small, as PyTorch's tied example starts
            P = self.network_.unpack(self.theta_)
            P["embedding.weight"][1:] = rng.uniform(-0.1, 0.1, P["embedding.weight"][1:].shape)
            P["head.weight"][...] = P["embedding.weight"]
        if self.solver == "sgd":
            self._optimizer = SGD(self.learning_rate_init, momentum=self.momentum,
                                  nesterov=False)
        else:
            self._optimizer = Adam(self.learning_rate_init)
        start_records(self)

    def _objective(self, theta, data, rng=None, initial_state=None):
        """Mean negative log-likelihood per predicted token of ``data`` plus the L2 penalty,
        and its gradient; with tied weights, both tables get the sum of their gradients.
        With ``initial_state`` (a stream's window), also the final state."""
        n_tokens = data.weights.sum()
        out = self.network_.loss_and_grad(
            theta, data.X3, data.lengths, data.Y, "softmax", data.weights,
            self.alpha / n_tokens, self.tbptt_steps if self.mode == "documents" else None,
            rng, initial_state=initial_state, final_state=initial_state is not None)
        if self.tie_weights:
            G = self.network_.unpack(out[1])
            G["embedding.weight"] += G["head.weight"]
            G["head.weight"][...] = G["embedding.weight"]
        return out

    def _evaluate_validation(self, validation):
        """(score, loss) on the held-out part: the log-likelihood per predicted token, and
        the cross-entropy that early stopping watches, its negative."""
        if isinstance(validation, _Stream):
            ll, n = _stream_log_likelihood(self, validation)
            return ll / n, -ll / n
        ll = self._log_likelihoods(validation.X3[:, :, 0], validation.lengths,
                                   validation.Y)[0]
        score = float(ll.sum() / validation.lengths.sum())
        return score, -score

    def _stratify_labels(self, Y):
        return None

    # -- scoring -------------------------------------------------------------------------------
    def _log_likelihoods(self, X, lengths, Y, initial_state=None):
        """The log-probability of each target Y (n, T) after the ids X (n, T) read before
        it, (n, T) zero past each length, and the final state ``(h, c)`` (lists of (n, H_k)).

        The log-probabilities of at most ``_SCORE_ELEMENTS`` entries exist at once: the rows
        go in groups, each read in windows of steps with the state carried.
        """
        net, theta = self.network_, self.theta_
        P = net.unpack(theta)
        W_out, b_out = P["head.weight"], P["head.bias"]
        n, T = X.shape
        V = W_out.shape[0]
        window = max(1, min(T, 64))
        rows_per_group = max(1, _SCORE_ELEMENTS // (window * V))
        ll = np.zeros((n, T))
        h, c = _zero_state(net, n, theta.dtype) if initial_state is None else initial_state
        h, c = [a.copy() for a in h], (None if c is None else [a.copy() for a in c])
        for g in range(0, n, rows_per_group):
            group = np.arange(g, min(n, g + rows_per_group))
            for s in range(0, T, window):
                rows = group[lengths[group] > s]
                if rows.size == 0:
                    break
                L = np.minimum(lengths[rows] - s, window)
                e = s + int(L.max())
                state = ([a[rows] for a in h], None if c is None else [a[rows] for a in c])
                outputs, h_n, c_n = net.final_states(theta, X[rows, s:e], L, state)
                r, t, H = outputs.shape
                Z = outputs.reshape(r * t, H) @ W_out.T  # one GEMM over all steps
                Z += b_out
                ll[rows, s:e] = _log_softmax_at(Z, Y[rows, s:e].reshape(-1)).reshape(r, t)
                for k in range(len(h)):
                    h[k][rows] = h_n[k]
                    if c is not None:
                        c[k][rows] = c_n[k]
        ll[np.arange(T)[None, :] >= lengths[:, None]] = 0
        return ll, (h, c)

    def _framed(self, X, end=True):
        """Texts as framed id sequences: (inputs (n, T), lengths, targets (n, T)) with
        ``end``, or the inputs alone (prefixes: ``<bos>`` and the tokens, no ``<eos>``)."""
        check_is_fitted(self)
        ids = self.encoder_.transform(_texts(X))
        if end:
            return _pad([s[:-1] for s in ids]) + (_pad([s[1:] for s in ids])[0],)
        return _pad([s[:-1] for s in ids])

    def score_samples(self, X):
        """The log-likelihood of each text, in nats.

        The sum over its predicted tokens (its tokens and ``<eos>``) of their
        log-probabilities.

        Parameters
        ----------
        X : list of str, or list of lists of str
            Texts.

        Returns
        -------
        ndarray of shape (n_texts,)
            log P(text) under the model.
        """
        inputs, lengths, targets = self._framed(X)
        try:
            return self._log_likelihoods(inputs, lengths, targets)[0].sum(axis=1)
        finally:
            trim_workspace()

    def score(self, X, y=None):
        """The mean log-likelihood per predicted token of the texts (higher is better).

        Parameters
        ----------
        X : list of str, or list of lists of str
            Texts.
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        float
            The sum of :meth:`score_samples` over the number of predicted tokens (each
            text's tokens and its ``<eos>``), in nats.
        """
        inputs, lengths, targets = self._framed(X)
        try:
            return float(self._log_likelihoods(inputs, lengths, targets)[0].sum()
                         / lengths.sum())
        finally:
            trim_workspace()

    def perplexity(self, X):
        """The perplexity of the model on the texts: ``exp(-score(X))``.

        Parameters
        ----------
        X : list of str, or list of lists of str
            Texts.

        Returns
        -------
        float
            The perplexity per predicted token (lower is better; 1 is perfect, and a model
            that knows nothing has the size of the vocabulary).
        """
        return float(np.exp(-self.score(X)))

    def bits_per_character(self, X):
        """The cross-entropy of a character model on the texts, in bits per character.

        ``-score(X) / ln 2``, over every predicted character (and each text's end).

        Parameters
        ----------
        X : list of str
            Texts.

        Returns
        -------
        float
            Bits per predicted character (each text's characters and its end).

        Raises
        ------
        ValueError
            If the model is not a character model (``analyzer="char"``).
        """
        check_is_fitted(self)
        if self.encoder_.analyzer != "char":
            raise ValueError("bits per character needs a character model "
                             f"(analyzer='char'), not analyzer={self.encoder_.analyzer!r}; "
                             "use perplexity")
        return float(-self.score(X) / np.log(2))

    # -- the next token -------------------------------------------------------------------------
    def predict_proba(self, X):
        """The distribution of the next token after each prefix.

        Parameters
        ----------
        X : list of str, or list of lists of str
            Prefixes (an empty prefix asks for the first token of a text).

        Returns
        -------
        ndarray of shape (n_prefixes, n_tokens)
            The probability of each token of ``classes_`` coming next.
        """
        inputs, lengths = self._framed(X, end=False)
        try:
            _, h_n, _ = self.network_.final_states(self.theta_, inputs, lengths)
        finally:
            trim_workspace()
        P = self.network_.unpack(self.theta_)
        Z = h_n[-1] @ P["head.weight"].T + P["head.bias"]
        _softmax_rows(Z)
        return Z

    def predict(self, X):
        """The most likely next token after each prefix.

        Parameters
        ----------
        X : list of str, or list of lists of str
            Prefixes.

        Returns
        -------
        ndarray of str of shape (n_prefixes,)
            The token of ``classes_`` with the largest probability.
        """
        proba = self.predict_proba(X)  # checks that the model is fitted first
        return self.classes_[np.argmax(proba, axis=1)]

    def transform(self, X):
        """The top layer's state after reading each text.

        The state after ``<bos>`` and the text's tokens: the one from which
        :meth:`predict_proba` gives the next token.

        Parameters
        ----------
        X : list of str, or list of lists of str
            Texts.

        Returns
        -------
        ndarray of shape (n_texts, hidden_layer_sizes[-1])
            The final hidden states.
        """
        inputs, lengths = self._framed(X, end=False)
        try:
            return self.network_.final_states(self.theta_, inputs, lengths)[1][-1]
        finally:
            trim_workspace()

    def stream(self, n_streams=1):
        """Read token ids one step at a time, keeping the state.

        Each step returns the distribution of the next token.

        Parameters
        ----------
        n_streams : int, default=1
            Number of texts read side by side.

        Returns
        -------
        Stream
            A :class:`~skrnn.streaming.Stream` that takes one token id per stream and step
            (``encoder_.transform`` gives the ids; a text starts with ``<bos>``, id 2).
        """
        return Stream(self, n_streams)

    # -- writing --------------------------------------------------------------------------------
    def sample(self, n_samples=1, *, prefix="", max_length=200, temperature=1.0, top_k=None,
               top_p=None, random_state=None):
        """Write texts one token at a time, each drawn from the next-token distribution.

        The state is carried from token to token (a :class:`~skrnn.streaming.Stream`), so
        a text of n tokens costs n steps.

        Parameters
        ----------
        n_samples : int, default=1
            Number of texts.
        prefix : str or list of str, default=""
            Text that every sample continues (a list of tokens with ``analyzer=None``).
        max_length : int, default=200
            Most tokens per sample; a sample ends earlier when ``<eos>`` is drawn.
        temperature : float, default=1.0
            Divides the logits: below 1 sharpens the distribution, above 1 flattens it; 0
            takes the most likely token every time (greedy).
        top_k : int, default=None
            Draw from the ``top_k`` most likely tokens only.
        top_p : float in (0, 1], default=None
            Draw from the smallest set of most likely tokens whose probability reaches
            ``top_p`` (nucleus sampling).
        random_state : int, RandomState instance or None, default=None
            Seeds the draws: the same seed gives the same texts.

        Returns
        -------
        list of str or list of list of str
            The continuations of ``prefix`` (without it and without ``<eos>``): strings for a
            character model, lists of tokens otherwise (``" ".join`` them for words).
        """
        check_is_fitted(self)
        _check_sampling(n_samples, max_length, temperature, top_k, top_p)
        rng = check_random_state(random_state)
        if self.encoder_.analyzer is None and isinstance(prefix, str) and not prefix:
            prefix = []  # pre-tokenized texts: the empty prefix is an empty list
        start = self.encoder_.transform(_texts([prefix]))[0][:-1]  # <bos> and the prefix
        stream = self.stream(1)  # the prefix is read once
        proba = stream.update(start[None])[:, -1]
        if n_samples > 1:  # every sample starts from the state after the prefix
            state = _repeat_state(stream.state, n_samples)
            stream = self.stream(n_samples).set_state(state)
            proba = np.repeat(proba, n_samples, axis=0)
        drawn = np.zeros((n_samples, max_length), np.intp)
        length = np.full(n_samples, max_length)
        for t in range(max_length):
            ids = _draw(proba, temperature, top_k, top_p, rng)
            drawn[:, t] = ids
            ended = (ids == _EOS_ID) & (length == max_length)
            length[ended] = t
            if (length < max_length).all():
                break
            if t + 1 < max_length:
                proba = stream.step(ids)
        return self.encoder_.inverse_transform([d[:n] for d, n in zip(drawn, length)])

    def state_dict(self):
        """The fitted weights as a PyTorch-style state dict.

        ``embedding.weight``, the recurrent layers' ``weight_ih_l0`` ..., ``head.weight`` and
        ``head.bias``.

        Returns
        -------
        dict of str to ndarray
            Copies of the weights, in PyTorch's shapes and gate order.
        """
        check_is_fitted(self)
        return self.network_.state_dict(self.theta_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = False
        tags.non_deterministic = False
        return tags


# -- the texts -----------------------------------------------------------------------------------
def _texts(X):
    """The texts as a list, after the checks that give clear messages."""
    if isinstance(X, (str, bytes)):
        raise ValueError("X must be a list of texts, got a single string; wrap it: [text]")
    if not hasattr(X, "__iter__") or isinstance(X, Mapping):
        raise ValueError(f"X must be a list of texts, got {type(X).__name__}")
    texts = list(X)
    if not texts:
        raise ValueError("X holds no text")
    return texts


def _pad(sequences):
    """Id sequences as a 0-padded (n, T) array and their lengths."""
    lengths = np.array([len(s) for s in sequences])
    ids = np.zeros((len(sequences), int(lengths.max())), np.intp)
    for i, s in enumerate(sequences):
        ids[i, :len(s)] = s
    return ids, lengths


def _documents(ids):
    """Training data of mode="documents": each framed text a sequence, inputs without the
    last id and targets without the first, every target weighted 1."""
    inputs, lengths = _pad([s[:-1] for s in ids])
    targets = _pad([s[1:] for s in ids])[0]
    weights = (np.arange(inputs.shape[1])[None, :] < lengths[:, None]).astype(np.float64)
    return TrainingData(inputs[:, :, None], lengths, targets, weights)


def _log_softmax_at(Z, Y):
    """log softmax(Z)[..., Y] for logits Z (..., V) and ids Y (...); Z is overwritten."""
    Z -= Z.max(axis=-1, keepdims=True)
    picked = np.take_along_axis(Z, Y[..., None], axis=-1)[..., 0]
    np.exp(Z, out=Z)
    return picked - np.log(Z.sum(axis=-1))


# -- mode="stream" ---------------------------------------------------------------------------------
class _Stream:
    """A token stream cut into rows read side by side: ``rows`` (B, N) of ids, each row
    read left to right (inputs ``rows[:, :-1]``, targets ``rows[:, 1:]``)."""

    def __init__(self, rows):
        self.rows = rows


def _stream_of(ids):
    """The framed texts joined into one stream of ids (a 1-D array)."""
    return np.concatenate(ids)


def _rows(stream, batch_size):
    """``stream`` cut into min(batch_size, len // 2) rows of equal length (the remainder
    dropped, as PyTorch's example's ``batchify``)."""
    B = max(1, min(batch_size, len(stream) // 2))
    N = len(stream) // B
    return _Stream(stream[:B * N].reshape(B, N))


def _split_stream(est, stream, rng, incremental):
    """(training rows, validation rows or None): with early stopping, the last
    ``validation_fraction`` of the stream is held out."""
    if len(stream) < 4:
        raise ValueError(f"the stream holds {len(stream)} tokens: too few to train on")
    if not est.early_stopping:
        return _rows(stream, est.batch_size), None
    n_val = int(len(stream) * est.validation_fraction)
    if n_val < 2 or len(stream) - n_val < 2:
        raise ValueError(f"validation_fraction={est.validation_fraction} of a stream of "
                         f"{len(stream)} tokens leaves no tokens to validate or to train on")
    return (_rows(stream[:-n_val], est.batch_size),
            _rows(stream[-n_val:], min(est.batch_size, max(1, n_val // 64))))


def _windows(N, window):
    """The windows [s, e) of the inputs of rows of N ids (the last id is only a target)."""
    return [(s, min(s + window, N - 1)) for s in range(0, N - 1, window)]


def _run_stream_epoch(est, train, rng, best):
    """One pass over the stream's rows in windows, in order, from the zero state, with the
    state carried and an update after every window (``fit_stochastic``'s ``run_epoch``)."""
    rows = train.rows
    B, N = rows.shape
    window = est.tbptt_steps or STREAM_WINDOW
    net = est.network_
    state = None
    total, count, norms = 0.0, 0, []
    for s, e in _windows(N, window):
        data = TrainingData(rows[:, s:e, None], np.full(B, e - s), rows[:, s + 1:e + 1],
                            np.ones((B, e - s)))
        if state is None:
            state = _zero_state(net, B, est.theta_.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            loss, grad, state = est._objective(est.theta_, data, rng if est.dropout else None,
                                               initial_state=state)
        loss, grad_norm = update(est, loss, grad)
        if loss is None:
            return None, None, diverged(est, grad_norm, best)
        total += loss * B * (e - s)
        count += B * (e - s)
        norms.append(grad_norm)
        est.t_ += 1
    return total / count, float(np.mean(norms)), best


def _zero_state(net, n, dtype):
    """The zero state of n sequences: ``(h, c)``, lists of (n, H_k) arrays (c None unless the
    cell is an LSTM)."""
    h = [np.zeros((n, H), dtype) for H in net.hidden_sizes]
    return h, ([np.zeros_like(a) for a in h] if net.cell == "lstm" else None)


def _stream_log_likelihood(est, validation):
    """(total log-likelihood, predicted tokens) of validation rows, read in windows with the
    state carried."""
    rows = validation.rows
    B, N = rows.shape
    ll, _ = est._log_likelihoods(rows[:, :-1], np.full(B, N - 1), rows[:, 1:])
    return float(ll.sum()), B * (N - 1)


# -- sampling --------------------------------------------------------------------------------------
def _repeat_state(state, n):
    """A stream's state of one sequence, repeated for n (PyTorch's shapes: arrays (L, 1, H)
    or lists of (1, H_k) arrays, paired (h, c) for the LSTM)."""
    if isinstance(state, tuple):
        return tuple(_repeat_state(part, n) for part in state)
    if isinstance(state, list):
        return [np.repeat(a, n, axis=0) for a in state]
    return np.repeat(state, n, axis=1)


def _check_sampling(n_samples, max_length, temperature, top_k, top_p):
    for name, value in (("n_samples", n_samples), ("max_length", max_length)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(temperature, numbers.Real) or not temperature >= 0:
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, numbers.Integral) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    if top_p is not None and (not isinstance(top_p, numbers.Real) or not 0 < top_p <= 1):
        raise ValueError(f"top_p must be in (0, 1] or None, got {top_p!r}")


def _draw(proba, temperature, top_k, top_p, rng):
    """One token id per row of ``proba`` (n, V): never ``<pad>`` or ``<bos>``; greedy at
    temperature 0, else drawn from the distribution at ``temperature`` restricted to the
    ``top_k`` most likely tokens and to the nucleus of mass ``top_p``."""
    p = np.array(proba, dtype=np.float64)
    p[:, [_PAD_ID, _BOS_ID]] = 0
    if temperature == 0:
        return np.argmax(p, axis=1)
    if temperature != 1:
        with np.errstate(divide="ignore"):
            logp = np.log(p) / temperature
        logp -= logp.max(axis=1, keepdims=True)
        p = np.exp(logp)
    if top_k is None and top_p is None:  # every token: no sorting
        return _inverse_cdf(p, rng)
    order = np.argsort(-p, axis=1, kind="stable")  # most likely first
    sorted_p = np.take_along_axis(p, order, axis=1)
    keep = np.ones_like(sorted_p, dtype=bool)
    if top_k is not None:
        keep[:, top_k:] = False
    if top_p is not None:
        mass = np.cumsum(sorted_p, axis=1) / sorted_p.sum(axis=1, keepdims=True)
        keep &= np.concatenate([np.ones((len(p), 1), bool), mass[:, :-1] < top_p], axis=1)
    sorted_p[~keep] = 0
    return order[np.arange(len(p)), _inverse_cdf(sorted_p, rng)]


def _inverse_cdf(weights, rng):
    """One column per row of ``weights`` (n, V) (not normalised), drawn in proportion to
    them: the first column whose cumulative weight exceeds a uniform draw in [0, total), so a
    column of weight zero is never drawn."""
    cdf = np.cumsum(weights, axis=1)
    u = rng.random_sample(len(weights)) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=1), weights.shape[1] - 1)
