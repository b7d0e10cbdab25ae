"""The nightly run's warm worker: work named by module runs in another process while one is running,
inline otherwise, and its errors reach the caller either way."""
import contextlib
import json
import os
import signal
import sys
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

from aclf import warm_worker


def gone(process, seconds: float = 30) -> bool:
    """Whether the worker process has exited (it is reaped by the pool's thread, not waited for)."""
    deadline = time.monotonic() + seconds
    while process.exitcode is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return process.exitcode is not None


def loaded_modules() -> list[str]:
    """What the process that calls it has imported (called in the worker)."""
    return sorted(sys.modules)


def imported(name: str) -> bool:
    """Whether module ``name`` is loaded in the process that calls it (called in the worker)."""
    return sys.modules.get(name) is not None


def test_the_figures_worker_does_not_import_what_it_never_uses():
    """statsmodels imports polars when it is installed (the test extra installs it), 22 MB that the
    worker would hold for nothing."""
    pytest.importorskip("polars")
    with warm_worker.running(warm_worker.FIGURES):
        assert warm_worker.submit(__name__, "imported", "statsmodels.tools.data").result()
        assert not warm_worker.submit(__name__, "imported", "polars").result()


def test_without_a_worker_the_work_runs_inline_and_is_done_when_submitted():
    future = warm_worker.submit("os", "getpid")
    assert future.done() and future.result() == os.getpid()


def test_with_a_worker_the_work_runs_in_another_process_that_stops_with_the_block():
    with warm_worker.running():
        [process] = warm_worker._pool._processes.values()
        assert warm_worker.submit("os", "getpid").result() == process.pid != os.getpid()
        # the worker imported the suites' library before it was asked anything, and no other
        loaded = set(warm_worker.submit(__name__, "loaded_modules").result())
        assert set(warm_worker.SUITES) <= loaded and "matplotlib" not in loaded
    assert warm_worker._pool is None and gone(process)
    assert warm_worker.submit("os", "getpid").result() == os.getpid()


@pytest.mark.parametrize("worker", [False, True])
def test_an_error_in_the_work_reaches_the_caller(worker):
    with warm_worker.running() if worker else contextlib.nullcontext():
        with pytest.raises(json.JSONDecodeError):
            warm_worker.submit("json", "loads", "{").result()


def test_a_worker_that_is_still_importing_is_stopped_without_waiting():
    """A night that asked nothing of it (every step kept) ends at once: the worker is killed, not
    left waiting for a stop message it never reads (which hung the night's process at exit)."""
    with warm_worker.running():
        [process] = warm_worker._pool._processes.values()
    assert gone(process) and process.exitcode == -signal.SIGKILL


def test_a_worker_that_finished_its_imports_is_stopped_too():
    with warm_worker.running():
        [process] = warm_worker._pool._processes.values()
        warm_worker.submit("os", "getpid").result()
    assert gone(process)


def test_work_runs_here_once_the_worker_is_known_to_be_gone():
    """A worker that could not start or was killed does not fail the rest of the night's work."""
    with warm_worker.running():
        [process] = warm_worker._pool._processes.values()
        process.kill()
        process.join()
        deadline, pid = time.monotonic() + 30, None
        while pid is None and time.monotonic() < deadline:    # until the pool has seen its worker go
            try:
                pid = warm_worker.submit("os", "getpid").result()
            except BrokenProcessPool:
                time.sleep(0.1)
        assert pid == os.getpid()


def test_a_worker_for_other_libraries_replaces_the_one_running():
    """rewarm: the night's worker for the figures replaces the suites' one, which is stopped and
    lets go of what it held; no worker at all is none; outside running() nothing starts."""
    warm_worker.rewarm(warm_worker.FIGURES)
    assert warm_worker._pool is None
    with warm_worker.running():
        [suites] = warm_worker._pool._processes.values()
        warm_worker.rewarm(warm_worker.SUITES)              # the same libraries: the same worker
        assert list(warm_worker._pool._processes.values()) == [suites]
        warm_worker.rewarm(warm_worker.FIGURES)
        [figures] = warm_worker._pool._processes.values()
        assert gone(suites) and figures.is_alive()
        loaded = set(warm_worker.submit(__name__, "loaded_modules").result())
        assert set(warm_worker.FIGURES) <= loaded and "great_expectations" not in loaded
        warm_worker.rewarm(())
        assert warm_worker._pool is None and gone(figures)
        assert warm_worker.submit("os", "getpid").result() == os.getpid()
    assert warm_worker._pool is None


def test_a_worker_can_import_more_and_is_kept_until_asked_for_exactly_other_libraries():
    """also: the figures' library imported by the suites' worker after its work (one worker for a
    small night); rewarm then still replaces it by one with only what it is asked for."""
    with warm_worker.running():
        [process] = warm_worker._pool._processes.values()
        warm_worker.also(warm_worker.FIGURES)
        warm_worker.also(warm_worker.FIGURES)               # nothing more to import: nothing sent
        loaded = set(warm_worker.submit(__name__, "loaded_modules").result())
        assert {*warm_worker.SUITES, *warm_worker.FIGURES} <= loaded
        assert list(warm_worker._pool._processes.values()) == [process]
        warm_worker.rewarm(warm_worker.FIGURES)
        [figures] = warm_worker._pool._processes.values()
        assert gone(process) and figures.pid != process.pid
        assert "great_expectations" not in set(warm_worker.submit(__name__, "loaded_modules").result())
    warm_worker.also(warm_worker.FIGURES)                   # outside running(): nothing starts
    assert warm_worker._pool is None
