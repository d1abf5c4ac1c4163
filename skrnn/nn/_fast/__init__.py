"""The fast path of the engine: the interface of :mod:`skrnn.nn.recurrent`, made fast.

``prepare``, ``forward``, ``backward`` and ``release`` take and return what the reference
implementation in :mod:`skrnn.nn.recurrent` does, and compute the same functions (tested to
1e-12 in float64). How they are made fast is described in ``loop.py`` (the loop over time) and
in the kernels ``rnn.py``, ``lstm.py`` and ``gru.py`` (one per cell).
"""

from functools import lru_cache

import numpy as np

from ..recurrent import Direction
from . import loop
from .buffers import clear_workspace, workspace
from .gru import GRUKernel
from .lstm import LSTMKernel
from .rnn import RNNKernel

__all__ = ["prepare", "forward", "backward", "release", "clear_workspace", "Stepper"]


@lru_cache(maxsize=None)
def _kernel(name, activation):
    if name == "rnn":
        return RNNKernel(activation)
    return LSTMKernel() if name == "lstm" else GRUKernel()


def kernel(cell):
    """The fast kernel of a cell object of :mod:`skrnn.nn.cells`."""
    return _kernel(cell.name, getattr(cell, "activation", "tanh"))


def prepare(cell, weights, for_backward=True):
    """The weights in the kernel's form (see :func:`skrnn.nn.recurrent.prepare`)."""
    return kernel(cell).prepare(weights, for_backward, workspace().empty)


def forward(cell, w, X1, n_active, state0, reverse=False, keep=True, outputs=True):
    """One layer and direction forward (see :func:`skrnn.nn.recurrent.forward`)."""
    return loop.forward(kernel(cell), w, X1, n_active, state0, reverse, keep, outputs)


def backward(cell, w, cache, dY, n_active, reverse=False, need_dX=True):
    """Backpropagation through time (see :func:`skrnn.nn.recurrent.backward`); ``dY`` is
    overwritten."""
    return loop.backward(kernel(cell), w, cache, dY, n_active, reverse, need_dX)


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

