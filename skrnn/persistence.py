"""Save and load fitted skrnn estimators without executing code from the file.

``pickle`` and ``joblib`` round-trips work and give bit-identical predictions, but loading a
pickle runs whatever code the file names: only unpickle files you trust. :func:`save` and
:func:`load` use a format that holds data only, so a file from an untrusted source can at worst
fail to load.

.. rubric:: The file format

A zip archive (suggested extension ``.skrnn``) with

- ``skrnn.json``: a UTF-8 JSON document: the format name (``"skrnn-model"``) and version, the
  skrnn version that wrote it, the estimator class (one of ``RNNClassifier``, ``RNNRegressor``,
  ``RNNSequenceTagger``), its ``get_params()``, the network configuration, the scalar fitted
  attributes, the optimizer's scalar state, the SHA-256 of every array entry and a SHA-256
  digest of the document itself;
- ``arrays/<name>.npy``: arrays in NumPy's ``.npy`` format, read with ``allow_pickle=False``:
  the flat parameter vector ``theta``, ``loss_curve``, ``grad_norm_curve``,
  ``validation_scores`` (with early stopping), ``classes`` (classifier and tagger),
  ``feature_names_in`` (when fitted with feature names), and the optimizer's moment or velocity
  vectors.

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
parameter constraints and the network's shapes before it is used.

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
FORMAT_VERSION = 1

_DOCUMENT = "skrnn.json"
_ARRAY_DIR = "arrays/"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so that one model always gives the same bytes
_MAX_DOCUMENT_BYTES = 1 << 20
_LABEL_KINDS = "biufUSMm"
_FLOAT_DTYPES = ("float32", "float64")
_NETWORK_FIELDS = ("cell", "input_size", "hidden_sizes", "n_outputs", "bidirectional", "output",
                   "activation", "dropout")


def _estimator_classes():
    from ._classifier import RNNClassifier
    from ._regressor import RNNRegressor
    from ._tagger import RNNSequenceTagger

    return {cls.__name__: cls for cls in (RNNClassifier, RNNRegressor, RNNSequenceTagger)}


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
    estimator : RNNClassifier, RNNRegressor or RNNSequenceTagger
        The fitted estimator to save. Its parameters must be data: None, bool, int, float,
        str, 1-D numeric arrays, or tuples, lists and dicts of these.
    path : str or os.PathLike
        The file to write (replaced if it exists). The extension ``.skrnn`` is suggested.

    Raises
    ------
    TypeError
        If ``estimator`` is not one of the three skrnn estimators, a parameter cannot be
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
        raise TypeError(f"save stores RNNClassifier, RNNRegressor and RNNSequenceTagger "
                        f"estimators only, got {type(estimator).__module__}.{name}.")
    check_is_fitted(estimator, "_theta")
    arrays = {}
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "skrnn_version": _skrnn_version(),
        "estimator": name,
        "params": {key: _encode(value, f"parameter {key}")
                   for key, value in estimator.get_params(deep=False).items()},
        "network": _network_document(estimator._network),
        "fitted": _fitted_document(estimator, arrays),
        "optimizer": _optimizer_document(estimator._optimizer, arrays),
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


def _network_document(network):
    return {"cell": str(network.cell), "input_size": int(network.input_size),
            "hidden_sizes": [int(h) for h in network.hidden_sizes],
            "n_outputs": int(network.n_outputs), "bidirectional": bool(network.bidirectional),
            "output": str(network.output), "activation": str(network.activation),
            "dropout": float(network.dropout)}


def _fitted_document(est, arrays):
    theta = np.asarray(est._theta)
    if theta.dtype.name not in _FLOAT_DTYPES:
        raise TypeError(f"The parameter vector has dtype {theta.dtype}; expected float32 or "
                        "float64.")
    arrays["theta"] = theta
    arrays["loss_curve"] = np.asarray(est.loss_curve_, dtype=np.float64)
    arrays["grad_norm_curve"] = np.asarray(est.grad_norm_curve_, dtype=np.float64)
    fitted = {
        "n_features_in_": int(est.n_features_in_),
        "n_iter_": int(est.n_iter_),
        "t_": int(est.t_),
        "best_loss_": _encode_float(est.best_loss_),
        "best_validation_score_": (None if est.best_validation_score_ is None
                                   else _encode_float(est.best_validation_score_)),
        "no_improvement_count": int(est._no_improvement_count),
        "fitted_on_table": bool(est._fitted_on_table),
        "fit_input_is_table": bool(getattr(est, "_fit_input_is_table", False)),
        "has_validation_scores": est.validation_scores_ is not None,
    }
    if est.validation_scores_ is not None:
        arrays["validation_scores"] = np.asarray(est.validation_scores_, dtype=np.float64)
    if hasattr(est, "feature_names_in_"):
        fitted["feature_names_in_"] = _label_document(est.feature_names_in_, "feature_names_in_",
                                                      "feature_names_in", arrays)
    if hasattr(est, "classes_"):
        fitted["classes_"] = _label_document(est.classes_, "classes_", "classes", arrays)
    if hasattr(est, "n_outputs_"):
        fitted["n_outputs_"] = int(est.n_outputs_)
        fitted["y_1d"] = bool(est._y_1d)
    return fitted


def _label_document(values, what, key, arrays):
    """Store labels as a data-only array; object arrays must hold str only."""
    values = np.asarray(values)
    if values.dtype == object:
        kinds = {type(v).__name__ for v in values.ravel() if not isinstance(v, str)}
        if kinds:
            raise TypeError(f"{what} holds objects of type {sorted(kinds)}; an object array "
                            "can be saved only when it holds str (convert the labels to str "
                            "or to a numeric array before fitting).")
        arrays[key] = values.astype(str)
        return {"dtype": "object"}
    if values.dtype.kind not in _LABEL_KINDS:
        raise TypeError(f"{what} has dtype {values.dtype}, which cannot be saved; supported "
                        "are bool, integer, float, str, bytes and datetime labels.")
    arrays[key] = values
    return {"dtype": values.dtype.str}


def _optimizer_document(optimizer, arrays):
    from .nn.optimizers import SGD, Adam

    if type(optimizer) is Adam:
        doc = {"type": "adam", "learning_rate": _encode_float(optimizer.learning_rate),
               "beta_1": _encode_float(optimizer.beta_1),
               "beta_2": _encode_float(optimizer.beta_2),
               "epsilon": _encode_float(optimizer.epsilon), "t": int(optimizer.t),
               "started": optimizer.m is not None}
        if optimizer.m is not None:
            arrays["optimizer_m"], arrays["optimizer_v"] = optimizer.m, optimizer.v
        return doc
    if type(optimizer) is SGD:
        doc = {"type": "sgd", "learning_rate": _encode_float(optimizer.learning_rate),
               "momentum": _encode_float(optimizer.momentum),
               "nesterov": bool(optimizer.nesterov), "started": optimizer.velocity is not None}
        if optimizer.velocity is not None:
            arrays["optimizer_velocity"] = optimizer.velocity
        return doc
    raise TypeError(f"Cannot save an optimizer of type {type(optimizer).__name__}.")


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
    RNNClassifier, RNNRegressor or RNNSequenceTagger
        The fitted estimator, with the parameters of the one that was saved. It predicts
        bit-identically to it; ``partial_fit`` and ``warm_start`` continue with the saved
        optimizer state.

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
                         f"version {FORMAT_VERSION}.")


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
            return np.array(_decode(value["ndarray"]), dtype=np.dtype(value["dtype"]))
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


def _array(arrays, key, *, ndim=1, kinds=None, size=None):
    if key not in arrays:
        raise ValueError(f"The file holds no array {key!r}.")
    a = arrays[key]
    if a.ndim != ndim:
        raise ValueError(f"Array {key!r} must be {ndim}-D, got shape {a.shape}.")
    if kinds is not None and a.dtype.kind not in kinds:
        raise ValueError(f"Array {key!r} has dtype {a.dtype}, expected one of kinds {kinds!r}.")
    if size is not None and a.size != size:
        raise ValueError(f"Array {key!r} has {a.size} entries, expected {size}.")
    return a


def _rebuild(document, arrays):
    from .nn import RecurrentNetwork

    classes = _estimator_classes()
    name = document["estimator"]
    if name not in classes:
        raise ValueError(f"Unknown estimator {name!r}; a skrnn model file holds one of "
                         f"{sorted(classes)}.")
    cls = classes[name]
    params = {key: _decode(value) for key, value in document["params"].items()}
    est = cls()
    if set(params) != set(est.get_params(deep=False)):
        raise ValueError(f"The parameters of {name} in the file do not match this skrnn: "
                         f"{sorted(set(params) ^ set(est.get_params(deep=False)))}.")
    est.set_params(**params)
    est._validate_params()

    net = document["network"]
    if set(net) != set(_NETWORK_FIELDS):
        raise ValueError(f"The network configuration has fields {sorted(net)}, expected "
                         f"{sorted(_NETWORK_FIELDS)}.")
    network = RecurrentNetwork(
        str(net["cell"]), _int(net["input_size"], "input_size", 1),
        tuple(_int(h, "hidden size", 1) for h in net["hidden_sizes"]),
        _int(net["n_outputs"], "n_outputs", 1), _bool(net["bidirectional"], "bidirectional"),
        str(net["output"]), str(net["activation"]), _decode_float(net["dropout"]))
    if network.output != cls._output:
        raise ValueError(f"The network's output {network.output!r} does not fit {name}.")

    theta = _array(arrays, "theta", kinds="f", size=network.n_params)
    if theta.dtype.name not in _FLOAT_DTYPES or not np.isfinite(theta).all():
        raise ValueError("The parameter vector must hold finite float32 or float64 values.")
    fitted = document["fitted"]
    est._network = network
    est._theta = np.array(theta, order="C")
    est.n_features_in_ = _int(fitted["n_features_in_"], "n_features_in_", 1)
    est.n_iter_ = _int(fitted["n_iter_"], "n_iter_")
    est.t_ = _int(fitted["t_"], "t_")
    est.loss_curve_ = _array(arrays, "loss_curve", kinds="f").tolist()
    est.grad_norm_curve_ = _array(arrays, "grad_norm_curve", kinds="f").tolist()
    est.best_loss_ = _decode_float(fitted["best_loss_"])
    if _bool(fitted["has_validation_scores"], "has_validation_scores"):
        est.validation_scores_ = _array(arrays, "validation_scores", kinds="f").tolist()
        est.best_validation_score_ = _decode_float(fitted["best_validation_score_"])
    else:
        est.validation_scores_ = est.best_validation_score_ = None
    est._no_improvement_count = _int(fitted["no_improvement_count"], "no_improvement_count")
    est._fitted_on_table = _bool(fitted["fitted_on_table"], "fitted_on_table")
    est._fit_input_is_table = _bool(fitted["fit_input_is_table"], "fit_input_is_table")
    if "feature_names_in_" in fitted:
        names = _labels(fitted["feature_names_in_"], arrays, "feature_names_in")
        if names.dtype != object:
            raise ValueError("feature_names_in_ must be str.")
        est.feature_names_in_ = names
    if name == "RNNRegressor":
        est.n_outputs_ = _int(fitted["n_outputs_"], "n_outputs_", 1)
        est._y_1d = _bool(fitted["y_1d"], "y_1d")
        if est.n_outputs_ != network.n_outputs or (est._y_1d and est.n_outputs_ != 1):
            raise ValueError(f"n_outputs_={est.n_outputs_} does not fit the network's "
                             f"{network.n_outputs} outputs.")
    else:
        est.classes_ = _labels(fitted["classes_"], arrays, "classes")
        if len(est.classes_) != network.n_outputs or len(np.unique(est.classes_)) != \
                len(est.classes_):
            raise ValueError(f"classes_ holds {len(est.classes_)} labels for a network with "
                             f"{network.n_outputs} outputs; they must be distinct, one per "
                             "output.")
    est._optimizer = _optimizer(document["optimizer"], arrays, theta)
    return est


def _labels(doc, arrays, key):
    dtype = doc["dtype"]
    values = _array(arrays, key, kinds=_LABEL_KINDS)
    if dtype == "object":
        if values.dtype.kind != "U":
            raise ValueError(f"Array {key!r} must hold unicode strings.")
        return values.astype(object)
    if np.dtype(dtype) != values.dtype:
        raise ValueError(f"Array {key!r} has dtype {values.dtype}, the document says {dtype}.")
    return values


def _optimizer(doc, arrays, theta):
    from .nn.optimizers import SGD, Adam

    started = _bool(doc["started"], "optimizer started")
    shape = dict(kinds="f", size=theta.size)
    if doc["type"] == "adam":
        opt = Adam(_decode_float(doc["learning_rate"]), _decode_float(doc["beta_1"]),
                   _decode_float(doc["beta_2"]), _decode_float(doc["epsilon"]))
        opt.t = _int(doc["t"], "optimizer step count")
        if started:
            opt.m = np.array(_array(arrays, "optimizer_m", **shape), dtype=theta.dtype)
            opt.v = np.array(_array(arrays, "optimizer_v", **shape), dtype=theta.dtype)
            opt._tmp = np.empty_like(opt.m)
        return opt
    if doc["type"] == "sgd":
        opt = SGD(_decode_float(doc["learning_rate"]), _decode_float(doc["momentum"]),
                  _bool(doc["nesterov"], "nesterov"))
        if started:
            opt.velocity = np.array(_array(arrays, "optimizer_velocity", **shape),
                                    dtype=theta.dtype)
        return opt
    raise ValueError(f"Unknown optimizer type {doc['type']!r}.")
