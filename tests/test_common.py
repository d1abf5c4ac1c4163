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
    "adam": {},
    # plain SGD needs more updates than Adam: the check data fit in one "auto" batch of 200
    "sgd": {"learning_rate_init": 0.03, "batch_size": 32},
    "lbfgs": {},
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
PAIRWISE = [("gru", "adam", True), ("gru", "sgd", False), ("gru", "lbfgs", True),
            ("lstm", "adam", False), ("lstm", "sgd", True), ("lstm", "lbfgs", False),
            ("rnn", "adam", True), ("rnn", "sgd", False), ("rnn", "lbfgs", True)]


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


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_each_estimator_gets_at_least_50_checks(Est):
    """Guards against tags that would make scikit-learn skip its checks."""
    checks = list(estimator_checks_generator(Est(), legacy=True, mark="skip"))
    assert len(checks) >= 50
