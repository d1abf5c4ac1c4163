"""skrnn's NumPy recurrent engine: cells, the time loop, losses, optimizers.

Imports numpy and scipy only (and threadpoolctl when installed, to run the per-step GEMMs on one
thread), never scikit-learn, so it can be read, tested and benchmarked on its own.
"""

from .cells import GRUCell, LSTMCell, RNNCell, get_cell
from .network import RecurrentNetwork

__all__ = ["RecurrentNetwork", "RNNCell", "LSTMCell", "GRUCell", "get_cell"]
