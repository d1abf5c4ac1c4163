"""Weights in and out: PyTorch modules and safetensors files.

skrnn's cells follow PyTorch's equations, gate order and weight names, so a fitted estimator's
weights load into PyTorch modules as they are, and weights trained in PyTorch make a fitted
skrnn estimator. Neither direction imports PyTorch: the state dicts here hold NumPy arrays
(and :func:`from_torch_state_dict` accepts PyTorch tensors as well).

.. rubric:: The PyTorch modules

The state dict of :func:`to_torch_state_dict` loads with ``strict=True`` into this module,
for an estimator whose ``hidden_layer_sizes`` are all equal (``cell`` "lstm", "gru" or "rnn";
``nonlinearity`` only for "rnn")::

    import torch

    class SkrnnModule(torch.nn.Module):
        def __init__(self, n_features, hidden_size, num_layers, bidirectional, n_outputs,
                     cell="lstm", nonlinearity="tanh"):
            super().__init__()
            rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
            extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
            self.rnn = rnn(n_features, hidden_size, num_layers, batch_first=True,
                           bidirectional=bidirectional, **extra)
            self.head = torch.nn.Linear((1 + bidirectional) * hidden_size, n_outputs)

with ``n_features`` the features per step, ``n_outputs`` the number of classes (classifier,
tagger) or of regression outputs. An estimator of token ids (``embedding_dim`` set) reads
them through ``self.embedding = torch.nn.Embedding(n_tokens, embedding_dim, padding_idx=0)``
first (``n_features`` = ``embedding_dim``), named ``embedding.weight``. The names are ``rnn.weight_ih_l0``, ``rnn.weight_hh_l0``,
``rnn.bias_ih_l0``, ``rnn.bias_hh_l0`` (``..._reverse`` for the backward direction, one set
per layer) and ``head.weight``, ``head.bias``. When the layers' sizes differ, which one
PyTorch module cannot hold, ``self.rnn`` is a ``torch.nn.ModuleList`` of one-layer modules,
layer k reading ``(1 + bidirectional) * hidden_layer_sizes[k - 1]`` features, and the names
are ``rnn.0.weight_ih_l0``, ``rnn.1.weight_ih_l0``, ...

The head reads what skrnn's head reads: for the classifier and the regressor, the top
layer's final states, ``h_n[-1]`` (``torch.cat([h_n[-2], h_n[-1]], dim=1)`` for a
bidirectional network: forward direction first), run on a packed sequence so that padding
does not enter them; with ``pooling="mean"`` or ``"max"``, the top layer's output ``Y`` of
``pad_packed_sequence`` averaged over each sequence's real steps (``Y.sum(dim=1) /
lengths[:, None]``) or maximised over them (``Y.masked_fill(padded, -inf).amax(dim=1)``);
for the tagger, the top layer's output at every step. The classifiers' probabilities are
the softmax of the head. The pooling is the estimator's parameter: the weights are the same
for every pooling. ``tests/reference/make_interchange_fixtures.py``
holds such a module with its ``forward``.

.. rubric:: safetensors

:func:`save_safetensors` writes the same state dict with ``safetensors.numpy``, and in the
file's metadata what rebuilding the estimator needs: the format name ``"skrnn-weights"`` and
version, the skrnn version, the estimator class, its ``get_params()``, ``n_features_in_``,
feature names, classes and outputs, and a regressor's target scaling. :func:`load_safetensors`
checks all of it against the tensors and returns a fitted estimator that predicts
bit-identically to the saved one. The same file loads into the PyTorch module above with
``safetensors.torch.load_file``.

.. rubric:: Regressors' target scaling

A regressor fitted with ``scale_target=True`` computes standardised targets and maps them to
predictions with ``target_scale_`` and ``target_mean_``. The PyTorch module has no such map:
:func:`to_torch_state_dict` (and so the safetensors file) folds it into the head, whose
outputs are then the predictions, and :func:`from_torch_state_dict` reads a head that
predicts in the targets' units (``target_mean_`` 0, ``target_scale_`` 1). The round trip
through a state dict thus predicts what the estimator predicts to round-off. A safetensors
file also keeps the target scaling and the unfolded head in its metadata, so that
:func:`load_safetensors` rebuilds the estimator exactly, scaling included (if the file's head
was changed since, its head is unfolded with the saved scaling instead). Files written before
target scaling existed load as regressors fitted with ``scale_target=False``. Unlike
:mod:`skrnn.persistence`, it holds no optimizer state and no training curves: an estimator
loaded from it predicts, and trains anew with ``fit``.

.. rubric:: Examples

>>> import numpy as np
>>> from skrnn import RNNClassifier
>>> from skrnn.interchange import from_torch_state_dict, to_torch_state_dict
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(30, 6, 2))
>>> y = (X[:, 0, 0] > 0).astype(int)
>>> clf = RNNClassifier("lstm", (4, 4), bidirectional=True, max_iter=5,
...                     random_state=0).fit(X, y)
>>> weights = to_torch_state_dict(clf)
>>> sorted(weights)[:3]
['head.bias', 'head.weight', 'rnn.bias_hh_l0']
>>> again = from_torch_state_dict(RNNClassifier("lstm", (4, 4), bidirectional=True),
...                               weights, classes=[0, 1])
>>> bool(np.array_equal(again.predict_proba(X), clf.predict_proba(X)))
True
"""

import json

import numpy as np

__all__ = ["to_torch_state_dict", "from_torch_state_dict", "save_safetensors",
           "load_safetensors", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "skrnn-weights"
FORMAT_VERSION = "1"

_HEAD = ("head.weight", "head.bias")


def _estimator_classes():
    from ._classifier import RNNClassifier
    from ._regressor import RNNRegressor
    from ._sequence_regressor import RNNSequenceRegressor
    from ._tagger import RNNSequenceTagger

    return {cls.__name__: cls for cls in (RNNClassifier, RNNRegressor, RNNSequenceTagger,
                                          RNNSequenceRegressor)}


def _check_estimator_type(estimator, what):
    classes = _estimator_classes()
    if classes.get(type(estimator).__name__) is not type(estimator):
        raise TypeError(f"{what} takes one of skrnn's estimators ({', '.join(classes)}), "
                        f"got {type(estimator).__name__}.")


def _torch_names(hidden_sizes, n_directions, tokens=False):
    """skrnn's parameter name -> the name in the documented PyTorch module."""
    stacked = len(set(hidden_sizes)) == 1
    names = {"embedding.weight": "embedding.weight"} if tokens else {}
    for k in range(len(hidden_sizes)):
        for suffix in ("", "_reverse")[:n_directions]:
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                ours = f"{kind}_l{k}{suffix}"
                names[ours] = f"rnn.{ours}" if stacked else f"rnn.{k}.{kind}_l0{suffix}"
    return {**names, **{name: name for name in _HEAD}}


def to_torch_state_dict(estimator):
    """A fitted estimator's weights under the names of the PyTorch module documented above.

    Parameters
    ----------
    estimator : RNNClassifier, RNNRegressor, RNNSequenceTagger or RNNSequenceRegressor
        The fitted estimator.

    Returns
    -------
    dict of str to ndarray
        PyTorch name -> a copy of the weight, in PyTorch's shape and gate order and the
        estimator's float type. ``{k: torch.from_numpy(v) for k, v in ...items()}`` loads
        into the module with ``strict=True``. A regressor's target scaling is folded into
        the head (``head.weight * target_scale_[:, None]``, ``head.bias * target_scale_ +
        target_mean_``), so that the module predicts in the targets' units, as ``predict``
        does.

    Raises
    ------
    TypeError
        If ``estimator`` is not one of the three estimators.
    sklearn.exceptions.NotFittedError
        If it is not fitted.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn import RNNRegressor
    >>> from skrnn.interchange import to_torch_state_dict
    >>> X = np.random.default_rng(0).normal(size=(20, 5))
    >>> reg = RNNRegressor("gru", (3, 2), max_iter=2, random_state=0).fit(X, X[:, -1])
    >>> {name: w.shape for name, w in to_torch_state_dict(reg).items()
    ...  if name.startswith("rnn.1") or name.startswith("head")}  # doctest: +NORMALIZE_WHITESPACE
    {'rnn.1.weight_ih_l0': (6, 3), 'rnn.1.weight_hh_l0': (6, 2), 'rnn.1.bias_ih_l0': (6,),
     'rnn.1.bias_hh_l0': (6,), 'head.weight': (1, 2), 'head.bias': (1,)}
    """
    from sklearn.utils.validation import check_is_fitted

    _check_estimator_type(estimator, "to_torch_state_dict")
    check_is_fitted(estimator, "theta_")
    net = estimator.network_
    names = _torch_names(net.hidden_sizes, net.n_directions, net.n_tokens is not None)
    return {names[name]: value for name, value in estimator._exported_state_dict().items()}


def _as_array(value, name):
    """A NumPy copy of an array or of a PyTorch tensor (read without importing torch)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    value = np.array(value)
    if value.dtype.kind not in "f" or value.dtype.itemsize not in (4, 8):
        raise ValueError(f"{name} has dtype {value.dtype}; expected float32 or float64.")
    return value


def from_torch_state_dict(estimator, state_dict, *, classes=None):
    """A fitted estimator from a state dict of the PyTorch module documented above.

    Parameters
    ----------
    estimator : RNNClassifier, RNNRegressor, RNNSequenceTagger or RNNSequenceRegressor
        The architecture: its ``cell``, ``hidden_layer_sizes``, ``bidirectional`` and
        ``activation`` must be those of the PyTorch module; its other parameters are kept for
        later fits. It is not modified: a new estimator is returned.
    state_dict : dict of str to array-like or torch.Tensor
        Every weight of the module by name (``rnn.weight_ih_l0``, ..., ``head.weight``,
        ``head.bias``), float32 or float64. The features per step are read from
        ``rnn.weight_ih_l0`` (``rnn.0.weight_ih_l0``), the outputs from ``head.weight``.
    classes : array-like of shape (n_classes,), default=None
        The class labels of a classifier or tagger, one per head output, in the order of
        the outputs; required for them and not accepted for a regressor. ``classes_`` holds
        them sorted, as ``fit`` does, with the head's rows reordered to match.

    Returns
    -------
    RNNClassifier, RNNRegressor, RNNSequenceTagger or RNNSequenceRegressor
        A new fitted estimator (``n_iter_`` 0, no training curves) whose weights are the
        given ones, in float32 if they all are, else float64. A regressor with one output
        predicts a 1-D array. A regressor's head is read as predicting in the targets'
        units: ``target_mean_`` is 0 and ``target_scale_`` 1, and a fit with
        ``warm_start=True`` keeps them.

    Raises
    ------
    ValueError
        If a name is missing or unexpected, a shape does not fit the architecture, a value
        is not finite, or ``classes`` does not fit the head. The message names the weight.
    TypeError
        If ``estimator`` is not one of the three estimators, or ``classes`` is given for a
        regressor or missing for a classifier.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn import RNNRegressor
    >>> from skrnn.interchange import from_torch_state_dict
    >>> rng = np.random.default_rng(0)
    >>> weights = {"rnn.weight_ih_l0": rng.normal(size=(3, 2)),
    ...            "rnn.weight_hh_l0": rng.normal(size=(3, 3)),
    ...            "rnn.bias_ih_l0": np.zeros(3), "rnn.bias_hh_l0": np.zeros(3),
    ...            "head.weight": rng.normal(size=(1, 3)), "head.bias": np.zeros(1)}
    >>> reg = from_torch_state_dict(RNNRegressor("rnn", (3,)), weights)
    >>> reg.predict(rng.normal(size=(4, 7, 2))).shape
    (4,)
    """
    from sklearn.base import clone, is_classifier

    _check_estimator_type(estimator, "from_torch_state_dict")
    if not isinstance(state_dict, dict):
        raise TypeError(f"state_dict must be a dict of name -> array, got "
                        f"{type(state_dict).__name__}.")
    est = clone(estimator)
    est._validate_params()
    classifier = is_classifier(est)
    if classifier and classes is None:
        raise TypeError(f"{type(est).__name__} needs classes: the labels of the head's "
                        "outputs, in order.")
    if not classifier and classes is not None:
        raise TypeError("classes is for classifiers and taggers; a regressor's outputs "
                        "are read from head.weight.")
    hidden = tuple(int(h) for h in np.atleast_1d(est.hidden_layer_sizes))
    tokens = est.embedding_dim is not None
    names = _torch_names(hidden, 2 if est.bidirectional else 1, tokens)
    expected = set(names.values())
    given = set(state_dict)
    if given != expected:
        raise ValueError(f"The state dict does not fit {type(est).__name__}(cell="
                         f"{est.cell!r}, hidden_layer_sizes={hidden}, bidirectional="
                         f"{est.bidirectional}): missing {sorted(expected - given)}, "
                         f"unexpected {sorted(given - expected)}.")
    values = {name: _as_array(value, name) for name, value in state_dict.items()}
    first, head = values[names["weight_ih_l0"]], values["head.weight"]
    if first.ndim != 2 or head.ndim != 2:
        raise ValueError(f"{names['weight_ih_l0']} and head.weight must be 2-D, got shapes "
                         f"{first.shape} and {head.shape}.")
    n_features, n_outputs = first.shape[1], head.shape[0]
    if classifier:
        classes = np.asarray(classes)
        if classes.ndim != 1 or len(classes) != n_outputs or \
                len(np.unique(classes)) != len(classes):
            raise ValueError(f"classes must be {n_outputs} distinct labels, one per output of "
                             f"head.weight {head.shape}; got {classes!r}.")
        order = np.argsort(classes, kind="stable")  # classes_ is sorted, as fit makes it
        classes = classes[order]
        values["head.weight"], values["head.bias"] = \
            values["head.weight"][order], values["head.bias"][order]
    dtype = np.float32 if all(v.dtype == np.float32 for v in values.values()) else np.float64
    n_tokens = len(values["embedding.weight"]) if tokens else None
    if tokens and n_features != est.embedding_dim:
        raise ValueError(f"{names['weight_ih_l0']} reads {n_features} features per step, but "
                         f"embedding_dim={est.embedding_dim}.")
    est._initialize(n_features, n_outputs, dtype, np.random.default_rng(0), n_tokens)
    layout = dict(est.network_.layout)
    for ours, theirs in names.items():
        if values[theirs].shape != layout[ours]:
            raise ValueError(f"{theirs} has shape {values[theirs].shape}; {type(est).__name__}"
                             f"(cell={est.cell!r}, hidden_layer_sizes={hidden}, bidirectional="
                             f"{est.bidirectional}) with {n_features} features and "
                             f"{n_outputs} outputs expects {layout[ours]}.")
    est.theta_ = est.network_.params_from_state_dict(
        {ours: values[theirs] for ours, theirs in names.items()}, dtype)
    est.n_features_in_ = 1 if tokens else n_features  # one token id per step
    est._fitted_on_table = False
    if classifier:
        est.classes_ = classes
    else:
        est.n_outputs_, est._y_1d = n_outputs, n_outputs == 1
        est.target_mean_, est.target_scale_ = np.zeros(n_outputs), np.ones(n_outputs)
    _check_complete(est)
    return est


def _check_complete(est):
    """Every declared fitted attribute is set and they fit together."""
    missing = [attr for attr, kind in type(est)._fitted_state.items()
               if not kind.endswith(", optional") and not hasattr(est, attr)]
    if missing:  # pragma: no cover - guards a change of the declared fitted state
        raise RuntimeError(f"skrnn.interchange does not set the fitted attributes {missing} "
                           f"of {type(est).__name__}.")
    est._check_fitted_state()


# ------------------------------------------------------------------------------------------
# safetensors
# ------------------------------------------------------------------------------------------


def _safetensors():
    try:
        import safetensors.numpy
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("safetensors files need the package safetensors: pip install "
                          "skrnn[safetensors].") from exc
    return safetensors


def _labels_metadata(values, what):
    values = np.asarray(values)
    if values.dtype == object and all(isinstance(v, str) for v in values):
        return {"values": values.tolist(), "dtype": "object"}
    if values.dtype.kind not in "biufU":
        raise TypeError(f"{what} has dtype {values.dtype}; safetensors metadata holds bool, "
                        "integer, float and str labels.")
    return {"values": values.tolist(), "dtype": values.dtype.str}


def _labels_from_metadata(doc, what):
    if not isinstance(doc, dict) or set(doc) != {"values", "dtype"} or \
            not isinstance(doc["values"], list):
        raise ValueError(f"The metadata's {what} is not a list of labels with their dtype.")
    if doc["dtype"] == "object":
        if not all(isinstance(v, str) for v in doc["values"]):
            raise ValueError(f"The metadata's {what} must be strings.")
        return np.array(doc["values"], dtype=object)
    dtype = np.dtype(doc["dtype"])
    if dtype.kind not in "biufU":
        raise ValueError(f"The metadata's {what} has dtype {dtype}.")
    return np.array(doc["values"], dtype=dtype)


def save_safetensors(estimator, path):
    """Write a fitted estimator's weights and what rebuilding it needs to a safetensors file.

    Parameters
    ----------
    estimator : RNNClassifier, RNNRegressor, RNNSequenceTagger or RNNSequenceRegressor
        The fitted estimator. Its parameters must be data (for ``random_state``: an int or
        None), as for :func:`skrnn.persistence.save`.
    path : str or os.PathLike
        The file to write (replaced if it exists); ``.safetensors`` is the usual extension.

    Raises
    ------
    TypeError
        If ``estimator`` is not one of the three estimators, a parameter cannot be stored as
        data, or the class labels are not bool, integer, float or str.
    sklearn.exceptions.NotFittedError
        If it is not fitted.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skrnn import RNNClassifier
    >>> from skrnn.interchange import load_safetensors, save_safetensors
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 5, 2))
    >>> y = np.where(X[:, 0, 0] > 0, "up", "down")
    >>> clf = RNNClassifier("gru", (4,), max_iter=3, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:  # doctest: +SKIP
    ...     save_safetensors(clf, os.path.join(folder, "model.safetensors"))
    ...     again = load_safetensors(os.path.join(folder, "model.safetensors"))
    >>> bool(np.array_equal(again.predict_proba(X), clf.predict_proba(X)))  # doctest: +SKIP
    True
    """
    from . import __version__
    from .persistence import _encode

    tensors = to_torch_state_dict(estimator)  # checks the type and that it is fitted
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "skrnn_version": __version__,
        "estimator": type(estimator).__name__,
        "params": {key: _encode(value, f"parameter {key}")
                   for key, value in estimator.get_params(deep=False).items()},
        "n_features_in": int(estimator.n_features_in_),
        "fitted_on_table": bool(estimator._fitted_on_table),
    }
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        metadata["feature_names_in"] = _labels_metadata(names, "feature_names_in_")
    if hasattr(estimator, "classes_"):
        metadata["classes"] = _labels_metadata(estimator.classes_, "classes_")
    else:
        metadata["y_1d"] = bool(estimator._y_1d)
        metadata["target_scaling"] = _target_scaling_metadata(estimator)
    text = {key: json.dumps(value, allow_nan=False) for key, value in metadata.items()}
    _safetensors().numpy.save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()},
                                   path, metadata=text)


def load_safetensors(path):
    """Rebuild a fitted estimator from a file written by :func:`save_safetensors`.

    Parameters
    ----------
    path : str or os.PathLike
        The safetensors file.

    Returns
    -------
    RNNClassifier, RNNRegressor, RNNSequenceTagger or RNNSequenceRegressor
        The fitted estimator, with the saved parameters, predicting bit-identically to the
        one that was saved (``n_iter_`` 0, no optimizer state or training curves).

    Raises
    ------
    ValueError
        If the file is not a safetensors file, has no skrnn metadata, was written in another
        format version, or its metadata and tensors do not fit together (architecture,
        features, classes, outputs); the message names what does not fit.
    OSError
        If the file cannot be read, for example :class:`FileNotFoundError`.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skrnn import RNNRegressor
    >>> from skrnn.interchange import load_safetensors, save_safetensors
    >>> X = np.random.default_rng(0).normal(size=(20, 5, 2))
    >>> reg = RNNRegressor("lstm", (4,), max_iter=3, random_state=0).fit(X, X[:, -1, 0])
    >>> with tempfile.TemporaryDirectory() as folder:  # doctest: +SKIP
    ...     save_safetensors(reg, os.path.join(folder, "model.safetensors"))
    ...     again = load_safetensors(os.path.join(folder, "model.safetensors"))
    >>> bool(np.array_equal(again.predict(X), reg.predict(X)))  # doctest: +SKIP
    True
    """
    import os

    safetensors = _safetensors()
    where = repr(os.fspath(path))
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {where}")
    try:
        with safetensors.safe_open(path, framework="numpy") as f:
            metadata = f.metadata()
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (safetensors.SafetensorError, ValueError, OSError) as exc:
        raise ValueError(f"{where} is not a safetensors file: {exc}") from exc
    if not metadata or metadata.get("format") != json.dumps(FORMAT_NAME):
        raise ValueError(f"{where} is a safetensors file without skrnn's metadata (format "
                         f"{FORMAT_NAME!r}); it holds tensors {sorted(tensors)[:6]}. Build an "
                         "estimator from such weights with from_torch_state_dict.")
    try:
        doc = {key: json.loads(value) for key, value in metadata.items()}
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: the skrnn metadata cannot be read ({exc}).") from exc
    if doc.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{where} has skrnn-weights format version "
                         f"{doc.get('format_version')!r}, this skrnn reads version "
                         f"{FORMAT_VERSION!r}.")
    try:
        return _rebuild(doc, tensors)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{where} holds skrnn metadata that does not fit: "
                         f"{type(exc).__name__}: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{where} does not fit its metadata: {exc}") from exc


def _rebuild(doc, tensors):
    from .persistence import _decode, _params_of_older_files

    classes = _estimator_classes()
    name = doc["estimator"]
    if name not in classes:
        raise ValueError(f"unknown estimator {name!r}; expected one of {sorted(classes)}.")
    cls = classes[name]
    params = {key: _decode(value) for key, value in doc["params"].items()}
    params = {**_params_of_older_files(cls, params), **params}
    known = cls().get_params(deep=False)
    if set(params) != set(known):
        raise ValueError(f"the parameters of {name} do not match this skrnn: "
                         f"{sorted(set(params) ^ set(known))}.")
    labels = _labels_from_metadata(doc["classes"], "classes") if "classes" in doc else None
    est = from_torch_state_dict(cls(**params), tensors, classes=labels)
    n_features, on_table = doc["n_features_in"], doc["fitted_on_table"]
    if not isinstance(on_table, bool) or isinstance(n_features, bool) or \
            not isinstance(n_features, int) or n_features < 1:
        raise ValueError(f"n_features_in ({n_features!r}) and fitted_on_table ({on_table!r}) "
                         "must be a positive integer and a boolean.")
    est.n_features_in_, est._fitted_on_table = n_features, on_table
    if "feature_names_in" in doc:
        est.feature_names_in_ = _labels_from_metadata(doc["feature_names_in"],
                                                      "feature_names_in")
    if "y_1d" in doc:
        if not isinstance(doc["y_1d"], bool):
            raise ValueError(f"y_1d must be a boolean, got {doc['y_1d']!r}.")
        est._y_1d = doc["y_1d"]
    if "target_scaling" in doc:  # files written before target scaling have none: unscaled
        _restore_target_scaling(est, doc["target_scaling"])
    est._check_fitted_state()
    return est


def _target_scaling_metadata(estimator):
    """A regressor's target scaling, and its head as it computes (before the scaling is
    folded into the file's head), exactly: JSON writes floats to round-trip."""
    state = estimator.state_dict()
    return {"mean": estimator.target_mean_.tolist(), "scale": estimator.target_scale_.tolist(),
            "head.weight": state["head.weight"].tolist(), "head.bias": state["head.bias"].tolist()}


def _restore_target_scaling(est, doc):
    """Set the target scaling of the metadata on ``est``, loaded with the file's head (in the
    targets' units). Its head becomes the metadata's, if folding the scaling into that gives
    the file's head; otherwise (the tensors were changed since) the file's head unfolded."""
    from ._regressor import fold_target_scaling

    if not isinstance(doc, dict) or set(doc) != {"mean", "scale", "head.weight", "head.bias"}:
        raise ValueError("target_scaling must hold mean, scale, head.weight and head.bias.")
    mean, scale = (np.array(doc[key], dtype=np.float64) for key in ("mean", "scale"))
    if mean.shape != (est.n_outputs_,) or scale.shape != (est.n_outputs_,) or \
            not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
        raise ValueError(f"the target scaling must be {est.n_outputs_} finite means and "
                         f"positive scales.")
    state = est.state_dict()
    W_file, b_file = state["head.weight"], state["head.bias"]
    W = np.array(doc["head.weight"], dtype=W_file.dtype)
    b = np.array(doc["head.bias"], dtype=b_file.dtype)
    folded = fold_target_scaling(W, b, mean, scale) if W.shape == W_file.shape and \
        b.shape == b_file.shape else None
    if folded is None or not (np.array_equal(folded[0], W_file)
                              and np.array_equal(folded[1], b_file)):
        W = (W_file / scale[:, None]).astype(W_file.dtype)
        b = ((b_file - mean) / scale).astype(b_file.dtype)
    state["head.weight"], state["head.bias"] = W, b
    est.load_state_dict(state)
    est.target_mean_, est.target_scale_ = mean, scale
