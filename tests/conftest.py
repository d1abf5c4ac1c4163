"""Test session set-up: one BLAS thread per test process.

The suite runs in several processes (pytest-xdist); BLAS pools of several threads each would
oversubscribe the cores and make small per-step GEMMs erratic.
"""

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_blas():
    with threadpool_limits(limits=1):
        yield
