"""Settings of the engine: which kernels run the steps of the fast path.

The one setting, ``kernels``, chooses between the NumPy kernels (the default install, the
reference of the fast path) and compiled numba kernels (``pip install skrnn[fast]``). It
changes speed only: results agree to round-off (1e-12 in float64; in float32, the bounds of
the engine page's "Compiled kernels" section).

``set_config`` changes the setting for every thread of the process; ``config_context``
changes it for the calling thread while its block runs. Worker processes (joblib's loky or
dask backends) start from the environment variable ``SKRNN_KERNELS`` when it is set.
"""

import os
import threading
from contextlib import contextmanager

__all__ = ["get_config", "set_config", "config_context"]

_KERNELS = ("auto", "numba", "numpy")
_default = {"kernels": os.environ.get("SKRNN_KERNELS", "auto")}
_local = threading.local()


def _check_kernels(kernels):
    if kernels not in _KERNELS:
        raise ValueError(f"kernels must be one of {', '.join(map(repr, _KERNELS))}; "
                         f"got {kernels!r}")
    if kernels == "numba":
        from ._fast import compiled  # noqa: F401 - raises a clear ImportError without numba


def get_config():
    """The settings in effect in the calling thread.

    Returns
    -------
    dict
        ``{"kernels": ...}``; see :func:`set_config`.

    Examples
    --------
    >>> import skrnn
    >>> skrnn.get_config()["kernels"] in ("auto", "numba", "numpy")
    True
    """
    return dict(getattr(_local, "config", None) or _default)


def set_config(kernels=None):
    """Change the settings for every thread of this process.

    A thread inside a :func:`config_context` block keeps the block's settings until it ends.

    Parameters
    ----------
    kernels : {"auto", "numba", "numpy"}, default=None
        Which kernels run the engine's loops over time. "numpy": the NumPy kernels.
        "numba": compiled kernels (needs numba, ``pip install skrnn[fast]``; an
        ``ImportError`` says so otherwise). "auto": the compiled kernels where numba is
        installed and they measured faster (every cell), the NumPy kernels without numba.
        None leaves the setting unchanged. The environment variable ``SKRNN_KERNELS`` sets
        the value a process starts with.

    Examples
    --------
    >>> import skrnn
    >>> skrnn.set_config(kernels="numpy")
    >>> skrnn.get_config()["kernels"]
    'numpy'
    >>> skrnn.set_config(kernels="auto")
    """
    if kernels is not None:
        _check_kernels(kernels)
        _default["kernels"] = kernels


@contextmanager
def config_context(*, kernels=None):
    """Change the settings of the calling thread while a ``with`` block runs.

    Parameters
    ----------
    kernels : {"auto", "numba", "numpy"}, default=None
        See :func:`set_config`. None keeps the current value.

    Yields
    ------
    None
        The block runs with the settings changed; they are restored when it ends.

    Examples
    --------
    >>> import skrnn
    >>> with skrnn.config_context(kernels="numpy"):
    ...     skrnn.get_config()["kernels"]
    'numpy'
    """
    old = getattr(_local, "config", None)
    new = get_config()
    if kernels is not None:
        _check_kernels(kernels)
        new["kernels"] = kernels
    _local.config = new
    try:
        yield
    finally:
        _local.config = old
