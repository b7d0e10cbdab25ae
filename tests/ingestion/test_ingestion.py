"""Ingestion of one source into the store: registry statuses, reconciliation, archive, idempotence."""
import json

import pandas as pd
import sqlalchemy as sa

from aclf.archive import archive_path
from aclf.landing import sha256_of
from binary_files import write_site03, write_site05
from support import FIXTURES, land, read_table, write_manifest

SITE01 = (FIXTURES / "SITE01_20250601.csv").read_bytes()


def statuses(outcomes):
    return {o.file: o.status for o in outcomes}


def dump(engine) -> dict[str, list]:
    """Every table's content, ids and all: what 'changes nothing' is measured against."""
    with engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(sa.text(f"select * from {t} order by id"))]
                for t in ("transfer", "lab_result", "form_record", "quarantine", "audit_event")}


def test_loaded_transfer_reconciles_and_is_archived(ingest, engine, paths):
    land(paths, "site01", "SITE01_20250601.csv", SITE01)
    [outcome] = ingest("site01")
    assert (outcome.status, outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == ("loaded", 8, 6, 2)
    assert outcome.balanced
    held = read_table(engine, "quarantine")
    assert set(held["file"]) == {"SITE01_20250601.csv"} and sorted(held["row_number"]) == [8, 9]
    copy = archive_path(paths.archive, outcome.sha256)
    assert copy.read_bytes() == SITE01 and outcome.sha256 == sha256_of(copy)
    lab = read_table(engine, "lab_result")
    assert set(lab["transfer_id"]) == {outcome.transfer_id} and lab["row_number"].min() == 2


def test_every_dialect_loads_and_balances(ingest, paths, tmp_path):
    land(paths, "site02", "SITE02_20250601.csv", (FIXTURES / "SITE02_20250601.csv").read_bytes())
    land(paths, "site03", "SITE03_20250601.xlsx", write_site03(tmp_path / "s3.xlsx"))
    land(paths, "site04", "SITE04_20250601.txt", (FIXTURES / "SITE04_20250601.txt").read_bytes())
    land(paths, "site05", "SITE05_20250601.sav", write_site05(tmp_path / "s5.sav"))
    for source, loaded in [("site02", 7), ("site03", 7), ("site04", 6), ("site05", 3)]:
        [outcome] = ingest(source)
        assert outcome.status == "loaded" and outcome.balanced, outcome
        assert outcome.rows_loaded == loaded


def test_same_night_twice_changes_nothing(ingest, engine, paths):
    land(paths, "site01", "SITE01_20250601.csv", SITE01)
    first = ingest("site01")
    before = dump(engine)
    second = ingest("site01")
    assert dump(engine) == before
    assert [o.as_dict() | {"changes": {}} for o in first] == [o.as_dict() | {"changes": {}} for o in second]


def test_missing_manifest_is_in_flight_and_keeps_the_snapshot(ingest, engine, paths):
    land(paths, "site01", "SITE01_20250601.csv", SITE01)
    ingest("site01")
    land(paths, "site01", "SITE01_20250602.csv", SITE01.replace(b"312.4", b"999.9"), manifest=False)
    outcomes = ingest("site01")
    assert statuses(outcomes) == {"SITE01_20250601.csv": "loaded", "SITE01_20250602.csv": "in_flight"}
    lab = read_table(engine, "lab_result")
    assert "999.9" not in set(lab["result"]) and len(lab) == 6
    write_manifest(paths.landing / "site01" / "SITE01_20250602.csv")    # the manifest arrives
    outcomes = ingest("site01")
    assert statuses(outcomes) == {"SITE01_20250601.csv": "superseded", "SITE01_20250602.csv": "loaded"}
    registry = read_table(engine, "transfer")
    assert len(registry) == 2                                            # the in-flight row became the load


def test_manifest_mismatch_rejects_and_keeps_the_snapshot(ingest, engine, paths):
    land(paths, "site01", "SITE01_20250601.csv", SITE01)
    ingest("site01")
    late = land(paths, "site01", "SITE01_20250602.csv", SITE01)
    late.write_bytes(SITE01.replace(b"312.4", b"999.9"))                 # changed after its manifest
    outcomes = ingest("site01")
    rejected = next(o for o in outcomes if o.file == "SITE01_20250602.csv")
    assert rejected.status == "rejected" and "sha256 mismatch for SITE01_20250602.csv" in rejected.reason
    assert statuses(outcomes)["SITE01_20250601.csv"] == "loaded"
    assert "999.9" not in set(read_table(engine, "lab_result")["result"])
    assert late.exists()                                                 # kept for inspection
    assert archive_path(paths.archive, rejected.sha256).exists()


def test_malformed_manifest_and_off_pattern_names_are_rejected(ingest, paths):
    path = land(paths, "site01", "SITE01_20250601.csv", SITE01, manifest=False)
    path.with_name(path.name + ".sha256").write_text("not a digest\n")
    land(paths, "site01", "site01-results.csv", SITE01)
    outcomes = {o.file: o for o in ingest("site01")}
    assert outcomes["SITE01_20250601.csv"].status == "rejected"
    assert "line 1 is not '<64 hex>  <file name>'" in outcomes["SITE01_20250601.csv"].reason
    assert outcomes["site01-results.csv"].status == "rejected"
    assert "does not follow the DTS pattern SITE01_<YYYYMMDD>[_<n>].csv" in outcomes["site01-results.csv"].reason


def test_unreadable_newest_falls_back_to_the_newest_readable(ingest, engine, paths):
    land(paths, "site03", "SITE03_20250601.xlsx", b"PK\x03\x04 broken")
    land(paths, "site01", "SITE01_20250601.csv", SITE01)
    land(paths, "site01", "SITE01_20250602.csv", SITE01.decode("utf-8-sig").encode("gb18030"))
    [broken] = ingest("site03")
    assert broken.status == "rejected" and "not a readable Excel workbook" in broken.reason
    outcomes = {o.file: o for o in ingest("site01")}
    assert outcomes["SITE01_20250602.csv"].status == "rejected"
    assert "is not valid utf-8-sig" in outcomes["SITE01_20250602.csv"].reason
    assert outcomes["SITE01_20250601.csv"].status == "loaded"


def test_a_rejected_transfer_loads_once_the_configuration_is_fixed(engine, study, paths):
    from aclf.ingest import ingest_source

    renamed = (FIXTURES / "SITE04_20250601.txt").read_bytes().replace(b"ACCESSION", b"ACCESSION_NO")
    land(paths, "site04", "SITE04_20250601.txt", renamed)
    [rejected] = ingest_source(engine, study, "site04", paths)
    assert rejected.status == "rejected" and "lacks the required column(s) ACCESSION (1 unrecognised" in rejected.reason
    dialect = study.sources["site04"]
    fixed_dialect = dialect.model_copy(update={"columns": {**dialect.columns, "sample_id": "ACCESSION_NO"}})
    fixed = study.model_copy(update={"sources": {**study.sources, "site04": fixed_dialect}})
    [loaded] = ingest_source(engine, fixed, "site04", paths)
    assert (loaded.status, loaded.transfer_id, loaded.balanced) == ("loaded", rejected.transfer_id, True)


def test_second_transfer_of_a_day_wins_and_a_late_older_one_is_superseded(ingest, paths):
    land(paths, "site01", "SITE01_20250602.csv", SITE01)
    land(paths, "site01", "SITE01_20250602_2.csv", SITE01.replace(b"312.4", b"312.5"))
    assert statuses(ingest("site01")) == {"SITE01_20250602.csv": "superseded", "SITE01_20250602_2.csv": "loaded"}
    land(paths, "site01", "SITE01_20250601.csv", SITE01)
    assert statuses(ingest("site01"))["SITE01_20250601.csv"] == "superseded"


def test_correction_vanish_and_reappearance_are_audited(ingest, engine, paths):
    land(paths, "site01", "SITE01_20250601.csv", SITE01)
    [night1] = ingest("site01")
    lines = SITE01.decode("utf-8-sig").split("\r\n")
    corrected = [line.replace("312.4", "31.24") for line in lines if "L2403150009" not in line]
    land(paths, "site01", "SITE01_20250602.csv", ("\ufeff" + "\r\n".join(corrected)).encode("utf-8"))
    night2 = next(o for o in ingest("site01") if o.status == "loaded")
    assert night2.changes == {"added": 0, "changed": 1, "vanished": 1, "reappeared": 0}
    audit = read_table(engine, "audit_event")
    change = audit[audit["change"] == "changed"].iloc[0]
    assert (change["record_key"], change["field"], change["old_value"], change["new_value"]) == \
        ("01|L2403050123|TBIL", "result", "312.4", "31.24")
    assert (change["old_transfer_id"], change["new_transfer_id"]) == (night1.transfer_id, night2.transfer_id)
    gone = read_table(engine, "lab_result", "where record_key = '01|L2403150009|PLT'")
    assert gone["vanished_transfer_id"].item() == night2.transfer_id     # flagged, not deleted
    assert gone["result"].item() == "88"
    land(paths, "site01", "SITE01_20250603.csv", SITE01)                 # back as it was
    night3 = next(o for o in ingest("site01") if o.status == "loaded")
    assert night3.changes == {"added": 0, "changed": 1, "vanished": 0, "reappeared": 1}
    back = read_table(engine, "lab_result", "where record_key = '01|L2403150009|PLT'")
    assert pd.isna(back["vanished_transfer_id"].item()) and back["first_transfer_id"].item() == night1.transfer_id
