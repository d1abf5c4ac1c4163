"""skrnn: recurrent neural network estimators for scikit-learn, on a NumPy engine.

The estimators take sequences as a ragged list of arrays, a NaN-padded 3-D array, a 2-D array
or a pandas DataFrame, and work in Pipeline, GridSearchCV and cross_val_score.
"""

from ._classifier import RNNClassifier
from ._regressor import RNNRegressor
from ._sequence_regressor import RNNSequenceRegressor
from ._tagger import RNNSequenceTagger
from .nn.config import config_context, get_config, set_config
from .forecasting import RNNForecaster, make_windows
from .language_model import RNNLanguageModel
from .preprocessing import SequenceScaler
from .text import TokenEncoder

__version__ = "0.1.0.dev0"

__all__ = ["RNNClassifier", "RNNRegressor", "RNNSequenceTagger", "RNNSequenceRegressor",
           "__version__",
           "SequenceScaler", "make_windows", "RNNForecaster", "TokenEncoder", "RNNLanguageModel",
           "set_config", "get_config", "config_context"]
