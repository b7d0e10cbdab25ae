"""One run per store: a lock held for the whole run, so a second run waits or refuses clearly
instead of colliding on a UNIQUE constraint half-way.

PostgreSQL: a session advisory lock on a connection held for the run (released by the server if
the process dies); the holder's start time travels in that session's ``application_name``.
SQLite: ``flock`` on ``<database>.lock`` beside the file (released by the kernel if the process
dies, so a kill -9 never leaves a stale lock); the holder's start time is written in the file.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

LOCK_CLASS = 0x0AC1F      # advisory-lock namespace of this pipeline (first key of the pair)
_APP_PREFIX = "aclf run since "
_POLL_SECONDS = 0.2


class StoreBusy(RuntimeError):
    """Another run holds the store; the message says since when."""

    def __init__(self, since: str | None):
        super().__init__(f"another run holds the store since {since or 'an unknown time'}")
        self.since = since


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def _waiting(try_once, wait_seconds: float):
    """Call ``try_once`` until it returns a truthy value or ``wait_seconds`` have passed."""
    deadline = time.monotonic() + max(wait_seconds, 0)
    while True:
        got = try_once()
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(_POLL_SECONDS)


@contextlib.contextmanager
def _postgres_lock(engine: sa.Engine, wait_seconds: float) -> Iterator[None]:
    conn = engine.connect()
    key = sa.text("hashtext(current_database() || '.' || current_schema()) & 2147483647")
    try:
        objid = conn.execute(sa.select(key)).scalar_one()
        take = sa.text("SELECT pg_try_advisory_lock(:c, :o)").bindparams(c=LOCK_CLASS, o=objid)
        got = _waiting(lambda: conn.execute(take).scalar_one(), wait_seconds)
        if not got:
            holder = conn.execute(sa.text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :c AND l.objid = :o "
                "AND l.objsubid = 2"), {"c": LOCK_CLASS, "o": objid}).scalar()
            conn.rollback()
            raise StoreBusy(holder.removeprefix(_APP_PREFIX) if holder and holder.startswith(_APP_PREFIX) else None)
        conn.execute(sa.text("SELECT set_config('application_name', :n, false)"), {"n": _APP_PREFIX + _now()})
        conn.commit()   # a session lock outlives transactions: the run's own transactions use other connections
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:c, :o)"), {"c": LOCK_CLASS, "o": objid})
            conn.execute(sa.text("RESET application_name"))   # the connection goes back to the pool
            conn.commit()
    finally:
        conn.close()


@contextlib.contextmanager
def _file_lock(path: Path, wait_seconds: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        def try_once() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        if not _waiting(try_once, wait_seconds):
            raise StoreBusy(Path(path).read_text(encoding="utf-8").strip() or None)
        os.ftruncate(fd, 0)
        os.pwrite(fd, _now().encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def lock_file_of(engine: sa.Engine) -> Path | None:
    """``<database>.lock`` for a SQLite file store; None for an in-memory one."""
    database = engine.url.database
    return None if not database or database == ":memory:" else Path(database).resolve().with_name(
        Path(database).name + ".lock")


_THREAD = threading.local()   # stores this thread holds, with how deeply: the lock is reentrant


def _held() -> dict[str, int]:
    if not hasattr(_THREAD, "held"):
        _THREAD.held = {}
    return _THREAD.held


@contextlib.contextmanager
def store_lock(engine: sa.Engine, wait_seconds: float = 0) -> Iterator[None]:
    """Hold the store for a run; waits up to ``wait_seconds`` for another run, then raises StoreBusy.
    Reentrant within a thread: the nightly run holds it, and the assets it runs in process (in the
    same thread) take it again; another thread or process waits or is refused."""
    url, held = engine.url.render_as_string(hide_password=False), _held()
    if held.get(url):
        held[url] += 1
        try:
            yield
        finally:
            held[url] -= 1
        return
    with _store_lock(engine, wait_seconds):
        held[url] = 1
        try:
            yield
        finally:
            held.pop(url, None)


@contextlib.contextmanager
def _store_lock(engine: sa.Engine, wait_seconds: float) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with _postgres_lock(engine, wait_seconds):
            yield
        return
    path = lock_file_of(engine)
    if path is None:   # an in-memory store belongs to one process: nothing to share
        yield
        return
    with _file_lock(path, wait_seconds):
        yield
