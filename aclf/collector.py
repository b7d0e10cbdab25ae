"""The cyclic garbage collector kept off what a night's process imports, and made to run less often.

Its full collections walk every object the process tracks. Dagster, pandas, SQLAlchemy and Great
Expectations leave hundreds of thousands of them, all of which live as long as the process; a
night then builds large lists of rows (a workbook's cells, the forms' decoded JSON, a query's
fetched rows). CPython 3.11 runs a full collection, walking all of them again, whenever the objects
that survived since the last one outnumber a quarter of those it kept then; it checks every 70,000
allocations (young collections every 700, the middle generation's every tenth of those).

Measured on the 150-subject night: the collector took 0.7-0.8 s of the night's process and
0.8-1.0 s of its warm worker; with the imports frozen, 0.3 s and 0.06 s. On the full night at
10,000 subjects, with the imports frozen, it still took 2.1-3.2 s (1.7-2.6 s in full collections),
and 0.3-0.5 s once young collections run every 10,000 allocations (docs/performance.md).
"""
from __future__ import annotations

import gc
import importlib
import sys

YOUNG_THRESHOLD = 10_000    # allocations between young collections (CPython's default: 700)


def import_uncollected(*modules: str) -> None:
    """Import ``modules`` with the collector paused, then move everything the process holds out of
    its reach (``gc.freeze``): later collections walk only what was made since. Nothing is frozen
    when every module is already imported, so a process that calls this again freezes no garbage."""
    fresh = [name for name in modules if name not in sys.modules]
    if not fresh:
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        for name in fresh:
            importlib.import_module(name)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def collect_less_often() -> None:
    """Young collections every ``YOUNG_THRESHOLD`` allocations, and so the older generations' in
    proportion: cyclic garbage waits a little longer, the live rows are walked far fewer times."""
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def prepare_process(*modules: str) -> None:
    """How a night's process starts: ``modules`` imported out of the collector's reach, and the
    collector run less often from then on."""
    import_uncollected(*modules)
    collect_less_often()
