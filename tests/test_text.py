"""TokenEncoder: text to token-id sequences, its vocabulary, errors, persistence and pipelines."""

import copy
import hashlib
import io
import json
import pickle
import re
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError, SkipTestWarning
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks

import skrnn
from skrnn import RNNClassifier, TokenEncoder
from skrnn.persistence import load, save

DOCS = ["The cat sat on the mat.", "A dog sat!", "the cat, the dog and I.", "Is it a cat?"]
TOKENIZED = [["New", "York", "is", "big"], ["York", "is", "old"], ["big", "apple"]]
PATTERN = r"(?u)\w+|[^\w\s]"

CONFIGS = {
    "char": dict(),
    "word": dict(analyzer="word", lowercase=False),
    "word, markers, one-hot": dict(analyzer="word", begin_end=True, output="onehot"),
    "pre-tokenized": dict(analyzer=None),
    "fixed vocabulary": dict(analyzer="word", vocabulary=["cat", "dog", "the"]),
    "pruned": dict(analyzer="word", min_df=2, max_features=3, handle_unknown="use_unknown"),
}


def data_for(params):
    return TOKENIZED if "analyzer" in params and params["analyzer"] is None else DOCS


def reserved(enc):
    return {"<pad>", "<unk>", "<bos>", "<eos>"} if enc.begin_end else {"<pad>", "<unk>"}


def assert_same_output(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


# -- ids --------------------------------------------------------------------------------------
def test_reserved_ids_then_descending_count_ties_in_string_order():
    enc = TokenEncoder().fit(["bab", "cab", "dd"])  # a 2, b 3, c 1, d 2
    assert enc.vocabulary_ == {"<pad>": 0, "<unk>": 1, "b": 2, "a": 3, "d": 4, "c": 5}
    assert enc.n_tokens_ == 6
    ids = enc.transform(["abc", "zz"])
    assert [x.tolist() for x in ids] == [[3, 2, 5], [1, 1]]
    assert all(x.dtype == np.intp and x.ndim == 1 for x in ids)

    framed = TokenEncoder(begin_end=True).fit(["bab", "cab", "dd"])
    assert list(framed.get_feature_names_out()[:4]) == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert framed.vocabulary_["b"] == 4 and framed.n_tokens_ == 8
    assert [x.tolist() for x in framed.transform(["abc", ""])] == [[2, 5, 4, 7, 3], [2, 3]]


def test_ids_do_not_depend_on_the_order_of_the_documents():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(12)]
    docs = [" ".join(rng.choice(words, size=rng.integers(1, 8))) for _ in range(30)]
    enc = TokenEncoder(analyzer="word").fit(docs)
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(len(docs))
        again = TokenEncoder(analyzer="word").fit([docs[i] for i in order])
        assert again.vocabulary_ == enc.vocabulary_
    counts = {w: sum(d.split().count(w) for d in docs) for w in enc.vocabulary_}
    tokens = list(enc.get_feature_names_out()[2:])
    assert tokens == sorted(tokens, key=lambda w: (-counts[w], w))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fitting_twice_gives_the_same_result(name):
    params = CONFIGS[name]
    X = data_for(params)
    enc = TokenEncoder(**params)
    first = enc.fit(X).transform(X)
    vocabulary = dict(enc.vocabulary_)
    other = [["other"]] * 2 if params.get("analyzer", "char") is None else ["other words"] * 2
    enc.fit(other)  # a fit on other data leaves nothing behind
    assert_same_output(enc.fit(X).transform(X), first)
    assert enc.vocabulary_ == vocabulary
    assert_same_output(TokenEncoder(**params).fit_transform(X), first)


def test_pre_tokenized_input_gives_one_id_per_token():
    enc = TokenEncoder(analyzer=None).fit(TOKENIZED)
    ids = enc.transform(TOKENIZED + [["NEW", "unseen", ","]])
    assert [len(x) for x in ids] == [4, 3, 2, 3]
    assert ids[-1].tolist() == [enc.vocabulary_["new"], 1, 1]
    assert "York" not in enc.vocabulary_ and enc.vocabulary_["york"] == 4  # big, is, york


def test_callable_analyzer_gets_the_raw_document():
    enc = TokenEncoder(analyzer=lambda doc: doc.split("-")).fit(["A-b-A", "b"])
    assert enc.vocabulary_ == {"<pad>": 0, "<unk>": 1, "A": 2, "b": 3}  # no lowercasing
    assert enc.transform(["b-A-a"])[0].tolist() == [3, 2, 1]


def test_tokens_spelled_like_reserved_ones():
    enc = TokenEncoder(analyzer=None, begin_end=True).fit([["a", "<unk>", "<bos>"]])
    assert enc.n_tokens_ == 5 and enc.vocabulary_["a"] == 4  # reserved ones are not counted
    assert enc.transform([["<unk>", "<bos>", "a"]])[0].tolist() == [2, 1, 2, 4, 3]
    plain = TokenEncoder(analyzer=None).fit([["a", "<bos>"]])
    assert plain.vocabulary_["<bos>"] == 2  # not reserved without begin_end: a token
    with pytest.raises(ValueError, match="Document 1 holds the token '<pad>'"):
        plain.transform([["a"], ["<pad>"]])


# -- unknown tokens ---------------------------------------------------------------------------
def test_unknown_tokens_get_id_1_or_raise():
    enc = TokenEncoder(analyzer="word").fit(DOCS)
    assert enc.transform(["the zebra"])[0].tolist() == [enc.vocabulary_["the"], 1]
    strict = TokenEncoder(analyzer="word", handle_unknown="error").fit(DOCS)
    assert_same_output(strict.transform(DOCS), enc.transform(DOCS))
    with pytest.raises(ValueError, match="unknown token 'zebra' in document 1"):
        strict.transform(["the cat", "the zebra and yak"])
    pruned = TokenEncoder(analyzer="word", handle_unknown="error", min_df=2)
    with pytest.raises(ValueError, match="unknown token 'on' in document 0"):
        pruned.fit_transform(DOCS)  # what min_df drops is unknown too


# -- inverse_transform ------------------------------------------------------------------------
def test_inverse_transform_gives_the_tokens_back():
    text = ["hello world", "hold the door"]
    enc = TokenEncoder().fit(text)
    assert enc.inverse_transform(enc.transform(text)) == text

    words = TokenEncoder(analyzer="word", lowercase=False).fit(DOCS)
    assert words.inverse_transform(words.transform(DOCS)) == [re.findall(PATTERN, d)
                                                              for d in DOCS]

    for params in (dict(), dict(begin_end=True), dict(output="onehot"),
                   dict(begin_end=True, output="onehot")):
        tokenized = TokenEncoder(analyzer=None, lowercase=False, **params).fit(TOKENIZED)
        assert tokenized.inverse_transform(tokenized.transform(TOKENIZED)) == TOKENIZED


def test_inverse_transform_drops_padding_and_markers_and_keeps_unknown():
    enc = TokenEncoder(begin_end=True).fit(["ab"])
    ids = enc.transform(["ba?", "a"])
    padded = np.zeros((2, 6), dtype=np.int64)
    for row, x in zip(padded, ids):
        row[:len(x)] = x
    assert enc.inverse_transform(padded) == ["ba<unk>", "a"]
    assert enc.inverse_transform([[], np.array([4.0, 5.0])]) == ["", "ab"]
    plain = TokenEncoder(analyzer=None).fit([["<bos>", "x"]])  # ids 2, 3 are tokens here
    assert plain.inverse_transform([[0, 2, 3, 1]]) == [["<bos>", "x", "<unk>"]]


def test_inverse_transform_errors():
    enc = TokenEncoder().fit(["ab"])
    with pytest.raises(ValueError, match=r"Sequence 1 holds the id 4, outside \[0, 4\)"):
        enc.inverse_transform([[2], [4]])
    with pytest.raises(ValueError, match="Sequence 0 holds float64 values"):
        enc.inverse_transform([[2.5]])
    with pytest.raises(ValueError, match=r"Sequence 0 has shape \(2, 3\)"):
        enc.inverse_transform([np.zeros((2, 3))])
    with pytest.raises(NotFittedError):
        TokenEncoder().inverse_transform([[1]])


# -- the same vocabulary as CountVectorizer ---------------------------------------------------
def corpus():
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(25)] + ["I", "a", "."]
    p = 1.0 / np.arange(1, len(words) + 1)
    docs = []
    for _ in range(40):
        chosen = rng.choice(words, size=rng.integers(1, 12), p=p / p.sum())
        docs.append(" ".join(w.upper() if rng.random() < 0.2 else w for w in chosen))
    return docs


@pytest.mark.parametrize("pattern", [PATTERN, r"(?u)\b\w\w+\b"])
@pytest.mark.parametrize("lowercase", [True, False])
@pytest.mark.parametrize("min_df", [1, 2, 5, 0.1, 0.25, 1.0])
def test_min_df_keeps_the_tokens_count_vectorizer_keeps(pattern, lowercase, min_df):
    docs = corpus()
    params = dict(token_pattern=pattern, lowercase=lowercase, min_df=min_df)
    try:
        expected = set(CountVectorizer(**params).fit(docs).vocabulary_)
    except ValueError:  # nothing left
        with pytest.raises(ValueError, match="no tokens remain"):
            TokenEncoder(analyzer="word", **params).fit(docs)
        return
    enc = TokenEncoder(analyzer="word", **params).fit(docs)
    assert set(enc.vocabulary_) - reserved(enc) == expected


@pytest.mark.parametrize("min_df", [1, 3])
def test_max_features_keeps_the_tokens_count_vectorizer_keeps(min_df):
    docs = corpus()
    counts = CountVectorizer(token_pattern=PATTERN, min_df=min_df).fit(docs)
    totals = np.sort(np.asarray(counts.transform(docs).sum(axis=0)).ravel())[::-1]
    limits = [k for k in range(1, len(totals)) if totals[k - 1] != totals[k]]
    assert len(limits) >= 5  # the cut-offs where CountVectorizer's choice has no ties
    for k in limits:
        params = dict(token_pattern=PATTERN, min_df=min_df, max_features=k)
        expected = set(CountVectorizer(**params).fit(docs).vocabulary_)
        enc = TokenEncoder(analyzer="word", **params).fit(docs)
        assert set(enc.vocabulary_) - reserved(enc) == expected
        assert enc.n_tokens_ == k + 2


# -- output forms -----------------------------------------------------------------------------
@pytest.mark.parametrize("begin_end", [False, True])
def test_onehot_is_the_identity_rows_of_the_ids(begin_end):
    ids = TokenEncoder(analyzer="word", begin_end=begin_end).fit(DOCS).transform(DOCS)
    onehot = TokenEncoder(analyzer="word", begin_end=begin_end,
                          output="onehot").fit(DOCS).transform(DOCS)
    n_tokens = onehot[0].shape[1]
    for x, z in zip(ids, onehot):
        assert z.dtype == np.float64 and z.shape == (len(x), n_tokens)
        np.testing.assert_array_equal(z, np.eye(n_tokens)[x])


def test_set_output_config_does_not_wrap_the_ragged_output():
    enc = TokenEncoder().fit(["ab", "b"])
    with sklearn.config_context(transform_output="pandas"):
        out = enc.transform(["ab", "b"])
    assert isinstance(out, list) and out[0].tolist() == [3, 2]
    assert not hasattr(enc, "set_output")


# -- the vocabulary parameter -----------------------------------------------------------------
def test_every_form_of_a_given_vocabulary():
    fitted = TokenEncoder(analyzer="word", begin_end=True).fit(DOCS)
    tokens = list(fitted.get_feature_names_out()[4:])
    for vocabulary in (tokens, tuple(tokens), np.array(tokens), fitted.get_feature_names_out(),
                       fitted.vocabulary_, {t: i + 4 for i, t in enumerate(tokens)},
                       (t for t in tokens)):
        enc = TokenEncoder(analyzer="word", begin_end=True, vocabulary=vocabulary).fit(["x"])
        assert enc.vocabulary_ == fitted.vocabulary_
    sorted_set = TokenEncoder(analyzer="word", vocabulary={"b", "a"}).fit(["a"])
    assert sorted_set.vocabulary_ == {"<pad>": 0, "<unk>": 1, "a": 2, "b": 3}


@pytest.mark.parametrize("vocabulary, error, match", [
    ("abc", ValueError, "not a str"),
    (["a", "b", "a"], ValueError, "Duplicate term in vocabulary: 'a'"),
    ([], ValueError, "Empty vocabulary"),
    (["<pad>", "<unk>"], ValueError, "Empty vocabulary"),
    (["a", "<unk>"], ValueError, "reserved token '<unk>' must be at id 1"),
    (["a", 3], TypeError, "holds 3"),
    ({"a": 2, "b": 4}, ValueError, "id 3 is missing"),
    ({"a": 2, "b": 2}, ValueError, "repeated indices"),
    ({"a": 2, "<unk>": 0}, ValueError, "maps the reserved token '<unk>' to 0"),
    ({"a": "2"}, TypeError, "ids must be integers"),
    (["a", "bc"], ValueError, "one character, got 'bc'"),
])
def test_invalid_vocabularies(vocabulary, error, match):
    with pytest.raises(error, match=match):
        TokenEncoder(vocabulary=vocabulary).fit(["abc"])


def test_upper_case_vocabulary_with_lowercase_warns():
    with pytest.warns(UserWarning, match="Upper case characters found in vocabulary"):
        TokenEncoder(analyzer="word", vocabulary=["Cat"]).fit(["cat"])


# -- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fit", "fit_transform", "transform"])
def test_a_bare_string_is_an_error_as_in_count_vectorizer(method):
    enc = TokenEncoder().fit(["ab"]) if method == "transform" else TokenEncoder()
    message = "Iterable over raw text documents expected, string object received."
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(enc, method)("ab")
    with pytest.raises(ValueError, match=re.escape(message)):
        CountVectorizer().fit("ab cd")  # the same words as scikit-learn's


@pytest.mark.parametrize("analyzer", ["char", "word"])
@pytest.mark.parametrize("document, shown", [(None, "None"), (3, "3"), (np.nan, "nan"),
                                             (b"ab", "b'ab'"), (["a"], r"\['a'\]")])
def test_a_document_that_is_not_a_string_is_named(analyzer, document, shown):
    with pytest.raises(TypeError, match=rf"Document 2 is {shown} \(a \w+\); every document "
                                        "must be a str"):
        TokenEncoder(analyzer=analyzer).fit(["ab", "c", document])


def test_pre_tokenized_input_errors():
    enc = TokenEncoder(analyzer=None)
    with pytest.raises(ValueError, match="Document 1 is a str, but with analyzer=None the "
                                         "input is pre-tokenized"):
        enc.fit([["a"], "b c"])
    with pytest.raises(TypeError, match="Token 1 of document 0 is 2"):
        enc.fit([["a", 2]])
    with pytest.raises(TypeError, match="Document 0 is None"):
        enc.fit([None])
    with pytest.raises(TypeError, match="Document 0 is .* 1-D array"):
        enc.fit([np.array([["a"]])])


@pytest.mark.parametrize("X, error, match", [
    (None, TypeError, "got NoneType"),
    (3, TypeError, "got int"),
    ({"a": 1}, TypeError, "got dict"),
    ({"a"}, TypeError, "got set"),
    (pd.DataFrame({"text": ["ab"]}), TypeError, "pass one column"),
    (np.array([["ab"]]), ValueError, "must be 1-D"),
    (b"ab", ValueError, "bytes object received"),
    ([], ValueError, "at least one document"),
])
def test_what_is_not_documents(X, error, match):
    with pytest.raises(error, match=match):
        TokenEncoder().fit(X)


def test_documents_without_tokens():
    for enc, X in ((TokenEncoder(), ["ab", ""]), (TokenEncoder(analyzer="word"), ["ab", " \n "]),
                   (TokenEncoder(analyzer=None), [["a"], []])):
        with pytest.raises(ValueError, match="Document 1 has no tokens.*begin_end=True"):
            enc.fit(X)
        with pytest.raises(ValueError, match="Document 1 has no tokens"):
            enc.fit(X[:1]).transform(X)
        assert enc.set_params(begin_end=True).fit_transform(X)[1].tolist() == [2, 3]
    assert TokenEncoder().fit(["a"]).transform([]) == []


def test_tokenizers_that_return_no_list_of_str():
    with pytest.raises(TypeError, match="tokenizer returned str for document 0"):
        TokenEncoder(analyzer="word", tokenizer=str.strip).fit(["a b"])
    with pytest.raises(TypeError, match="analyzer returned the token 2 .* for document 1"):
        TokenEncoder(analyzer=lambda d: [len(d)] if d == "ab" else [d]).fit(["a", "ab"])


@pytest.mark.parametrize("params, match", [
    (dict(analyzer="chars"), "analyzer"),
    (dict(min_df=1.5), "min_df"),
    (dict(min_df=0), "min_df"),
    (dict(max_features=0), "max_features"),
    (dict(handle_unknown="ignore"), "handle_unknown"),
    (dict(output="sparse"), "output"),
    (dict(begin_end="yes"), "begin_end"),
    (dict(analyzer="word", token_pattern=r"(\w)(\w)"), "More than 1 capturing group"),
    (dict(analyzer="word", token_pattern="(a"), "not a valid regular expression"),
    (dict(analyzer="word", token_pattern=None), "needs a token_pattern or a tokenizer"),
])
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        TokenEncoder(**params).fit(["ab"])


@pytest.mark.parametrize("params, name", [
    (dict(tokenizer=str.split), "tokenizer"),
    (dict(token_pattern=r"\w+"), "token_pattern"),
    (dict(analyzer="word", tokenizer=str.split, token_pattern=r"\w+"), "token_pattern"),
    (dict(analyzer=str.split, lowercase=False), "lowercase"),
    (dict(vocabulary=["a"], min_df=2), "min_df"),
    (dict(vocabulary=["a"], max_features=3), "max_features"),
])
def test_parameters_without_effect_warn(params, name):
    with pytest.warns(UserWarning, match=f"{name}=.* has no effect here"):
        TokenEncoder(**params).fit(["a b"])


def test_no_warning_at_the_defaults_or_with_count_vectorizers_idiom():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TokenEncoder().fit(["a b"])
        TokenEncoder(analyzer="word", tokenizer=str.split, token_pattern=None).fit(["a b"])


# -- data of the caller -----------------------------------------------------------------------
def test_the_callers_data_and_parameters_are_not_modified():
    tokens = [["New", "York"], np.array(["Big", "Apple"]), ("Old", "Town")]
    original = copy.deepcopy(tokens)
    vocabulary = {"new": 2, "york": 3}
    enc = TokenEncoder(analyzer=None, vocabulary=vocabulary)
    enc.fit_transform(tokens)
    enc.transform(tokens)
    enc.inverse_transform(enc.transform(tokens))
    for a, b in zip(tokens, original):
        assert type(a) is type(b)
        np.testing.assert_array_equal(a, b)
    assert vocabulary == {"new": 2, "york": 3} and enc.vocabulary is vocabulary
    ids = [np.array([2, 3, 1])]
    enc.inverse_transform(ids)
    assert ids[0].tolist() == [2, 3, 1]
    series = pd.Series(["Ab", "b"], index=[10, 20])
    TokenEncoder().fit_transform(series)
    pd.testing.assert_series_equal(series, pd.Series(["Ab", "b"], index=[10, 20]))


def test_fit_changes_no_parameter_and_adds_only_fitted_attributes():
    enc = TokenEncoder(analyzer="word", vocabulary=["cat"], begin_end=True)
    params = copy.deepcopy(enc.get_params())
    before = set(vars(enc))
    assert enc.fit(DOCS) is enc
    assert enc.get_params() == params
    added = set(vars(enc)) - before
    assert added == {"vocabulary_", "n_tokens_"} == set(TokenEncoder._fitted_state)
    state = pickle.dumps(vars(enc))
    enc.transform(DOCS)
    enc.inverse_transform(enc.transform(DOCS))
    enc.get_feature_names_out()
    assert pickle.dumps(vars(enc)) == state  # nothing cached by the other methods


def test_transform_is_per_document():
    enc = TokenEncoder(analyzer="word").fit(DOCS)
    full = enc.transform(DOCS)
    assert_same_output(enc.transform(DOCS[1:3]), full[1:3])
    assert_same_output(enc.transform(DOCS[::-1]), full[::-1])


def test_unfitted_methods_raise_not_fitted_error():
    for method, X in (("transform", DOCS), ("inverse_transform", [[1]]),
                      ("get_feature_names_out", None)):
        with pytest.raises(NotFittedError):
            getattr(TokenEncoder(), method)(*([] if X is None else [X]))


# -- scikit-learn -----------------------------------------------------------------------------
def test_clone_and_get_params_round_trip():
    enc = TokenEncoder(analyzer="word", lowercase=False, vocabulary=["a"], max_features=3,
                       min_df=0.5, handle_unknown="error", begin_end=True, output="onehot")
    twin = clone(enc)
    assert twin.get_params() == enc.get_params() and twin is not enc
    assert TokenEncoder().set_params(**enc.get_params()).get_params() == enc.get_params()
    fitted = clone(TokenEncoder().fit(["ab"]))
    assert not hasattr(fitted, "vocabulary_")


def test_tags_say_it_takes_strings():
    tags = TokenEncoder().__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    assert tags.transformer_tags.preserves_dtype == []
    assert not tags.target_tags.required and tags.requires_fit


def test_check_estimator_cannot_feed_it_text():
    """scikit-learn's checks feed numeric 2-D arrays: for an estimator of strings it runs only
    check_estimator_cloneable and warns that it skips the rest. The checks that need no data
    run below, and the ones with data are written above with documents."""
    with pytest.warns(SkipTestWarning, match="Can't test estimator TokenEncoder"):
        results = estimator_checks.check_estimator(TokenEncoder(), on_fail=None)
    assert [r["check_name"] for r in results] == ["check_estimator_cloneable"]


@pytest.mark.parametrize("check", [
    "check_estimator_cloneable", "check_estimator_repr", "check_no_attributes_set_in_init",
    "check_estimator_tags_renamed", "check_valid_tag_types", "check_get_params_invariance",
    "check_set_params", "check_parameters_default_constructible",
    "check_do_not_raise_errors_in_init_or_set_params", "check_mixin_order",
    "check_param_validation", "check_get_feature_names_out_error",
])
def test_scikit_learn_checks_without_data(check):
    getattr(estimator_checks, check)("TokenEncoder", TokenEncoder())


def test_in_a_pipeline_in_front_of_an_estimator():
    rng = np.random.default_rng(0)
    docs = ["".join(rng.choice(list("abc"), size=rng.integers(2, 6))) for _ in range(30)]
    y = np.array([int(d[0] == "a") for d in docs])
    pipe = make_pipeline(TokenEncoder(output="onehot"),
                         RNNClassifier(hidden_layer_sizes=(3,), max_iter=3, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        proba = pipe.fit(docs, y).predict_proba(docs + ["zz"])
        again = clone(pipe).fit(docs, y).predict_proba(docs + ["zz"])
    assert proba.shape == (31, 2)
    np.testing.assert_array_equal(proba, again)
    assert pipe[0].n_tokens_ == 5 and pipe[-1].n_features_in_ == 5


# -- persistence ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(CONFIGS) + ["given array vocabulary"])
def test_pickle_and_skrnn_persistence_round_trips(name, tmp_path):
    params = CONFIGS.get(name, dict(analyzer="word", vocabulary=np.array(["cat", "the"],
                                                                         dtype=object)))
    X = data_for(params)
    enc = TokenEncoder(**params).fit(X)
    save(enc, tmp_path / "m.skrnn")
    for restored in (pickle.loads(pickle.dumps(enc)), load(tmp_path / "m.skrnn")):
        assert type(restored) is TokenEncoder
        assert restored.vocabulary_ == enc.vocabulary_ and restored.n_tokens_ == enc.n_tokens_
        assert_same_output(restored.transform(X), enc.transform(X))
        params = restored.get_params()
        assert params.keys() == enc.get_params().keys()
        for key, value in enc.get_params().items():
            np.testing.assert_array_equal(params[key], value)


def test_the_vocabulary_is_stored_as_json_and_any_token_survives(tmp_path):
    text = ["na\u00efve \u2603 caf\u00e9\x00", "tab\there \udc80"]  # NUL, a lone surrogate
    enc = TokenEncoder(lowercase=False).fit(text)
    save(enc, tmp_path / "m.skrnn")
    with zipfile.ZipFile(tmp_path / "m.skrnn") as archive:
        document = json.loads(archive.read("skrnn.json"))
        raw = np.load(archive.open("arrays/vocabulary_.npy"), allow_pickle=False)
    assert document["estimator"] == "TokenEncoder" and document["format_version"] == 2
    assert document["fitted"]["vocabulary_"] == {"array": "vocabulary_", "encoding": "json"}
    assert json.loads(raw.tobytes()) == list(enc.get_feature_names_out())
    restored = load(tmp_path / "m.skrnn")
    assert restored.inverse_transform(restored.transform(text)) == text


def rewrite_vocabulary(path, tokens):
    """Replace the stored vocabulary by ``tokens``, with digests that match."""
    from skrnn.persistence import _digest

    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("skrnn.json"))
        entries = {n: archive.read(n) for n in archive.namelist() if n != "skrnn.json"}
    buffer = io.BytesIO()
    np.save(buffer, np.frombuffer(json.dumps(tokens).encode(), dtype=np.uint8))
    entries["arrays/vocabulary_.npy"] = buffer.getvalue()
    document["arrays"] = {n: hashlib.sha256(d).hexdigest() for n, d in entries.items()}
    document["digest"] = _digest(document)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("skrnn.json", json.dumps(document))
        for n, d in entries.items():
            archive.writestr(n, d)


@pytest.mark.parametrize("tokens, match", [
    (["<pad>", "<unk>", "a", "a"], "holds a token twice"),
    (["<unk>", "<pad>", "a", "b"], "reserved token '<unk>' must be at id 1"),
    (["<pad>", "<unk>", "a", 3], "list of str tokens"),
    (["<pad>", "<unk>", "a", "bc"], "one character"),
    (["<pad>", "<unk>", "a"], "n_tokens_=4 does not match"),
    ({"a": 1}, "list of str tokens"),
])
def test_a_crafted_vocabulary_does_not_load(tokens, match, tmp_path):
    save(TokenEncoder().fit(["ab"]), tmp_path / "m.skrnn")
    rewrite_vocabulary(tmp_path / "m.skrnn", tokens)
    with pytest.raises(ValueError, match=match):
        load(tmp_path / "m.skrnn")


def test_what_skrnn_persistence_cannot_store(tmp_path):
    with pytest.raises(NotFittedError):
        save(TokenEncoder(), tmp_path / "m.skrnn")
    enc = TokenEncoder(analyzer="word", tokenizer=str.split).fit(["a b"])
    with pytest.raises(TypeError, match="tokenizer is .*a callable, which cannot be saved"):
        save(enc, tmp_path / "m.skrnn")
    assert not (tmp_path / "m.skrnn").exists()
    assert pickle.loads(pickle.dumps(enc)).transform(["b a"])[0].tolist() == [3, 2]


def test_exported_from_the_package():
    assert skrnn.TokenEncoder is TokenEncoder and "TokenEncoder" in skrnn.__all__
