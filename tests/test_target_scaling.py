"""The regressors' target scaling (``scale_target``).

- The scaling itself: weighted means and standard deviations per output, scale 1 for an
  output of one value, sample weights and zero-weight rows, per-step weights;
- the invariance that proves it: fits on y and on a * y + b (a > 0) predict the same up to
  that map (bit for bit when a is a power of two and b is 0), which scale_target=False does
  not;
- scale_target=True is StandardScaler in a TransformedTargetRegressor around
  scale_target=False, and scale_target=False trains on y itself;
- every way to a prediction is in the targets' units: predict, score, streams, the
  sequence regressor, the forecaster, pickle and skrnn.persistence (and files saved before
  target scaling), state dicts and safetensors files (PyTorch's module, live when torch is
  installed); ONNX is checked in test_onnx.py with targets in the thousands;
- warm_start and partial_fit keep the scaling; the loss is in standardised units and the
  validation R^2 is that of the targets.
"""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skrnn import RNNForecaster, RNNRegressor, RNNSequenceRegressor
from skrnn._regressor import target_scaling
from skrnn._training import TrainingData
from skrnn.persistence import load, save

SMALL = dict(hidden_layer_sizes=(5,), max_iter=15, random_state=0)


def data(n=40, T=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, 2))
    y = X[:, -1, 0] + 0.5 * X[:, 2, 1] - 0.3 * X[:, 0, 0]
    return X, y


def ragged(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(T, 2)) for T in rng.integers(2, 8, size=n)]


def quiet(est, *args, method="fit", **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return getattr(est, method)(*args, **kwargs)


def head(est, X):
    """The network's outputs: the standardised targets it computes."""
    seqs = est._validate_sequences(X, reset=False)
    return est.network_.forward(est.theta_, seqs.X3, seqs.lengths)


# -- the scaling ----------------------------------------------------------------------------------
def test_scaling_is_the_weighted_mean_and_standard_deviation():
    rng = np.random.default_rng(0)
    Y = rng.normal([5000, -0.01, 3], [1000, 0.002, 1], size=(50, 3))
    w = rng.uniform(0.1, 3, size=50)
    mean, scale = target_scaling(Y, w)
    assert mean.dtype == scale.dtype == np.float64 and mean.shape == scale.shape == (3,)
    np.testing.assert_allclose(mean, np.average(Y, axis=0, weights=w), rtol=1e-14)
    np.testing.assert_allclose(scale, np.sqrt(np.cov(Y.T, aweights=w, ddof=0).diagonal()),
                               rtol=1e-12)
    # an integer weight counts as repeated rows; rows of weight 0 do not count
    counts = rng.integers(0, 4, size=50)
    repeated = target_scaling(np.repeat(Y, counts, axis=0), np.ones(counts.sum()))
    np.testing.assert_allclose(target_scaling(Y, counts.astype(float)), repeated, rtol=1e-12)


def test_an_output_of_one_value_gets_scale_1():
    rng = np.random.default_rng(1)
    Y = np.column_stack([np.full(1000, 0.1), np.full(1000, -7.0), np.zeros(1000),
                         rng.normal(size=1000)])  # 0.1 leaves a spread of round-off
    mean, scale = target_scaling(Y, rng.uniform(0.5, 2, size=1000))
    np.testing.assert_allclose(mean[:3], [0.1, -7.0, 0.0], rtol=1e-14)
    np.testing.assert_array_equal(scale[:3], [1.0, 1.0, 1.0])
    assert scale[3] != 1
    mean, scale = target_scaling(Y, np.zeros(1000))  # no weight at all: no scaling
    np.testing.assert_array_equal(mean, np.zeros(4))
    np.testing.assert_array_equal(scale, np.ones(4))


def test_a_constant_output_is_predicted():
    X, y = data()
    Y = np.column_stack([1000 * y, np.full(len(y), 7.0)])
    reg = quiet(RNNRegressor(**SMALL), X, Y)
    np.testing.assert_array_equal(reg.target_scale_[1], 1.0)
    assert reg.target_mean_[1] == 7.0
    assert abs(reg.predict(X)[:, 1].mean() - 7.0) < 0.1


def test_fit_sets_the_scaling_from_the_weighted_targets():
    X, y = data()
    Y = np.column_stack([1000 * y + 5000, 0.001 * y - 2])
    w = np.random.default_rng(2).uniform(0, 3, size=len(y))
    reg = quiet(RNNRegressor(**SMALL), X, Y, sample_weight=w)
    mean, scale = target_scaling(Y, w)
    np.testing.assert_array_equal(reg.target_mean_, mean)
    np.testing.assert_array_equal(reg.target_scale_, scale)
    assert reg.n_outputs_ == 2 and reg.predict(X).shape == (len(X), 2)
    # a sequence of weight 0 changes nothing, however far off its target
    Y_off, w_off = Y.copy(), w.copy()
    Y_off[0], w_off[0] = 1e6, 0.0
    again = quiet(RNNRegressor(**SMALL), X, Y_off, sample_weight=w_off)
    w[0] = 0.0
    np.testing.assert_allclose(again.target_mean_, target_scaling(Y, w)[0], rtol=1e-15)
    np.testing.assert_allclose(again.target_scale_, target_scaling(Y, w)[1], rtol=1e-15)


def test_per_step_targets_are_scaled_over_the_real_steps_with_their_weights():
    X = ragged()
    y = [300 * np.cumsum(x[:, 0]) + 40 for x in X]
    w = [np.where(np.arange(len(x)) == 0, 0.0, 1.0 + (i % 3)) for i, x in enumerate(X)]
    reg = quiet(RNNSequenceRegressor(**SMALL), X, y, sample_weight=w)
    mean, scale = target_scaling(np.concatenate(y)[:, None], np.concatenate(w))
    np.testing.assert_allclose(reg.target_mean_, mean, rtol=1e-15)
    np.testing.assert_allclose(reg.target_scale_, scale, rtol=1e-15)
    # a NaN-padded array: the padding never counts
    T = max(len(x) for x in X)
    padded = np.full((len(X), T), np.nan)
    for i, v in enumerate(y):
        padded[i, :len(v)] = v
    X_padded = np.full((len(X), T, 2), np.nan)
    for i, x in enumerate(X):
        X_padded[i, :len(x)] = x
    again = quiet(RNNSequenceRegressor(**SMALL), X_padded, padded)
    np.testing.assert_allclose(again.target_mean_, [np.concatenate(y).mean()], rtol=1e-14)
    np.testing.assert_allclose(again.target_scale_, [np.concatenate(y).std()], rtol=1e-14)


# -- the invariance -------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_predictions_follow_an_affine_map_of_the_targets(solver):
    """Standardised, y and a * y + b are the same targets: the fits are the same and the
    predictions map as the targets do."""
    X, y = data()
    w = np.random.default_rng(3).uniform(0.5, 2, size=len(y))
    params = dict(SMALL, solver=solver)
    base = quiet(RNNRegressor(**params), X, y, sample_weight=w)
    # a power of two and no shift: every step is exact, so the fits are bit for bit the same
    exact = quiet(RNNRegressor(**params), X, 8 * y, sample_weight=w)
    np.testing.assert_array_equal(exact.theta_, base.theta_)
    np.testing.assert_array_equal(exact.predict(X), 8 * base.predict(X))
    for a, b in [(1000.0, 5000.0), (1e-3, -2.0), (3.7, 1e4)]:
        moved = quiet(RNNRegressor(**params), X, a * y + b, sample_weight=w)
        np.testing.assert_allclose(moved.target_mean_, a * base.target_mean_ + b, rtol=1e-12)
        np.testing.assert_allclose(moved.target_scale_, a * base.target_scale_, rtol=1e-12)
        np.testing.assert_allclose(moved.theta_, base.theta_, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose((moved.predict(X) - b) / a, base.predict(X), rtol=1e-7,
                                   atol=1e-9 * base.target_scale_[0])
        np.testing.assert_allclose(moved.loss_curve_, base.loss_curve_, rtol=1e-7)
        assert moved.score(X, a * y + b) == pytest.approx(base.score(X, y), rel=1e-9)
    # without the scaling, the fit depends on the targets' units
    plain = quiet(RNNRegressor(scale_target=False, **params), X, y, sample_weight=w)
    plain_moved = quiet(RNNRegressor(scale_target=False, **params), X, 1000 * y + 5000,
                        sample_weight=w)
    assert not np.allclose((plain_moved.predict(X) - 5000) / 1000, plain.predict(X),
                           rtol=1e-3)


def test_each_output_and_each_step_follow_their_own_map():
    X, y = data()
    Y = np.column_stack([y, X[:, 0, 1]])
    a, b = np.array([1000.0, 0.01]), np.array([-3.0, 40.0])
    base, moved = (quiet(RNNRegressor(**SMALL), X, T) for T in (Y, a * Y + b))
    np.testing.assert_allclose((moved.predict(X) - b) / a, base.predict(X), rtol=1e-7,
                               atol=1e-9)
    Xs = ragged()
    ys = [np.column_stack([np.cumsum(x[:, 0]), x[:, 1]]) for x in Xs]
    base, moved = (quiet(RNNSequenceRegressor(**SMALL), Xs, t)
                   for t in (ys, [a * v + b for v in ys]))
    np.testing.assert_allclose((np.concatenate(moved.predict(Xs)) - b) / a,
                               np.concatenate(base.predict(Xs)), rtol=1e-7, atol=1e-9)


# -- scale_target=True and False ----------------------------------------------------------------
def test_scaling_is_a_standard_scaler_around_the_unscaled_regressor():
    X, y = data()
    y = 250 * y + 1200
    ours = quiet(RNNRegressor(**SMALL), X, y)
    theirs = quiet(TransformedTargetRegressor(RNNRegressor(scale_target=False, **SMALL),
                                              transformer=StandardScaler()), X, y)
    scaler = theirs.transformer_
    np.testing.assert_allclose(ours.target_mean_, scaler.mean_, rtol=1e-14)
    np.testing.assert_allclose(ours.target_scale_, scaler.scale_, rtol=1e-14)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9)


def test_without_scaling_the_network_learns_the_targets_themselves():
    X, y = data()
    y = 100 * y + 30
    reg = quiet(RNNRegressor(scale_target=False, **SMALL), X, y)
    np.testing.assert_array_equal(reg.target_mean_, [0.0])
    np.testing.assert_array_equal(reg.target_scale_, [1.0])
    assert reg.predict(X).tobytes() == head(reg, X)[:, 0].tobytes()
    # targets of weighted mean 0 and standard deviation 1 exactly: the scaling is the
    # identity, and both settings give the same fit bit for bit
    signs = np.where(np.arange(len(y)) % 2 == 0, 1.0, -1.0)
    scaled, plain = (quiet(RNNRegressor(scale_target=s, **SMALL), X, signs)
                     for s in (True, False))
    np.testing.assert_array_equal(scaled.target_mean_, [0.0])
    np.testing.assert_array_equal(scaled.target_scale_, [1.0])
    assert scaled.theta_.tobytes() == plain.theta_.tobytes()
    assert scaled.loss_curve_ == plain.loss_curve_


def test_the_loss_is_in_standardised_units_and_r2_is_unchanged():
    X, y = data(n=60)
    y = 1000 * y + 5000
    reg = quiet(RNNRegressor(early_stopping=True, validation_fraction=0.25, **SMALL), X, y)
    Z = head(reg, X)[:, 0]
    # the fit's objective is the loss of the standardised targets
    seqs = reg._validate_sequences(X, reset=False)
    Y, w, _ = reg._validate_targets(y, seqs, None, False)
    np.testing.assert_allclose(Y[:, 0], (y - reg.target_mean_) / reg.target_scale_)
    loss, _ = reg.set_params(alpha=0)._objective(reg.theta_, TrainingData(
        seqs.X3, seqs.lengths, Y, w / w.sum()))
    assert loss == pytest.approx(0.5 * np.mean((Z - Y[:, 0]) ** 2), rel=1e-12)
    # the validation score: R^2 of the standardised targets is that of the targets
    validation = TrainingData(seqs.X3[:20], seqs.lengths[:20], Y[:20], w[:20])
    score, validation_loss = reg._evaluate_validation(validation)
    assert score == pytest.approx(r2_score(y[:20], reg.predict(X[:20])), rel=1e-12)
    # and the loss early stopping watches is in the units of the training loss
    Z20 = (reg.predict(X[:20]) - reg.target_mean_[0]) / reg.target_scale_[0]
    assert validation_loss == pytest.approx(0.5 * np.mean((Z20 - Y[:20, 0]) ** 2), rel=1e-9)
    assert len(reg.validation_scores_) == reg.n_iter_


def test_warm_start_and_partial_fit_keep_the_scaling():
    X, y = data()
    reg = quiet(RNNRegressor(**SMALL), X, 1000 * y)
    mean, scale = reg.target_mean_.copy(), reg.target_scale_.copy()
    quiet(reg.set_params(warm_start=True, scale_target=False), X, 1000 * y + 50)
    np.testing.assert_array_equal(reg.target_mean_, mean)
    np.testing.assert_array_equal(reg.target_scale_, scale)
    quiet(reg.set_params(warm_start=False, scale_target=True), X, y + 50)  # a new fit
    np.testing.assert_allclose(reg.target_mean_, np.mean(y) + 50, rtol=1e-14)
    stream = RNNRegressor(**SMALL)
    quiet(stream, X[:20], 10 * y[:20], method="partial_fit")  # the first call sets it
    first = stream.target_mean_.copy(), stream.target_scale_.copy()
    np.testing.assert_allclose(first[0], np.mean(10 * y[:20]), rtol=1e-14)
    quiet(stream, X[20:], 10 * y[20:] + 3, method="partial_fit")
    np.testing.assert_array_equal(stream.target_mean_, first[0])
    np.testing.assert_array_equal(stream.target_scale_, first[1])


def test_scale_target_is_validated():
    X, y = data(n=10)
    for Est in (RNNRegressor, RNNSequenceRegressor):
        with pytest.raises(InvalidParameterError, match="scale_target"):
            Est(scale_target="yes").fit(X, y if Est is RNNRegressor else X[:, :, 0])
        assert Est().get_params()["scale_target"] is True


def test_targets_too_large_to_standardise_are_refused_and_the_callers_y_is_untouched():
    X, y = data(n=10)
    y_before = y.copy()
    quiet(RNNRegressor(**SMALL), X, y)
    np.testing.assert_array_equal(y, y_before)
    with pytest.raises(ValueError, match="too large to standardise"):
        RNNRegressor(**SMALL).fit(X, np.r_[1e308, -1e308, y[2:]])


# -- every way to a prediction --------------------------------------------------------------------
@pytest.mark.parametrize("outputs", [1, 2])
def test_predictions_and_streams_are_in_the_targets_units(outputs):
    X, y = data(n=50)
    Y = 1000 * y + 5000 if outputs == 1 else np.column_stack([1000 * y + 5000, -0.01 * y])
    reg = quiet(RNNRegressor(**dict(SMALL, max_iter=60)), X, Y)
    pred = reg.predict(X)
    assert pred.shape == Y.shape and reg.score(X, Y) > 0.8
    expected = head(reg, X) * reg.target_scale_ + reg.target_mean_
    np.testing.assert_allclose(pred.reshape(len(X), -1), expected, rtol=1e-15)
    stream = reg.stream(len(X))
    for t in range(X.shape[1]):
        value = stream.step(X[:, t])
    np.testing.assert_allclose(value, pred, rtol=1e-12)
    chunk = reg.stream(len(X)).update(X)[:, -1]
    np.testing.assert_allclose(chunk, pred, rtol=1e-12)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(stream)).update(X[:, :0]).shape[:2],
                               (len(X), 0))


def test_sequence_regressor_predicts_each_step_in_the_targets_units():
    X = ragged()
    y = [1000 * np.cumsum(x[:, 0]) + 5000 for x in X]
    reg = quiet(RNNSequenceRegressor(**dict(SMALL, max_iter=60)), X, y)
    pred = reg.predict(X)
    assert reg.score(X, y) > 0.8
    values = np.concatenate(y)
    assert abs(np.mean(np.concatenate(pred)) - values.mean()) < 0.2 * values.std()
    for x, p in zip(X[:4], pred[:4]):
        stream = reg.stream()
        steps = np.array([stream.step(x_t)[0] for x_t in x])  # one stream
        np.testing.assert_allclose(steps, p, rtol=1e-12)
        np.testing.assert_allclose(reg.stream().update(x)[0], p, rtol=1e-12)


def test_float32_predictions_stay_float32():
    X, y = data()
    reg = quiet(RNNRegressor(**SMALL), X.astype(np.float32), 1000 * y + 5000)
    assert reg.predict(X.astype(np.float32)).dtype == np.float32
    assert reg.target_mean_.dtype == np.float64
    np.testing.assert_allclose(reg.predict(X.astype(np.float32)), reg.predict(X), rtol=1e-6)


def test_forecaster_regressor_scales_its_targets():
    t = np.arange(150)
    series = 5000 + 300 * np.sin(2 * np.pi * t / 12) + 2 * t
    forecaster = quiet(RNNForecaster(window=12, horizon=3), series)
    assert forecaster.estimator_.scale_target
    # the forecaster divides the series by its mean absolute value; the regressor then
    # standardises what is left of the targets
    windows = series / forecaster.scales_[0]
    np.testing.assert_allclose(forecaster.estimator_.target_mean_,
                               windows[12:].mean(), rtol=1e-3)
    assert forecaster.estimator_.target_scale_[0] < 0.1
    forecast = forecaster.predict()
    assert forecast.shape == (3,) and np.all(np.abs(forecast - 5300) < 600)
    plain = quiet(RNNForecaster(RNNRegressor(batch_size=32, scale_target=False, max_iter=5),
                                window=12), series)
    np.testing.assert_array_equal(plain.estimator_.target_scale_, [1.0])


# -- saved and exported models --------------------------------------------------------------------
def fitted_pair():
    X, y = data()
    Y = np.column_stack([1000 * y + 5000, 0.01 * y])
    return quiet(RNNRegressor(**SMALL), X, Y), X, Y


def test_pickle_and_persistence_keep_the_scaling(tmp_path):
    reg, X, Y = fitted_pair()
    save(reg, tmp_path / "reg.skrnn")
    for again in (pickle.loads(pickle.dumps(reg)), load(tmp_path / "reg.skrnn")):
        np.testing.assert_array_equal(again.target_mean_, reg.target_mean_)
        np.testing.assert_array_equal(again.target_scale_, reg.target_scale_)
        assert again.target_mean_.dtype == np.float64
        assert again.predict(X).tobytes() == reg.predict(X).tobytes()
        quiet(again.set_params(warm_start=True, max_iter=2), X, Y)  # trains on, same scaling
        np.testing.assert_array_equal(again.target_mean_, reg.target_mean_)


def strip_target_scaling(path):
    """Rewrite a model file as skrnn wrote it before target scaling: no scale_target
    parameter, no target_mean_ or target_scale_."""
    from test_persistence import rewrite

    def edit_document(document):
        del document["params"]["scale_target"]
        for name in ("target_mean_", "target_scale_"):
            del document["fitted"][name]

    def edit_entries(entries):
        for name in ("target_mean_", "target_scale_"):
            del entries[f"arrays/{name}.npy"]

    rewrite(path, edit_document, edit_entries)


@pytest.mark.parametrize("Est", [RNNRegressor, RNNSequenceRegressor])
def test_files_saved_before_target_scaling_load_unscaled(tmp_path, Est):
    X = ragged()
    y = [10 * x[:, 0] + 3 for x in X] if Est is RNNSequenceRegressor else \
        np.array([10 * x[-1, 0] + 3 for x in X])
    old = quiet(Est(scale_target=False, **SMALL), X, y)  # what those files hold
    path = tmp_path / "old.skrnn"
    save(old, path)
    strip_target_scaling(path)
    again = load(path)
    assert again.scale_target is False
    np.testing.assert_array_equal(again.target_mean_, [0.0])
    np.testing.assert_array_equal(again.target_scale_, [1.0])
    pred, expected = again.predict(X), old.predict(X)
    if Est is RNNSequenceRegressor:
        pred, expected = np.concatenate(pred), np.concatenate(expected)
    assert pred.tobytes() == expected.tobytes()


def test_safetensors_files_keep_the_scaling_and_hold_a_head_in_target_units(tmp_path):
    pytest.importorskip("safetensors")
    import json

    from safetensors import safe_open
    from safetensors.numpy import save_file

    from skrnn.interchange import load_safetensors, save_safetensors, to_torch_state_dict

    reg, X, Y = fitted_pair()
    path = tmp_path / "reg.safetensors"
    save_safetensors(reg, path)
    with safe_open(path, framework="numpy") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        metadata = f.metadata()
    for name, value in to_torch_state_dict(reg).items():  # the folded head
        np.testing.assert_array_equal(tensors[name], value)
    again = load_safetensors(path)  # exactly the saved estimator, scaling included
    np.testing.assert_array_equal(again.theta_, reg.theta_)
    np.testing.assert_array_equal(again.target_mean_, reg.target_mean_)
    np.testing.assert_array_equal(again.target_scale_, reg.target_scale_)
    assert again.predict(X).tobytes() == reg.predict(X).tobytes()
    # a head changed since (say, trained on in PyTorch) is read with the saved scaling
    tensors["head.bias"] = tensors["head.bias"] + np.array([10.0, 0.0])
    save_file(tensors, path, metadata=metadata)
    changed = load_safetensors(path)
    np.testing.assert_array_equal(changed.target_mean_, reg.target_mean_)
    np.testing.assert_allclose(changed.predict(X), reg.predict(X) + [10.0, 0.0], rtol=1e-12)
    # a file written before target scaling: no scale_target, no target_scaling metadata
    old = quiet(RNNRegressor(scale_target=False, **SMALL), X, Y)
    save_safetensors(old, path)
    with safe_open(path, framework="numpy") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        metadata = f.metadata()
    params = json.loads(metadata["params"])
    del params["scale_target"], metadata["target_scaling"]
    save_file(tensors, path, metadata={**metadata, "params": json.dumps(params)})
    loaded = load_safetensors(path)
    assert loaded.scale_target is False
    np.testing.assert_array_equal(loaded.target_scale_, [1.0, 1.0])
    assert loaded.predict(X).tobytes() == old.predict(X).tobytes()


def test_pytorch_module_predicts_in_the_targets_units():
    torch = pytest.importorskip("torch")
    from skrnn.interchange import to_torch_state_dict

    reg, X, Y = fitted_pair()
    rnn = torch.nn.GRU(2, 5, batch_first=True).double()
    linear = torch.nn.Linear(5, 2).double()
    weights = {k: torch.from_numpy(v) for k, v in to_torch_state_dict(reg).items()}
    rnn.load_state_dict({k[len("rnn."):]: v for k, v in weights.items() if k.startswith("rnn.")})
    linear.load_state_dict({"weight": weights["head.weight"], "bias": weights["head.bias"]})
    with torch.no_grad():
        _, h_n = rnn(torch.from_numpy(X))
        Z = linear(h_n[-1]).numpy()
    np.testing.assert_allclose(Z, reg.predict(X), rtol=1e-12)
