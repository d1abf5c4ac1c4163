"""skrnn: recurrent neural network estimators for scikit-learn, on a NumPy engine."""

__version__ = "0.1.0.dev0"
