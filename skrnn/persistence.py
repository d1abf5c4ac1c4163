"""Save and load fitted skrnn estimators without executing code from the file.

``pickle`` and ``joblib`` round-trips work and give bit-identical predictions, but loading a
pickle runs whatever code the file names: only unpickle files you trust. :func:`save` and
:func:`load` use a format that holds data only, so a file from an untrusted source can at worst
fail to load.

.. rubric:: The file format

A zip archive (suggested extension ``.skrnn``) with

- ``skrnn.json``: a UTF-8 JSON document: the format name (``"skrnn-model"``) and version, the
  skrnn version that wrote it, the estimator class (one of ``RNNClassifier``, ``RNNRegressor``,
  ``RNNSequenceTagger``, ``RNNSequenceRegressor``, ``TokenEncoder``, ``RNNLanguageModel``), its
  ``get_params()``, its fitted state (a fitted part, such as a language model's encoder,
  nested as a document of the same form), the SHA-256 of every array entry and a SHA-256
  digest of the document itself;
- ``arrays/<name>.npy``: arrays in NumPy's ``.npy`` format, read with ``allow_pickle=False``.

The fitted state saved is exactly what the estimator declares in its ``_fitted_state`` (the
network configuration ``network_``, the weights ``theta_``, the optimizer with its moments or
velocity, ``classes_``, the curves of the fit, ...): each attribute is stored by its kind,
numbers and configurations in the document and arrays as entries named after the attribute
(``arrays/theta_.npy``, ``arrays/_optimizer.m.npy``, ...), and checked by its kind when
loaded. The vocabulary of a :class:`~skrnn.text.TokenEncoder` is the JSON list of its tokens in
id order, stored in UTF-8 as a ``uint8`` array entry (``arrays/vocabulary_.npy``), so that a
vocabulary of any size and any characters fits, and the ids come back as they were.

String class labels and feature names (object arrays of ``str``) are stored as unicode arrays
and become object arrays of ``str`` again on loading. Labels of any other object type cannot be
stored: :func:`save` raises a ``TypeError``.

.. rubric:: Versions and integrity

:func:`load` accepts files written by the same skrnn version only, and raises a ``ValueError``
naming both versions otherwise: refit the model, or load it with the version that saved it.
The digests detect a damaged or edited file (a ``ValueError`` naming what does not match).
They are not a signature: anyone who can write the file can also recompute them, so keep
model files where only trusted people can write them, as with any model. Whatever the file
holds, loading never runs code from it; every value is checked against the estimator's
parameter constraints and the network's shapes before it is used. Files of format version 1
(written before the fitted state was declared) do not load: refit the model. Regressors saved
before target scaling existed load as fitted with ``scale_target=False`` (``target_mean_`` 0,
``target_scale_`` 1), which is how they were trained.

.. rubric:: Continuing training after loading

The optimizer's state (Adam's moments and step count, SGD's velocity and current learning
rate) is saved as well, so ``partial_fit`` and ``fit`` with ``warm_start=True`` continue after
:func:`load` exactly as they would have continued on the estimator that was saved. The
weights of the best epoch that early stopping keeps are the saved weights themselves.

.. rubric:: Examples

>>> import os, tempfile, warnings
>>> import numpy as np
>>> from skrnn import RNNClassifier
>>> from skrnn.persistence import load, save
>>> rng = np.random.default_rng(0)
>>> X = [rng.normal(size=(rng.integers(3, 8), 2)) for _ in range(30)]
>>> y = ["up" if x[0, 0] > 0 else "down" for x in X]
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     clf = RNNClassifier("gru", (4,), max_iter=3, random_state=0).fit(X, y)
>>> with tempfile.TemporaryDirectory() as folder:
...     save(clf, os.path.join(folder, "model.skrnn"))
...     again = load(os.path.join(folder, "model.skrnn"))
>>> bool(np.array_equal(again.predict_proba(X), clf.predict_proba(X)))
True
>>> again.classes_
array(['down', 'up'], dtype='<U4')
"""

import dataclasses
import hashlib
import io
import json
import math
import numbers
import os
import zipfile

import numpy as np

__all__ = ["save", "load", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "skrnn-model"
FORMAT_VERSION = 2

_DOCUMENT = "skrnn.json"
_ARRAY_DIR = "arrays/"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so that one model always gives the same bytes
_MAX_DOCUMENT_BYTES = 1 << 20
_LABEL_KINDS = "biufUSMm"
_FLOAT_DTYPES = ("float32", "float64")


def _estimator_classes():
    from ._classifier import RNNClassifier
    from ._regressor import RNNRegressor
    from ._sequence_regressor import RNNSequenceRegressor
    from ._tagger import RNNSequenceTagger
    from .language_model import RNNLanguageModel
    from .text import TokenEncoder

    return {cls.__name__: cls for cls in (RNNClassifier, RNNRegressor, RNNSequenceTagger,
                                          RNNSequenceRegressor, TokenEncoder, RNNLanguageModel)}


def _skrnn_version():
    from . import __version__

    return __version__


# ------------------------------------------------------------------------------------------
# save
# ------------------------------------------------------------------------------------------


def save(estimator, path):
    """Write a fitted skrnn estimator to ``path`` in skrnn's code-free format.

    The file is written next to ``path`` first and then moved in place, so an existing file
    is only replaced by a complete one.

    Parameters
    ----------
    estimator : skrnn estimator
        The fitted RNNClassifier, RNNRegressor, RNNSequenceTagger, RNNSequenceRegressor,
        TokenEncoder or RNNLanguageModel to save. Its parameters must be data: None, bool, int, float,
        str, 1-D arrays of numbers or of str, or tuples, lists and dicts of these (so not a
        callable, such as a TokenEncoder's ``tokenizer``).
    path : str or os.PathLike
        The file to write (replaced if it exists). The extension ``.skrnn`` is suggested.

    Raises
    ------
    TypeError
        If ``estimator`` is not one of the skrnn estimators above, a parameter cannot be
        stored as data (for example ``random_state`` given as a ``RandomState`` instance:
        set an int or None first), or the class labels are objects other than ``str``.
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    OSError
        If the file cannot be written.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skrnn import RNNRegressor
    >>> from skrnn.persistence import load, save
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(20, 5, 2)), rng.normal(size=20)
    >>> reg = RNNRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "model.skrnn")
    ...     save(reg, path)
    ...     again = load(path)
    >>> bool(np.array_equal(again.predict(X), reg.predict(X)))
    True
    """
    from sklearn.utils.validation import check_is_fitted

    name = type(estimator).__name__
    if _estimator_classes().get(name) is not type(estimator):
        raise TypeError(f"save stores skrnn's estimators ({', '.join(_estimator_classes())}) "
                        f"only, got {type(estimator).__module__}.{name}.")
    check_is_fitted(estimator, [attr for attr, kind in estimator._fitted_state.items()
                                if not kind.endswith(", optional")])
    arrays = {}
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "skrnn_version": _skrnn_version(),
        **_estimator_document(estimator, arrays),
    }
    entries = {f"{_ARRAY_DIR}{key}.npy": _npy_bytes(value) for key, value in arrays.items()}
    document["arrays"] = {entry: hashlib.sha256(data).hexdigest()
                          for entry, data in sorted(entries.items())}
    document["digest"] = _digest(document)
    text = json.dumps(document, indent=1, sort_keys=True, allow_nan=False).encode("utf-8")
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(zipfile.ZipInfo(_DOCUMENT, _ZIP_DATE), text,
                             compress_type=zipfile.ZIP_DEFLATED)
            for entry, data in sorted(entries.items()):
                archive.writestr(zipfile.ZipInfo(entry, _ZIP_DATE), data,
                                 compress_type=zipfile.ZIP_DEFLATED)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _estimator_document(estimator, arrays, prefix=""):
    """The class, parameters and fitted state of an estimator (its arrays added to
    ``arrays``, named with ``prefix``)."""
    return {
        "estimator": type(estimator).__name__,
        "params": {key: _encode(value, f"parameter {key}")
                   for key, value in estimator.get_params(deep=False).items()},
        "fitted": {attr: _save_value(getattr(estimator, attr), kind, prefix + attr, arrays)
                   for attr, kind in estimator._fitted_state.items()
                   if hasattr(estimator, attr)},
    }


def _save_value(value, kind, what, arrays):
    """A fitted attribute as JSON, its arrays added to ``arrays`` under names from ``what``."""
    kind = kind.replace(", optional", "")
    if value is None and kind.endswith(" or None"):
        return None
    kind = kind.replace(" or None", "")
    if kind == "network":
        return {field.name: _encode(getattr(value, field.name), what)
                for field in dataclasses.fields(value)}
    if kind == "optimizer":
        state = {}
        for key, v in vars(value).items():
            if key.startswith("_"):
                continue  # scratch space, not state
            if isinstance(v, np.ndarray):
                arrays[f"{what}.{key}"] = v
                state[key] = {"array": f"{what}.{key}"}
            else:
                state[key] = _encode(v, f"{what}.{key}")
        return {"type": type(value).__name__, "state": state}
    if kind == "params":
        value = np.asarray(value)
        if value.dtype.name not in _FLOAT_DTYPES:
            raise TypeError(f"{what} has dtype {value.dtype}; expected float32 or float64.")
        arrays[what] = value
        return {"array": what}
    if kind in ("floats", "float array"):
        arrays[what] = np.asarray(value, dtype=np.float64)
        return {"array": what}
    if kind == "labels":
        return _label_document(value, what, arrays)
    if kind == "vocabulary":  # token -> id, stored as the tokens in id order
        tokens = sorted(value, key=value.__getitem__)
        text = json.dumps(tokens, ensure_ascii=True).encode("ascii")
        arrays[what] = np.frombuffer(text, dtype=np.uint8)
        return {"array": what, "encoding": "json"}
    if kind == "estimator":  # a fitted part, such as a language model's TokenEncoder
        return _estimator_document(value, arrays, f"{what}.")
    if kind == "float":
        return _encode_float(value)
    if kind == "int":
        return int(value)
    if kind == "bool":
        return bool(value)
    raise TypeError(f"{what}: unknown kind {kind!r}")


def _label_document(values, what, arrays):
    """Labels as a data-only array; object arrays must hold str only."""
    values = np.asarray(values)
    if values.dtype == object:
        kinds = {type(v).__name__ for v in values.ravel() if not isinstance(v, str)}
        if kinds:
            raise TypeError(f"{what} holds objects of type {sorted(kinds)}; an object array "
                            "can be saved only when it holds str (convert the labels to str "
                            "or to a numeric array before fitting).")
        arrays[what] = values.astype(str)
        return {"array": what, "dtype": "object"}
    if values.dtype.kind not in _LABEL_KINDS:
        raise TypeError(f"{what} has dtype {values.dtype}, which cannot be saved; supported "
                        "are bool, integer, float, str, bytes and datetime labels.")
    arrays[what] = values
    return {"array": what, "dtype": values.dtype.str}


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _digest(document):
    """SHA-256 of the canonical JSON of the document without its digest."""
    body = {key: value for key, value in document.items() if key != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _encode_float(value):
    value = float(value)
    return value if math.isfinite(value) else {"float": repr(value)}


def _encode(value, what):
    """A parameter value as JSON, tagging what JSON cannot tell apart (tuples, arrays)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return _encode_float(value)
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, what) for v in value]}
    if isinstance(value, list):
        return [_encode(v, what) for v in value]
    if isinstance(value, dict):
        return {"dict": [[_encode(k, what), _encode(v, what)] for k, v in value.items()]}
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "biuf":
        return {"ndarray": [_encode(v, what) for v in value.tolist()], "dtype": value.dtype.str}
    if isinstance(value, np.ndarray) and value.ndim == 1 and (
            value.dtype.kind == "U"
            or (value.dtype == object and all(isinstance(v, str) for v in value))):
        return {"ndarray": [str(v) for v in value], "dtype": value.dtype.str}
    if callable(value):
        raise TypeError(f"{what} is {value!r}, a callable, which cannot be saved: the file "
                        "holds data only, never code. Use pickle or joblib for such a model "
                        "(loading them runs code: only load files you trust).")
    raise TypeError(f"{what} is {value!r} (a {type(value).__name__}), which cannot be saved "
                    "as data; set it to an int, a float, a str, None or a tuple before saving "
                    "(for random_state: an int or None).")


# ------------------------------------------------------------------------------------------
# load
# ------------------------------------------------------------------------------------------


def load(path):
    """Rebuild an estimator saved with :func:`save`, without unpickling anything.

    Parameters
    ----------
    path : str or os.PathLike
        The file written by :func:`save`.

    Returns
    -------
    estimator
        The fitted estimator (an RNNClassifier, RNNRegressor, RNNSequenceTagger,
        RNNSequenceRegressor, TokenEncoder or RNNLanguageModel), with the parameters of the one that was saved. It predicts
        (transforms) bit-identically to it; ``partial_fit`` and ``warm_start`` continue with
        the saved optimizer state.

    Raises
    ------
    ValueError
        If the file is not a skrnn model file, was written by another skrnn version or
        another format version (the message names both), was damaged or edited (a digest
        does not match), or holds values that do not fit the estimator.
    OSError
        If the file cannot be read, for example :class:`FileNotFoundError`.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skrnn import RNNClassifier
    >>> from skrnn.persistence import load, save
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 5, 2))
    >>> y = np.where(X[:, 0, 0] > 0, "up", "down")
    >>> clf = RNNClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save(clf, os.path.join(folder, "model.skrnn"))
    ...     again = load(os.path.join(folder, "model.skrnn"))
    >>> again.get_params()["hidden_layer_sizes"], again.classes_
    ((4,), array(['down', 'up'], dtype='<U4'))
    >>> bool(np.array_equal(again.predict_proba(X), clf.predict_proba(X)))
    True
    """
    try:
        archive = zipfile.ZipFile(path, "r")
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{os.fspath(path)!r} is not a skrnn model file (not a zip "
                         "archive).") from exc
    with archive:
        document = _read_document(archive, path)
        _check_versions(document, path)
        entries = _read_entries(archive, document, path)
    if document.get("digest") != _digest(document):
        raise ValueError(f"{os.fspath(path)!r} was modified after it was saved: the digest "
                         "of its skrnn.json does not match.")
    try:
        return _rebuild(document, entries)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{os.fspath(path)!r} is not a valid skrnn model file: "
                         f"{type(exc).__name__}: {exc}") from exc


def _read_document(archive, path):
    names = set(archive.namelist())
    if _DOCUMENT not in names:
        raise ValueError(f"{os.fspath(path)!r} is not a skrnn model file: it has no "
                         f"{_DOCUMENT}.")
    if archive.getinfo(_DOCUMENT).file_size > _MAX_DOCUMENT_BYTES:
        raise ValueError(f"{os.fspath(path)!r} is not a skrnn model file: its {_DOCUMENT} is "
                         "too large.")
    try:
        document = json.loads(archive.read(_DOCUMENT).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{os.fspath(path)!r} is not a skrnn model file: its {_DOCUMENT} "
                         f"cannot be read ({exc}).") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ValueError(f"{os.fspath(path)!r} is not a skrnn model file: its {_DOCUMENT} "
                         f"does not declare the format {FORMAT_NAME!r}.")
    return document


def _check_versions(document, path):
    version, current = document.get("skrnn_version"), _skrnn_version()
    if version != current:
        raise ValueError(f"{os.fspath(path)!r} was saved by skrnn {version}, but this is skrnn "
                         f"{current}; a model file loads only in the skrnn version that "
                         f"saved it. Load it with skrnn {version} or refit the model.")
    if document.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{os.fspath(path)!r} has format version "
                         f"{document.get('format_version')}, but skrnn {current} reads format "
                         f"version {FORMAT_VERSION} only: refit the model, or load it with the "
                         "skrnn that saved it.")


def _read_entries(archive, document, path):
    """The arrays listed in the document, each checked against its SHA-256 first."""
    listed = document.get("arrays")
    if not isinstance(listed, dict):
        raise ValueError(f"{os.fspath(path)!r} is not a valid skrnn model file: no array "
                         "listing.")
    present = set(archive.namelist()) - {_DOCUMENT}
    if present != set(listed):
        raise ValueError(f"{os.fspath(path)!r} was modified after it was saved: its entries "
                         f"{sorted(present ^ set(listed))} differ from the saved listing.")
    arrays = {}
    for entry, expected in listed.items():
        if not (entry.startswith(_ARRAY_DIR) and entry.endswith(".npy")):
            raise ValueError(f"{os.fspath(path)!r} is not a valid skrnn model file: "
                             f"unexpected entry {entry!r}.")
        data = archive.read(entry)
        if hashlib.sha256(data).hexdigest() != expected:
            raise ValueError(f"{os.fspath(path)!r} was modified after it was saved: the "
                             f"SHA-256 of {entry} does not match.")
        try:
            array = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{os.fspath(path)!r} is not a valid skrnn model file: {entry} "
                             f"cannot be read without unpickling ({exc}).") from exc
        arrays[entry[len(_ARRAY_DIR):-len(".npy")]] = array
    return arrays


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"tuple"}:
            return tuple(_decode(v) for v in value["tuple"])
        if set(value) == {"dict"}:
            return {_hashable(_decode(k)): _decode(v) for k, v in value["dict"]}
        if set(value) == {"float"}:
            return _decode_float(value)
        if set(value) == {"ndarray", "dtype"}:
            items = _decode(value["ndarray"])
            dtype = np.dtype(value["dtype"])
            if dtype.kind not in "biufUO" or (dtype.kind in "UO" and not all(
                    isinstance(v, str) for v in items)):
                raise TypeError(f"not an array of numbers or of str: {value!r}")
            return np.array(items, dtype=dtype)
        raise TypeError(f"unknown encoded value {value!r}")
    return value


def _hashable(key):
    if isinstance(key, (list, dict)):
        raise TypeError(f"unhashable dict key {key!r}")
    return key


def _decode_float(value):
    if isinstance(value, dict):
        if set(value) != {"float"} or value["float"] not in ("inf", "-inf", "nan"):
            raise TypeError(f"not a float: {value!r}")
        return float(value["float"])
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a float: {value!r}")
    return float(value)


def _int(value, what, minimum=0):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}.")
    return value


def _bool(value, what):
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false, got {value!r}.")
    return value


def _array(arrays, doc, what, kinds, size=None):
    """The 1-D array a document entry ``{"array": key}`` names, checked."""
    if not isinstance(doc, dict) or doc.get("array") not in arrays:
        raise ValueError(f"The file holds no array for {what}.")
    a = arrays[doc["array"]]
    if a.ndim != 1:
        raise ValueError(f"The array of {what} must be 1-D, got shape {a.shape}.")
    if a.dtype.kind not in kinds:
        raise ValueError(f"The array of {what} has dtype {a.dtype}, expected one of kinds "
                         f"{kinds!r}.")
    if size is not None and a.size != size:
        raise ValueError(f"The array of {what} has {a.size} entries, expected {size}.")
    return a


def _rebuild(document, arrays):
    classes = _estimator_classes()
    name = document["estimator"]
    if name not in classes:
        raise ValueError(f"Unknown estimator {name!r}; a skrnn model file holds one of "
                         f"{sorted(classes)}.")
    cls = classes[name]
    params = {key: _decode(value) for key, value in document["params"].items()}
    params = {**_params_of_older_files(cls, params), **params}
    est = cls()
    if set(params) != set(est.get_params(deep=False)):
        raise ValueError(f"The parameters of {name} in the file do not match this skrnn: "
                         f"{sorted(set(params) ^ set(est.get_params(deep=False)))}.")
    est.set_params(**params)
    est._validate_params()
    fitted = document["fitted"]
    unknown = set(fitted) - set(cls._fitted_state)
    if unknown:
        raise ValueError(f"The file holds fitted attributes {sorted(unknown)} that {name} does "
                         "not have.")
    context = {}
    older = getattr(cls, "_fitted_of_older_files", {})
    for attr, kind in cls._fitted_state.items():  # in declaration order: network_ first
        if attr not in fitted:
            if kind.endswith(", optional"):
                continue
            if attr in older:  # a file written before the attribute existed
                setattr(est, attr, older[attr](est))
                continue
            raise ValueError(f"The file holds no {attr}.")
        value = _load_value(fitted[attr], kind.replace(", optional", ""), attr, arrays,
                            context)
        setattr(est, attr, value)
        context[attr] = value
    est._check_fitted_state()
    return est


def _params_of_older_files(cls, present):
    """The parameters a file written before they existed lacks, with the values its model
    was fitted with (``cls._params_of_older_files``); none when the file has one of them."""
    older = getattr(cls, "_params_of_older_files", {})
    return {} if set(older) & set(present) else older


def _load_value(doc, kind, what, arrays, context):
    """A fitted attribute from its document entry, checked by its kind."""
    if kind.endswith(" or None"):
        if doc is None:
            return None
        kind = kind[: -len(" or None")]
    if kind == "network":
        return _network(doc, what)
    if kind == "params":
        theta = _array(arrays, doc, what, "f", context["network_"].n_params)
        if theta.dtype.name not in _FLOAT_DTYPES or not np.isfinite(theta).all():
            raise ValueError(f"{what} must hold finite float32 or float64 values.")
        return np.array(theta, order="C")
    if kind == "optimizer":
        return _optimizer(doc, what, arrays, context["theta_"])
    if kind == "floats":
        return _array(arrays, doc, what, "f").tolist()
    if kind == "float array":
        values = _array(arrays, doc, what, "f")
        if values.dtype != np.float64 or not np.isfinite(values).all():
            raise ValueError(f"{what} must hold finite float64 values.")
        return np.array(values)
    if kind == "labels":
        values = _array(arrays, doc, what, _LABEL_KINDS)
        if doc.get("dtype") == "object":
            if values.dtype.kind != "U":
                raise ValueError(f"The array of {what} must hold unicode strings.")
            return values.astype(object)
        if np.dtype(doc.get("dtype")) != values.dtype:
            raise ValueError(f"The array of {what} has dtype {values.dtype}, the document says "
                             f"{doc.get('dtype')}.")
        return values
    if kind == "vocabulary":
        return _vocabulary(arrays, doc, what)
    if kind == "estimator":
        if not isinstance(doc, dict) or set(doc) != {"estimator", "params", "fitted"}:
            raise ValueError(f"{what} must be stored as an estimator's document.")
        return _rebuild(doc, arrays)
    if kind == "float":
        return _decode_float(doc)
    if kind == "int":
        return _int(doc, what)
    if kind == "bool":
        return _bool(doc, what)
    raise ValueError(f"{what}: unknown kind {kind!r}")


def _vocabulary(arrays, doc, what):
    """Token -> id from the JSON list of tokens in id order, checked."""
    if not isinstance(doc, dict) or doc.get("encoding") != "json":
        raise ValueError(f"{what} must be stored as JSON, got {doc!r}.")
    data = _array(arrays, doc, what, "u")
    if data.dtype != np.uint8:
        raise ValueError(f"The array of {what} must be uint8 bytes, got {data.dtype}.")
    try:
        tokens = json.loads(data.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{what} cannot be read as a JSON list of tokens ({exc}).") from exc
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ValueError(f"{what} must be a JSON list of str tokens.")
    vocabulary = {token: index for index, token in enumerate(tokens)}
    if len(vocabulary) != len(tokens):
        raise ValueError(f"{what} holds a token twice.")
    return vocabulary


def _network(doc, what):
    from .nn import RecurrentNetwork

    fields = {field.name: field for field in dataclasses.fields(RecurrentNetwork)}
    if not isinstance(doc, dict) or set(doc) != set(fields):
        raise ValueError(f"{what} has fields {sorted(doc) if isinstance(doc, dict) else doc}, "
                         f"expected {sorted(fields)}.")
    values = {key: _decode(value) for key, value in doc.items()}
    for key in ("input_size", "n_outputs"):
        _int(values[key], key, 1)
    if values["n_tokens"] is not None:
        _int(values["n_tokens"], "n_tokens", 1)
    if not isinstance(values["hidden_sizes"], tuple):
        raise ValueError(f"hidden_sizes must be a tuple, got {values['hidden_sizes']!r}.")
    for h in values["hidden_sizes"]:
        _int(h, "hidden size", 1)
    _bool(values["bidirectional"], "bidirectional")
    for key in ("cell", "output", "activation", "implementation", "pooling"):
        if not isinstance(values[key], str):
            raise ValueError(f"{key} must be a string, got {values[key]!r}.")
    values["dropout"] = _decode_float(values["dropout"])
    return RecurrentNetwork(**values)  # which checks the values themselves


def _optimizer(doc, what, arrays, theta):
    from .nn.optimizers import SGD, Adam

    types = {"SGD": SGD, "Adam": Adam}
    if not isinstance(doc, dict) or doc.get("type") not in types:
        raise ValueError(f"Unknown optimizer {doc.get('type') if isinstance(doc, dict) else doc!r}"
                         f"; {what} is one of {sorted(types)}.")
    optimizer = types[doc["type"]]()
    expected = {key: value for key, value in vars(optimizer).items() if not key.startswith("_")}
    state = doc["state"]
    # files written before every optimizer had a schedule lack its fields: the defaults
    # ("constant") are what those optimizers ran
    missing = set(expected) - set(state) - {"lr_schedule", "power_t", "n_epochs"}
    if set(state) - set(expected) or missing:
        raise ValueError(f"The state of {what} has fields {sorted(state)}, expected "
                         f"{sorted(expected)}.")
    for key, value in state.items():
        if isinstance(value, dict) and set(value) == {"array"}:
            value = np.array(_array(arrays, value, f"{what}.{key}", "f", theta.size),
                             dtype=theta.dtype)
        else:
            value = _decode(value)
            default = expected[key]
            if default is not None and not isinstance(value, type(default)):
                if not (isinstance(default, float) and isinstance(value, int)
                        and not isinstance(value, bool)):
                    raise ValueError(f"{what}.{key} must be a {type(default).__name__}, got "
                                     f"{value!r}.")
                value = float(value)
            elif key == "n_epochs":  # the "cosine" schedule's epochs, or None
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise ValueError(f"{what}.{key} must be an integer or null, got {value!r}.")
            elif default is None and value is not None:
                raise ValueError(f"{what}.{key} must be an array or null, got {value!r}.")
        setattr(optimizer, key, value)
    return optimizer
