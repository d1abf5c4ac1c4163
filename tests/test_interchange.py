"""PyTorch state dicts and safetensors files in and out (skrnn.interchange).

- skrnn -> state dict -> skrnn is bit-identical, for every estimator, cell, direction, depth
  (equal and different layer sizes) and float type; for a regressor whose targets are
  scaled, the exported head has the scaling folded in, and the round trip predicts the same
  to round-off;
- the state dict loads into the documented PyTorch module with ``strict=True`` and gives
  skrnn's outputs (live, with torch), and saved PyTorch modules and outputs
  (``reference/interchange_fixtures.npz``, made by ``reference/make_interchange_fixtures.py``)
  give the same outputs in skrnn without torch;
- safetensors round trips are bit-identical and their metadata is checked;
- bad state dicts and files raise clear errors and change nothing.
"""

import importlib.util
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression

from skrnn import RNNClassifier, RNNRegressor, RNNSequenceRegressor, RNNSequenceTagger
from skrnn.interchange import (from_torch_state_dict, load_safetensors, save_safetensors,
                               to_torch_state_dict)
from skrnn.sequences import to_nan_padded, to_ragged

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

REFERENCE = Path(__file__).with_name("reference")
FIXTURES = REFERENCE / "interchange_fixtures.npz"
ESTIMATORS = {"classifier": RNNClassifier, "regressor": RNNRegressor,
              "tagger": RNNSequenceTagger}
LENGTHS = [1, 5, 3, 1, 6, 2, 4, 6] * 2


def ragged(dtype="float64", seed=0, lengths=LENGTHS):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(T, 3)).astype(dtype) for T in lengths]


def targets(kind, X):
    if kind == "classifier":
        return np.array(["low", "mid", "high"])[[int(x[0, 0] > 0) + int(x[-1, 1] > 0.5)
                                                  for x in X]]
    if kind == "regressor":
        return np.array([x[:, 0].sum() for x in X])
    return [(np.cumsum(x[:, 0]) > 0).astype(int) for x in X]


def fit(kind, cell="gru", layers=(4,), bidirectional=False, dtype="float64", activation="tanh",
        **params):
    X = ragged(dtype)
    return ESTIMATORS[kind](cell, layers, bidirectional=bidirectional, activation=activation,
                            max_iter=3, random_state=0, **params).fit(X, targets(kind, X))


def outputs(est, X):
    """Every prediction method, as a list of arrays."""
    if isinstance(est, RNNSequenceRegressor):
        return [np.concatenate(est.predict(X))]
    if isinstance(est, RNNRegressor):
        return [est.predict(X)]
    if isinstance(est, RNNSequenceTagger):
        return [np.concatenate(est.predict_proba(X)), np.concatenate(est.predict(X))]
    return [est.predict_proba(X), est.predict(X)]


def assert_same_predictions(a, b, X, rtol=0):
    """Equal predictions; with ``rtol``, equal to that relative tolerance (a regressor's
    head with its target scaling folded in computes the same to round-off)."""
    for u, v in zip(outputs(a, X), outputs(b, X)):
        assert u.dtype == v.dtype
        if rtol:
            np.testing.assert_allclose(u, v, rtol=rtol, atol=0)
        else:
            np.testing.assert_array_equal(u, v)


ROUND_OFF = {np.float32: 1e-5, np.float64: 1e-12}


def folding_round_off(est):
    """The relative tolerance of predictions through a head with the target scaling folded
    in: 0 (exact) when there is none to fold."""
    if not hasattr(est, "target_mean_") or (not est.target_mean_.any()
                                            and (est.target_scale_ == 1).all()):
        return 0
    return ROUND_OFF[est.theta_.dtype.type]


def template(est):
    """An unfitted estimator with the parameters of ``est``."""
    return type(est)(**est.get_params())


# -- skrnn -> state dict -> skrnn --------------------------------------------------------------
@pytest.mark.parametrize("kind, cell, bidirectional, layers, dtype", itertools.product(
    ESTIMATORS, ["lstm", "gru", "rnn"], [False, True], [(4,), (4, 3)], ["float32", "float64"]))
def test_state_dict_round_trip_is_bit_identical(kind, cell, bidirectional, layers, dtype):
    # the regressor without target scaling, whose head is exported as it is (the folded
    # head: test_regressor_head_has_the_target_scaling_folded_in)
    params = {"scale_target": False} if kind == "regressor" else {}
    est = fit(kind, cell, layers, bidirectional, dtype, **params)
    weights = to_torch_state_dict(est)
    assert all(w.dtype == np.dtype(dtype) for w in weights.values())
    again = from_torch_state_dict(template(est), weights,
                                  classes=getattr(est, "classes_", None))
    assert again.theta_.dtype == est.theta_.dtype
    np.testing.assert_array_equal(again.theta_, est.theta_)
    assert_same_predictions(again, est, ragged(dtype, seed=1))


@pytest.mark.parametrize("cell, bidirectional", itertools.product(["lstm", "gru", "rnn"],
                                                                   [False, True]))
def test_sequence_regressor_round_trips(tmp_path, cell, bidirectional):
    """State dict and, when safetensors is there, file: bit-identical weights and outputs."""
    X = ragged()
    y = [np.column_stack([np.cumsum(x[:, 0]), x[:, 1]]) for x in X]
    est = RNNSequenceRegressor(cell, (4, 3), bidirectional=bidirectional, max_iter=2,
                               random_state=0).fit(X, y)
    again = from_torch_state_dict(template(est), to_torch_state_dict(est))
    n_head = est.network_.n_outputs * (est.network_.n_directions * 3 + 1)
    np.testing.assert_array_equal(again.theta_[:-n_head], est.theta_[:-n_head])
    assert_same_predictions(again, est, ragged(seed=1), ROUND_OFF[np.float64])
    if importlib.util.find_spec("safetensors") is not None:
        save_safetensors(est, tmp_path / "m.safetensors")
        loaded = load_safetensors(tmp_path / "m.safetensors")
        assert type(loaded) is RNNSequenceRegressor
        assert_same_predictions(loaded, est, ragged(seed=1))


def test_torch_names():
    est = fit("classifier", "lstm", (4, 4), True)
    names = list(to_torch_state_dict(est))
    assert names[:4] == ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                         "rnn.bias_hh_l0"]
    assert "rnn.weight_hh_l1_reverse" in names and names[-2:] == ["head.weight", "head.bias"]
    assert "rnn.1.weight_ih_l0_reverse" in to_torch_state_dict(fit("regressor", "gru", (4, 3),
                                                                   True))


def test_classes_in_head_order_are_sorted():
    est = fit("classifier")
    weights = to_torch_state_dict(est)
    order = [2, 0, 1]  # the head's rows in another order, with their labels
    shuffled = {**weights, "head.weight": weights["head.weight"][order],
                "head.bias": weights["head.bias"][order]}
    again = from_torch_state_dict(template(est), shuffled, classes=est.classes_[order])
    np.testing.assert_array_equal(again.classes_, est.classes_)
    assert_same_predictions(again, est, ragged(seed=2))


def test_regressor_outputs_and_warm_start():
    est = RNNRegressor("gru", (4,), max_iter=3, random_state=0)
    X = ragged()
    Y = np.column_stack([targets("regressor", X), [x[-1, 0] for x in X]])
    est.fit(X, Y)
    again = from_torch_state_dict(RNNRegressor("gru", (4,)), to_torch_state_dict(est))
    assert again.predict(X).shape == (len(X), 2)
    assert again.n_iter_ == 0 and again.n_features_in_ == 3
    again.set_params(warm_start=True, max_iter=2).fit(X, Y)  # trains on from the weights
    assert again.n_iter_ == 2


@pytest.mark.parametrize("kind, dtype", itertools.product(["regressor", "sequence regressor"],
                                                          ["float32", "float64"]))
def test_regressor_head_has_the_target_scaling_folded_in(kind, dtype):
    """The exported head predicts in the targets' units: W * scale, b * scale + mean; read
    back, it is a regressor with mean 0 and scale 1 that predicts the same to round-off."""
    X = ragged(dtype)
    if kind == "regressor":
        est = RNNRegressor("lstm", (4,), max_iter=3, random_state=0)
        est.fit(X, np.column_stack([1000 * targets("regressor", X) + 5000,
                                    [0.01 * x[-1, 0] - 3 for x in X]]))
    else:
        est = RNNSequenceRegressor("gru", (4,), max_iter=3, random_state=0)
        est.fit(X, [300 * np.cumsum(x[:, 0]) - 40 for x in X])
    weights, raw = to_torch_state_dict(est), est.state_dict()
    scale, mean = est.target_scale_, est.target_mean_
    assert not np.allclose(scale, 1) and not np.allclose(mean, 0)
    np.testing.assert_allclose(weights["head.weight"], raw["head.weight"] * scale[:, None],
                               rtol=ROUND_OFF[np.dtype(dtype).type])
    np.testing.assert_allclose(weights["head.bias"], raw["head.bias"] * scale + mean,
                               rtol=ROUND_OFF[np.dtype(dtype).type])
    for name in raw:
        ours = name if name.startswith("head.") else f"rnn.{name}"
        assert weights[ours].dtype == np.dtype(dtype)
        if ours.startswith("rnn."):
            np.testing.assert_array_equal(weights[ours], raw[name])
    again = from_torch_state_dict(template(est), weights)
    np.testing.assert_array_equal(again.target_mean_, np.zeros(est.n_outputs_))
    np.testing.assert_array_equal(again.target_scale_, np.ones(est.n_outputs_))
    assert again.scale_target  # the parameter stays; the head needs no scaling
    assert_same_predictions(again, est, ragged(dtype, seed=1), ROUND_OFF[np.dtype(dtype).type])


# -- PyTorch --------------------------------------------------------------------------------------
def fixture_cases():
    cases = {}
    with np.load(FIXTURES) as data:
        for key in data.files:
            case, name = key.split("/", 1)
            cases.setdefault(case, {})[name] = data[key]
    return cases


FIXTURE_CASES = fixture_cases()


def skrnn_from_case(name, case):
    """The skrnn estimator the saved PyTorch module's state dict makes."""
    cls = ESTIMATORS[name.split("_")[0]]
    weights = {k[len("param/"):]: v for k, v in case.items() if k.startswith("param/")}
    est = cls(str(case["cell"]), tuple(int(h) for h in case["hidden_sizes"]),
              bidirectional=bool(case["bidirectional"]), activation=str(case["activation"]))
    classes = None if cls is RNNRegressor else np.arange(weights["head.bias"].shape[0])
    return from_torch_state_dict(est, weights, classes=classes)


def head_outputs(est, X):
    """The head outputs skrnn computes: logits, or regression values in the targets' units
    (those of the PyTorch module, whose head has the target scaling folded in)."""
    seqs = est._validate_sequences(X, reset=False)
    Z = est.network_.forward(est.theta_, seqs.X3, seqs.lengths)
    return Z * est.target_scale_ + est.target_mean_ if hasattr(est, "target_mean_") else Z


@pytest.mark.parametrize("name", sorted(FIXTURE_CASES))
def test_saved_torch_modules_give_skrnn_outputs(name):
    case = FIXTURE_CASES[name]
    est = skrnn_from_case(name, case)
    np.testing.assert_allclose(head_outputs(est, case["X"]), case["output"], rtol=0,
                               atol=1e-12)


@pytest.fixture(scope="module")
def reference():
    """The fixture script as a module (it imports torch); skips when torch is missing."""
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("make_interchange_fixtures",
                                                  REFERENCE / "make_interchange_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind, cell, layers, bidirectional, dtype, activation", [
    ("classifier", "lstm", (4, 4), True, "float32", "tanh"),
    ("classifier", "gru", (4,), False, "float64", "tanh"),
    ("regressor", "gru", (5, 3), True, "float64", "tanh"),
    ("regressor", "rnn", (4, 4), False, "float32", "relu"),
    ("tagger", "lstm", (3, 4), True, "float64", "tanh"),
    ("tagger", "rnn", (4,), True, "float32", "tanh"),
])
def test_live_torch_module_gives_skrnn_outputs(reference, kind, cell, layers, bidirectional,
                                               dtype, activation):
    torch = reference.torch
    est = fit(kind, cell, layers, bidirectional, dtype, activation)
    module = reference.SkrnnModule(3, layers, bidirectional, est.network_.n_outputs, cell,
                                   activation, est.network_.output,
                                   dtype=getattr(torch, dtype)).eval()
    weights = to_torch_state_dict(est)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    X = ragged(dtype, seed=3)
    padded = to_nan_padded(X).astype(dtype)
    with torch.no_grad():
        Z = module(torch.from_numpy(padded), torch.tensor([len(x) for x in X])).numpy()
    tol = 1e-5 if dtype == "float32" else 1e-12
    scale = est.target_scale_.max() if hasattr(est, "target_scale_") else 1
    np.testing.assert_allclose(Z, head_outputs(est, X), rtol=0, atol=tol * scale)
    # ... and back: the module's own state dict makes the same estimator
    again = from_torch_state_dict(template(est), module.state_dict(),
                                  classes=getattr(est, "classes_", None))
    assert_same_predictions(again, est, X, folding_round_off(est))


# -- safetensors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, cell, layers, bidirectional, dtype", [
    ("classifier", "lstm", (4, 3), True, "float32"),
    ("regressor", "gru", (4,), False, "float64"),
    ("tagger", "rnn", (4, 4), True, "float64"),
])
def test_safetensors_round_trip(tmp_path, kind, cell, layers, bidirectional, dtype):
    pytest.importorskip("safetensors")
    est = fit(kind, cell, layers, bidirectional, dtype)
    path = tmp_path / "model.safetensors"
    save_safetensors(est, path)
    again = load_safetensors(path)
    assert type(again) is type(est) and again.get_params() == est.get_params()
    np.testing.assert_array_equal(again.theta_, est.theta_)
    assert again.theta_.dtype == est.theta_.dtype
    assert again.n_features_in_ == est.n_features_in_
    if hasattr(est, "classes_"):
        np.testing.assert_array_equal(again.classes_, est.classes_)
        assert again.classes_.dtype == est.classes_.dtype
    assert_same_predictions(again, est, ragged(dtype, seed=4))


def test_safetensors_keeps_feature_names_and_table_fits(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("safetensors")
    X = np.random.default_rng(0).normal(size=(30, 6))
    frame = pd.DataFrame(X, columns=[f"t{i}" for i in range(6)])
    reg = RNNRegressor("gru", (3,), max_iter=2, random_state=0).fit(frame, X[:, -1])
    save_safetensors(reg, tmp_path / "reg.safetensors")
    again = load_safetensors(tmp_path / "reg.safetensors")
    assert list(again.feature_names_in_) == list(reg.feature_names_in_)
    assert again.n_features_in_ == 6 and again._fitted_on_table
    np.testing.assert_array_equal(again.predict(frame), reg.predict(frame))


def test_safetensors_loads_into_torch(tmp_path, reference):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    est = fit("classifier", "gru", (4, 4), True)
    save_safetensors(est, tmp_path / "model.safetensors")
    module = reference.SkrnnModule(3, (4, 4), True, 3, "gru")
    module.load_state_dict(safetensors_torch.load_file(tmp_path / "model.safetensors"),
                           strict=True)


def rewrite(path, tensors=None, **metadata):
    """Write the file at ``path`` again with tensors or metadata entries replaced."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(path, framework="numpy") as f:
        old_meta = f.metadata()
        old = {k: f.get_tensor(k) for k in f.keys()}
    meta = {**old_meta, **{k: json.dumps(v) for k, v in metadata.items()}}
    save_file(tensors if tensors is not None else old, path, metadata=meta)


def test_safetensors_metadata_is_checked(tmp_path):
    pytest.importorskip("safetensors")
    from safetensors.numpy import save_file

    est = fit("classifier", "lstm", (4,), True)
    path = tmp_path / "model.safetensors"
    save_safetensors(est, path)

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": np.ones(3)}, foreign)
    with pytest.raises(ValueError, match="without skrnn's metadata"):
        load_safetensors(foreign)
    not_safetensors = tmp_path / "text.safetensors"
    not_safetensors.write_text("hello")
    with pytest.raises(ValueError, match="not a safetensors file"):
        load_safetensors(not_safetensors)
    with pytest.raises(FileNotFoundError):
        load_safetensors(tmp_path / "missing.safetensors")

    cases = [
        (dict(format_version="99"), "format version"),
        (dict(estimator="MLPClassifier"), "unknown estimator"),
        (dict(params={**json.loads(json.dumps(est.get_params())), "cell": "gru"}), "gru"),
        (dict(classes={"values": ["a", "b"], "dtype": "object"}), "3 distinct labels"),
        (dict(n_features_in=True), "positive integer"),
    ]
    for metadata, message in cases:
        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(path.read_bytes())
        rewrite(bad, **metadata)
        with pytest.raises(ValueError, match=message):
            load_safetensors(bad)
    bad.write_bytes(path.read_bytes())
    weights = to_torch_state_dict(est)
    rewrite(bad, tensors={**weights, "rnn.weight_hh_l0": weights["rnn.weight_hh_l0"][:8]})
    with pytest.raises(ValueError, match=r"rnn\.weight_hh_l0 has shape \(8, 4\)"):
        load_safetensors(bad)


def test_save_safetensors_needs_data_parameters(tmp_path):
    pytest.importorskip("safetensors")
    est = fit("regressor")
    est.set_params(random_state=np.random.RandomState(0))
    with pytest.raises(TypeError, match="random_state"):
        save_safetensors(est, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


# -- bad state dicts -------------------------------------------------------------------------------
def test_bad_state_dicts_raise_clear_errors():
    est = fit("classifier", "lstm", (4,), False)
    weights = to_torch_state_dict(est)
    unfitted = RNNClassifier("lstm", (4,))
    with pytest.raises(ValueError, match=r"missing \['rnn.bias_hh_l0'\]"):
        from_torch_state_dict(unfitted, {k: v for k, v in weights.items()
                                         if k != "rnn.bias_hh_l0"}, classes=est.classes_)
    with pytest.raises(ValueError, match=r"unexpected \['rnn.weight_ih_l0_reverse'\]"):
        from_torch_state_dict(unfitted, {**weights, "rnn.weight_ih_l0_reverse": weights[
            "rnn.weight_ih_l0"]}, classes=est.classes_)
    with pytest.raises(ValueError, match=r"rnn.weight_hh_l0 has shape \(16, 5\)"):
        from_torch_state_dict(unfitted, {**weights, "rnn.weight_hh_l0": np.zeros((16, 5))},
                              classes=est.classes_)
    with pytest.raises(ValueError, match="rnn.weight_ih_l0 has shape"):  # a GRU's weights
        from_torch_state_dict(RNNClassifier("gru", (4,)), weights, classes=est.classes_)
    with pytest.raises(ValueError, match="3 distinct labels"):
        from_torch_state_dict(unfitted, weights, classes=[0, 1])
    with pytest.raises(TypeError, match="needs classes"):
        from_torch_state_dict(unfitted, weights)
    with pytest.raises(TypeError, match="classes is for classifiers"):
        from_torch_state_dict(RNNRegressor("lstm", (4,)), weights, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="not finite"):
        from_torch_state_dict(unfitted, {**weights, "head.bias": np.array([0, np.nan, 0])},
                              classes=est.classes_)
    with pytest.raises(ValueError, match="float32 or float64"):
        from_torch_state_dict(unfitted, {**weights, "head.bias": np.array(["a", "b", "c"])},
                              classes=est.classes_)
    with pytest.raises(TypeError, match="RNNClassifier, RNNRegressor, RNNSequenceTagger"):
        from_torch_state_dict(LinearRegression(), weights)
    with pytest.raises(TypeError, match="dict"):
        from_torch_state_dict(unfitted, list(weights.items()), classes=est.classes_)
    with pytest.raises(NotFittedError):
        to_torch_state_dict(RNNClassifier())
    assert not hasattr(unfitted, "theta_")  # the template is never changed


def test_inputs_are_not_modified():
    est = fit("regressor", "gru", (4,), True)
    weights = to_torch_state_dict(est)
    copies = {k: v.copy() for k, v in weights.items()}
    again = from_torch_state_dict(template(est), weights)
    again.theta_ += 1
    for k in weights:
        np.testing.assert_array_equal(weights[k], copies[k])
    X = ragged(seed=5)
    assert not np.array_equal(again.predict(X), est.predict(X))
    np.testing.assert_array_equal(to_ragged(to_nan_padded(X))[0], X[0])


def test_importing_skrnn_imports_no_optional_package():
    code = ("import sys, skrnn, skrnn.onnx, skrnn.interchange; "
            "print(sorted(m for m in ('onnx', 'onnxruntime', 'skl2onnx', 'safetensors', 'torch')"
            " if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parent.parent)
    assert result.stdout.strip() == "[]"
