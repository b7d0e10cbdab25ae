"""A second process for the night's slow-to-import libraries: it imports them on the other core
while the night's process works on, then runs what needs them: the expectation suites
(great-expectations, about 3 s of imports, overlapping ingestion) and the figures (matplotlib and
statsmodels), drawn while the ADaM package is written. A small night keeps one worker for both
(``also``); a large one replaces the suites' worker by one for the figures when SDTM starts
(``rewarm``), each holding only its own libraries: their memory adds to the night's process's
(pipelines.nightly chooses). Only the nightly run starts them; without one, as in a run that
`dagster dev` launches, the same functions run inline."""
from __future__ import annotations

import contextlib
import importlib
import multiprocessing as mp
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from aclf.collector import collect_less_often, import_uncollected
from aclf.memory import return_freed_memory

SUITES = ("validation.quality",)    # what a worker imports before it is asked anything
FIGURES = ("cdisc.figures",)
# never imported by a worker: statsmodels imports polars, when installed, only to recognise its
# frames (22 MB and 0.3 s of the worker's imports, measured); none is ever passed to it. A name
# bound to None in sys.modules makes its import raise ImportError, which statsmodels expects
UNUSED = ("polars",)

_active = False                      # inside running(): workers may be started
_pool: ProcessPoolExecutor | None = None
_warmed: tuple[str, ...] = ()


def _warm(modules: tuple[str, ...]) -> None:
    return_freed_memory()
    collect_less_often()
    for name in UNUSED:
        sys.modules.setdefault(name, None)
    _import(modules)


def _call(module: str, name: str, args: tuple, kwargs: dict):
    return getattr(importlib.import_module(module), name)(*args, **kwargs)


def _in_worker(module: str, name: str, args: tuple, kwargs: dict):
    """``_call`` in the worker, which then hands what the task freed back to the system: it stays
    idle beside the night's process, whose next layers peak higher."""
    try:
        return _call(module, name, args, kwargs)
    finally:
        return_freed_memory()


def has_worker() -> bool:
    """Whether work sent now goes to a worker (not inline)."""
    return _pool is not None


def submit(module: str, name: str, *args, **kwargs) -> Future:
    """``module.name(*args, **kwargs)`` in the worker, or inline (done when this returns) without one
    or when it is known to be gone. Named by module, so that the caller need not import what the
    worker imports."""
    if _pool is not None:
        try:
            return _pool.submit(_in_worker, module, name, args, kwargs)
        except BrokenProcessPool:   # the worker could not start (a __main__ it cannot import) or died: here
            pass
    future: Future = Future()
    try:
        future.set_result(_call(module, name, args, kwargs))
    except Exception as error:      # raised again by result(), as the worker's would be
        future.set_exception(error)
    return future


@contextlib.contextmanager
def running(modules: tuple[str, ...] = SUITES) -> Iterator[None]:
    """Workers for the duration of the block, the first importing ``modules`` (none in a daemonic
    process, which may not have children; a block inside another leaves the outer one in charge);
    the one running at the end is stopped, even if it is still importing."""
    global _active
    if _active or mp.current_process().daemon:
        yield
        return
    _active = True
    try:
        rewarm(modules)
        yield
    finally:
        _active = False
        _replace(())


def rewarm(modules: tuple[str, ...]) -> None:
    """Inside running(): the worker from now on imports ``modules`` (none: no worker). One that
    imports others is stopped first, so that what it holds is let go."""
    if _active and modules != _warmed:
        _replace(modules)


def also(modules: tuple[str, ...]) -> None:
    """Inside running(): the worker imports ``modules`` too, once the work already sent to it is
    done (one worker for both phases of a small night)."""
    global _warmed
    modules = tuple(m for m in modules if m not in _warmed)
    if _pool is None or not modules:
        return
    try:
        _pool.submit(_import, modules)
    except BrokenProcessPool:           # gone: work for it runs inline (submit)
        return
    _warmed = tuple(dict.fromkeys(_warmed + modules))


def _import(modules: tuple[str, ...]) -> None:
    import_uncollected(*modules)
    if "tqdm" in sys.modules:
        # a killed worker releases nothing (_stop): tqdm's default lock for progress bars (GX draws
        # none, yet takes it in a suite's run) would be a named semaphore, reported as leaked at the
        # end of the night; within one process a thread lock does
        import tqdm
        tqdm.tqdm.set_lock(tqdm.std.TqdmDefaultWriteLock.th_lock)


def _replace(modules: tuple[str, ...]) -> None:
    global _pool, _warmed
    if _pool is not None:
        pool, _pool = _pool, None
        _stop(pool)
    _warmed = modules
    if modules:
        # spawned, not forked: the night's process holds threads (Dagster's, the database's) and locks
        _pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=_warm, initargs=(modules,))
        _pool.submit(int)   # starts the process now, so that its imports overlap the night's work


def _stop(pool: ProcessPoolExecutor) -> None:
    """Kill the worker, idle or still importing, and go on: by then each task has written its files
    and returned. Its libraries' finalizers, run by a gentler stop, took 0.2-0.5 s of CPU beside the
    night at each change of worker, and the night's process waited for them at exit."""
    if hasattr(pool, "kill_workers"):           # Python 3.14
        pool.kill_workers()
        return
    for process in list(pool._processes.values()):
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)  # its thread sees the worker gone and reaps it
