"""A large SQLite insert through staging (aclf.sqlite_bulk) stores what executemany stores: every
value and its SQLite type, in the caller's transaction."""
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from aclf import sqlite_bulk, store
from aclf.store import bulk_insert, make_engine

metadata = sa.MetaData()
sample = sa.Table(
    "sample", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("text", sa.Text), sa.Column("label", sa.String(8)), sa.Column("whole", sa.Integer),
    sa.Column("maybe", sa.Integer), sa.Column("real", sa.Float), sa.Column("flag", sa.Boolean),
    sa.Column("empty", sa.Text), sa.Column("gone", sa.Integer), sa.Column("known", sa.Boolean),
    sa.Column("source", sa.String(8)), sa.Column("night", sa.Integer))
COLUMNS = ["text", "label", "whole", "maybe", "real", "flag", "empty", "gone", "known"]


def _frame(rows: int) -> pd.DataFrame:
    pick = np.arange(rows)
    return pd.DataFrame({
        "text": pd.Series(np.array(["a", "", None, "ß ü 中", " b "], dtype=object)[pick % 5], dtype="str"),
        "label": np.array(["x", "", "12", "3.5", None], dtype=object)[pick % 5],
        "whole": pick, "maybe": pd.array([1, None, 0], dtype="Int64")[pick % 3],
        "real": np.array([1.5, np.nan, 0.0, 3.0, -np.inf, 1e300])[pick % 6],
        "flag": pick % 2 == 0, "empty": pd.Series([None] * rows, dtype=object),
        "gone": np.array([None, 4, None, 12], dtype=object)[pick % 4],           # Python objects of one kind
        "known": np.array([True, None, False], dtype=object)[pick % 3]})


def _stored(path) -> list[tuple]:
    engine = sa.create_engine(f"sqlite:///{path}")
    names = [c.name for c in sample.columns]
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT " + ", ".join(f"typeof({n}), {n}" for n in names) +
                                    " FROM sample ORDER BY id").all()
    engine.dispose()
    return [tuple(r) for r in rows]


def _insert(path, frame: pd.DataFrame) -> None:
    engine = make_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        bulk_insert(conn, sample, frame, COLUMNS, source="site01", night=3)
    engine.dispose()


def test_staged_chunks_store_what_executemany_stores(tmp_path, monkeypatch):
    frame = _frame(40)
    monkeypatch.setattr(store, "BULK_CHUNK", 7)
    monkeypatch.setattr(sqlite_bulk, "STAGED_FROM", 10**9)
    _insert(tmp_path / "bound.sqlite", frame)
    monkeypatch.setattr(sqlite_bulk, "STAGED_FROM", 1)
    calls = []
    real = sqlite_bulk.insert
    monkeypatch.setattr(sqlite_bulk, "insert", lambda *a: calls.append(1) or real(*a))
    _insert(tmp_path / "staged.sqlite", frame)
    assert calls == [1]
    bound, staged = _stored(tmp_path / "bound.sqlite"), _stored(tmp_path / "staged.sqlite")
    assert len(staged) == 40 and staged == bound
    types = {row[2 * COLUMNS.index("label") + 2] for row in staged}     # text stays text, '' is NULL
    assert types == {"text", "null"}


def test_a_staged_insert_is_part_of_the_callers_transaction_and_staging_is_emptied_at_check_in(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_bulk, "STAGED_FROM", 1)
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    metadata.create_all(engine)
    with engine.connect() as conn:
        with pytest.raises(RuntimeError), conn.begin():
            bulk_insert(conn, sample, _frame(10), COLUMNS, source="site01", night=3)
            assert conn.execute(sa.select(sa.func.count()).select_from(sample)).scalar_one() == 10
            raise RuntimeError("the transaction fails after the insert")
        assert conn.execute(sa.select(sa.func.count()).select_from(sample)).scalar_one() == 0
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {sqlite_bulk.SCHEMA}.rows").scalar_one() == 10
        staged = conn.connection.dbapi_connection
    # back in the pool, its staging schema is empty
    assert staged.execute(f"SELECT count(*) FROM {sqlite_bulk.SCHEMA}.rows").fetchone()[0] == 0
    engine.dispose()


def test_a_chunk_sqlite_will_not_load_inside_the_transaction_is_bound_row_by_row(tmp_path, monkeypatch):
    """SQLite 3.53.4 and later refuse to load a schema this transaction has read: the rows from that
    chunk on are bound one by one, and the table holds what executemany would have stored."""
    import sqlite3

    frame = _frame(40)
    monkeypatch.setattr(store, "BULK_CHUNK", 7)
    monkeypatch.setattr(sqlite_bulk, "STAGED_FROM", 10**9)
    _insert(tmp_path / "bound.sqlite", frame)
    monkeypatch.setattr(sqlite_bulk, "STAGED_FROM", 1)
    loads, real = [], sqlite_bulk._load

    def load(sqlite, image):
        loads.append(1)
        if len(loads) > 2:
            raise sqlite3.OperationalError("database is locked")
        real(sqlite, image)

    monkeypatch.setattr(sqlite_bulk, "_load", load)
    _insert(tmp_path / "staged.sqlite", frame)
    assert len(loads) == 3
    assert _stored(tmp_path / "staged.sqlite") == _stored(tmp_path / "bound.sqlite")


def test_what_cannot_be_staged_is_bound_row_by_row(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_bulk, "STAGED_FROM", 1)
    dated = pd.DataFrame({"when": pd.to_datetime(["2024-01-02", None])})
    engine, plain = make_engine(f"sqlite:///{tmp_path / 'a.sqlite'}"), sa.create_engine(f"sqlite:///{tmp_path / 'b.sqlite'}")
    with engine.connect() as conn, plain.connect() as other:
        assert sqlite_bulk.stageable(conn, _frame(3), COLUMNS, {"night": 3})
        assert not sqlite_bulk.stageable(conn, dated, ["when"], {})         # dates: as executemany binds them
        for kinds in ([1, "a"], [1, 2.5]):                                   # objects of several kinds
            assert not sqlite_bulk.stageable(conn, pd.DataFrame({"m": np.array(kinds, dtype=object)}), ["m"], {})
        assert not sqlite_bulk.stageable(conn, pd.DataFrame({"c": pd.Categorical([True, False])}), ["c"], {})
        assert not sqlite_bulk.stageable(conn, _frame(3), COLUMNS, {"night": np.int64(3)})   # a numpy constant
        assert not sqlite_bulk.stageable(other, _frame(3), COLUMNS, {})     # a connection without the staging schema
    monkeypatch.setattr(sqlite_bulk, "STAGED_FROM", 4)
    with engine.connect() as conn:
        assert not sqlite_bulk.stageable(conn, _frame(3), COLUMNS, {})      # few rows
    engine.dispose(), plain.dispose()
