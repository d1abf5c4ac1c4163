"""Real text data sets for examples and learning tests, read from packages installed offline.

Both loaders read files that a package from PyPI installs, so nothing is downloaded when they
run and the data are the same on every machine with the same package versions:

- :func:`load_surnames`: surnames labelled with their language, from the surname lists of the
  ``faker`` package. Sequence classification, one character a step.
- :func:`load_turkish_pos`: sentences of the Turkish Web Treebank with the part-of-speech tag
  of every token, from the ``turkish-treebanks`` package. Sequence tagging, one token a step.

The two packages are an optional extra, ``pip install "skrnn[text]"``; without them the
loaders raise a :class:`ModuleNotFoundError` that says so. Importing :mod:`skrnn` never
imports this module.

The loaders return strings: surnames, tokens and tags. The estimators take numbers, so turn
the characters or tokens into vectors first (one-hot codes or an embedding lookup).

.. rubric:: Examples

>>> from skrnn.datasets import load_surnames, load_turkish_pos
>>> names, languages = load_surnames(languages=["Finnish", "Italian"], return_X_y=True)
>>> sorted(set(languages.tolist()))
['Finnish', 'Italian']
>>> sentences, tags = load_turkish_pos(split="dev", return_X_y=True)
>>> len(sentences) == len(tags)
True
"""

import importlib
import importlib.metadata
import unicodedata

import numpy as np
from sklearn.utils import Bunch

__all__ = ["LANGUAGES", "load_surnames", "load_turkish_pos"]

_INSTALL = 'pip install "skrnn[text]"'

# ------------------------------------------------------------------------------------------
# Surnames
# ------------------------------------------------------------------------------------------

# language label -> the faker person providers it is read from, as (locale, attribute of the
# locale's Provider class). Each is a tuple of surnames or a dict of surname -> weight. All
# are written in the Latin alphabet, so that the script does not give the language away.
# Polish: faker's 200 most common (masculine) surnames, not its 3,690 rarer ones, to keep the
# classes within a few hundred to a thousand surnames each. Portuguese joins Portugal and
# Brazil, whose lists have about a hundred surnames each.
_SURNAME_SOURCES = {
    "Croatian": (("hr_HR", "last_names"),),
    "Czech": (("cs_CZ", "last_names"),),
    "Dutch": (("nl_NL", "last_names"),),
    "English": (("en_GB", "last_names"),),
    "Finnish": (("fi_FI", "last_names"),),
    "French": (("fr_FR", "last_names"),),
    "German": (("de_DE", "last_names"),),
    "Italian": (("it_IT", "last_names"),),
    "Polish": (("pl_PL", "male_last_names"),),
    "Portuguese": (("pt_PT", "last_names"), ("pt_BR", "last_names")),
    "Spanish": (("es_ES", "last_names"),),
    "Swedish": (("sv_SE", "last_names"),),
}
LANGUAGES = tuple(_SURNAME_SOURCES)


def _faker_person_providers():
    """faker's person providers package, or a ModuleNotFoundError naming the install command."""
    try:
        return importlib.import_module("faker.providers.person")
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"load_surnames reads the surname lists of the optional package faker: {_INSTALL} "
            "(or pip install faker).", name=exc.name) from exc


def _surnames_of(package, locale, attribute):
    """The surnames in faker's ``Provider.<attribute>`` of a locale, NFC-normalised."""
    module = importlib.import_module(f"{package.__name__}.{locale}")
    values = getattr(module.Provider, attribute, None)
    if values is None:  # pragma: no cover - guards a change of faker's layout
        raise RuntimeError(f"faker's person provider {locale} has no attribute {attribute}; "
                           "this faker version lays out its surnames differently.")
    names = (unicodedata.normalize("NFC", name).strip() for name in values)
    return {name for name in names if name}


def _check_languages(languages):
    if languages is None:
        return list(LANGUAGES)
    if isinstance(languages, str):
        raise TypeError(f"languages must be a list of language names such as "
                        f"[{languages!r}], not a str.")
    chosen = list(dict.fromkeys(languages))
    unknown = [lang for lang in chosen if lang not in _SURNAME_SOURCES]
    if unknown:
        raise ValueError(f"Unknown language(s) {unknown}; the available languages are "
                         f"{list(LANGUAGES)}.")
    if not chosen:
        raise ValueError(f"languages is empty; choose among {list(LANGUAGES)}.")
    return sorted(chosen)


def _describe_surnames(counts, dropped):
    version = importlib.metadata.version("faker")
    sources = "\n".join(
        f"- {lang}: {counts[lang]} surnames, from "
        + " and ".join(f"faker.providers.person.{loc}.Provider.{attr}"
                       for loc, attr in _SURNAME_SOURCES[lang])
        for lang in counts)
    return (
        "Surnames by language\n"
        "--------------------\n\n"
        "Surnames labelled with the language of the country whose list they come from, read\n"
        f"from the surname lists of the faker package (version {version}, MIT licence,\n"
        "https://github.com/joke2k/faker). Each language's surnames are deduplicated;\n"
        f"the {dropped} surnames found under more than one of the {len(LANGUAGES)}\n"
        "languages are dropped, as ambiguous. Sorted by surname.\n\n"
        f"Number of surnames: {sum(counts.values())}\n\n"
        f"{sources}\n")


def load_surnames(*, languages=None, return_X_y=False):
    """Load surnames labelled with their language, from the lists of the faker package.

    A character-level sequence classification task: tell the language from the spelling.
    Every language is written in the Latin alphabet, so letters such as "ø" or "ł" help but
    do not give the answer away. The surnames are faker's per-locale lists:

    ==========  ==============================  ==========  ====================
    Language    faker locale                    Language    faker locale
    ==========  ==============================  ==========  ====================
    Croatian    hr_HR                           German      de_DE
    Czech       cs_CZ                           Italian     it_IT
    Dutch       nl_NL                           Polish      pl_PL (male_last_names)
    English     en_GB                           Portuguese  pt_PT and pt_BR
    Finnish     fi_FI                           Spanish     es_ES
    French      fr_FR                           Swedish     sv_SE
    ==========  ==============================  ==========  ====================

    Each language's surnames are deduplicated, and a surname found under more than one of
    the twelve languages ("Müller" under Czech and German, "Costa" under French, Portuguese
    and Spanish) is dropped from all of them, as ambiguous. This is decided over all twelve
    languages, so a subset chosen with ``languages`` is exactly the full data set restricted
    to those labels. The surnames are sorted (by code point), so the classes are interleaved
    and the order is the same at every call. The Czech list holds masculine and feminine
    forms ("Novák" and "Nováková"); the Polish one is faker's 200 most common, masculine,
    surnames. The classes range from about a hundred surnames (Portuguese) to over a
    thousand (Dutch, Italian, Spanish); the counts depend a little on the faker version and
    are in ``DESCR``.

    Requires the optional package ``faker`` (MIT licence): ``pip install "skrnn[text]"``.

    Parameters
    ----------
    languages : list of str, default=None
        The languages to load, among "Croatian", "Czech", "Dutch", "English", "Finnish",
        "French", "German", "Italian", "Polish", "Portuguese", "Spanish" and "Swedish"
        (``LANGUAGES``). None loads all twelve.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the fields

        - ``data``: list of str, the surnames;
        - ``target``: ndarray of str of shape (n_surnames,), each surname's language;
        - ``target_names``: ndarray of str, the languages loaded, sorted;
        - ``DESCR``: str, the source, the faker version and the count of each language.
    (data, target) : tuple
        If ``return_X_y`` is True: the list of surnames and the array of languages.

    Raises
    ------
    ModuleNotFoundError
        If faker is not installed.
    ValueError
        If ``languages`` names a language that is not available, or none.
    TypeError
        If ``languages`` is a single str instead of a list.

    Examples
    --------
    >>> from skrnn.datasets import load_surnames
    >>> surnames = load_surnames()
    >>> surnames.target_names.tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['Croatian', 'Czech', 'Dutch', 'English', 'Finnish', 'French', 'German', 'Italian',
     'Polish', 'Portuguese', 'Spanish', 'Swedish']
    >>> len(surnames.data) == len(surnames.target)
    True
    >>> X, y = load_surnames(languages=["Polish", "Czech"], return_X_y=True)
    >>> str(y[X.index("Kowalski")])
    'Polish'
    """
    chosen = _check_languages(languages)
    package = _faker_person_providers()
    by_language = {
        lang: set().union(*(_surnames_of(package, locale, attribute)
                            for locale, attribute in sources))
        for lang, sources in _SURNAME_SOURCES.items()}
    seen = {}
    for names in by_language.values():
        for name in names:
            seen[name] = seen.get(name, 0) + 1
    ambiguous = {name for name, count in seen.items() if count > 1}
    pairs = sorted((name, lang) for lang in chosen for name in by_language[lang] - ambiguous)
    data = [name for name, _ in pairs]
    target = np.array([lang for _, lang in pairs], dtype=str)
    if return_X_y:
        return data, target
    counts = {lang: len(by_language[lang] - ambiguous) for lang in chosen}
    return Bunch(data=data, target=target, target_names=np.array(chosen, dtype=str),
                 DESCR=_describe_surnames(counts, len(ambiguous)))


# ------------------------------------------------------------------------------------------
# Turkish part-of-speech tagging
# ------------------------------------------------------------------------------------------

_TREEBANK = "turkish-treebanks"
_TREEBANK_SECTIONS = ("web", "wiki")
_TREEBANK_SPLITS = ("train", "dev", "test", "all")


def _treebank_file(section):
    """Path of the section's CoNLL-U file that turkish-treebanks installs (``data/*.conllu``).

    Found from the package's installed-files record, without importing it: its reader
    imports protobuf, and its generated protobuf module does not load with protobuf 4 and
    later.
    """
    try:
        dist = importlib.metadata.distribution(_TREEBANK)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModuleNotFoundError(
            f"load_turkish_pos reads the Turkish Web Treebank of the optional package "
            f"turkish-treebanks: {_INSTALL} (or pip install turkish-treebanks).",
            name="turkish_treebanks") from exc
    path = dist.locate_file(f"data/{section}.conllu")
    if not path.is_file():  # pragma: no cover - guards a change of the package's layout
        raise FileNotFoundError(f"turkish-treebanks {dist.version} is installed, but its data "
                                f"file {path} is not there.")
    return path, dist.version


def _read_conllu(path):
    """The sentences of a CoNLL-U file, as lists of (FORM, UPOS) in file order.

    Comment lines, multiword-token ranges (ids such as ``3-4``) and empty nodes (ids such as
    ``5.1``) are skipped; a blank line ends a sentence.
    """
    sentences, current = [], []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                if current:
                    sentences.append(current)
                    current = []
                continue
            if line.startswith("#"):
                continue
            columns = line.split("\t")
            if len(columns) != 10:
                raise ValueError(f"{path}, line {number}: a CoNLL-U token line has 10 "
                                 f"tab-separated columns, this one has {len(columns)}.")
            if "-" in columns[0] or "." in columns[0]:
                continue
            current.append((columns[1], columns[3]))
    if current:
        sentences.append(current)
    return sentences


def _in_split(index, split):
    """The package's split: of every 10 sentences, the 9th is dev, the 10th test."""
    if split == "train":
        return index % 10 < 8
    if split == "dev":
        return index % 10 == 8
    if split == "test":
        return index % 10 == 9
    return True


def load_turkish_pos(*, split="train", section="web", return_X_y=False):
    """Load part-of-speech tagged sentences of the Turkish Web Treebank.

    A sequence tagging task: one tag for every token of a sentence. The Turkish Web Treebank
    (Kayadelen, Öztürel and Bohnet, 2020) has two sections of hand-annotated sentences:
    "web" (2,541 sentences from forums, blogs, how-to pages, reviews and guides) and "wiki"
    (2,310 sentences, one from each of as many Turkish Wikipedia pages). Its tokens are
    inflectional groups, not words: a word with derivational suffixes is split at each
    derivation, each part with its own tag ("Açıklanmayan", unexplained, is the four tokens
    "Açık", "la", "nma" and "yan", tagged NOUN, VERB, VERB and ADJ). The tags are the
    treebank's coarse part-of-speech column (ADJ, ADP, ADV, AFFIX, CONJ, DET, NOUN, NUM,
    ONOM, PRON, PRT, PUNCT, VERB, X).

    The splits are the ones the treebank's authors use and its package reads: of every ten
    consecutive sentences of a section's file, the first eight are "train", the ninth "dev"
    and the tenth "test".

    Requires the optional package ``turkish-treebanks`` (Apache-2.0, and so is the data):
    ``pip install "skrnn[text]"``. The package is not imported; its data files are read.

    Parameters
    ----------
    split : {"train", "dev", "test", "all"}, default="train"
        The sentences to load; "all" is the three splits in file order.
    section : {"web", "wiki"}, default="web"
        The section of the treebank.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the fields

        - ``data``: list of lists of str, the tokens of each sentence;
        - ``target``: list of lists of str, the tag of each token, aligned one to one;
        - ``target_names``: ndarray of str, the sorted tags of the whole section (the same
          for every split; a split may lack the rarest);
        - ``DESCR``: str, the source, licence, citation and the size of the split.
    (data, target) : tuple
        If ``return_X_y`` is True: the lists of token lists and of tag lists.

    Raises
    ------
    ModuleNotFoundError
        If turkish-treebanks is not installed.
    ValueError
        If ``split`` or ``section`` is not one of the values above.

    References
    ----------
    Kayadelen, T., Öztürel, A. and Bohnet, B. (2020). A Gold Standard Dependency Treebank
    for Turkish. In Proceedings of the 12th Language Resources and Evaluation Conference
    (LREC 2020), pages 5158-5165.

    Examples
    --------
    >>> from skrnn.datasets import load_turkish_pos
    >>> treebank = load_turkish_pos(split="test")
    >>> len(treebank.data)
    254
    >>> treebank.data[0][:4]
    ['Bu', 'konuda', 'sizlerle', 'genel']
    >>> treebank.target[0][:4]
    ['DET', 'NOUN', 'PRON', 'ADJ']
    """
    if split not in _TREEBANK_SPLITS:
        raise ValueError(f"split must be one of {list(_TREEBANK_SPLITS)}, got {split!r}.")
    if section not in _TREEBANK_SECTIONS:
        raise ValueError(f"section must be one of {list(_TREEBANK_SECTIONS)}, "
                         f"got {section!r}.")
    path, version = _treebank_file(section)
    sentences = _read_conllu(path)
    chosen = [sentence for index, sentence in enumerate(sentences) if _in_split(index, split)]
    data = [[form for form, _ in sentence] for sentence in chosen]
    target = [[tag for _, tag in sentence] for sentence in chosen]
    if return_X_y:
        return data, target
    tags = sorted({tag for sentence in sentences for _, tag in sentence})
    return Bunch(data=data, target=target, target_names=np.array(tags, dtype=str),
                 DESCR=_describe_treebank(section, split, version, target, tags))


def _describe_treebank(section, split, version, target, tags):
    n_tokens = sum(len(tags_) for tags_ in target)
    return (
        "Turkish Web Treebank, part-of-speech tags\n"
        "-----------------------------------------\n\n"
        f"Section {section!r}, split {split!r}: {len(target)} sentences, {n_tokens} tokens.\n"
        f"Tags of the section ({len(tags)}): {', '.join(tags)}.\n\n"
        "Tokens are inflectional groups (a word is split at each derivational suffix), as\n"
        "in the treebank's FORM column; tags are its coarse part-of-speech column (UPOS).\n"
        "Splits: of every ten consecutive sentences of the section, eight train, the ninth\n"
        "dev, the tenth test, as the treebank's authors use them.\n\n"
        f"Source: the turkish-treebanks package (version {version}),\n"
        "https://github.com/google-research-datasets/turkish-treebanks. Data and code are\n"
        "under the Apache License 2.0 (Google Research datasets; not an official Google\n"
        "product).\n\n"
        "Cite: Kayadelen, T., Öztürel, A. and Bohnet, B. (2020). A Gold Standard Dependency\n"
        "Treebank for Turkish. In Proceedings of the 12th Language Resources and Evaluation\n"
        "Conference (LREC 2020), pages 5158-5165.\n")
