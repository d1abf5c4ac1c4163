"""Optimizers against their exact update formulas; gradient clipping; L-BFGS."""

import numpy as np
import pytest

from skrnn.nn import RecurrentNetwork
from skrnn.nn.optimizers import SGD, Adam, clip_grad_norm, minimize_lbfgs

GRADS = [np.array([0.5, -1.0, 2.0]), np.array([-0.25, 0.5, 1.0]), np.array([1.0, 1.0, -3.0])]


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_formula(nesterov):
    lr, mu = 0.1, 0.9
    params, opt = np.array([1.0, 2.0, 3.0]), SGD(lr, momentum=mu, nesterov=nesterov)
    expected, velocity = params.copy(), np.zeros(3)
    for g in GRADS:
        opt.update_params(params, g)
        velocity = mu * velocity - lr * g
        expected += mu * velocity - lr * g if nesterov else velocity
        np.testing.assert_allclose(params, expected, rtol=1e-15)


def test_sgd_without_momentum_is_plain_gradient_descent():
    params = np.array([1.0, 2.0, 3.0])
    SGD(0.5, momentum=0.0, nesterov=False).update_params(params, GRADS[0])
    np.testing.assert_allclose(params, [0.75, 2.5, 2.0])


def test_adam_formula():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    params, opt = np.array([1.0, 2.0, 3.0]), Adam(lr, b1, b2, eps)
    expected, m, v = params.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        opt.update_params(params, g)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        expected -= lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
        np.testing.assert_allclose(params, expected, rtol=1e-14)
    assert opt.t == 3


def test_adam_first_step_moves_each_parameter_by_the_learning_rate():
    params = np.zeros(3)
    Adam(0.01, epsilon=0.0).update_params(params, np.array([1e-3, -5.0, 100.0]))
    np.testing.assert_allclose(params, [-0.01, 0.01, -0.01])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizers_keep_float32(dtype):
    sgd, adam = SGD(), Adam()
    for opt in (sgd, adam):
        params = np.ones(4, dtype=dtype)
        opt.update_params(params, np.ones(4, dtype=dtype))
        assert params.dtype == dtype
    assert sgd.velocity.dtype == dtype
    assert adam.m.dtype == adam.v.dtype == dtype


def test_clip_by_norm_returns_the_norm_before_clipping():
    g = np.array([3.0, 4.0, 0.0])
    assert clip_grad_norm(g, 2.5) == 5.0
    np.testing.assert_allclose(g, [1.5, 2.0, 0.0])
    assert np.linalg.norm(g) == pytest.approx(2.5)


def test_clip_by_norm_leaves_small_gradients_and_none_disables():
    g = np.array([0.3, 0.4])
    assert clip_grad_norm(g, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(g, [0.3, 0.4])
    big = np.array([30.0, 40.0])
    assert clip_grad_norm(big, None) == 50.0
    np.testing.assert_array_equal(big, [30.0, 40.0])


def test_clip_by_norm_reports_non_finite_gradients_and_leaves_them():
    g = np.array([np.inf, 1.0])
    assert not np.isfinite(clip_grad_norm(g, 1.0))
    np.testing.assert_array_equal(g, [np.inf, 1.0])


def test_sgd_invscaling_runs_at_the_end_of_an_epoch():
    opt = SGD(0.5, lr_schedule="invscaling", power_t=0.5)
    assert opt.learning_rate == 0.5
    opt.iteration_ends(time_step=99)
    assert opt.learning_rate == pytest.approx(0.5 / 10)
    constant = SGD(0.5)
    constant.iteration_ends(99)
    assert constant.learning_rate == 0.5


def test_adaptive_schedule_divides_by_five_until_too_small_then_stops():
    opt = SGD(1e-5, lr_schedule="adaptive")
    assert opt.trigger_stopping("no progress.", verbose=False) is False
    assert opt.learning_rate == pytest.approx(2e-6)
    assert opt.trigger_stopping("no progress.", verbose=False) is False
    assert opt.learning_rate == pytest.approx(4e-7)
    assert opt.trigger_stopping("no progress.", verbose=False) is True
    assert SGD(0.1).trigger_stopping("no progress.", verbose=False) is True
    assert Adam(0.1).trigger_stopping("no progress.", verbose=False) is True


def test_adam_uses_its_current_learning_rate():
    params, opt = np.zeros(2), Adam(0.01, epsilon=0.0)
    opt.learning_rate = 0.001  # what a schedule would set
    opt.update_params(params, np.array([1.0, -1.0]))
    np.testing.assert_allclose(params, [-0.001, 0.001])


def test_lbfgs_minimises_a_quadratic():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([1.0, -1.0])

    def fun(x):
        return 0.5 * x @ A @ x - b @ x, A @ x - b

    x, result = minimize_lbfgs(fun, np.zeros(2), tol=1e-10)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-6)
    assert result.success


def test_lbfgs_trains_a_network_in_float32():
    rng = np.random.default_rng(0)
    net = RecurrentNetwork("gru", 1, (8,), 1, output="last")
    X = rng.normal(size=(32, 6, 1)).astype(np.float32)
    y = X.sum(axis=(1, 2))[:, None] * 0.3  # a sum over time
    lengths = np.full(32, 6)
    theta0 = net.init_params(rng, np.float32)

    def fun(th):
        return net.loss_and_grad(th, X, lengths, y, "squared")

    theta, result = minimize_lbfgs(fun, theta0, max_iter=100)
    assert theta.dtype == np.float32
    assert fun(theta)[0] < 0.05 * fun(theta0)[0]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_adam_with_clipping_learns_a_memory_task(cell):
    """Classify a sequence by the sign of its first value: the state must carry it to the end."""
    rng = np.random.default_rng(1)
    net = RecurrentNetwork(cell, 1, (12,), 2)
    X = rng.normal(size=(128, 8, 1))
    y = (X[:, 0, 0] > 0).astype(int)
    lengths = np.full(128, 8)
    theta, opt = net.init_params(rng), Adam(0.02)
    for _ in range(150):
        loss, grad = net.loss_and_grad(theta, X, lengths, y, "softmax")
        clip_grad_norm(grad, 5.0)
        opt.update_params(theta, grad)
    accuracy = (net.forward(theta, X, lengths).argmax(1) == y).mean()
    assert accuracy > 0.9


def test_cosine_schedule_decays_to_zero_over_its_epochs_and_stays_there():
    for opt in (SGD(0.4, lr_schedule="cosine", n_epochs=4),
                Adam(0.4, lr_schedule="cosine", n_epochs=4)):
        rates = []
        for epoch in range(1, 7):
            opt.iteration_ends(time_step=10 * epoch, epoch=epoch)
            rates.append(opt.learning_rate)
        expected = [0.4 * (1 + np.cos(np.pi * min(e, 4) / 4)) / 2 for e in range(1, 7)]
        np.testing.assert_allclose(rates, expected, atol=1e-15)
        assert rates[3:] == [0.0, 0.0, 0.0]


def test_adam_runs_every_schedule():
    opt = Adam(0.5, lr_schedule="invscaling", power_t=0.5)
    opt.iteration_ends(time_step=99)
    assert opt.learning_rate == pytest.approx(0.05)
    opt = Adam(1e-5, lr_schedule="adaptive")
    assert opt.trigger_stopping("no progress.", verbose=False) is False
    assert opt.learning_rate == pytest.approx(2e-6)
    # the rate scales Adam's step: half the rate, half the step
    steps = []
    for lr in (0.2, 0.1):
        params = np.zeros(3)
        Adam(lr).update_params(params, np.array([1.0, -2.0, 3.0]))
        steps.append(params)
    np.testing.assert_allclose(steps[1], steps[0] / 2)


@pytest.mark.parametrize("kwargs,message", [
    (dict(lr_schedule="step"), "lr_schedule must be one of 'constant', 'invscaling'"),
    (dict(lr_schedule="cosine"), "the 'cosine' schedule needs n_epochs"),
    (dict(lr_schedule="cosine", n_epochs=0), "the 'cosine' schedule needs n_epochs"),
])
def test_bad_schedules_are_refused(kwargs, message):
    for Opt in (SGD, Adam):
        with pytest.raises(ValueError, match=message):
            Opt(0.1, **kwargs)
