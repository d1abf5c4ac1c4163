"""Text to sequences of token ids, the input of the estimators' embeddings.

:class:`TokenEncoder` cuts each document into tokens (characters, words, or tokens given
already) and replaces every token by its id in a vocabulary learned from the documents,
giving one 1-D integer array per document: the ragged list that the estimators'
``embedding_dim`` parameter reads. Its parameters are those of
:class:`~sklearn.feature_extraction.text.CountVectorizer` where they apply, and
``handle_unknown`` is that of :class:`~sklearn.preprocessing.OrdinalEncoder`.
"""

import re
import warnings
from collections import Counter
from collections.abc import Mapping
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted

from .sequences import _is_pandas

__all__ = ["TokenEncoder"]

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
_PAD_ID, _UNK_ID, _BOS_ID, _EOS_ID = 0, 1, 2, 3

# Words and every punctuation mark as tokens of their own. CountVectorizer's default
# r"(?u)\b\w\w+\b" drops one-letter words ("a", "I", digits) and punctuation: harmless for a
# bag of words, but a sequence model reads order, and "I", "?" or "," carry meaning there.
_TOKEN_PATTERN = r"(?u)\w+|[^\w\s]"


class TokenEncoder(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Encode text documents as sequences of integer token ids.

    Each document becomes a 1-D array of token ids, one per token, in the order of the
    tokens: the ragged list of integer arrays that the estimators' ``embedding_dim``
    parameter reads. The parameter names are those of
    :class:`~sklearn.feature_extraction.text.CountVectorizer` where they apply, and
    ``handle_unknown`` is that of :class:`~sklearn.preprocessing.OrdinalEncoder`.

    The first ids are reserved:

    - 0 is ``"<pad>"``, the padding id: no token ever gets it, so sequences padded with 0 to
      one length can be told from real tokens;
    - 1 is ``"<unk>"``, the id of every token not in the vocabulary (with
      ``handle_unknown="use_unknown"``);
    - with ``begin_end=True``, 2 is ``"<bos>"`` and 3 is ``"<eos>"``, and every sequence
      starts with 2 and ends with 3.

    The tokens seen in fit follow, in descending order of their total count over all
    documents, ties in the order of the token strings (code point order). The ids therefore
    depend only on which tokens occur how often, never on the order of the documents, and
    the most frequent tokens get the smallest ids. A token in the documents that is
    spelled like a reserved token of this encoder gets the reserved id: ``"<unk>"`` (as in
    corpora where rare words are already replaced by ``"<unk>"``) is 1, and with
    ``begin_end=True`` ``"<bos>"`` and ``"<eos>"`` are 2 and 3. ``"<pad>"`` in a document is
    a ValueError, since a real token must not look like padding.

    A document without any token (an empty string, or an empty token list) is a
    ValueError naming it, in fit and in transform, unless ``begin_end=True``: the
    estimators reject a sequence without steps, and a made-up ``"<unk>"`` would invent a
    token. With ``begin_end=True`` an empty document becomes ``[2, 3]``.

    Parameters
    ----------
    analyzer : {"char", "word"}, callable or None, default="char"
        What the tokens of a document are:

        - ``"char"``: every character of the (lowercased) document, whitespace included,
          so that :meth:`inverse_transform` gives the document back;
        - ``"word"``: the matches of ``token_pattern`` in the (lowercased) document, or what
          ``tokenizer`` returns for it;
        - a callable: called on each raw document, it returns the list of its tokens
          (``lowercase`` does not apply, as in CountVectorizer);
        - None: the documents are tokenized already, each a list, tuple or 1-D array of
          str tokens, and every token gets exactly one id (without ``begin_end``), so the
          encoder can sit in front of a sequence tagger whose labels are per token.
    lowercase : bool, default=True
        Lowercase each document before it is cut into tokens (each token with
        ``analyzer=None``). No effect with a callable ``analyzer``.
    tokenizer : callable, default=None
        With ``analyzer="word"``, a function from a (lowercased) document to its list of
        tokens, used instead of ``token_pattern``.
    token_pattern : str or None, default=r"(?u)\\w+|[^\\w\\s]"
        With ``analyzer="word"`` and no ``tokenizer``, the regular expression whose matches
        are the tokens; a pattern with one capturing group gives the group's text. The
        default keeps words of any length and makes every punctuation mark a token, unlike
        CountVectorizer's ``r"(?u)\\b\\w\\w+\\b"``, which drops one-letter words and
        punctuation: a sequence model reads both.
    vocabulary : mapping or iterable of str, default=None
        A fixed vocabulary instead of one learned in fit: an iterable of tokens in the order
        of their ids (a set is sorted first), or a mapping from token to id. The reserved
        tokens come first whether listed or not; where they are listed, they must be at their
        reserved ids (so the ``vocabulary_`` or ``get_feature_names_out()`` of a fitted
        encoder can be passed). The other ids must follow the reserved ones without gaps or
        repeats. With ``analyzer="char"`` every token must be one character.
    max_features : int, default=None
        Keep only the ``max_features`` tokens of highest total count (after ``min_df``);
        the others are unknown. None keeps them all. Ignored when ``vocabulary`` is given.
    min_df : float in range [0.0, 1.0] or int, default=1
        Keep only the tokens found in at least this many documents (an int) or this
        proportion of the documents (a float), as in CountVectorizer; the others are
        unknown. Ignored when ``vocabulary`` is given.
    handle_unknown : {"use_unknown", "error"}, default="use_unknown"
        What a token outside the vocabulary becomes in transform:

        - ``"use_unknown"``: the id 1 (``"<unk>"``);
        - ``"error"``: a ValueError naming the first such token and its document. Tokens
          dropped by ``min_df`` or ``max_features`` are outside the vocabulary too.
    begin_end : bool, default=False
        Reserve ids 2 (``"<bos>"``) and 3 (``"<eos>"``) and frame every sequence with them.
        With ``analyzer=None``, a sequence then has two ids more than its document has
        tokens: leave it False in front of a sequence tagger.
    output : {"ids", "onehot"}, default="ids"
        What transform returns for each document:

        - ``"ids"``: a 1-D ``np.intp`` array of token ids, of length ``T_i``;
        - ``"onehot"``: a float64 array of shape ``(T_i, n_tokens_)`` whose row ``t`` is 1
          in column ``ids[t]`` and 0 elsewhere (column ``j`` is the token of id ``j``), for
          the estimators without an embedding.

    Attributes
    ----------
    vocabulary_ : dict
        Token to id, the reserved tokens included.
    n_tokens_ : int
        Number of ids, ``len(vocabulary_)``: the rows of an embedding table, the columns of
        the one-hot output.

    See Also
    --------
    sklearn.feature_extraction.text.CountVectorizer : Bags of tokens, without their order.
    sklearn.preprocessing.OrdinalEncoder : Categories to integers, column by column.

    Notes
    -----
    Sequences padded into one array for batch computations use id 0, which
    :meth:`inverse_transform` drops. No scikit-learn ``set_output`` container applies: the
    output is a list of arrays of different lengths.

    Examples
    --------
    >>> from skrnn.text import TokenEncoder
    >>> enc = TokenEncoder().fit(["abba", "cab"])
    >>> enc.vocabulary_
    {'<pad>': 0, '<unk>': 1, 'a': 2, 'b': 3, 'c': 4}
    >>> enc.transform(["bad", "c"])
    [array([3, 2, 1]), array([4])]
    >>> enc.inverse_transform([[3, 2, 1], [4, 0, 0]])
    ['ba<unk>', 'c']
    >>> words = TokenEncoder(analyzer="word", begin_end=True).fit(["The cat sat.", "A cat!"])
    >>> words.get_feature_names_out()
    array(['<pad>', '<unk>', '<bos>', '<eos>', 'cat', '!', '.', 'a', 'sat',
           'the'], dtype=object)
    >>> words.transform(["A dog sat."])
    [array([2, 7, 1, 8, 6, 3])]
    >>> tagged = TokenEncoder(analyzer=None, output="onehot").fit([["New", "York"], ["York"]])
    >>> tagged.transform([["York", "city"]])[0]
    array([[0., 0., 1., 0.],
           [0., 1., 0., 0.]])
    """

    _parameter_constraints: dict = {
        "analyzer": [StrOptions({"char", "word"}), callable, None],
        "lowercase": ["boolean"],
        "tokenizer": [callable, None],
        "token_pattern": [str, None],
        "vocabulary": [Mapping, HasMethods("__iter__"), None],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "min_df": [Interval(RealNotInt, 0, 1, closed="both"),
                   Interval(Integral, 1, None, closed="left")],
        "handle_unknown": [StrOptions({"use_unknown", "error"})],
        "begin_end": ["boolean"],
        "output": [StrOptions({"ids", "onehot"})],
    }

    # The fitted state, declared once as in the estimators: what skrnn.persistence saves and
    # loads, each attribute with the kind of value it holds.
    _fitted_state = {"vocabulary_": "vocabulary", "n_tokens_": "int"}

    def __init__(self, *, analyzer="char", lowercase=True, tokenizer=None,
                 token_pattern=_TOKEN_PATTERN, vocabulary=None, max_features=None, min_df=1,
                 handle_unknown="use_unknown", begin_end=False, output="ids"):
        self.analyzer = analyzer
        self.lowercase = lowercase
        self.tokenizer = tokenizer
        self.token_pattern = token_pattern
        self.vocabulary = vocabulary
        self.max_features = max_features
        self.min_df = min_df
        self.handle_unknown = handle_unknown
        self.begin_end = begin_end
        self.output = output

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the vocabulary of the documents, or check the one given.

        Parameters
        ----------
        X : iterable of str, or iterable of lists of str
            The documents: strings, or with ``analyzer=None`` lists (tuples, 1-D arrays) of
            str tokens. A list, tuple, 1-D array, pandas Series or any other iterable.
        y : None
            Ignored; present for compatibility with scikit-learn's API.

        Returns
        -------
        TokenEncoder
            This encoder, fitted.

        Raises
        ------
        ValueError
            If ``X`` is a single string, holds no document, a document without tokens (and
            ``begin_end=False``) or the token ``"<pad>"``; if no token is left for the
            vocabulary; or if ``vocabulary`` or ``token_pattern`` are invalid.
        TypeError
            If ``X`` is not an iterable of documents, or a document or token is not a str.
        """
        self._fit(self._analyze_all(X))
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Learn the vocabulary and return the id sequences of the documents.

        The same as ``fit(X).transform(X)``, cutting the documents into tokens once.

        Parameters
        ----------
        X : iterable of str, or iterable of lists of str
            The documents, as in :meth:`fit`.
        y : None
            Ignored; present for compatibility with scikit-learn's API.

        Returns
        -------
        list of ndarray
            One array per document, as :meth:`transform` returns them.

        Raises
        ------
        ValueError
            As in :meth:`fit`, and with ``handle_unknown="error"`` if ``min_df`` or
            ``max_features`` left a token of ``X`` out of the vocabulary.
        TypeError
            As in :meth:`fit`.
        """
        documents = self._analyze_all(X)
        self._fit(documents)
        return self._encode(documents)

    def transform(self, X):
        """Replace every token of each document by its id.

        Parameters
        ----------
        X : iterable of str, or iterable of lists of str
            The documents, as in :meth:`fit`.

        Returns
        -------
        list of ndarray
            One new array per document: with ``output="ids"`` its ids, a 1-D ``np.intp``
            array of length ``T_i``; with ``output="onehot"`` a float64 array of shape
            ``(T_i, n_tokens_)``. ``T_i`` is the number of tokens of document ``i``, plus 2
            with ``begin_end=True``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the encoder is not fitted.
        ValueError
            If ``X`` is a single string, holds a document without tokens (and
            ``begin_end=False``) or the token ``"<pad>"``, or with ``handle_unknown="error"``
            a token outside the vocabulary (the message names the first one).
        TypeError
            If ``X`` is not an iterable of documents, or a document or token is not a str.
        """
        check_is_fitted(self, "vocabulary_")
        return self._encode(self._analyze_all(X))

    def inverse_transform(self, X):
        """Turn id sequences back into tokens.

        The padding id 0 and, with ``begin_end=True``, the markers 2 and 3 are dropped;
        unknown tokens stay ``"<unk>"``. For tokens of the vocabulary this gives the tokens
        back: with ``analyzer="char"`` the (lowercased) document itself.

        Parameters
        ----------
        X : iterable of array-like
            Id sequences: 1-D arrays or lists of integer ids, the rows of a 2-D array padded
            with 0, or one-hot arrays of shape ``(T_i, n_tokens_)`` as ``output="onehot"``
            gives (each row is read as the id of its largest entry).

        Returns
        -------
        list of str or list of list of str
            For each sequence its tokens: a list of str, or with ``analyzer="char"`` one
            string of its characters.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the encoder is not fitted.
        ValueError
            If a sequence holds an id outside ``[0, n_tokens_)``, values that are not
            integers, or has another shape.
        """
        check_is_fitted(self, "vocabulary_")
        if isinstance(X, (str, bytes)) or not _is_iterable(X):
            raise ValueError(f"Iterable over id sequences expected, got {type(X).__name__}.")
        names = self.get_feature_names_out()
        markers = (_PAD_ID, _BOS_ID, _EOS_ID) if self.begin_end else (_PAD_ID,)
        tokens = []
        for i, sequence in enumerate(X):
            ids = self._read_ids(sequence, i)
            kept = names[ids[~np.isin(ids, markers)]].tolist()
            tokens.append("".join(kept) if self.analyzer == "char" else kept)
        return tokens

    def get_feature_names_out(self, input_features=None):
        """The tokens in the order of their ids: the columns of the one-hot output.

        Parameters
        ----------
        input_features : None
            Ignored; present for compatibility with scikit-learn's API.

        Returns
        -------
        ndarray of shape (`n_tokens_`,)
            Object array of str: entry ``j`` is the token of id ``j``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the encoder is not fitted.
        """
        check_is_fitted(self, "vocabulary_")
        names = np.empty(len(self.vocabulary_), dtype=object)
        for token, index in self.vocabulary_.items():
            names[index] = token
        return names

    # -- fit ------------------------------------------------------------------------------------
    def _fit(self, documents):
        if not documents:
            raise ValueError(f"{type(self).__name__} needs at least one document to fit, "
                             "got 0.")
        _warn_no_effect(self)
        reserved = self._reserved()
        if self.vocabulary is not None:
            tokens = _vocabulary_tokens(self.vocabulary, reserved, self.analyzer)
            if self.lowercase and not callable(self.analyzer) \
                    and any(t != t.lower() for t in tokens[len(reserved):]):
                warnings.warn("Upper case characters found in vocabulary while 'lowercase' is "
                              "True. These entries will not be matched with any documents.",
                              UserWarning, stacklevel=5)
        else:
            tokens = reserved + self._learn(documents, reserved)
        self.vocabulary_ = {token: index for index, token in enumerate(tokens)}
        self.n_tokens_ = len(tokens)

    def _learn(self, documents, reserved):
        """The tokens kept for the vocabulary, in id order (see the class docstring)."""
        counts, document_counts = Counter(), Counter()
        for tokens in documents:
            counts.update(tokens)
            document_counts.update(set(tokens))
        for token in reserved:
            counts.pop(token, None)
        if not counts:
            raise ValueError("Empty vocabulary: the documents hold no tokens other than "
                             f"the reserved {list(reserved)}.")
        min_count = self.min_df if isinstance(self.min_df, Integral) \
            else self.min_df * len(documents)  # as CountVectorizer reads min_df
        kept = sorted((t for t in counts if document_counts[t] >= min_count),
                      key=lambda t: (-counts[t], t))
        if not kept:
            raise ValueError(f"After pruning, no tokens remain: none is in at least "
                             f"min_df={self.min_df!r} documents. Try a lower min_df.")
        return [str(t) for t in kept[:self.max_features]]

    def _reserved(self):
        return [PAD, UNK, BOS, EOS] if self.begin_end else [PAD, UNK]

    # -- documents to tokens to ids ---------------------------------------------------------------
    def _analyze_all(self, X):
        """The token list of every document, checked."""
        documents = _documents(X)
        analyze = self._analyzer()
        result = []
        for i, document in enumerate(documents):
            tokens = analyze(document, i)
            if not tokens and not self.begin_end:
                raise ValueError(
                    f"Document {i} has no tokens, and an empty sequence cannot go into the "
                    "estimators. Remove it, or set begin_end=True so that every sequence "
                    "holds at least its <bos> and <eos> markers.")
            if self.analyzer != "char" and PAD in tokens:
                raise ValueError(f"Document {i} holds the token {PAD!r}, which is reserved for "
                                 "padding (id 0).")
            result.append(tokens)
        return result

    def _analyzer(self):
        """A function (document, index) -> list of str tokens, for the analyzer set."""
        lower = self.lowercase
        if self.analyzer == "char":
            return lambda doc, i: list(_text(doc, i).lower() if lower else _text(doc, i))
        if self.analyzer == "word":
            tokenize = self.tokenizer if self.tokenizer is not None else _pattern_tokenizer(
                self.token_pattern)
            return lambda doc, i: _tokens(
                tokenize(_text(doc, i).lower() if lower else _text(doc, i)), i, "tokenizer")
        if callable(self.analyzer):
            return lambda doc, i: _tokens(self.analyzer(doc), i, "analyzer")

        def pretokenized(doc, i):
            tokens = _token_list(doc, i)
            return [token.lower() for token in tokens] if lower else tokens
        return pretokenized

    def _encode(self, documents):
        vocabulary, n_tokens = self.vocabulary_, self.n_tokens_
        encoded = []
        for i, tokens in enumerate(documents):
            ids = [vocabulary.get(token, _UNK_ID) for token in tokens]
            if self.handle_unknown == "error" and _UNK_ID in ids:
                unknown = next(token for token in tokens if token not in vocabulary)
                raise ValueError(f"Found unknown token {unknown!r} in document {i} during "
                                 "transform (handle_unknown='error').")
            if self.begin_end:
                ids = [_BOS_ID, *ids, _EOS_ID]
            ids = np.array(ids, dtype=np.intp)
            if self.output == "onehot":
                onehot = np.zeros((ids.size, n_tokens))
                onehot[np.arange(ids.size), ids] = 1.0
                ids = onehot
            encoded.append(ids)
        return encoded

    def _read_ids(self, sequence, i):
        """The 1-D integer ids of one sequence given to inverse_transform, checked."""
        a = np.asarray(sequence)
        if a.ndim == 2 and a.shape[1] == self.n_tokens_ and a.dtype.kind in "biuf":
            a = a.argmax(axis=1) if len(a) else np.zeros(0, dtype=np.intp)
        if a.ndim != 1:
            raise ValueError(f"Sequence {i} has shape {a.shape}; expected 1-D ids or a one-hot "
                             f"array of shape (T, {self.n_tokens_}).")
        if a.size == 0:
            return np.zeros(0, dtype=np.intp)
        if a.dtype.kind == "f" and np.isfinite(a).all() and (a == np.round(a)).all():
            a = a.astype(np.intp)
        if a.dtype.kind not in "iu":
            raise ValueError(f"Sequence {i} holds {a.dtype} values; expected integer ids.")
        outside = (a < 0) | (a >= self.n_tokens_)
        if outside.any():
            raise ValueError(f"Sequence {i} holds the id {a[outside][0]}, outside [0, "
                             f"{self.n_tokens_}).")
        return a.astype(np.intp, copy=False)

    def _check_fitted_state(self):
        """Raise ValueError if the fitted attributes do not fit together or with the
        parameters (checked after :func:`skrnn.persistence.load` has set them)."""
        if sorted(self.vocabulary_.values()) != list(range(len(self.vocabulary_))):
            raise ValueError("The ids of vocabulary_ must be 0, 1, ..., n - 1.")
        tokens = self.get_feature_names_out()
        if self.n_tokens_ != len(tokens):
            raise ValueError(f"n_tokens_={self.n_tokens_} does not match the "
                             f"{len(tokens)} tokens of vocabulary_.")
        checked = _vocabulary_tokens(tokens.tolist(), self._reserved(), self.analyzer)
        if self.vocabulary is not None and checked != _vocabulary_tokens(
                self.vocabulary, self._reserved(), self.analyzer):
            raise ValueError("vocabulary_ is not the vocabulary given as a parameter.")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # documents, not a matrix
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []  # str in, integer ids out
        return tags


# Parameters that act only in some configurations: (name, acts(encoder), where it acts).
_CONDITIONAL_PARAMETERS = (
    ("tokenizer", lambda e: e.analyzer == "word", "with analyzer='word'"),
    ("token_pattern", lambda e: e.analyzer == "word" and e.tokenizer is None,
     "with analyzer='word' and no tokenizer"),
    ("lowercase", lambda e: not callable(e.analyzer), "when analyzer is not a callable"),
    ("max_features", lambda e: e.vocabulary is None, "when the vocabulary is learned"),
    ("min_df", lambda e: e.vocabulary is None, "when the vocabulary is learned"),
)


def _warn_no_effect(encoder):
    """Warn about each parameter set away from its default where it does nothing (the
    estimators' rule); token_pattern=None, CountVectorizer's way to say "no pattern", is
    silent."""
    defaults = TokenEncoder().get_params()
    for name, acts, where in _CONDITIONAL_PARAMETERS:
        value = getattr(encoder, name)
        if value is not None and value != defaults[name] and not acts(encoder):
            warnings.warn(f"{name}={value!r} has no effect here: it acts only {where}.",
                          UserWarning, stacklevel=5)


def _is_iterable(X):
    try:
        iter(X)
    except TypeError:
        return False
    return True


def _documents(X):
    """The documents of X as a new list; a string, a table or an unordered collection is an
    error, as in CountVectorizer."""
    if isinstance(X, str):
        raise ValueError("Iterable over raw text documents expected, string object received.")
    if isinstance(X, bytes):
        raise ValueError("Iterable over raw text documents expected, bytes object received.")
    if _is_pandas(X, "DataFrame"):
        raise TypeError("Iterable over raw text documents expected, got a DataFrame, whose "
                        "iteration gives its column names: pass one column (a Series).")
    if isinstance(X, (Mapping, set, frozenset)) or not _is_iterable(X):
        raise TypeError("Iterable over raw text documents expected (a list, tuple, 1-D array "
                        f"or Series), got {type(X).__name__}.")
    if isinstance(X, np.ndarray) and X.ndim != 1:
        raise ValueError(f"Iterable over raw text documents expected: an array of documents "
                         f"must be 1-D, got shape {X.shape}.")
    return list(X)


def _text(document, i):
    if not isinstance(document, str):
        hint = " (for documents tokenized already, set analyzer=None)" \
            if isinstance(document, (list, tuple, np.ndarray)) else ""
        raise TypeError(f"Document {i} is {document!r} (a {type(document).__name__}); every "
                        f"document must be a str{hint}.")
    return document


def _tokens(tokens, i, source):
    """What a tokenizer or a callable analyzer returned for document i, as a list of str."""
    if isinstance(tokens, (str, bytes)) or not _is_iterable(tokens):
        raise TypeError(f"The {source} returned {type(tokens).__name__} for document {i}; it "
                        "must return a list of str tokens.")
    tokens = list(tokens)
    for token in tokens:
        if not isinstance(token, str):
            raise TypeError(f"The {source} returned the token {token!r} (a "
                            f"{type(token).__name__}) for document {i}; tokens must be str.")
    return tokens


def _token_list(document, i):
    """A pre-tokenized document (analyzer=None) as a new list of str."""
    if isinstance(document, (str, bytes)):
        raise ValueError(f"Document {i} is a {type(document).__name__}, but with "
                         "analyzer=None the input is pre-tokenized: each document must be a "
                         "list (tuple, 1-D array) of str tokens. Use analyzer='word' or "
                         "'char' for raw text.")
    if not isinstance(document, (list, tuple, np.ndarray)) \
            or (isinstance(document, np.ndarray) and document.ndim != 1):
        raise TypeError(f"Document {i} is {document!r} (a {type(document).__name__}); with "
                        "analyzer=None each document must be a list, tuple or 1-D array of str "
                        "tokens.")
    tokens = list(document)
    for t, token in enumerate(tokens):
        if not isinstance(token, str):
            raise TypeError(f"Token {t} of document {i} is {token!r} (a "
                            f"{type(token).__name__}); tokens must be str.")
    return tokens


def _pattern_tokenizer(token_pattern):
    if token_pattern is None:
        raise ValueError("analyzer='word' needs a token_pattern or a tokenizer; both are None.")
    try:
        pattern = re.compile(token_pattern)
    except re.error as exc:
        raise ValueError(f"token_pattern {token_pattern!r} is not a valid regular expression: "
                         f"{exc}.") from exc
    if pattern.groups > 1:
        raise ValueError("More than 1 capturing group in token pattern. Only a single group "
                         "should be captured.")
    return pattern.findall


def _vocabulary_tokens(vocabulary, reserved, analyzer):
    """All tokens of a given vocabulary in id order, the reserved ones first, checked."""
    if isinstance(vocabulary, (str, bytes)):
        raise ValueError("vocabulary must be an iterable of tokens or a mapping from token to "
                         f"id, not a {type(vocabulary).__name__}.")
    k = len(reserved)
    if isinstance(vocabulary, Mapping):
        tokens = _mapping_tokens(vocabulary, reserved)
    else:
        tokens = sorted(vocabulary) if isinstance(vocabulary, (set, frozenset)) \
            else list(vocabulary)
        if tokens[:k] == reserved:
            tokens = tokens[k:]
    seen = set()
    for token in tokens:
        if not isinstance(token, str):
            raise TypeError(f"The vocabulary holds {token!r} (a {type(token).__name__}); "
                            "tokens must be str.")
        if token in reserved:
            raise ValueError(f"The reserved token {token!r} must be at id "
                             f"{reserved.index(token)} of the vocabulary.")
        if token in seen:
            raise ValueError(f"Duplicate term in vocabulary: {token!r}")
        if analyzer == "char" and len(token) != 1:
            raise ValueError(f"With analyzer='char' every token of the vocabulary is one "
                             f"character, got {token!r}.")
        seen.add(token)
    if not tokens:
        raise ValueError(f"Empty vocabulary passed to fit: it holds no tokens besides the "
                         f"reserved {reserved}.")
    return reserved + [str(token) for token in tokens]


def _mapping_tokens(vocabulary, reserved):
    """The non-reserved tokens of a mapping token -> id, in id order."""
    k, by_id = len(reserved), {}
    for token, index in vocabulary.items():
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, Integral):
            raise TypeError(f"The vocabulary maps {token!r} to {index!r}; ids must be "
                            "integers.")
        if token in reserved:
            if index != reserved.index(token):
                raise ValueError(f"The vocabulary maps the reserved token {token!r} to "
                                 f"{index}; it is id {reserved.index(token)}.")
            continue
        if int(index) in by_id:
            raise ValueError("Vocabulary contains repeated indices.")
        by_id[int(index)] = token
    expected = range(k, k + len(by_id))
    for index in expected:
        if index not in by_id:
            raise ValueError(f"The ids of the vocabulary must be {k}, ..., {k + len(by_id) - 1} "
                             f"after the {k} reserved ones; id {index} is missing.")
    return [by_id[index] for index in expected]
