"""Persistence: pickle and joblib round-trips, and skrnn.persistence's code-free format."""

import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import warnings
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import skrnn
from skrnn import RNNClassifier, RNNRegressor, RNNSequenceRegressor, RNNSequenceTagger
from skrnn.persistence import load, save

SMALL = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)


def ragged(n=24, n_features=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(rng.integers(3, 8), n_features)) for _ in range(n)]


def quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def fitted_models():
    """One fitted model per estimator, covering string labels, several outputs, early stopping,
    SGD, float32, bidirectional layers and feature names."""
    X = ragged()
    labels = np.array(["up" if x[0, 0] > 0 else "down" for x in X], dtype=object)
    clf = quiet_fit(RNNClassifier(cell="lstm", bidirectional=True, **SMALL), X, labels)
    Y = np.column_stack([[x[-1, 0] for x in X], [x[:, 1].sum() for x in X]])
    reg = quiet_fit(RNNRegressor(early_stopping=True, validation_fraction=0.25, **SMALL), X, Y)
    X32 = [x.astype(np.float32) for x in X]
    steps = [(np.cumsum(x[:, 0]) > 0).astype(np.int64) for x in X]
    tagger = quiet_fit(RNNSequenceTagger(cell="rnn", solver="sgd", learning_rate="adaptive",
                                         learning_rate_init=0.1, **SMALL), X32, steps)
    per_step = [np.column_stack([np.cumsum(x[:, 0]), x[:, 1]]) for x in X]
    seqreg = quiet_fit(RNNSequenceRegressor(cell="gru", **SMALL), X, per_step)
    return {"classifier": (clf, X), "regressor": (reg, X), "tagger": (tagger, X32),
            "sequence regressor": (seqreg, X)}


def outputs(model, X):
    """Everything the model computes, as one list of arrays."""
    out = [np.asarray(model.transform(X))]
    for name in ("predict", "predict_proba", "predict_log_proba"):
        if hasattr(model, name):
            result = getattr(model, name)(X)
            out.extend(result if isinstance(result, list) else [result])
    out.extend(model.hidden_states(X))
    return out


def assert_identical(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        if x.dtype.kind == "f":  # bit for bit
            assert x.tobytes() == y.tobytes()
        else:
            np.testing.assert_array_equal(x, y)


MODELS = fitted_models()


def roundtrip(model, how, tmp_path):
    if how == "pickle":
        return pickle.loads(pickle.dumps(model))
    path = tmp_path / f"model.{how}"
    if how == "joblib":
        joblib.dump(model, path)
        return joblib.load(path)
    save(model, path)
    return load(path)


@pytest.mark.parametrize("how", ["pickle", "joblib", "skrnn"])
@pytest.mark.parametrize("name", list(MODELS))
def test_roundtrip_gives_bit_identical_outputs(name, how, tmp_path):
    model, X = MODELS[name]
    restored = roundtrip(model, how, tmp_path)
    assert type(restored) is type(model)
    assert_identical(outputs(restored, X), outputs(model, X))
    assert restored.get_params() == model.get_params()
    for attr in ("n_features_in_", "n_iter_", "t_", "loss_curve_", "grad_norm_curve_",
                 "best_loss_", "validation_scores_", "best_validation_score_",
                 "validation_loss_curve_", "best_validation_loss_", "n_outputs_"):
        assert getattr(restored, attr, None) == getattr(model, attr, None), attr
    if hasattr(model, "classes_"):
        assert restored.classes_.dtype == model.classes_.dtype
        np.testing.assert_array_equal(restored.classes_, model.classes_)
    assert restored.theta_.dtype == model.theta_.dtype


def test_roundtrips_in_a_fresh_process(tmp_path):
    expected = {}
    for name, (model, X) in MODELS.items():
        with open(tmp_path / f"{name}.pkl", "wb") as f:
            pickle.dump(model, f)
        joblib.dump(model, tmp_path / f"{name}.joblib")
        save(model, tmp_path / f"{name}.skrnn")
        with open(tmp_path / f"{name}.X.pkl", "wb") as f:
            pickle.dump(X, f)
        expected[name] = outputs(model, X)
    script = f"""
import pickle, sys, joblib, numpy as np
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_persistence import outputs
from skrnn.persistence import load
folder = {str(tmp_path)!r}
result = {{}}
for name in {list(MODELS)!r}:
    X = pickle.load(open(f"{{folder}}/{{name}}.X.pkl", "rb"))
    models = {{"pickle": pickle.load(open(f"{{folder}}/{{name}}.pkl", "rb")),
              "joblib": joblib.load(f"{{folder}}/{{name}}.joblib"),
              "skrnn": load(f"{{folder}}/{{name}}.skrnn")}}
    for how, model in models.items():
        for k, a in enumerate(outputs(model, X)):
            result[f"{{name}}|{{how}}|{{k}}"] = a
pickle.dump(result, open(f"{{folder}}/result.pkl", "wb"))
"""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    with open(tmp_path / "result.pkl", "rb") as f:
        result = pickle.load(f)
    for name, arrays in expected.items():
        for how in ("pickle", "joblib", "skrnn"):
            got = [result[f"{name}|{how}|{k}"] for k in range(len(arrays))]
            assert_identical(got, arrays)


@pytest.mark.parametrize("name", ["classifier", "tagger"])
def test_partial_fit_after_load_continues_exactly(name, tmp_path):
    model, X = MODELS[name]
    save(model, tmp_path / "m.skrnn")
    restored = load(tmp_path / "m.skrnn")
    original = pickle.loads(pickle.dumps(model))
    y = model.predict(X)  # any labels among classes_
    for est in (original, restored):
        est.partial_fit(X, y)
        est.partial_fit(X, y)
    assert restored.theta_.tobytes() == original.theta_.tobytes()
    assert restored.loss_curve_ == original.loss_curve_


def test_warm_start_after_load_continues_exactly(tmp_path):
    model, X = MODELS["regressor"]
    Y = model.predict(X) + 0.1
    save(model, tmp_path / "m.skrnn")
    restored = load(tmp_path / "m.skrnn")
    original = pickle.loads(pickle.dumps(model))
    for est in (original, restored):
        quiet_fit(est.set_params(warm_start=True), X, Y)
    assert restored.theta_.tobytes() == original.theta_.tobytes()


def test_the_file_is_data_only_and_deterministic(tmp_path):
    model, _ = MODELS["classifier"]
    save(model, tmp_path / "a.skrnn")
    save(model, tmp_path / "b.skrnn")
    assert (tmp_path / "a.skrnn").read_bytes() == (tmp_path / "b.skrnn").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.skrnn") as archive:
        document = json.loads(archive.read("skrnn.json"))
        assert set(archive.namelist()) == {"skrnn.json", *document["arrays"]}
        for entry in document["arrays"]:  # every array reads without unpickling
            np.lib.format.read_array(io.BytesIO(archive.read(entry)), allow_pickle=False)
    assert document["format"] == "skrnn-model" and document["format_version"] == 2
    assert document["skrnn_version"] == skrnn.__version__
    assert document["estimator"] == "RNNClassifier"
    assert document["params"]["hidden_layer_sizes"] == {"tuple": [4]}
    assert document["fitted"]["network_"]["cell"] == "lstm"
    assert set(document["fitted"]) == set(RNNClassifier._fitted_state) - {"feature_names_in_"}


def test_feature_names_survive(tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(30, 5)), columns=[f"t{i}" for i in range(5)])
    y = (frame["t0"] > 0).astype(int)
    model = quiet_fit(RNNClassifier(**SMALL), frame, y)
    save(model, tmp_path / "m.skrnn")
    restored = load(tmp_path / "m.skrnn")
    np.testing.assert_array_equal(restored.feature_names_in_, model.feature_names_in_)
    assert restored.feature_names_in_.dtype == object
    assert restored.predict_proba(frame).tobytes() == model.predict_proba(frame).tobytes()
    with pytest.raises(ValueError, match="feature names"):
        restored.predict(frame.rename(columns={"t0": "other"}))


# -- errors -----------------------------------------------------------------------------------
def rewrite(path, edit_document=None, edit_entries=None, recompute=True):
    """Rewrite a model file, editing its document and entries, with valid digests if
    ``recompute`` (a file crafted to pass the integrity checks)."""
    from skrnn.persistence import _digest

    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("skrnn.json"))
        entries = {n: archive.read(n) for n in archive.namelist() if n != "skrnn.json"}
    if edit_entries:
        edit_entries(entries)
    if edit_document:
        edit_document(document)
    if recompute:
        document["arrays"] = {n: hashlib.sha256(d).hexdigest() for n, d in entries.items()}
        document["digest"] = _digest(document)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("skrnn.json", json.dumps(document))
        for n, d in entries.items():
            archive.writestr(n, d)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "m.skrnn"
    save(MODELS["classifier"][0], path)
    return path


def test_another_skrnn_version_is_a_clear_error(saved, monkeypatch):
    import re
    saved_by = skrnn.__version__
    monkeypatch.setattr(skrnn, "__version__", "9.9.9")
    with pytest.raises(ValueError, match=rf"saved by skrnn {re.escape(saved_by)}, but this is "
                                         r"skrnn 9\.9\.9"):
        load(saved)


def test_another_format_version_is_a_clear_error(saved):
    rewrite(saved, lambda doc: doc.update(format_version=1))
    with pytest.raises(ValueError, match="format version 1.*reads format version 2 only: refit"):
        load(saved)


def test_tampered_array_is_detected(saved):
    def flip(entries):
        data = bytearray(entries["arrays/theta_.npy"])
        data[-1] ^= 1
        entries["arrays/theta_.npy"] = bytes(data)
    rewrite(saved, edit_entries=flip, recompute=False)
    with pytest.raises(ValueError, match="modified after it was saved.*theta"):
        load(saved)


def test_tampered_document_is_detected(saved):
    rewrite(saved, lambda doc: doc["params"].update(learning_rate_init=0.5), recompute=False)
    with pytest.raises(ValueError, match="modified after it was saved.*digest"):
        load(saved)


def test_added_entry_is_detected(saved):
    rewrite(saved, edit_entries=lambda e: e.update({"arrays/extra.npy": b"x"}),
            recompute=False)
    with pytest.raises(ValueError, match="modified after it was saved"):
        load(saved)


class _Marker:
    """Unpickling this would create a file: proof whether code from the file ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_crafted_pickle_inside_is_never_executed(saved, tmp_path):
    marker = tmp_path / "executed"

    def plant(entries):
        buffer = io.BytesIO()
        np.save(buffer, np.array([_Marker(str(marker))], dtype=object), allow_pickle=True)
        entries["arrays/theta_.npy"] = buffer.getvalue()
    rewrite(saved, edit_entries=plant)
    with pytest.raises(ValueError, match="without unpickling"):
        load(saved)
    assert not marker.exists()


def test_crafted_values_that_do_not_fit_are_rejected(saved):
    def shorter_theta(entries):
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(3))
        entries["arrays/theta_.npy"] = buffer.getvalue()
    rewrite(saved, edit_entries=shorter_theta)
    with pytest.raises(ValueError, match="theta"):
        load(saved)
    save(MODELS["classifier"][0], saved)
    rewrite(saved, lambda doc: doc.update(estimator="os.system"))
    with pytest.raises(ValueError, match="Unknown estimator 'os.system'"):
        load(saved)
    save(MODELS["classifier"][0], saved)
    rewrite(saved, lambda doc: doc["params"].update(cell="transformer"))
    with pytest.raises(ValueError, match="cell"):
        load(saved)


def test_not_a_model_file(tmp_path):
    (tmp_path / "junk").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a skrnn model file"):
        load(tmp_path / "junk")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ValueError, match="not a skrnn model file"):
        load(tmp_path / "other.zip")


def test_what_cannot_be_saved_is_a_clear_error_at_save_time(tmp_path):
    X = ragged()
    with pytest.raises(NotFittedError):
        save(RNNClassifier(), tmp_path / "m.skrnn")
    with pytest.raises(TypeError, match="RNNClassifier, RNNRegressor, RNNSequenceTagger"):
        save(object(), tmp_path / "m.skrnn")
    clf = pickle.loads(pickle.dumps(MODELS["classifier"][0]))
    clf.classes_ = np.array([0, 1], dtype=object)  # labels scikit-learn itself would refuse
    with pytest.raises(TypeError, match=r"classes_ holds objects of type \['int'\]"):
        save(clf, tmp_path / "m.skrnn")
    labels = np.array([int(x[0, 0] > 0) for x in X])
    clf = quiet_fit(RNNClassifier(**{**SMALL, "random_state": np.random.RandomState(0)}), X,
                    labels.astype(int))
    with pytest.raises(TypeError, match="random_state.*an int or None"):
        save(clf, tmp_path / "m.skrnn")
    assert not (tmp_path / "m.skrnn").exists()
