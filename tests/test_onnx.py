"""ONNX export (skrnn.onnx) against skrnn's own predictions, run by onnxruntime.

Every estimator x cell x one/two directions x one/two layers x float32/float64, on a ragged
batch that holds length-1 sequences: probabilities and predictions agree within 1e-5 (float32;
1e-12 for float64) and labels are identical. The regressors' first target is far from mean 0
and standard deviation 1 (their target scaling is folded into the graph's head), and their
predictions agree within that tolerance times the target's scale, plus the round-off of the
values themselves. Then the skl2onnx pipeline with SequenceScaler, class label types, and bad
input.
"""

import functools
import itertools
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from skrnn import (RNNClassifier, RNNRegressor, RNNSequenceRegressor,  # noqa: E402
                   RNNSequenceTagger, SequenceScaler)
from skrnn.onnx import IR_VERSION, TARGET_OPSET, register_skl2onnx, to_onnx  # noqa: E402
from skrnn.sequences import to_nan_padded  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = {"classifier": RNNClassifier, "regressor": RNNRegressor,
              "tagger": RNNSequenceTagger, "sequence regressor": RNNSequenceRegressor}
CONFIGS = list(itertools.product(ESTIMATORS, ["lstm", "gru", "rnn"], [False, True],
                                 [(4,), (4, 3)], ["float32", "float64"]))
ATOL = {"float32": 1e-5, "float64": 1e-12}
LENGTHS = [1, 6, 3, 1, 7, 2, 5, 7, 4, 1, 6, 3] * 2


def ragged(dtype, seed=0, lengths=LENGTHS):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(T, 3)).astype(dtype) for T in lengths]


def targets(kind, X):
    if kind == "classifier":
        return np.array([int(x[0, 0] > 0) + int(x[-1, 1] > 0.5) for x in X])  # 3 classes
    if kind == "regressor":  # 2 outputs, the first in the thousands
        return np.array([[1000 * x[:, 0].sum() + 5000, x[-1, 1]] for x in X])
    if kind == "sequence regressor":  # 2 per step
        return [np.column_stack([1000 * np.cumsum(x[:, 0]) + 5000, x[:, 1]]) for x in X]
    return [(np.cumsum(x[:, 0]) > 0).astype(int) for x in X]


@functools.lru_cache(maxsize=None)
def fitted(kind, cell, bidirectional, layers, dtype, activation="tanh"):
    """One small model per configuration, fitted once for the whole module."""
    X = ragged(dtype)
    est = ESTIMATORS[kind](cell, layers, bidirectional=bidirectional, activation=activation,
                           max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few epochs: ConvergenceWarning
        return est.fit(X, targets(kind, X))


def session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def check_values(variable, expected, target_scale, atol):
    """Predictions agree within ``atol`` in standardised units (times each output's scale),
    plus a few units of round-off of the values themselves (4 eps relative)."""
    assert variable.dtype == expected.dtype
    eps = np.finfo(expected.dtype).eps
    assert (np.abs(variable - expected) <= atol * target_scale + 4 * eps * np.abs(expected)).all()


def check_outputs(est, outputs, X, atol):
    """The ONNX outputs against the estimator's (or pipeline's) predictions on ragged X."""
    final = est[-1] if hasattr(est, "steps") else est
    if isinstance(final, RNNSequenceRegressor):
        (variable,) = outputs
        real = np.arange(variable.shape[1])[None, :] < np.array([len(x) for x in X])[:, None]
        assert np.isnan(variable[~real]).all()
        check_values(variable[real], np.concatenate(est.predict(X)), final.target_scale_, atol)
        return
    if isinstance(final, RNNRegressor):
        (variable,) = outputs
        check_values(variable, est.predict(X), final.target_scale_, atol)
        return
    label, proba = outputs
    if isinstance(final, RNNSequenceTagger):
        real = np.arange(proba.shape[1])[None, :] < np.array([len(x) for x in X])[:, None]
        assert np.isnan(proba[~real]).all()
        np.testing.assert_allclose(proba[real], np.concatenate(est.predict_proba(X)),
                                   rtol=0, atol=atol)
        np.testing.assert_array_equal(label[real], np.concatenate(est.predict(X)))
        return
    np.testing.assert_allclose(proba, est.predict_proba(X), rtol=0, atol=atol)
    np.testing.assert_array_equal(label, est.predict(X))


@pytest.mark.parametrize("kind, cell, bidirectional, layers, dtype", CONFIGS)
def test_onnxruntime_agrees_with_predict(kind, cell, bidirectional, layers, dtype):
    est = fitted(kind, cell, bidirectional, layers, dtype)
    model = to_onnx(est)
    assert model.graph.input[0].type.tensor_type.elem_type == \
        onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    X = ragged(dtype, seed=1)  # unseen sequences, lengths 1 to 7
    outputs = session(model).run(None, {"X": to_nan_padded(X).astype(dtype)})
    check_outputs(est, outputs, X, ATOL[dtype])


@pytest.mark.parametrize("kind, cell, bidirectional", [
    ("classifier", "lstm", True), ("regressor", "gru", False), ("tagger", "gru", True),
    ("sequence regressor", "lstm", False)])
def test_token_models_read_0_padded_ids(kind, cell, bidirectional):
    """An embedding model's graph takes int64 ids (n, T), 0-padded; a 0 inside a sequence
    is a real step that reads the padding row, as in predict."""
    rng = np.random.default_rng(1)
    X = [rng.integers(1, 9, size=T) for T in LENGTHS]
    X[4][2] = 0
    est = ESTIMATORS[kind](cell, (4, 3), bidirectional=bidirectional, embedding_dim=3,
                           max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, targets(kind, [np.column_stack([x - 4.5, x % 2 - 0.5]) for x in X]))
    ids = np.zeros((len(X), max(LENGTHS)), dtype=np.int64)
    for i, x in enumerate(X):
        ids[i, :len(x)] = x
    model = to_onnx(est)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    check_outputs(est, session(model).run(None, {"X": ids}), X, ATOL["float32"])


@pytest.mark.parametrize("kind", ESTIMATORS)
def test_relu_rnn(kind):
    est = fitted(kind, "rnn", True, (4, 3), "float32", activation="relu")
    X = ragged("float32", seed=2)
    check_outputs(est, session(to_onnx(est)).run(None, {"X": to_nan_padded(X)}), X, 1e-5)


def test_model_declares_ir_and_opset_and_output_names():
    model = to_onnx(fitted("classifier", "gru", False, (4,), "float32"))
    assert model.ir_version == IR_VERSION
    assert [(o.domain, o.version) for o in model.opset_import] == [("", TARGET_OPSET)]
    assert [o.name for o in model.graph.output] == ["label", "probabilities"]
    assert {n.op_type for n in model.graph.node} >= {"GRU", "IsNaN"}
    reg = to_onnx(fitted("regressor", "lstm", False, (4,), "float64"))
    assert [o.name for o in reg.graph.output] == ["variable"]
    assert "Scan" in {n.op_type for n in reg.graph.node}


def test_batch_of_equal_lengths_and_single_sequence():
    est = fitted("classifier", "lstm", True, (4, 3), "float32")
    run = session(to_onnx(est))
    for X in (ragged("float32", 3, [5] * 4), ragged("float32", 4, [1]), ragged("float32", 5, [6])):
        check_outputs(est, run.run(None, {"X": to_nan_padded(X)}), X, 1e-5)


def test_export_in_other_dtype():
    est = fitted("classifier", "gru", True, (4,), "float64")
    model = to_onnx(est, dtype=np.float32, input_name="sequences")
    X = ragged("float32", seed=6)
    outputs = session(model).run(None, {"sequences": to_nan_padded(X)})
    check_outputs(est, outputs, [x.astype(np.float64) for x in X], 1e-5)


@pytest.mark.parametrize("labels", [["down", "up", "flat"], [True, False, True], [-3, 7, 7]])
def test_class_label_types(labels):
    X = ragged("float32")
    y = np.array([labels[c] for c in targets("classifier", X)], dtype=object if
                 isinstance(labels[0], str) else None)
    if len(np.unique(y)) < 2:
        y[:2] = labels[:2]
    clf = RNNClassifier("gru", (4,), max_iter=3, random_state=0).fit(X, y)
    X_new = ragged("float32", seed=7)
    check_outputs(clf, session(to_onnx(clf)).run(None, {"X": to_nan_padded(X_new)}), X_new,
                  1e-5)


def test_bad_input():
    with pytest.raises(NotFittedError):
        to_onnx(RNNClassifier())
    with pytest.raises(TypeError, match="RNNClassifier, RNNRegressor, RNNSequenceTagger"):
        to_onnx(LogisticRegression().fit([[0], [1]], [0, 1]))
    est = fitted("regressor", "gru", False, (4,), "float32")
    with pytest.raises(ValueError, match="float32 or float64"):
        to_onnx(est, dtype=np.int64)
    X = ragged("float32")
    clf = RNNClassifier("gru", (4,), max_iter=2, random_state=0).fit(
        X, np.where(targets("classifier", X) > 0, 1.0, 2.0))
    with pytest.raises(TypeError, match="integer, boolean and string class labels"):
        to_onnx(clf)


# -- skl2onnx -----------------------------------------------------------------------------------
@pytest.fixture
def skl2onnx():
    """skl2onnx with skrnn's converters registered; skips when skl2onnx is missing."""
    module = pytest.importorskip("skl2onnx")
    register_skl2onnx()
    return module


@pytest.mark.parametrize("kind, dtype", itertools.product(ESTIMATORS, ["float32", "float64"]))
def test_skl2onnx_pipeline(skl2onnx, kind, dtype):
    rng = np.random.default_rng(8)
    X = [(5 + 3 * x).astype(dtype) for x in ragged(dtype)]  # far from standardized
    pipe = make_pipeline(SequenceScaler(),
                         ESTIMATORS[kind]("lstm", (4, 3), bidirectional=True, max_iter=3,
                                          random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X, targets(kind, [x - 5 for x in X]))
    X_new = [(5 + 3 * rng.normal(size=(T, 3))).astype(dtype) for T in LENGTHS]
    padded = to_nan_padded(X_new).astype(dtype)
    model = skl2onnx.to_onnx(pipe, padded[:1])
    outputs = session(model).run(None, {model.graph.input[0].name: padded})
    check_outputs(pipe, outputs, X_new, ATOL[dtype])


def test_skl2onnx_scaler_keeps_nan_padding(skl2onnx):
    X = to_nan_padded(ragged("float64"))
    scaler = SequenceScaler().fit(X)
    model = skl2onnx.to_onnx(scaler, X[:1])
    (Z,) = session(model).run(None, {model.graph.input[0].name: X})
    expected = scaler.transform(X)
    np.testing.assert_array_equal(np.isnan(Z), np.isnan(expected))
    np.testing.assert_allclose(Z, expected, rtol=1e-14, atol=0)
    without = SequenceScaler(with_mean=False, with_std=False).fit(X)
    (Z,) = session(skl2onnx.to_onnx(without, X[:1])).run(None, {"X": X})
    np.testing.assert_array_equal(Z, X)


def test_what_the_graph_does_not_reject():
    """NaN inside a sequence reads as 0; an all-NaN sequence as one step of zeros."""
    est = fitted("classifier", "gru", True, (4,), "float32")
    run = session(to_onnx(est))
    X = to_nan_padded(ragged("float32", 9, [4, 4, 2]))
    X[0, 1, 0] = np.nan
    X[2] = np.nan
    label, proba = run.run(None, {"X": X})
    expected = [np.nan_to_num(X[0]), X[1], np.zeros((1, 3), np.float32)]
    np.testing.assert_allclose(proba, est.predict_proba(expected), rtol=0, atol=1e-5)
