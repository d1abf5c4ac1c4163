"""scikit-learn's estimator checks on every estimator: at their defaults (no expected failure)
and over a pairwise covering of cells x directions x solvers (expected failures carry their
reason)."""

import itertools

import pytest
from sklearn.utils.estimator_checks import estimator_checks_generator, parametrize_with_checks

from skrnn import RNNClassifier, RNNRegressor, RNNSequenceRegressor, RNNSequenceTagger

ESTIMATORS = [RNNClassifier, RNNRegressor, RNNSequenceTagger, RNNSequenceRegressor]
CELLS = ["gru", "lstm", "rnn"]
SOLVERS = {
    # the check data (up to 200 sequences) in one batch: the configurations test cells,
    # solvers and directions, and the default batch_size is checked by the defaults' run;
    # batches of 32 made these checks the largest part of the suite's time
    # (and MLP's patience of 10 epochs: the defaults' run checks the default patience of 50,
    # which runs most of these fits to max_iter)
    "adam": {"batch_size": 200, "n_iter_no_change": 10},
    # plain SGD needs more updates than Adam: the check data fit in one "auto" batch
    "sgd": {"learning_rate_init": 0.03, "batch_size": 32, "max_iter": 100,
            "n_iter_no_change": 10},
    # L-BFGS reached its default 200 iterations on the regression checks' data (a
    # ConvergenceWarning, and the suite's slowest checks); 100 pass every check
    "lbfgs": {"max_iter": 100},
}

CHAOTIC_ROUND_OFF = (
    "fitting with integer sample weights and with repeated rows differ only by round-off "
    "(1e-16 at the first epoch), but this configuration amplifies it exponentially while it "
    "memorises the check's 15 random sequences; the predictions then differ by more than the "
    "check's rtol=1e-7. The defaults (GRU, Adam) stay below 1e-9."
)


# Every cell with every solver, each in one direction, so that every pair of values of the
# three (cell and solver, cell and direction, solver and direction) is checked: the checks
# exercise the scikit-learn surface, and the math of every cell, direction and depth is
# checked by the engine's tests. The full product (17 configurations per estimator) took
# most of the suite's time for no check that a pair does not already cover.
# The bidirectional runs go to the configurations with the least work per epoch: SGD's
# batches of 32 make many updates, and with the LSTM bidirectional its checks alone took a
# minute of the suite.
PAIRWISE = [("gru", "adam", True), ("gru", "sgd", False), ("gru", "lbfgs", True),
            ("lstm", "adam", True), ("lstm", "sgd", False), ("lstm", "lbfgs", False),
            ("rnn", "adam", False), ("rnn", "sgd", True), ("rnn", "lbfgs", True)]


# RNNSequenceRegressor shares RNNRegressor's code but for its targets and outputs: three
# configurations give it every cell, solver and direction once.
COVERING = [("gru", "sgd", False), ("lstm", "lbfgs", False), ("rnn", "adam", True)]


def grid():
    """The pairwise configurations, at a small hidden size to keep the suite fast."""
    for Est in ESTIMATORS:
        for cell, solver, bidirectional in (COVERING if Est is RNNSequenceRegressor
                                            else PAIRWISE):
            yield Est(cell=cell, hidden_layer_sizes=(8,), bidirectional=bidirectional,
                      solver=solver, **SOLVERS[solver])


def test_the_configurations_cover_every_pair():
    pairs = [{(c, s), (c, d), (s, d)} for c, s, d in PAIRWISE]
    covered = set().union(*pairs)
    for a, b in itertools.chain(itertools.product(CELLS, SOLVERS),
                                itertools.product(CELLS, [False, True]),
                                itertools.product(SOLVERS, [False, True])):
        assert (a, b) in covered


def expected_failures(estimator):
    """Measured: outside the defaults' cell and solver (GRU with Adam), sample-weight
    equivalence breaks down through round-off in some configurations (L-BFGS iterating to its
    own convergence test, SGD with momentum, Adam with LSTM or vanilla cells)."""
    params = estimator.get_params()
    if (params["cell"], params["solver"]) != ("gru", "adam"):
        return {"check_sample_weight_equivalence_on_dense_data": CHAOTIC_ROUND_OFF}
    return {}


@parametrize_with_checks([Est() for Est in ESTIMATORS])
def test_defaults_pass_every_check(estimator, check):
    check(estimator)


@parametrize_with_checks(list(grid()), expected_failed_checks=expected_failures)
def test_configurations(estimator, check):
    check(estimator)


# With embedding_dim set, X holds token ids and the estimators tag their input categorical
# and non-negative, so that scikit-learn's checks round their data to whole numbers >= 0. The
# checks below still cannot apply, for the reasons given. The per-step estimators are left
# out: a 2-D array of ids is a set of sequences, and the checks give one target per row.
# (The regressor's predictions of a token model are float32, which
# check_regressor_multioutput would refuse.)
ALL_PADDING = ("the check's data, rounded to whole numbers, holds rows of zeros; in a 2-D array "
               "of token ids, id 0 pads, so such a row is a sequence without steps (an error)")
NOT_ROUNDED = ("the check gives non-integer floats although the tags say the input is "
               "categorical, and token ids must be whole numbers")
TOKEN_FAILURES = {
    **{name: ALL_PADDING for name in (
        "check_fit_score_takes_y", "check_sample_weights_pandas_series",
        "check_sample_weights_not_an_array", "check_sample_weights_list",
        "check_pipeline_consistency", "check_estimators_pickle", "check_supervised_y_2d",
        "check_transformer_data_not_an_array", "check_transformer_general",
        "check_transformer_preserve_dtypes", "check_transformer_n_iter",
        "check_fit2d_1feature", "check_classifiers_one_label_sample_weights")},
    "check_sample_weight_equivalence_on_dense_data": NOT_ROUNDED,
    "check_class_weight_classifiers": NOT_ROUNDED,
}


# The classifier only: the regressor reads token ids through the same code, and the suite's
# time is better spent in tests/test_tokens.py.
@parametrize_with_checks([RNNClassifier(embedding_dim=4, hidden_layer_sizes=(8,),
                                         **SOLVERS["adam"])],
                         expected_failed_checks=lambda est: TOKEN_FAILURES)
def test_token_models_pass_the_checks_that_apply(estimator, check):
    check(estimator)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_each_estimator_gets_at_least_50_checks(Est):
    """Guards against tags that would make scikit-learn skip its checks."""
    checks = list(estimator_checks_generator(Est(), legacy=True, mark="skip"))
    assert len(checks) >= 50
