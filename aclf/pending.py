"""A store write run on a thread while the caller goes on, committed or rolled back when the caller
has decided: the SQLite or PostgreSQL driver spends a large write's time in C without the GIL, so
the write and the caller's own work share the two cores instead of taking turns.

The thread holds the write's transaction open until the caller settles it. On SQLite that
transaction holds the store's write lock: the caller must not write to the store meanwhile (its
reads see the store as it was, as they would have before the write). ``Settles`` is what such work
promises its caller (``cdisc.folders.Swapped`` writes a folder so), ``settle_all`` settles several."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from threading import Thread

import sqlalchemy as sa


class Settles:
    """Work under way beside the caller's, which it keeps or throws away once it has decided:
    ``settle(True)`` waits for it, keeps it and raises its error if it failed; ``settle(False)``
    waits for it and throws it away, its error with it (what is not kept cannot fail the caller).
    Settling again does nothing."""

    def settle(self, keep: bool) -> None:
        raise NotImplementedError


def settle_all(work: list[Settles], keep: bool) -> None:
    """Settle each in order; if one raises, the others are thrown away before its error goes on (a
    store write left unsettled would hold its transaction, and SQLite's write lock, open)."""
    for number, each in enumerate(work):
        try:
            each.settle(keep)
        except BaseException:
            settle_all(work[number + 1:], False)
            raise


class Pending(Settles):
    """``write(conn)`` started in a transaction of its own on a thread; ``settle`` ends it."""

    def __init__(self, engine: sa.Engine, write: Callable[[sa.Connection], None]):
        self._keep: Future[bool] = Future()
        self._done: Future[None] = Future()
        self._thread = Thread(target=self._run, args=(engine, write), name="aclf-pending-write", daemon=True)
        self._thread.start()

    def _run(self, engine: sa.Engine, write: Callable[[sa.Connection], None]) -> None:
        try:
            with engine.connect() as conn, conn.begin() as transaction:
                write(conn)
                if not self._keep.result():
                    transaction.rollback()
        except BaseException as exc:     # handed to the caller: a thread's error would be lost
            self._done.set_exception(exc)
        else:
            self._done.set_result(None)

    def settle(self, keep: bool) -> None:
        """Commit the write (``keep``) or roll it back, once it is done."""
        if not self._keep.done():
            self._keep.set_result(keep)
        self._thread.join()
        if self._keep.result():
            self._done.result()
