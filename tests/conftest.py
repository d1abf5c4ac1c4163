"""Test session set-up: one BLAS thread per test process.

The suite runs in several processes (pytest-xdist); BLAS pools of several threads each would
oversubscribe the cores and make small per-step GEMMs erratic.
"""

import pytest
from threadpoolctl import threadpool_limits

# The scripts that make the saved reference cases import PyTorch, which the test extra does
# not install: --doctest-modules would import them and fail the whole run without it. The
# live tests load them explicitly when PyTorch is there.
collect_ignore_glob = ["reference/*.py"]


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_blas():
    with threadpool_limits(limits=1):
        yield
