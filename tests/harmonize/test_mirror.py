"""The harmonized table's Parquet mirror: read once from the store per version, then from Parquet,
equal to the store's read; a rewrite of the table makes a new version (the old copy is dropped); the
save made while the schema runs keeps the table and its cases together."""
import numpy as np
import pandas as pd
import pytest

from aclf.harmonized_lab import (FAILURE_COLUMNS, _saving, _version, load_harmonized_lab,
                               load_schema_failures, save_harmonized_lab)
from aclf.store import lab_harmonized, transfer


def _table(n: int, value: float) -> pd.DataFrame:
    columns = [c.name for c in lab_harmonized.columns if c.name != "id"]
    frame = pd.DataFrame({c: [""] * n for c in columns})
    for c in ("lbdy", "pday", "avisitn", "visitnum", "lbstresn", "censor_limit", "lbstnrlo", "lbstnrhi"):
        frame[c] = np.nan
    frame["lbstresn"] = value
    frame["subjid"] = [f"01-{i:03d}" for i in range(n)]
    frame["transfer_id"], frame["row_number"] = 1, range(1, n + 1)
    return frame


def test_the_mirror_is_the_store_read_and_follows_each_rewrite(engine, tmp_path):
    with engine.begin() as conn:
        conn.execute(transfer.insert().values(id=1, source="site01", name="SITE01_20250601.csv", status="loaded",
                                              first_seen_at="2025-06-01T00:00:00",
                                              processed_at="2025-06-01T00:00:00"))
    no_failures = pd.DataFrame(columns=FAILURE_COLUMNS)
    save_harmonized_lab(engine, _table(5, 1.5), no_failures)
    mirror = tmp_path / "mirror"
    first = load_harmonized_lab(engine, mirror)
    [copy] = mirror.glob("lab_harmonized_*.parquet")
    assert first.equals(load_harmonized_lab(engine))                 # what the store gives
    assert load_harmonized_lab(engine, mirror).equals(first)         # read back from Parquet
    save_harmonized_lab(engine, _table(3, 2.5), no_failures)          # tonight's rewrite
    second = load_harmonized_lab(engine, mirror)
    assert len(second) == 3 and (second["lbstresn"] == 2.5).all()
    assert not copy.exists() and len(list(mirror.glob("lab_harmonized_*.parquet"))) == 1


def test_a_table_is_written_in_chunks_without_losing_a_row(engine, monkeypatch):
    """bulk_insert's chunks (a small chunk here) together hold every row, in order."""
    import aclf.store as store
    monkeypatch.setattr(store, "BULK_CHUNK", 2)
    with engine.begin() as conn:
        conn.execute(transfer.insert().values(id=1, source="site01", name="a", status="loaded",
                                              first_seen_at="x", processed_at="x"))
    save_harmonized_lab(engine, _table(5, 1.5), pd.DataFrame(columns=FAILURE_COLUMNS))
    back = load_harmonized_lab(engine)
    assert back["subjid"].tolist() == [f"01-{i:03d}" for i in range(5)] and back["row_number"].tolist() == [1, 2, 3, 4, 5]


def test_a_saved_table_as_read_is_what_the_store_gives_back(engine):
    """Harmonization writes the mirror of the version it saves from the table in memory (no reader
    pays the store read): that table, as_read, must be what a store read returns, dtypes included."""
    from aclf.harmonized_lab import as_read

    with engine.begin() as conn:
        conn.execute(transfer.insert().values(id=1, source="site01", name="a", status="loaded",
                                              first_seen_at="x", processed_at="x"))
    table = _table(4, 1.5)
    table["comment"] = ["", None, "ok", "  spaced "]
    table["lbstnrlo"] = [0.1, np.nan, -0.0, 1e300]
    table["row_number"] = table["row_number"].astype("int32")
    table = table[list(reversed(table.columns))].set_axis([7, 3, 9, 1])          # any order, any index
    save_harmonized_lab(engine, table, pd.DataFrame(columns=FAILURE_COLUMNS))
    pd.testing.assert_frame_equal(as_read(table), load_harmonized_lab(engine))


def test_the_copy_handed_to_another_process_is_the_table_in_force(engine, tmp_path):
    """harmonized_lab_file names the Parquet copy of the version in force (made from the store when
    it has none), which reads back as the table; none before the first version."""
    from aclf.harmonized_lab import harmonized_lab_file

    mirror = tmp_path / "mirror"
    assert harmonized_lab_file(engine, mirror) is None
    with engine.begin() as conn:
        conn.execute(transfer.insert().values(id=1, source="site01", name="a", status="loaded",
                                              first_seen_at="x", processed_at="x"))
    save_harmonized_lab(engine, _table(4, 1.5), pd.DataFrame(columns=FAILURE_COLUMNS))
    path = harmonized_lab_file(engine, mirror)
    assert path.parent == mirror and pd.read_parquet(path).equals(load_harmonized_lab(engine))
    save_harmonized_lab(engine, _table(2, 2.5), pd.DataFrame(columns=FAILURE_COLUMNS))
    again = harmonized_lab_file(engine, mirror)
    assert again != path and not path.exists() and pd.read_parquet(again)["lbstresn"].tolist() == [2.5, 2.5]


def test_the_version_saved_tonight_is_read_from_memory_until_its_last_reader_takes_it(engine, tmp_path):
    """What harmonization holds (hold, from the table as_read) is what its Parquet copy gives back,
    dtypes included, as a copy each reader may change; the last reader (``take``) lets it go, and a
    version the store no longer holds is never answered from memory."""
    from aclf import harmonized_lab
    from aclf.harmonized_lab import as_read, hold

    with engine.begin() as conn:
        conn.execute(transfer.insert().values(id=1, source="site01", name="a", status="loaded",
                                              first_seen_at="x", processed_at="x"))
    table = _table(4, 1.5)
    table["comment"] = ["", None, "ok", "  spaced "]
    mirror = tmp_path / "mirror"
    token = save_harmonized_lab(engine, table, pd.DataFrame(columns=FAILURE_COLUMNS))
    from_parquet = load_harmonized_lab(engine, mirror)              # makes the copy, reads it
    hold(token, as_read(table))
    first = load_harmonized_lab(engine, mirror)
    pd.testing.assert_frame_equal(first, from_parquet)
    first.loc[0, "lbstresn"] = 99.0
    first["subjid"] = "changed by a reader"
    pd.testing.assert_frame_equal(load_harmonized_lab(engine, mirror, take=True), from_parquet)
    assert not harmonized_lab._held                                 # the next reader reads Parquet
    hold(token, as_read(table))
    save_harmonized_lab(engine, _table(3, 2.5), pd.DataFrame(columns=FAILURE_COLUMNS))
    assert load_harmonized_lab(engine, mirror)["lbstresn"].tolist() == [2.5, 2.5, 2.5]
    harmonized_lab.let_go()


def _loaded_transfer(engine) -> None:
    with engine.begin() as conn:
        conn.execute(transfer.insert().values(id=1, source="site01", name="a", status="loaded",
                                              first_seen_at="x", processed_at="x"))


def test_the_table_saved_while_the_schema_runs_holds_the_table_and_its_cases(engine):
    """The rows go in on a thread while the schema runs; the cases join them in the same transaction."""
    _loaded_transfer(engine)
    table = _table(4, 1.5)
    cases = pd.DataFrame({"column": ["lbstresn"], "check": ["plausible_range"], "failure_case": ["1.5"], "index": [2]})
    with _saving(engine, table, inputs="tonight", sources={}, only=None, token="v2") as checked:
        found = checked(cases)
    assert found.equals(cases)
    assert load_harmonized_lab(engine)["subjid"].tolist() == table["subjid"].tolist()
    stored = load_schema_failures(engine)
    assert stored["index"].tolist() == [2] and stored["check"].tolist() == ["plausible_range"]


def test_a_schema_that_fails_leaves_the_table_in_force(engine):
    """An error in the schema's run rolls the save back: the table, its cases and its version stay."""
    _loaded_transfer(engine)
    token = save_harmonized_lab(engine, _table(3, 1.5), pd.DataFrame(columns=FAILURE_COLUMNS))

    with pytest.raises(ValueError, match="the schema broke"):
        with _saving(engine, _table(6, 2.5), inputs=None, sources={}, only=None, token="v2"):
            raise ValueError("the schema broke")
    back = load_harmonized_lab(engine)
    assert len(back) == 3 and (back["lbstresn"] == 1.5).all() and load_schema_failures(engine).empty
    with engine.connect() as conn:
        assert _version(conn) == token
