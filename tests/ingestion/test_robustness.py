"""Issue #10: hostile or careless transfers. Each case is planted in a landing zone and ingested; the
bad transfer is rejected (or held) with a reason naming file, row, column and rule but no value, the
previous snapshot stays in force, nothing outside the source's folder is read or archived, and the
other sources go on."""
import datetime as dt
import os
import stat
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import pyreadstat
import pytest

import aclf.ingest
from aclf.archive import archive_path
from aclf.landing import sha256_of
from binary_files import SITE03_HEADER, write_site03, write_site05
from support import FIXTURES, land, land_edc, read_table, write_manifest
from validation.inputs import RuleInputs
from validation.rules_ingestion import rejected_transfers

SITE01 = (FIXTURES / "SITE01_20250601.csv").read_bytes()
SITE04 = (FIXTURES / "SITE04_20250601.txt").read_bytes()
SITE01_PERSONAL = ["欧阳明轩", "司马婉清", "H302-2291847", "H302-3390412"]
SITE04_PERSONAL = ["Xiahou Dun", "13912345678"]


def everything_stored(engine) -> str:
    """Every table a run writes, as one text, to search for values that must not be there."""
    return "".join(read_table(engine, t).to_json(force_ascii=False)
                   for t in ("transfer", "lab_result", "form_record", "quarantine", "audit_event"))


def rejection_findings(engine, study) -> str:
    transfers = read_table(engine, "transfer")
    found = rejected_transfers(RuleInputs(study, pd.DataFrame(), {}, transfers, pd.DataFrame(), pd.DataFrame()))
    return found.to_json(force_ascii=False)


def in_force(engine, source="site01") -> set:
    lab = read_table(engine, "lab_result", f"where source = '{source}' and vanished_transfer_id is null")
    return set(lab["transfer_id"])


# 1. personal data in the rejection reason ---------------------------------------------------------

@pytest.mark.parametrize("source, name, content, personal, first_required", [
    ("site01", "SITE01_20250602.csv", b"\xef\xbb\xbf" + SITE01.split(b"\r\n", 1)[1], SITE01_PERSONAL, "SUBJECT_NO"),
    ("site04", "SITE04_20250602.txt", SITE04.split(b"\n", 1)[1], SITE04_PERSONAL, "SUBJID"),
])
def test_a_file_without_its_header_row_is_rejected_without_quoting_its_first_row(
        ingest, engine, study, paths, source, name, content, personal, first_required):
    good = SITE01 if source == "site01" else SITE04
    land(paths, source, name.replace("0602", "0601"), good)
    [loaded] = ingest(source)
    land(paths, source, name, content)
    outcome = next(o for o in ingest(source) if o.file == name)
    assert outcome.status == "rejected"
    assert outcome.reason.startswith(f"{name} row 1: the header row lacks the required column(s) {first_required}, ")
    assert "13 unrecognised column(s) not shown" in outcome.reason
    assert in_force(engine, source) == {loaded.transfer_id}                  # the previous snapshot stays
    for value in personal:
        assert value not in everything_stored(engine)
    said = read_table(engine, "transfer").to_json(force_ascii=False) + rejection_findings(engine, study)
    first_row = content.decode("utf-8-sig").splitlines()[0].split("," if source == "site01" else "\t")
    for value in [v for v in first_row if len(v) > 3]:                    # no value of the row at all
        assert value not in said


# 2. one bad file must not end the night -------------------------------------------------------------

def _header_only(source: str, tmp_path) -> bytes:
    if source == "site01":
        return SITE01.split(b"\r\n")[0] + b"\r\n"
    if source == "site02":
        return (FIXTURES / "SITE02_20250601.csv").read_bytes().splitlines(keepends=True)[0]
    if source == "site04":
        return SITE04.split(b"\n")[0] + b"\n"
    if source == "iwrs":
        return b"SUBJID,SITEID,STAGE,RAND_NO,RAND_DTM,KIT_NOS\n"
    if source == "site03":
        wb = openpyxl.Workbook()
        wb.active.title = "Lab"
        wb.active.append(SITE03_HEADER)
        wb.create_sheet("Reference ranges").append(["Test", "Low", "High", "Unit"])
        wb.save(tmp_path / "empty.xlsx")
        return (tmp_path / "empty.xlsx").read_bytes()
    full, _ = pyreadstat.read_sav(str(write_site05(tmp_path / "full.sav")))       # site05: SPSS, no cases
    pyreadstat.write_sav(full.iloc[0:0], str(tmp_path / "empty.sav"), variable_format={"sampdt": "DATETIME20"})
    return (tmp_path / "empty.sav").read_bytes()


FULL = {"site01": lambda tmp: SITE01, "site02": lambda tmp: (FIXTURES / "SITE02_20250601.csv").read_bytes(),
        "site03": lambda tmp: write_site03(tmp / "s3.xlsx").read_bytes(), "site04": lambda tmp: SITE04,
        "site05": lambda tmp: write_site05(tmp / "s5.sav").read_bytes(),
        "iwrs": lambda tmp: b"SUBJID,SITEID,STAGE,RAND_NO,RAND_DTM,KIT_NOS\n01-007,01,1,R1-0042,2024-03-05T09:12,K1\n"}
EXT = {"site01": "csv", "site02": "csv", "site03": "xlsx", "site04": "txt", "site05": "sav", "iwrs": "csv"}


@pytest.mark.parametrize("source", list(FULL))
def test_a_header_only_file_loads_as_empty_first_and_is_held_after_a_real_snapshot(ingest, engine, paths,
                                                                                   tmp_path, source):
    prefix = source.upper()
    land(paths, source, f"{prefix}_20250601.{EXT[source]}", _header_only(source, tmp_path))
    [first] = ingest(source)
    assert (first.status, first.rows_read, first.rows_loaded, first.balanced) == ("loaded", 0, 0, True)
    land(paths, source, f"{prefix}_20250602.{EXT[source]}", FULL[source](tmp_path))
    real = next(o for o in ingest(source) if o.status == "loaded")
    assert real.rows_loaded > 0 and real.balanced
    land(paths, source, f"{prefix}_20250603.{EXT[source]}", _header_only(source, tmp_path))
    outcomes = {o.file: o for o in ingest(source)}
    held = outcomes[f"{prefix}_20250603.{EXT[source]}"]
    assert held.status == "rejected" and held.reason.startswith("held as possibly truncated: it holds 0 records")
    assert outcomes[real.file].status == "loaded"                          # still in force


def test_a_field_over_128_kib_is_counted_and_loaded(ingest, engine, paths):
    long_name = "欧阳明轩" * 40_000                                         # 480 KB in a personal column
    land(paths, "site01", "SITE01_20250601.csv", SITE01.replace("欧阳明轩".encode(), long_name.encode(), 1))
    [outcome] = ingest("site01")
    assert (outcome.status, outcome.rows_read, outcome.balanced) == ("loaded", 8, True)
    assert "欧阳明轩" not in everything_stored(engine)


@pytest.mark.parametrize("where", ["beside", "edc"])
def test_a_manifest_that_is_a_directory_rejects_the_transfer(ingest, engine, paths, where):
    if where == "beside":
        path = land(paths, "site01", "SITE01_20250601.csv", SITE01, manifest=False)
        path.with_name(path.name + ".sha256").mkdir()
        source = "site01"
    else:
        folder = land_edc(paths, "EDC_20250601", manifest=False)
        (folder / "MANIFEST.sha256").mkdir()
        source = "edc"
    [outcome] = ingest(source)
    assert outcome.status == "rejected" and "manifest" in outcome.reason and "not a regular file" in outcome.reason
    land(paths, "site04", "SITE04_20250601.txt", SITE04)
    assert ingest("site04")[0].status == "loaded"                           # the night goes on


def test_a_ragged_row_is_quarantined_without_its_shifted_values(ingest, engine, paths):
    lines = SITE01.split(b"\r\n")
    lines[2] = lines[2].replace("01-007,欧阳明轩".encode(), "01-007欧阳明轩".encode())   # a lost comma
    land(paths, "site01", "SITE01_20250601.csv", b"\r\n".join(lines))
    [outcome] = ingest("site01")
    assert outcome.status == "loaded" and outcome.balanced
    held = read_table(engine, "quarantine")
    row = held[held["row_number"] == 3].iloc[0]
    assert (row["rule"], row["data"]) == ("field_count", "{}")
    assert row["reason"] == "the row has 12 fields where the header has 13; its values are shifted and were not read"
    assert "欧阳明轩" not in everything_stored(engine)


def test_a_line_of_blanks_is_no_record_for_either_parser(ingest, paths):
    lines = SITE01.split(b"\r\n")
    land(paths, "site01", "SITE01_20250601.csv", b"\r\n".join([*lines[:3], b"   ", *lines[3:]]))
    [outcome] = ingest("site01")
    assert (outcome.status, outcome.rows_read, outcome.balanced) == ("loaded", 8, True)


# 4. the landing zone is a boundary --------------------------------------------------------------------

def test_a_manifest_naming_a_path_outside_the_folder_is_rejected_and_nothing_outside_is_archived(
        ingest, engine, paths, tmp_path):
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0\n")
    folder = land_edc(paths, "EDC_20250601")
    manifest = folder / "MANIFEST.sha256"
    manifest.write_text(manifest.read_text() + f"{sha256_of(secret)}  ../../../outside/passwd\n")
    [outcome] = ingest("edc")
    assert outcome.status == "rejected" and "names a path, not a plain file name" in outcome.reason
    assert not archive_path(paths.archive, sha256_of(secret)).exists()
    assert "root:x" not in everything_stored(engine)


@pytest.mark.parametrize("what", ["file", "manifest", "edc_folder", "edc_member"])
def test_symlinks_are_rejected_and_never_followed(ingest, engine, paths, tmp_path, what):
    key = tmp_path / "iwrs_key" / "RANDKEY_20250601.csv"
    key.parent.mkdir()
    key.write_bytes(b"SUBJID,ARM\n01-007,HUC-MSC\n")
    if what == "file":
        (paths.landing / "iwrs").mkdir(parents=True)
        link = paths.landing / "iwrs" / "IWRS_20250601.csv"
        link.symlink_to(key)
        write_manifest(link)                                # a manifest with the key's true digest
        source = "iwrs"
    elif what == "manifest":
        path = land(paths, "site01", "SITE01_20250601.csv", SITE01, manifest=False)
        real = tmp_path / "real.sha256"
        real.write_text(f"{sha256_of(path)}  {path.name}\n")
        path.with_name(path.name + ".sha256").symlink_to(real)
        source = "site01"
    elif what == "edc_folder":
        real = land_edc(paths, "EDC_20250531")
        real.rename(tmp_path / "elsewhere")
        (paths.landing / "edc" / "EDC_20250601").symlink_to(tmp_path / "elsewhere")
        source = "edc"
    else:
        folder = land_edc(paths, "EDC_20250601", manifest=False)
        (folder / "visits.csv").unlink()
        (folder / "visits.csv").symlink_to(key)
        write_manifest(folder)
        source = "edc"
    outcomes = ingest(source)
    assert [o.status for o in outcomes] == ["rejected"]
    assert "symbolic link" in outcomes[0].reason
    assert not archive_path(paths.archive, sha256_of(key)).exists()
    assert "HUC-MSC" not in everything_stored(engine)


def test_a_special_file_is_rejected_without_being_opened(ingest, paths):
    folder = paths.landing / "site01"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "SITE01_20250601.csv")                 # opening it would block the night
    [outcome] = ingest("site01")
    assert outcome.status == "rejected" and "is not a regular file" in outcome.reason


# 6. a transfer dated in the future ------------------------------------------------------------------

def test_a_transfer_dated_in_the_future_is_rejected_and_supersedes_nothing(ingest, engine, paths, study,
                                                                          monkeypatch):
    tolerance = dt.timedelta(days=study.transfers.future_date_tolerance_days)
    before = dt.datetime.now(ZoneInfo(study.study.timezone)).date()
    latest = aclf.ingest.latest_accepted_date(study)
    after = dt.datetime.now(ZoneInfo(study.study.timezone)).date()
    assert latest in {(day + tolerance).strftime("%Y%m%d") for day in (before, after)}   # midnight may pass
    monkeypatch.setattr(aclf.ingest, "latest_accepted_date", lambda _: latest)   # the same date for every ingest
    edge = latest
    future = (dt.datetime.strptime(latest, "%Y%m%d") + dt.timedelta(days=1)).strftime("%Y%m%d")
    land(paths, "site01", "SITE01_20991231.csv", SITE01.replace(b"312.4", b"999.9"))
    land(paths, "site01", f"SITE01_{future}.csv", SITE01.replace(b"312.4", b"888.8"))
    land(paths, "site01", "SITE01_20250601.csv", SITE01)
    outcomes = {o.file: o for o in ingest("site01")}
    for name in ("SITE01_20991231.csv", f"SITE01_{future}.csv"):
        assert outcomes[name].status == "rejected"
        assert "in the name is later than the run's date allows" in outcomes[name].reason
    assert outcomes["SITE01_20250601.csv"].status == "loaded"
    land(paths, "site01", f"SITE01_{edge}.csv", SITE01.replace(b"312.4", b"312.5"))   # within the tolerance
    outcomes = {o.file: o for o in ingest("site01")}
    assert outcomes[f"SITE01_{edge}.csv"].status == "loaded"                          # a genuine later one
    assert outcomes["SITE01_20991231.csv"].status == "rejected"
    assert "999.9" not in set(read_table(engine, "lab_result")["result"])


def test_a_future_snapshot_already_in_force_no_longer_blocks_genuine_ones(ingest, engine, paths, monkeypatch):
    import aclf.ingest

    with monkeypatch.context() as before_the_fix:               # a store from before dates were checked
        before_the_fix.setattr(aclf.ingest, "latest_accepted_date", lambda study: "99991231")
        land(paths, "site01", "SITE01_20991231.csv", SITE01.replace(b"312.4", b"999.9"))
        assert [o.status for o in ingest("site01")] == ["loaded"]
    land(paths, "site01", "SITE01_20250601.csv", SITE01)
    outcomes = {o.file: o.status for o in ingest("site01")}
    assert outcomes == {"SITE01_20250601.csv": "loaded", "SITE01_20991231.csv": "rejected"}
    lab = read_table(engine, "lab_result", "where vanished_transfer_id is null")
    assert "999.9" not in set(lab["result"]) and "312.4" in set(lab["result"])
    registry = read_table(engine, "transfer").set_index("name")["status"].to_dict()
    assert registry == {"SITE01_20991231.csv": "rejected", "SITE01_20250601.csv": "loaded"}
    (paths.landing / "site01" / "SITE01_20991231.csv").unlink()            # deleting it changes nothing
    assert [o.status for o in ingest("site01")] == ["loaded"]


# 8. archive permissions and the truncation heuristic ---------------------------------------------------

def test_the_archive_is_owner_only(ingest, paths):
    land(paths, "site01", "SITE01_20250601.csv", SITE01)
    [outcome] = ingest("site01")
    copy = archive_path(paths.archive, outcome.sha256)
    assert stat.S_IMODE(copy.stat().st_mode) == 0o400
    for folder in (paths.archive, paths.archive / "sha256", copy.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_truncated_snapshot_is_held_and_the_previous_stays_in_force(ingest, engine, paths, study):
    land(paths, "site01", "SITE01_20250601.csv", SITE01)
    [first] = ingest("site01")
    truncated = b"\r\n".join(SITE01.split(b"\r\n")[:3])           # header and two of eight records
    land(paths, "site01", "SITE01_20250602.csv", truncated)
    outcomes = {o.file: o for o in ingest("site01")}
    held = outcomes["SITE01_20250602.csv"]
    assert held.status == "rejected"
    assert held.reason == ("held as possibly truncated: it holds 2 records where the snapshot in force has 6, "
                           "a loss over the configured 50% (transfers.max_record_loss_share)")
    assert outcomes["SITE01_20250601.csv"].status == "loaded" and in_force(engine) == {first.transfer_id}
    assert len(read_table(engine, "audit_event").query("change == 'vanished'")) == 0
    assert "held as possibly truncated" in rejection_findings(engine, study)
