"""Optimizers and gradient clipping over one flat parameter vector.

The stochastic optimizers know nothing of networks. Their contract is scikit-learn's for its
multilayer perceptron: ``update_params(params, grads)`` updates ``params`` in place,
``iteration_ends(time_step)`` runs the learning-rate schedule at the end of an epoch, and
``trigger_stopping(msg, verbose)`` decides whether training stops when it no longer improves.
Each optimizer keeps its own state (moments, velocity, step count, current learning rate) in
its public attributes; attributes starting with ``_`` are scratch space.
L-BFGS goes through ``scipy.optimize.minimize`` on the flat vector.
"""

import math

import numpy as np
from scipy.optimize import minimize

__all__ = ["SGD", "Adam", "clip_grad_norm", "minimize_lbfgs"]


def clip_grad_norm(grad, max_norm):
    """Scale ``grad`` in place so that its global L2 norm is at most ``max_norm``.

    A gradient that is not finite is left as it is, so that the caller can stop training.

    Parameters
    ----------
    grad : ndarray
        The gradient, changed in place.
    max_norm : float or None
        Largest norm allowed; None only measures the norm.

    Returns
    -------
    float
        The norm before clipping (inf or nan for a gradient that is not finite).

    Examples
    --------
    >>> import numpy as np
    >>> g = np.array([3.0, 4.0])
    >>> clip_grad_norm(g, 1.0)
    5.0
    >>> g
    array([0.6, 0.8])
    """
    norm = float(np.sqrt(np.vdot(grad, grad)))
    if max_norm is not None and np.isfinite(norm) and norm > max_norm:
        grad *= grad.dtype.type(max_norm / norm)
    return norm


SCHEDULES = ("constant", "invscaling", "adaptive", "cosine")


class _Optimizer:
    """The contract shared by the stochastic optimizers (see the module docstring), and their
    learning-rate schedule.

    The schedules, run at the end of every epoch (:meth:`iteration_ends`) or when training
    stops improving (:meth:`trigger_stopping`): "constant" keeps ``learning_rate_init``;
    "invscaling" sets the rate to ``learning_rate_init / (time_step + 1) ** power_t``;
    "adaptive" divides it by 5 each time training stops improving instead of stopping, and
    stops once it is below 1e-6 (a reduction on plateaus); "cosine" sets it to
    ``learning_rate_init * (1 + cos(pi * epoch / n_epochs)) / 2``, from the initial rate to 0
    after ``n_epochs`` epochs (0 afterwards).
    """

    def __init__(self, learning_rate_init, lr_schedule="constant", power_t=0.5, n_epochs=None):
        if lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(map(repr, SCHEDULES))}; "
                             f"got {lr_schedule!r}")
        if lr_schedule == "cosine" and not (n_epochs and n_epochs > 0):
            raise ValueError("the 'cosine' schedule needs n_epochs, the epochs it decays over")
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.power_t = power_t
        self.n_epochs = n_epochs

    def iteration_ends(self, time_step, epoch=None):
        """Run the "invscaling" or "cosine" schedule at the end of an epoch.

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far.
        epoch : int, default=None
            Number of epochs completed (needed by "cosine").
        """
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t
        elif self.lr_schedule == "cosine":
            progress = min(epoch, self.n_epochs) / self.n_epochs
            self.learning_rate = float(self.learning_rate_init) * (1 + math.cos(math.pi * progress)) / 2

    def trigger_stopping(self, msg, verbose):
        """Stop, or with the "adaptive" schedule divide the learning rate by 5 instead.

        Parameters
        ----------
        msg : str
            What did not improve, printed when ``verbose``.
        verbose : bool
            Whether to print the decision.

        Returns
        -------
        bool
            True to stop training.
        """
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:g}")
        return False


class SGD(_Optimizer):
    """Stochastic gradient descent with momentum and a learning-rate schedule.

    The momentum may be Nesterov's. With velocity ``v`` (zero at the start)::

        v <- momentum * v - learning_rate * grad
        params <- params + v                                      (classical)
        params <- params + momentum * v - learning_rate * grad    (Nesterov)

    Parameters
    ----------
    learning_rate_init : float, default=0.01
        The initial learning rate.
    lr_schedule : {"constant", "invscaling", "adaptive", "cosine"}, default="constant"
        The learning-rate schedule (see ``_Optimizer``'s docstring): "invscaling" sets the
        rate to ``learning_rate_init / (time_step + 1) ** power_t`` at the end of every epoch,
        "adaptive" divides it by 5 each time training stops improving, "cosine" decays it to
        0 over ``n_epochs`` epochs.
    momentum : float, default=0.9
        Momentum, in [0, 1].
    nesterov : bool, default=True
        Use Nesterov's momentum.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    n_epochs : int, default=None
        Epochs of the "cosine" schedule.

    Attributes
    ----------
    learning_rate : float
        The current learning rate.
    velocity : ndarray or None
        The velocity, once an update has run.

    Examples
    --------
    >>> import numpy as np
    >>> params = np.array([1.0, 2.0])
    >>> SGD(0.5, momentum=0.0).update_params(params, np.array([1.0, -1.0]))
    >>> params
    array([0.5, 2.5])
    """

    def __init__(self, learning_rate_init=0.01, lr_schedule="constant", momentum=0.9,
                 nesterov=True, power_t=0.5, n_epochs=None):
        super().__init__(learning_rate_init, lr_schedule, power_t, n_epochs)
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocity = None

    def update_params(self, params, grads):
        """Take one step.

        Parameters
        ----------
        params : ndarray
            The parameters, updated in place.
        grads : ndarray
            Their gradient, of the same shape.
        """
        if self.velocity is None:
            self.velocity = np.zeros_like(params)
        f = params.dtype.type
        lr, mu = f(self.learning_rate), f(self.momentum)
        v = self.velocity
        v *= mu
        v -= lr * grads
        if self.nesterov:
            params += mu * v - lr * grads
        else:
            params += v


class Adam(_Optimizer):
    """Adam (Kingma and Ba, 2015), the bias correction folded into the step size.

    With first and second moments ``m``, ``v`` (zero at the start) and step count ``t``::

        m <- beta_1 m + (1 - beta_1) grad
        v <- beta_2 v + (1 - beta_2) grad^2
        params <- params - lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

    Parameters
    ----------
    learning_rate_init : float, default=0.001
        The learning rate ``lr`` (initial, under a schedule).
    beta_1 : float, default=0.9
        Decay of the first moment.
    beta_2 : float, default=0.999
        Decay of the second moment.
    epsilon : float, default=1e-8
        Added to the root of the second moment.
    lr_schedule : {"constant", "invscaling", "adaptive", "cosine"}, default="constant"
        The learning-rate schedule, as :class:`SGD`'s.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    n_epochs : int, default=None
        Epochs of the "cosine" schedule.

    Attributes
    ----------
    learning_rate : float
        The current learning rate.
    t : int
        Updates so far.
    m, v : ndarray or None
        The moments, once an update has run.

    Examples
    --------
    >>> import numpy as np
    >>> params = np.zeros(2)
    >>> Adam(0.01).update_params(params, np.array([5.0, -0.1]))
    >>> params.round(6)
    array([-0.01,  0.01])
    """

    def __init__(self, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 lr_schedule="constant", power_t=0.5, n_epochs=None):
        super().__init__(learning_rate_init, lr_schedule, power_t, n_epochs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.m = self.v = None
        self._tmp = None  # scratch, not state

    def update_params(self, params, grads):
        """Take one step.

        Parameters
        ----------
        params : ndarray
            The parameters, updated in place.
        grads : ndarray
            Their gradient, of the same shape.
        """
        if self.m is None:
            self.m, self.v = np.zeros_like(params), np.zeros_like(params)
        if self._tmp is None or self._tmp.shape != params.shape or self._tmp.dtype != params.dtype:
            self._tmp = np.empty_like(params)
        self.t += 1
        f = params.dtype.type
        m, v, tmp = self.m, self.v, self._tmp
        np.multiply(grads, grads, out=tmp)
        m *= f(self.beta_1)
        m += f(1 - self.beta_1) * grads
        v *= f(self.beta_2)
        tmp *= f(1 - self.beta_2)
        v += tmp
        lr_t = self.learning_rate * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        np.sqrt(v, out=tmp)
        tmp += f(self.epsilon)
        np.divide(m, tmp, out=tmp)
        tmp *= f(lr_t)
        params -= tmp


def minimize_lbfgs(fun, theta0, max_iter=200, tol=1e-4, max_fun=15000, callback=None):
    """Minimise a function with scipy's L-BFGS-B on a flat parameter vector.

    scipy works in float64; the result is cast back to ``theta0``'s dtype.

    Parameters
    ----------
    fun : callable
        ``fun(theta) -> (loss, grad)``.
    theta0 : ndarray of shape (n_params,)
        Starting point.
    max_iter : int, default=200
        Most iterations.
    tol : float, default=1e-4
        Projected-gradient tolerance (scipy's ``gtol``).
    max_fun : int, default=15000
        Most evaluations of ``fun``.
    callback : callable, default=None
        Called by scipy after every iteration with the intermediate result.

    Returns
    -------
    theta : ndarray of shape (n_params,)
        The minimiser.
    result : scipy.optimize.OptimizeResult
        scipy's report.

    Examples
    --------
    >>> import numpy as np
    >>> theta, result = minimize_lbfgs(lambda x: (float(x @ x), 2 * x), np.ones(3))
    >>> bool(np.allclose(theta, 0))
    True
    """
    dtype = theta0.dtype

    def f64(theta):
        value, grad = fun(theta.astype(dtype, copy=False))
        return value, np.asarray(grad, dtype=np.float64)

    result = minimize(f64, theta0.astype(np.float64), jac=True, method="L-BFGS-B",
                      callback=callback,
                      options={"maxiter": max_iter, "maxfun": max_fun, "gtol": tol})
    return result.x.astype(dtype), result
