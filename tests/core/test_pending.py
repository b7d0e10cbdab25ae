"""A store write on a thread (aclf.pending): committed or rolled back as the caller settles it, its
error raised to the caller, the store as it was for the caller's reads meanwhile."""
from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from aclf.pending import Pending, settle_all
from aclf.sqlite_bulk import STAGED_FROM
from aclf.store import sdtm_trace
from cdisc.sdtm.trace import write_trace


def _trace(records: int, transfer_id=None) -> pd.DataFrame:
    return pd.DataFrame({"dataset": "LB", "record": range(1, records + 1),
                         "usubjid": [f"S-{i // 20:05d}" for i in range(records)],
                         "transfer_id": transfer_id, "row_number": range(2, records + 2)})


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(sdtm_trace)).scalar_one()


@pytest.mark.parametrize("records", [50, STAGED_FROM + 5])     # executemany, and staged chunks (SQLite)
def test_a_settled_write_is_committed_and_the_store_unchanged_until_then(engine, records):
    pending = Pending(engine, lambda conn: write_trace(conn, "blinded", _trace(records), {"LB": "k1"}))
    assert _count(engine) == 0      # the caller reads on: nothing is committed before it settles
    pending.settle(True)
    assert _count(engine) == records
    with engine.connect() as conn:
        stored = pd.read_sql(sa.select(sdtm_trace.c.record, sdtm_trace.c.usubjid, sdtm_trace.c.row_number)
                             .order_by(sdtm_trace.c.id), conn)
    assert stored["record"].tolist() == list(range(1, records + 1))
    assert stored["row_number"].tolist() == list(range(2, records + 2))


def test_the_caller_reads_the_store_as_it_was_while_the_write_waits(engine):
    Pending(engine, lambda conn: write_trace(conn, "blinded", _trace(30), {"LB": "k1"})).settle(True)
    pending = Pending(engine, lambda conn: write_trace(conn, "blinded", _trace(70), {"LB": "k2"}))
    seen = _count(engine)
    pending.settle(True)
    assert (seen, _count(engine)) == (30, 70)


def test_a_write_not_kept_is_rolled_back(engine):
    Pending(engine, lambda conn: write_trace(conn, "blinded", _trace(STAGED_FROM + 5), {"LB": "k1"})).settle(False)
    assert _count(engine) == 0
    Pending(engine, lambda conn: write_trace(conn, "blinded", _trace(40), {"LB": "k1"})).settle(True)
    assert _count(engine) == 40      # the connection the thread used is whole again (its staging emptied)


def test_a_failed_write_raises_when_kept_and_is_silent_when_thrown_away(engine):
    def broken(conn):
        write_trace(conn, "blinded", _trace(10), {"LB": "k1"})
        raise RuntimeError("the write failed")

    with pytest.raises(RuntimeError, match="the write failed"):
        Pending(engine, broken).settle(True)
    Pending(engine, broken).settle(False)
    assert _count(engine) == 0


def test_when_one_write_fails_to_settle_the_others_are_thrown_away(engine, tmp_path):
    """A hand-off that could not be written must not leave the trace's transaction (and SQLite's
    write lock) open: the store takes the next write at once."""
    from cdisc.folders import Swapped

    def broken(fresh):
        raise OSError("disk full")

    beside = [Swapped(tmp_path / "handoff", broken),
              Pending(engine, lambda conn: write_trace(conn, "blinded", _trace(10), {"LB": "k1"}))]
    with pytest.raises(OSError, match="disk full"):
        settle_all(beside, True)
    Pending(engine, lambda conn: write_trace(conn, "blinded", _trace(5), {"LB": "k2"})).settle(True)
    assert _count(engine) == 5


def test_settling_twice_does_nothing_more(engine):
    pending = Pending(engine, lambda conn: write_trace(conn, "blinded", _trace(10), {"LB": "k1"}))
    pending.settle(True)
    pending.settle(False)
    assert _count(engine) == 10
