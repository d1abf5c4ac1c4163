"""skrnn's NumPy recurrent engine: cells, the loop over time, the network, losses, optimizers.

Where to read what:

- :mod:`skrnn.nn.cells`: one step of each cell and its backward step, as equations;
- :mod:`skrnn.nn.recurrent`: the loop over time of one layer and direction, with masking,
  direction and backpropagation through time;
- :mod:`skrnn.nn.network`: stacking, bidirectional layers, dropout, the head and truncated
  backpropagation through time;
- :mod:`skrnn.nn.losses` and :mod:`skrnn.nn.optimizers`.

The cells and the loop in those modules are the reference implementation. The network runs
the fast path (``skrnn.nn._fast``) by default, which computes the same functions and is tested
against the reference. The engine imports numpy and scipy only (and threadpoolctl when
installed, to run the per-step GEMMs on one thread), never scikit-learn.
"""

from ._fast import clear_workspace
from .cells import GRUCell, LSTMCell, RNNCell, Weights, get_cell
from .network import Batch, RecurrentNetwork

__all__ = ["RecurrentNetwork", "Batch", "RNNCell", "LSTMCell", "GRUCell", "Weights", "get_cell",
           "clear_workspace"]
