"""Docstring sections shared by the estimators, written once."""

import textwrap

PARAMETERS = """\
cell : {"gru", "lstm", "rnn"}, default="gru"
    The recurrent cell, with PyTorch's equations and weight layout.
hidden_layer_sizes : tuple of int, default=(32,)
    Hidden state size of each stacked recurrent layer.
bidirectional : bool, default=False
    Run every layer in both directions and concatenate the two outputs.
activation : {"tanh", "relu"}, default="tanh"
    Nonlinearity of cell="rnn" (ignored by the gated cells).
dropout : float in [0, 1), default=0.0
    Dropout on the inputs of every layer after the first, during training only.
embedding_dim : int or None, default=None
    With an int, X holds integer token ids, one per step (as :class:`~skrnn.TokenEncoder`
    writes them: a list of 1-D id arrays, or a 2-D array whose rows are sequences padded with
    id 0), read through a learned embedding table of this many columns (``embedding.weight``
    in :meth:`state_dict`, PyTorch's ``nn.Embedding`` with ``padding_idx=0``: row 0 stays
    zero). Such a model computes in float32. None reads numbers.
n_tokens : int or None, default=None
    Rows of the embedding table (ids 0 to n_tokens - 1), fixed at the first fit; None is one
    more than the largest id of that fit. Ids at or above it are an error in every later call:
    set it to leave room for ids that ``partial_fit`` will see later.
solver : {"adam", "sgd", "lbfgs"}, default="adam"
    "lbfgs" trains full-batch with scipy's L-BFGS-B on the flat parameter vector.
alpha : float, default=0.0001
    L2 penalty on the weights (not the biases), divided by the total sample weight.
batch_size : int or "auto", default="auto"
    Sequences per mini-batch. "auto" puts up to 64 sequences in one batch, and cuts more into
    batches of 32: MLPClassifier's min(200, n_sequences) gives data of a few hundred sequences
    one update per epoch, which trains small text and sequence tasks poorly.
learning_rate : {"constant", "invscaling", "adaptive", "cosine"}, default="constant"
    Learning-rate schedule of solver="sgd" and "adam". "constant", "invscaling" and
    "adaptive" are MLPClassifier's: "invscaling" sets the rate to
    ``learning_rate_init / (t + 1) ** power_t`` after each epoch, t the sequences seen so far;
    "adaptive" divides it by 5 whenever ``n_iter_no_change`` epochs do not improve by ``tol``
    (a reduction on plateaus) instead of stopping, and stops once it is below 1e-6. "cosine"
    decays it from ``learning_rate_init`` to 0 over ``max_iter`` epochs,
    ``learning_rate_init * (1 + cos(pi * epoch / max_iter)) / 2``
    (``partial_fit`` calls count as epochs; past ``max_iter`` the rate stays 0).
learning_rate_init : float, default=0.01
    Initial step size of "sgd" and "adam".
power_t : float, default=0.5
    Exponent of the "invscaling" schedule.
max_iter : int, default=200
    Maximum number of epochs (iterations for "lbfgs").
shuffle : bool, default=True
    Shuffle the sequences at every epoch.
random_state : int, RandomState instance or None, default=None
    Seeds the initial weights, shuffling, dropout and the validation split. Every call to
    fit starts again from it, so fits with an int seed are identical.
tol : float, default=1e-4
    Improvement that counts: an epoch improves when its training loss (with early_stopping,
    its validation loss) is more than tol below the best so far. With solver="lbfgs", the
    tolerance of the projected gradient (scipy's ``gtol``).
verbose : bool or int, default=False
    Report progress of the mini-batch solvers. True (1) in a terminal or a notebook: one
    line, rewritten every epoch, with the epoch of max_iter, the loss, the validation score,
    the learning rate and the time so far; elsewhere (a log, a pipe) and with 2: one line
    per epoch, as MLPClassifier prints (loss, validation score, gradient norm, learning rate,
    seconds). Stopping decisions are printed on their own lines.
warm_start : bool, default=False
    Start fit from the weights of the previous fit.
momentum : float, default=0.9
    Momentum of solver="sgd".
nesterovs_momentum : bool, default=True
    Use Nesterov's momentum with solver="sgd".
early_stopping : bool, default=False
    Hold out validation_fraction of the sequences, stop when their loss (the training loss,
    weighted the same way, without the L2 penalty) stops improving, and restore the weights
    of the epoch with the lowest validation loss. The loss rather than the accuracy, which
    moves in steps of one sequence on a small validation part. On data of a few dozen
    sequences the validation part is too small to judge by: see the user guide's "getting
    good accuracy" page.
validation_fraction : float, default=0.1
    Fraction of the sequences held out with early_stopping.
beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
    Parameters of solver="adam".
n_iter_no_change : int, default=50
    Epochs without improvement before stopping. MLPClassifier's 10 stopped fits of a few
    dozen sequences on plateaus and on the noise of the mini-batch loss, short of the
    accuracy that more epochs reached; with 50 they end where running every epoch ends,
    and fits that converge (a loss that stops falling by tol) still stop (measured by
    ``benchmarks/learning_stopping.py``; see the user guide's "getting good accuracy").
max_fun : int, default=15000
    Maximum number of loss evaluations of solver="lbfgs".
max_grad_norm : float or None, default=5.0
    Clip the gradient of every mini-batch to this global L2 norm; None turns clipping off.
tbptt_steps : int or None, default=None
    Truncated backpropagation through time: windows of this many steps; the state carries
    across windows but the gradient does not, so memory stays bounded on long sequences.
    None is full backpropagation through time. Ignored by bidirectional networks."""

POOLING = """\
pooling : {"last", "mean", "max"}, default="last"
    What the dense head reads. "last": the top layer's state after each sequence's last real
    step (bidirectional: joined with the backward direction's state after the first step).
    "mean" and "max": the mean and the elementwise maximum, over each sequence's real steps,
    of the top layer's outputs (both directions joined at each step); padding never counts.
    A pool gives every step a direct path to the head, where "last" reaches early steps only
    through the recurrence. :meth:`transform` and :meth:`final_state` return the final states
    whatever the pooling, and an ``initial_state`` carries the recurrence, not the pool: the
    pool covers the steps given."""

SCALE_TARGET = """\
scale_target : bool, default=True
    Standardise the targets for training: each output is shifted by its mean and divided by
    its standard deviation over the training targets (both weighted by ``sample_weight``;
    for per-step targets, over the real steps with their weights; an output of one value
    gets scale 1), and the network learns these standardised targets. Predictions,
    ``score``, streams and exported models (ONNX, PyTorch state dicts) are in the targets'
    own units. On by default because the network is tuned for outputs of order 1: its head
    starts near 0, Adam moves each weight by about ``learning_rate_init`` per step, the
    gradient is clipped at ``max_grad_norm`` and ``tol`` is an absolute change of the loss,
    so targets in the thousands, or varying little around a large level, train slowly and
    stop early. The scaling is set by a new fit (and the first ``partial_fit``);
    ``warm_start`` fits and later ``partial_fit`` calls keep it, as the weights were learned
    against it. With True the training loss (``loss_curve_``, ``best_loss_``, ``verbose``,
    ``tol``) is that of the standardised targets; the validation score of
    ``early_stopping`` is R^2, which the scaling does not change. False trains on the
    targets as they are (``target_mean_`` 0, ``target_scale_`` 1)."""

TARGET_ATTRIBUTES = """\
target_mean_ : ndarray of shape (`n_outputs_`,)
    Mean of each output over the training targets (float64), subtracted before training;
    zeros with ``scale_target=False``.
target_scale_ : ndarray of shape (`n_outputs_`,)
    Standard deviation of each output over the training targets (float64, 1 for an output
    of one value), by which the targets are divided before training; ones with
    ``scale_target=False``. Predictions are the network's outputs times ``target_scale_``
    plus ``target_mean_``."""

ATTRIBUTES = """\
network_ : skrnn.nn.RecurrentNetwork
    The network's configuration (cell, sizes, directions, head); its methods run the network
    on padded batches.
theta_ : ndarray of shape (`network_.n_params`,)
    Every weight and bias in one flat vector (float32 or float64, the dtype of the training
    data), laid out as ``network_.layout`` says. :meth:`state_dict` returns them by PyTorch's
    names and :meth:`load_state_dict` sets them.
n_features_in_ : int
    Features seen during fit: columns of a 2-D array, features per step otherwise (1 for
    token ids, one per step).
n_tokens_ : int or None
    Rows of the embedding table with ``embedding_dim``: ``n_tokens``, or one more than the
    largest id of the first fit. None for a model of numbers.
feature_names_in_ : ndarray of shape (`n_features_in_`,)
    Defined when fit was given feature names (pandas columns).
loss_curve_ : list of float
    Training loss of every epoch (for a regressor with ``scale_target=True``, that of the
    standardised targets: each output's squared error divided by ``target_scale_**2``).
grad_norm_curve_ : list of float
    Mean gradient norm (before clipping) of every epoch.
best_loss_ : float
    Lowest training loss, in the units of ``loss_curve_``.
validation_scores_ : list of float or None
    Validation score of every epoch with early_stopping: accuracy (classifiers, over real
    steps for the tagger) or R^2 (regressors; the same with or without target scaling),
    weighted as the training loss is, by the sample weights and, for classifiers,
    class_weight.
best_validation_score_ : float or None
    Best validation score with early_stopping.
validation_loss_curve_ : list of float or None
    Validation loss of every epoch with early_stopping, which it watches: the weighted mean
    loss of the held-out sequences (or steps), without the L2 penalty.
best_validation_loss_ : float or None
    Lowest validation loss with early_stopping; the fitted weights are that epoch's.
n_iter_ : int
    Epochs run (iterations for "lbfgs").
t_ : int
    Number of training sequences seen by the optimizer."""


INPUT_FORMS = """\
Input forms, accepted by every method:

- a ragged list of arrays shaped (T_i, n_features) or (T_i,);
- a 3-D array (n_sequences, T, n_features), padding marked by trailing all-NaN steps;
- {two_d};
- a pandas DataFrame, 2-D as above or long format with a (sequence id, time) MultiIndex.

Nested lists of numbers of equal lengths are read as a 2-D array, as scikit-learn does."""

TWO_D = {
    "sequences": "a 2-D array (n_sequences, T): each row one univariate sequence of T steps",
    "steps": "a 2-D array (n_rows, n_features): each row one time step forming its own\n"
             "  sequence (so the tagger also works as an ordinary classifier of rows)",
}


def fill_doc(cls):
    """Insert the shared input-form, parameter (pooling, target scaling) and attribute
    sections into a class docstring."""
    indent = " " * 4
    sections = {"input_forms": INPUT_FORMS.format(two_d=TWO_D[cls._two_d]),
                "parameters": PARAMETERS, "pooling": POOLING, "scale_target": SCALE_TARGET,
                "attributes": ATTRIBUTES, "target_attributes": TARGET_ATTRIBUTES}
    cls.__doc__ = cls.__doc__.format(**{name: textwrap.indent(text, indent).lstrip()
                                        for name, text in sections.items()})
    return cls
