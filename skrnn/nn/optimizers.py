"""Optimizers and gradient clipping over one flat parameter vector.

The stochastic optimizers know nothing of networks: their whole contract is
``step(params, grad)``, updating ``params`` in place. L-BFGS goes through
``scipy.optimize.minimize`` on the flat vector.
"""

import numpy as np
from scipy.optimize import minimize

__all__ = ["SGD", "Adam", "clip_grad_norm", "clip_grad_value", "minimize_lbfgs"]


def clip_grad_norm(grad, max_norm):
    """Scale ``grad`` in place so its global L2 norm is at most ``max_norm``.

    Returns the norm before clipping (a float). A gradient that is not finite is left as it is
    and its norm (inf or nan) returned, so the caller can stop training.

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


def clip_grad_value(grad, clip_value):
    """Clip every entry of ``grad`` in place to [-clip_value, clip_value].

    Returns the global L2 norm before clipping.
    """
    norm = float(np.sqrt(np.vdot(grad, grad)))
    np.clip(grad, -clip_value, clip_value, out=grad)
    return norm


class SGD:
    """Stochastic gradient descent with momentum, optionally Nesterov's.

    With velocity ``v`` (zero at the start)::

        v <- momentum * v - learning_rate * grad
        params <- params + v                                      (classical)
        params <- params + momentum * v - learning_rate * grad    (Nesterov)

    Parameters
    ----------
    learning_rate : float
    momentum : float in [0, 1]
    nesterov : bool
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, nesterov=True):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocity = None

    def step(self, params, grad):
        if self.velocity is None:
            self.velocity = np.zeros_like(params)
        lr = params.dtype.type(self.learning_rate)
        v = self.velocity
        v *= params.dtype.type(self.momentum)
        v -= lr * grad
        if self.nesterov:
            params += params.dtype.type(self.momentum) * v - lr * grad
        else:
            params += v


class Adam:
    """Adam (Kingma and Ba, 2015), the bias correction folded into the step size.

    With first and second moments ``m``, ``v`` (zero at the start) and step count ``t``::

        m <- beta_1 m + (1 - beta_1) grad
        v <- beta_2 v + (1 - beta_2) grad^2
        params <- params - lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

    Parameters
    ----------
    learning_rate, beta_1, beta_2, epsilon : float
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.m = self.v = self._tmp = None

    def step(self, params, grad):
        if self.m is None:
            self.m, self.v = np.zeros_like(params), np.zeros_like(params)
            self._tmp = np.empty_like(params)
        self.t += 1
        f = params.dtype.type
        m, v, tmp = self.m, self.v, self._tmp
        m *= f(self.beta_1)
        m += f(1 - self.beta_1) * grad
        np.multiply(grad, grad, out=tmp)
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
    """Minimise ``fun(theta) -> (loss, grad)`` with scipy's L-BFGS-B on the flat vector.

    scipy works in float64; the result is cast back to ``theta0``'s dtype.

    Returns
    -------
    theta : ndarray, the minimiser
    result : scipy.optimize.OptimizeResult
    """
    dtype = theta0.dtype

    def f64(theta):
        value, grad = fun(theta.astype(dtype, copy=False))
        return value, np.asarray(grad, dtype=np.float64)

    result = minimize(f64, theta0.astype(np.float64), jac=True, method="L-BFGS-B",
                      callback=callback,
                      options={"maxiter": max_iter, "maxfun": max_fun, "gtol": tol})
    return result.x.astype(dtype), result
