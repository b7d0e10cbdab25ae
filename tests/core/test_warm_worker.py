"""The nightly run's warm worker: work named by module runs in another process while one is running,
inline otherwise, and its errors reach the caller either way."""
import contextlib
import json
import os
import sys

import pytest

from aclf import warm_worker


def loaded_modules() -> list[str]:
    """What the process that calls it has imported (called in the worker)."""
    return sorted(sys.modules)


def test_without_a_worker_the_work_runs_inline_and_is_done_when_submitted():
    future = warm_worker.submit("os", "getpid")
    assert future.done() and future.result() == os.getpid()


def test_with_a_worker_the_work_runs_in_another_process_that_stops_with_the_block():
    with warm_worker.running():
        pool = warm_worker._pool
        assert warm_worker.submit("os", "getpid").result() != os.getpid()
        # the worker imported the slow libraries before it was asked anything
        assert set(warm_worker.WARM) <= set(warm_worker.submit(__name__, "loaded_modules").result())
    assert warm_worker._pool is None
    assert all(not p.is_alive() for p in (pool._processes or {}).values())
    assert warm_worker.submit("os", "getpid").result() == os.getpid()


@pytest.mark.parametrize("worker", [False, True])
def test_an_error_in_the_work_reaches_the_caller(worker):
    with warm_worker.running() if worker else contextlib.nullcontext():
        with pytest.raises(json.JSONDecodeError):
            warm_worker.submit("json", "loads", "{").result()


def test_a_worker_that_is_still_importing_is_stopped_without_waiting():
    with warm_worker.running():
        pool = warm_worker._pool
    assert all(not p.is_alive() for p in (pool._processes or {}).values())
