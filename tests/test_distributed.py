"""GridSearchCV and cross_validate over skrnn estimators on a dask.distributed cluster, through
joblib's dask backend: the same results as n_jobs=1, with single-threaded BLAS in every worker."""

import logging
import warnings

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from skrnn import RNNClassifier, RNNRegressor, RNNSequenceTagger

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.xdist_group("dask")  # one cluster when run with --dist loadgroup

SMALL = dict(hidden_layer_sizes=(4,), max_iter=4, random_state=0)


def ragged(n=30, seed=0):
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=(rng.integers(3, 9), 2)) for _ in range(n)]
    return X, np.array([int(x[0, 0] > 0) for x in X])


def blas_threads():
    from threadpoolctl import threadpool_info

    return sorted({pool["num_threads"] for pool in threadpool_info()
                   if pool["user_api"] == "blas"})


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the cluster's start-up chatter
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, scheduler_port=0,
                                           silence_logs=logging.ERROR)
    try:
        with distributed.Client(cluster) as dask_client:
            yield dask_client
    finally:
        cluster.close()


def run(fn, backend):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if backend is None:
            return fn(1)
        with joblib.parallel_backend(backend):
            return fn(-1)


def test_grid_search_on_dask_equals_n_jobs_1(client):
    X, y = ragged()
    grid = {"cell": ["gru", "lstm"], "learning_rate_init": [0.01, 0.05]}

    def search(n_jobs):
        return GridSearchCV(RNNClassifier(**SMALL), grid, cv=3, n_jobs=n_jobs).fit(X, y)

    local, remote = run(search, None), run(search, "dask")
    assert len(client.scheduler_info()["workers"]) == 2
    for key in ("params", "mean_test_score", "std_test_score", "rank_test_score",
                *(f"split{k}_test_score" for k in range(3))):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key], key)
    assert remote.best_params_ == local.best_params_
    assert remote.best_estimator_.predict_proba(X).tobytes() == \
        local.best_estimator_.predict_proba(X).tobytes()
    # the tasks really ran in the worker processes
    assert any(task for task in client.run(lambda dask_worker: dask_worker.state.log).values())


@pytest.mark.parametrize("Est", [RNNRegressor, RNNSequenceTagger])
def test_cross_validate_on_dask_equals_n_jobs_1(client, Est):
    X, y = ragged()
    target = y.astype(float) if Est is RNNRegressor else \
        [(np.cumsum(x[:, 0]) > 0).astype(int) for x in X]

    def cv(n_jobs):
        return cross_validate(Est(**SMALL), X, target, cv=KFold(3), n_jobs=n_jobs,
                              return_estimator=True, return_train_score=True)

    local, remote = run(cv, None), run(cv, "dask")
    for key in ("test_score", "train_score"):
        np.testing.assert_array_equal(remote[key], local[key], key)
    for a, b in zip(remote["estimator"], local["estimator"]):
        assert a.theta_.tobytes() == b.theta_.tobytes()


def test_workers_run_blas_single_threaded(client):
    """Several fits at once must not oversubscribe the cores: dask's nanny starts workers
    with OMP_NUM_THREADS=1 (and the MKL/OpenBLAS equivalents), which threadpoolctl sees."""
    for threads in client.run(blas_threads).values():
        assert threads in ([], [1]), threads
