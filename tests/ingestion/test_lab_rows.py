"""A lab source's stored rows are read from their Parquet copy when the copy is the store's version,
and the copy gives exactly what the store gives: vanished rows, lineage and the order written."""
import pandas as pd

from aclf.current import lab_in_force
from aclf.lab_rows import stored_lab_rows
from aclf.mirror import mirror_folder
from aclf.store import lab_result_version
from support import FIXTURES, land

SITE01 = (FIXTURES / "SITE01_20250601.csv").read_bytes()


def _three_snapshots(ingest, paths) -> None:
    """A correction and a vanished record, then the record back; and a second site."""
    land(paths, "site01", "SITE01_20250601.csv", SITE01)
    ingest("site01")
    lines = SITE01.decode("utf-8-sig").split("\r\n")
    changed = [line.replace("312.4", "31.24") for line in lines if "L2403150009" not in line]
    land(paths, "site01", "SITE01_20250602.csv", ("\ufeff" + "\r\n".join(changed)).encode("utf-8"))
    ingest("site01")
    land(paths, "site02", "SITE02_20250601.csv", (FIXTURES / "SITE02_20250601.csv").read_bytes())
    ingest("site02")


def test_the_copy_gives_what_the_store_gives(ingest, engine, paths):
    _three_snapshots(ingest, paths)
    mirror = mirror_folder(paths.archive)
    with engine.connect() as conn:
        copied, stored = stored_lab_rows(conn, "site01", mirror), stored_lab_rows(conn, "site01")
    assert copied["vanished_transfer_id"].notna().sum() == 1                # the vanished record is kept
    pd.testing.assert_frame_equal(copied, stored, check_exact=True)
    pd.testing.assert_frame_equal(lab_in_force(engine, mirror=mirror), lab_in_force(engine), check_exact=True)
    pd.testing.assert_frame_equal(lab_in_force(engine, ["site02"], mirror), lab_in_force(engine, ["site02"]))
    assert len(list((mirror / "lab_result" / "site01").glob("*.parquet"))) == 1   # older versions dropped


def test_a_copy_is_read_only_under_the_stores_token(ingest, engine, paths):
    _three_snapshots(ingest, paths)
    mirror = mirror_folder(paths.archive)
    [copy] = (mirror / "lab_result" / "site01").glob("*.parquet")
    with engine.connect() as conn:
        stored = stored_lab_rows(conn, "site01")
    stored.iloc[:1].to_parquet(copy, index=False)                          # a copy that differs from the store
    with engine.connect() as conn:
        assert len(stored_lab_rows(conn, "site01", mirror)) == 1           # under the store's token: read
    with engine.begin() as conn:                                             # the store rewritten elsewhere
        conn.execute(lab_result_version.update().where(lab_result_version.c.source == "site01")
                     .values(token="another"))
    with engine.connect() as conn:
        pd.testing.assert_frame_equal(stored_lab_rows(conn, "site01", mirror), stored)
