"""RNNSequenceRegressor: per-step real targets, their forms, per-step weights, the gradient of
its loss, PyTorch agreement, and learning on real data; per-step weights for the tagger."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from skrnn import RNNSequenceRegressor, RNNSequenceTagger
from skrnn._training import TrainingData


def quiet_fit(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kw)


def ragged(rng, n=30, F=2, K=None):
    X = [rng.normal(size=(T, F)) for T in rng.integers(1, 9, size=n)]
    if K is None:
        y = [np.cumsum(x[:, 0]) for x in X]
    else:
        y = [np.column_stack([np.cumsum(x[:, 0])] + [x[:, 1] * k for k in range(1, K)])
             for x in X]
    return X, y


def padded(X, y):
    n, T = len(X), max(len(x) for x in X)
    X3 = np.full((n, T, X[0].shape[1]), np.nan)
    Y = np.full((n, T) + y[0].shape[1:], np.nan)
    for i, (x, t) in enumerate(zip(X, y)):
        X3[i, :len(x)], Y[i, :len(t)] = x, t
    return X3, Y


@pytest.mark.parametrize("K", [None, 3])
def test_every_target_form_gives_the_same_fit(K):
    rng = np.random.default_rng(0)
    X, y = ragged(rng, K=K)
    params = dict(cell="gru", hidden_layer_sizes=(6,), max_iter=3, random_state=0)
    a = quiet_fit(RNNSequenceRegressor(**params), X, y)
    X3, Y3 = padded(X, y)
    b = quiet_fit(RNNSequenceRegressor(**params), X3, Y3)
    np.testing.assert_allclose(a.theta_, b.theta_, rtol=0, atol=1e-12)
    pred = a.predict(X)
    assert [p.shape for p in pred] == [t.shape for t in y]
    assert a.n_outputs_ == (1 if K is None else K)
    truth = np.concatenate(y)
    assert a.score(X, y) == pytest.approx(r2_score(truth, np.concatenate(pred)))
    assert a.score(X3, Y3) == pytest.approx(a.score(X, y))


def test_a_table_is_one_step_per_row():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    y = X @ [1.0, -2.0, 0.5]
    reg = quiet_fit(RNNSequenceRegressor("gru", (8,), max_iter=20, random_state=0), X, y)
    assert reg.predict(X).shape == (40,)
    assert reg.score(X, y) > 0.5


def test_zero_weights_on_burn_in_steps_ignore_their_targets():
    """Per-step weights: steps of weight zero do not reach the loss, whatever their target."""
    rng = np.random.default_rng(2)
    X, y = ragged(rng)
    weights = [np.r_[np.zeros(min(2, len(t))), np.ones(max(0, len(t) - 2))] for t in y]
    other = [np.where(w == 0, 1e3, t) for w, t in zip(weights, y)]
    params = dict(cell="lstm", hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    a = quiet_fit(RNNSequenceRegressor(**params), X, y, sample_weight=weights)
    b = quiet_fit(RNNSequenceRegressor(**params), X, other, sample_weight=weights)
    np.testing.assert_allclose(a.theta_, b.theta_, rtol=0, atol=1e-12)
    X3, _ = padded(X, y)
    W = np.zeros(X3.shape[:2])
    for i, w in enumerate(weights):
        W[i, :len(w)] = w
    c = quiet_fit(RNNSequenceRegressor(**params), X, y, sample_weight=W)
    np.testing.assert_allclose(c.theta_, a.theta_, rtol=0, atol=1e-12)


def test_per_step_weights_of_the_tagger():
    rng = np.random.default_rng(3)
    X = [rng.normal(size=T) for T in rng.integers(3, 9, size=30)]
    y = [(np.cumsum(x) > 0).astype(int) for x in X]
    weights = [np.r_[0.0, np.ones(len(x) - 1)] for x in X]
    flipped = [np.r_[1 - t[0], t[1:]] for t in y]
    params = dict(cell="gru", hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    a = quiet_fit(RNNSequenceTagger(**params), X, y, sample_weight=weights)
    b = quiet_fit(RNNSequenceTagger(**params), X, flipped, sample_weight=weights)
    np.testing.assert_allclose(a.theta_, b.theta_, rtol=0, atol=1e-12)
    # the score weighs the steps the same way
    assert a.score(X, y, sample_weight=weights) == a.score(X, flipped, sample_weight=weights)


@pytest.mark.parametrize("y,sample_weight,error,message", [
    (lambda y: y[:-1], None, ValueError, "targets of 29 sequences"),
    (lambda y: [t[:-1] if i == 3 else t for i, t in enumerate(y)], None, ValueError,
     r"y\[3\] must have shape"),
    (lambda y: [np.where(np.arange(len(t)) == 0, np.nan, t) for t in y], None, ValueError,
     "NaN"),
    (lambda y: [t.astype(str) for t in y], None, ValueError, "numbers"),
    (lambda y: y, lambda y: [np.ones(len(t) + 1) for t in y], ValueError,
     r"one weight or \d+"),
    (lambda y: y, lambda y: [-np.ones(len(t)) for t in y], ValueError, "non-negative"),
])
def test_bad_targets_and_weights_are_refused(y, sample_weight, error, message):
    rng = np.random.default_rng(4)
    X, targets = ragged(rng)
    weights = None if sample_weight is None else sample_weight(targets)
    reg = RNNSequenceRegressor("gru", (4,), max_iter=1)
    with pytest.raises(error, match=message):
        reg.fit(X, y(targets), sample_weight=weights)
    assert not hasattr(reg, "theta_")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_loss_gradient_matches_central_differences(cell):
    """The objective fit minimises (per-step squared error with per-step weights, L2) and its
    gradient, float64."""
    rng = np.random.default_rng(5)
    X, y = ragged(rng, n=6, K=2)
    weights = [rng.uniform(0, 2, size=len(t)) for t in y]
    reg = quiet_fit(RNNSequenceRegressor(cell, (3,), max_iter=1, alpha=0.1, random_state=0),
                    X, y, sample_weight=weights)
    seqs = reg._validate_sequences(X, reset=False)
    Y, W, _ = reg._validate_targets(y, seqs, weights, False)
    data = TrainingData(seqs.X3, seqs.lengths, Y, W)
    theta = reg.theta_ + 0.1 * rng.normal(size=reg.theta_.shape)
    _, grad = reg._objective(theta, data)
    numeric = np.zeros_like(theta)
    for i in range(len(theta)):
        e = np.zeros_like(theta)
        e[i] = 1e-6
        numeric[i] = (reg._objective(theta + e, data)[0]
                      - reg._objective(theta - e, data)[0]) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_predictions_and_gradient_agree_with_torch(cell):
    """The same weights in PyTorch's module and head: per-step predictions of a ragged
    (packed) batch, and the gradient of the mean per-step squared error."""
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    rng = np.random.default_rng(6)
    X, y = ragged(rng, n=8, K=2)
    reg = quiet_fit(RNNSequenceRegressor(cell, (4,), max_iter=1, alpha=0, random_state=0),
                    X, y)
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        2, 4, batch_first=True).double()
    head = torch.nn.Linear(4, 2).double()
    sd = {k: torch.tensor(v) for k, v in reg.state_dict().items()}
    module.load_state_dict({k: v for k, v in sd.items() if not k.startswith("head.")})
    head.load_state_dict({"weight": sd["head.weight"], "bias": sd["head.bias"]})
    X3, Y3 = padded(X, y)
    lengths = np.array([len(x) for x in X])
    packed = pack_padded_sequence(torch.tensor(np.nan_to_num(X3)), torch.tensor(lengths),
                                  batch_first=True, enforce_sorted=False)
    out = pad_packed_sequence(module(packed)[0], batch_first=True)[0]
    Z = head(out)  # standardised targets: the head of state_dict, before the target scaling
    real = torch.tensor(np.arange(X3.shape[1])[None, :] < lengths[:, None])
    mean, scale = reg.target_mean_, reg.target_scale_
    np.testing.assert_allclose(np.concatenate(reg.predict(X)),
                               Z[real].detach().numpy() * scale + mean, rtol=1e-10, atol=1e-12)
    standardised = torch.tensor((np.nan_to_num(Y3) - mean) / scale)
    loss = 0.5 * ((Z[real] - standardised[real]) ** 2).mean()
    loss.backward()
    seqs = reg._validate_sequences(X, reset=False)
    Yn, W, _ = reg._validate_targets(y, seqs, None, False)
    value, grad = reg._objective(reg.theta_, TrainingData(seqs.X3, seqs.lengths, Yn, W))
    assert value == pytest.approx(float(loss), rel=1e-10)
    named = reg.network_.unpack(grad)
    for name, p in module.named_parameters():
        np.testing.assert_allclose(named[name], p.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(named["head.weight"], head.weight.grad.numpy(), rtol=1e-8,
                               atol=1e-12)


def test_reads_a_digit_column_better_than_a_per_step_linear_model():
    """Real data: scikit-learn's digits as 8 steps (rows); the target at each step is the
    row's two middle pixels, the input the other six. A per-step linear model sees one row;
    the network also sees the rows above (strokes continue from row to row)."""
    digits = load_digits().images / 16.0
    middle = [3, 4]
    others = [c for c in range(8) if c not in middle]
    X, y = digits[:, :, others], digits[:, :, middle]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    linear = LinearRegression().fit(X_train.reshape(-1, 6), y_train.reshape(-1, 2))
    baseline = r2_score(y_test.reshape(-1, 2), linear.predict(X_test.reshape(-1, 6)))
    reg = quiet_fit(RNNSequenceRegressor("gru", (32,), max_iter=30, batch_size=32,
                                         learning_rate_init=0.01, random_state=0),
                    X_train, y_train)
    score = reg.score(X_test, y_test)
    assert score > baseline + 0.1, (score, baseline)


def test_targets_and_per_step_weights_are_left_as_they_were():
    rng = np.random.default_rng(7)
    X, y = ragged(rng)
    weights = [rng.uniform(size=len(t)) for t in y]
    X3, Y3 = padded(X, y)
    W = np.nan_to_num(np.where(np.isnan(Y3), np.nan, 1.0))
    copies = [[a.copy() for a in y], [w.copy() for w in weights], Y3.copy(), W.copy()]
    reg = quiet_fit(RNNSequenceRegressor("gru", (4,), max_iter=1), X, y, sample_weight=weights)
    quiet_fit(RNNSequenceRegressor("gru", (4,), max_iter=1), X3, Y3, sample_weight=W)
    reg.score(X, y, sample_weight=weights)
    for a, b in zip(y + weights, copies[0] + copies[1]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(Y3, copies[2])
    np.testing.assert_array_equal(W, copies[3])
