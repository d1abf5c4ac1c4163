"""The fast path of the engine: the interface of :mod:`skrnn.nn.recurrent`, made fast.

``prepare``, ``forward``, ``backward`` and ``release`` take and return what the reference
implementation in :mod:`skrnn.nn.recurrent` does, and compute the same functions (tested to
1e-12 in float64). How they are made fast is described in ``loop.py`` (the loop over time) and
in the kernels ``rnn.py``, ``lstm.py`` and ``gru.py`` (one per cell). ``compiled.py`` holds
the same kernels with each step's elementwise work compiled by numba, chosen by the
``kernels`` setting of :mod:`skrnn.nn.config` (:func:`use_compiled`).
"""

import importlib.util
from functools import lru_cache

import numpy as np

from ..config import get_config
from ..recurrent import Direction
from . import loop
from .buffers import clear_workspace, workspace
from .gru import GRUKernel
from .lstm import LSTMKernel
from .rnn import RNNKernel

__all__ = ["kernel", "prepare", "forward", "backward", "release", "clear_workspace", "Stepper"]


# The cells "auto" runs with the compiled kernels: where they measured faster than the NumPy
# kernels (benchmarks/README.md, the compiled loops' runs): every cell, at every point of the
# engine's grid.
AUTO_COMPILED = {"lstm", "gru", "rnn"}


@lru_cache(maxsize=None)
def _kernel(name, activation, compiled):
    if compiled:
        from . import compiled as c  # imports numba; each step compiles at its first call
        if name == "rnn":
            return c.CompiledRNNKernel(activation)
        return c.CompiledLSTMKernel() if name == "lstm" else c.CompiledGRUKernel()
    if name == "rnn":
        return RNNKernel(activation)
    return LSTMKernel() if name == "lstm" else GRUKernel()


@lru_cache(maxsize=1)
def numba_available():
    """Whether numba can be imported (looked up once, without importing it)."""
    return importlib.util.find_spec("numba") is not None


def use_compiled(name):
    """Whether the compiled kernels run cell ``name`` ("rnn", "lstm", "gru"), by the
    ``kernels`` setting of :mod:`skrnn.nn.config`."""
    kernels = get_config()["kernels"]
    if kernels == "numpy":
        return False
    if kernels == "numba":
        return True
    if kernels != "auto":
        raise ValueError(f"kernels must be 'auto', 'numba' or 'numpy' (SKRNN_KERNELS); "
                         f"got {kernels!r}")
    return name in AUTO_COMPILED and numba_available()


def kernel(cell):
    """The fast kernel of a cell object of :mod:`skrnn.nn.cells`, by the ``kernels``
    setting."""
    return _kernel(cell.name, getattr(cell, "activation", "tanh"), use_compiled(cell.name))


def prepare(cell, weights, for_backward=True):
    """The weights in the kernel's form (see :func:`skrnn.nn.recurrent.prepare`)."""
    return kernel(cell).prepare(weights, for_backward, workspace().empty)


def forward(cell, w, X1, n_active, state0, reverse=False, keep=True, outputs=True):
    """One layer and direction forward (see :func:`skrnn.nn.recurrent.forward`)."""
    return loop.forward(kernel(cell), w, X1, n_active, state0, reverse, keep, outputs)


def backward(cell, w, cache, dY, n_active, reverse=False, need_dX=True):
    """Backpropagation through time (see :func:`skrnn.nn.recurrent.backward`); ``dY`` is
    overwritten."""
    return loop.backward(cache[0], w, cache, dY, n_active, reverse, need_dX)


def release(obj):
    """Give the buffers of a :class:`~skrnn.nn.recurrent.Direction` or of prepared weights back
    to this thread's workspace, once nothing reads them."""
    bufs = obj.cache[1] if isinstance(obj, Direction) else obj
    workspace().give(*(v for v in bufs.values() if isinstance(v, np.ndarray)))


def Stepper(cell, weights, n):  # noqa: N802 - a class of the reference's interface
    """One layer one step at a time (see :class:`skrnn.nn.recurrent.Stepper`), with the
    weights prepared and owned."""
    k = kernel(cell)
    return loop.Stepper(k, k.prepare(weights, False), n)

