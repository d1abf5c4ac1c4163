"""The loaders of skrnn.datasets: what they return, how they split, and how they fail."""

import importlib
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import skrnn
from skrnn import datasets
from skrnn.datasets import LANGUAGES, load_surnames, load_turkish_pos

# ------------------------------------------------------------------------------------------
# Surnames
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def surnames():
    pytest.importorskip("faker")
    return load_surnames()


def _raw_faker_lists():
    """language -> set of surnames, read from faker directly (not deduplicated across)."""
    raw = {}
    for lang, sources in datasets._SURNAME_SOURCES.items():
        raw[lang] = set()
        for locale, attribute in sources:
            module = importlib.import_module(f"faker.providers.person.{locale}")
            raw[lang] |= set(getattr(module.Provider, attribute))
    return raw


def test_surnames_bunch(surnames):
    assert set(surnames) == {"data", "target", "target_names", "DESCR"}
    assert isinstance(surnames.data, list)
    assert all(isinstance(name, str) and name == name.strip() and name
               for name in surnames.data)
    assert isinstance(surnames.target, np.ndarray) and surnames.target.dtype.kind == "U"
    assert surnames.target.shape == (len(surnames.data),)
    assert surnames.target_names.tolist() == sorted(LANGUAGES)
    assert len(LANGUAGES) == 12
    labels, counts = np.unique(surnames.target, return_counts=True)
    assert labels.tolist() == sorted(LANGUAGES)
    assert counts.min() >= 50  # about 100 to 1,150 each, depending on the faker version
    for lang, count in zip(labels, counts):
        assert f"- {lang}: {count} surnames" in surnames.DESCR
    assert f"Number of surnames: {len(surnames.data)}" in surnames.DESCR
    assert "MIT" in surnames.DESCR and importlib.metadata.version("faker") in surnames.DESCR


def test_surnames_known_labels(surnames):
    language = dict(zip(surnames.data, surnames.target))
    assert language["Kowalski"] == "Polish"
    assert language["Virtanen"] == "Finnish"
    assert language["Nováková"] == "Czech"
    assert language["García"] == "Spanish"
    assert language["de Jong"] == "Dutch"
    # in the lists of Czech and German, and of French, Portuguese and Spanish: ambiguous
    assert "Müller" not in language and "Costa" not in language


def test_surnames_sorted_unique_and_deterministic(surnames):
    assert surnames.data == sorted(surnames.data)
    assert len(set(surnames.data)) == len(surnames.data)
    again = load_surnames()
    assert again.data == surnames.data
    np.testing.assert_array_equal(again.target, surnames.target)
    assert again.DESCR == surnames.DESCR


def test_surnames_are_faker_surnames_of_exactly_one_language(surnames):
    raw = _raw_faker_lists()
    under = {}
    for lang, names in raw.items():
        for name in names:
            under.setdefault(name, set()).add(lang)
    expected = sorted((name, next(iter(langs))) for name, langs in under.items()
                      if len(langs) == 1)
    assert list(zip(surnames.data, surnames.target.tolist())) == expected
    assert sum(len(langs) > 1 for langs in under.values()) > 0  # some were dropped
    assert f"the {sum(len(langs) > 1 for langs in under.values())} surnames" in \
        surnames.DESCR


def test_surnames_subset_is_the_full_set_restricted(surnames):
    subset = load_surnames(languages=["Spanish", "Czech", "Spanish"])
    assert subset.target_names.tolist() == ["Czech", "Spanish"]
    keep = np.isin(surnames.target, ["Czech", "Spanish"])
    assert subset.data == [name for name, k in zip(surnames.data, keep) if k]
    np.testing.assert_array_equal(subset.target, surnames.target[keep])
    assert "- Czech:" in subset.DESCR and "- Polish:" not in subset.DESCR


def test_surnames_return_X_y(surnames):
    X, y = load_surnames(languages=list(LANGUAGES), return_X_y=True)
    assert X == surnames.data
    np.testing.assert_array_equal(y, surnames.target)


@pytest.mark.parametrize("languages, error, match", [
    (["French", "Klingon"], ValueError, r"Unknown language\(s\) \['Klingon'\].*'Croatian'"),
    (["french"], ValueError, r"available languages are \['Croatian', 'Czech'"),
    ([], ValueError, "languages is empty"),
    ("French", TypeError, r"list of language names such as \['French'\]"),
])
def test_surnames_bad_languages(languages, error, match):
    with pytest.raises(error, match=match):
        load_surnames(languages=languages)


def test_surnames_without_faker(monkeypatch):
    for name in ("faker", "faker.providers", "faker.providers.person"):
        monkeypatch.setitem(sys.modules, name, None)  # an import of it fails
    with pytest.raises(ModuleNotFoundError, match=r'faker: pip install "skrnn\[text\]"'):
        load_surnames()


# ------------------------------------------------------------------------------------------
# Turkish part-of-speech tagging
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web():
    pytest.importorskip("turkish_treebanks")  # its __init__ imports nothing
    return load_turkish_pos(split="all", section="web")


def test_treebank_sizes_match_the_treebank_readme(web):
    # The treebank's README: web 2,541 sentences and 32,422 tokens; wiki 2,310 sentences.
    assert len(web.data) == len(web.target) == 2541
    assert sum(map(len, web.data)) == 32422
    assert len(load_turkish_pos(split="all", section="wiki", return_X_y=True)[0]) == 2310


def test_treebank_first_sentence(web):
    # data/web.conllu starts with "# text = Burda da öylemi yoksa kiloyla mı ?"
    assert web.data[0] == ["Burda", "da", "öylemi", "yoksa", "kiloyla", "mı", "?"]
    assert web.target[0] == ["PRON", "PRT", "VERB", "CONJ", "VERB", "PRT", "PUNCT"]


def test_treebank_tokens_and_tags_align(web):
    assert set(web) == {"data", "target", "target_names", "DESCR"}
    tags = set(web.target_names.tolist())
    for tokens, sentence_tags in zip(web.data, web.target):
        assert len(tokens) == len(sentence_tags) > 0
        assert all(isinstance(token, str) and token for token in tokens)
        assert set(sentence_tags) <= tags
    assert web.target_names.tolist() == sorted({t for s in web.target for t in s})
    assert {"NOUN", "VERB", "PUNCT", "ADJ"} <= tags and len(tags) == 14


def test_treebank_splits_partition_all(web):
    splits = {split: load_turkish_pos(split=split, section="web")
              for split in ("train", "dev", "test")}
    assert [len(splits[s].data) for s in ("train", "dev", "test")] == [2033, 254, 254]
    # of every ten sentences of the file: eight train, then one dev, then one test
    rebuilt, position = [], {split: 0 for split in splits}
    for index in range(len(web.data)):
        split = "train" if index % 10 < 8 else "dev" if index % 10 == 8 else "test"
        bunch = splits[split]
        rebuilt.append((bunch.data[position[split]], bunch.target[position[split]]))
        position[split] += 1
    assert position == {split: len(bunch.data) for split, bunch in splits.items()}
    assert rebuilt == list(zip(web.data, web.target))
    for bunch in splits.values():  # one tag set for every split of the section
        np.testing.assert_array_equal(bunch.target_names, web.target_names)


def test_treebank_return_X_y_and_determinism(web):
    X, y = load_turkish_pos(split="all", section="web", return_X_y=True)
    assert X == web.data and y == web.target
    X_test, _ = load_turkish_pos(split="test", return_X_y=True)
    assert X_test == load_turkish_pos(split="test").data


def test_treebank_descr(web):
    assert "Apache License 2.0" in web.DESCR and "Kayadelen" in web.DESCR
    assert "2541 sentences, 32422 tokens" in web.DESCR
    assert importlib.metadata.version("turkish-treebanks") in web.DESCR


CONLLU = """\
# sent_id = s1
# text = Evdeyim ya.
1-2\tEvdeyim\t_\t_\t_\t_\t_\t_\t_\t_
1\tEvde\tev\tNOUN\tNN\t_\t2\tnsubj\t_\t_
2\tyim\t_\tVERB\tVB\t_\t0\troot\t_\t_
2.1\tyok\t_\tVERB\tVB\t_\t_\t_\t_\t_
3\tya\tya\tPRT\tRP\t_\t2\tprt\t_\tSpaceAfter=No
4\t.\t.\tPUNCT\t.\t_\t2\tp\t_\t_

# sent_id = s2
# text = Tamam
1\tTamam\ttamam\tADV\tRB\t_\t0\troot\t_\t_
"""


def test_treebank_conllu_parsing(tmp_path, monkeypatch):
    """Comments, multiword-token ranges and empty nodes are skipped; FORM and UPOS kept."""
    path = tmp_path / "tiny.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    monkeypatch.setattr(datasets, "_treebank_file", lambda section: (path, "0"))
    tiny = load_turkish_pos(split="all")
    assert tiny.data == [["Evde", "yim", "ya", "."], ["Tamam"]]
    assert tiny.target == [["NOUN", "VERB", "PRT", "PUNCT"], ["ADV"]]
    assert tiny.target_names.tolist() == ["ADV", "NOUN", "PRT", "PUNCT", "VERB"]
    assert load_turkish_pos(split="train").data == tiny.data  # indices 0 and 1 are train
    assert load_turkish_pos(split="test").data == []

    path.write_text(CONLLU.replace("4\t.\t.\tPUNCT", "4\t.\tPUNCT"), encoding="utf-8")
    with pytest.raises(ValueError, match=r"tiny.conllu, line 8: .* this one has 9"):
        load_turkish_pos()


@pytest.mark.parametrize("kwargs, match", [
    ({"split": "validation"}, r"split must be one of \['train', 'dev', 'test', 'all'\]"),
    ({"section": "news"}, r"section must be one of \['web', 'wiki'\], got 'news'"),
])
def test_treebank_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_turkish_pos(**kwargs)


def test_treebank_without_the_package(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ModuleNotFoundError,
                       match=r'turkish-treebanks: pip install "skrnn\[text\]"'):
        load_turkish_pos()


def test_treebank_does_not_import_the_package():
    """Its reader imports protobuf, whose newer versions reject its generated module."""
    pytest.importorskip("turkish_treebanks")
    code = ("import sys; from skrnn.datasets import load_turkish_pos; load_turkish_pos(); "
            "print(sorted(m for m in sys.modules if m.startswith(('turkish_treebanks', "
            "'google.protobuf'))))")
    env = {**os.environ, "PYTHONPATH": str(Path(skrnn.__file__).parent.parent)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"
