"""DTS edge cases, statement by statement (/work/shared/dts/*.md): a file that follows the transfer
specifications in an edge-case way must be accepted with the values the DTS says it means; a
departure must be a finding with a reason (file row, column, rule), never a crash, never a silently
wrong or silently missing value, and never personal data in a record, reason or note. Rows read
(by the independent counter) = records loaded + rows quarantined.

The cases marked "was a bug" failed before the readers were fixed (a site 04 comment opening with a
quote, a site 03 cell holding 'N/A', a small site 05 number). A visit label outside the DTS lists is
a finding of the visits rule (tests/validation/test_findings.py), not of the readers.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from aclf.forms import read_form
from aclf.lab import read_lab
from aclf.landing import discover
from aclf.readers import UnreadableTransfer
from aclf.reconcile import count_source_records
from aclf.isodate import valid_iso
from aclf.units import classify_results, harmonize_results
from binary_files import write_site03
from validation.schemas import failures, form_schema

NAN = float("nan")


# ----------------------------------------------------------------------------------------- helpers
def by_key(records: pd.DataFrame) -> dict[str, dict]:
    return {r["record_key"]: r for r in records.to_dict("records")}


def read(study, source: str, path: Path):
    """read_lab, plus the reconciliation every transfer must pass."""
    records, held, notes = read_lab(path, study.sources[source], study.lab)
    assert count_source_records(path, study.sources[source]) == len(records) + len(held), \
        "rows read (independent counter) != records loaded + rows quarantined"
    return records, held, notes


def harmonized(study, records: pd.DataFrame) -> dict[str, dict]:
    out = pd.concat([records, harmonize_results(records, study.lab)], axis=1)
    return by_key(out)


def no_personal(values: list[str], *frames_or_texts) -> None:
    blob = "".join(f.to_json(force_ascii=False) if isinstance(f, pd.DataFrame) else json.dumps(f, ensure_ascii=False)
                   for f in frames_or_texts)
    for value in values:
        assert value not in blob, f"personal value {value!r} reached a record, a reason or a note"


SITE04_HEADER = ("SUBJID\tPAT_NAME\tPHONE\tVISIT_LABEL\tACCESSION\tCOLL_DATE\tCOLL_TIME\tANALYTE\tVALUE\tUNITS"
                 "\tLOW\tHIGH\tCOMMENT\n")


def site04(tmp_path: Path, rows: list[str], name: str = "SITE04_20250601.txt") -> Path:
    path = tmp_path / name
    path.write_bytes((SITE04_HEADER + "\n".join(rows) + "\n").encode("utf-8"))
    return path


def site04_row(accession: str, analyte: str, value: str, unit: str, comment: str = "", name: str = "Wang Fang",
               phone: str = "13800138000", visit: str = "Screening", date: str = "05MAR2024", time: str = "0830",
               low: str = "", high: str = "") -> str:
    return "\t".join(["SZ3-007", name, phone, visit, accession, date, time, analyte, value, unit, low, high, comment])


SITE03_HEADER = ["Subject", "Visit", "Sample No", "Collection Date", "Collection Time", "TBIL (µmol/L)",
                 "ALB (g/L)", "INR", "Na (mmol/L)", "PLT (10^9/L)", "BUN (mmol/L)"]


def site03(tmp_path: Path, rows: list[list], ranges: list[list] | None = None,
           name: str = "SITE03_20250601.xlsx") -> Path:
    return write_site03(tmp_path / name, ranges or [], rows, SITE03_HEADER)


def site05(tmp_path: Path, columns: dict, name: str = "SITE05_20250601.sav") -> Path:
    path = tmp_path / name
    labels = {"lbcode": {1: "TBIL", 2: "ALB", 3: "CREA", 4: "BUN", 5: "INR", 6: "PT", 7: "PTA", 8: "NA", 9: "PLT",
                         10: "ALT", 11: "AST"},
              "lbunit": {1: "umol/L", 2: "g/L", 3: "mmol/L", 4: "(none)", 5: "s", 6: "%", 7: "10^9/L", 8: "U/L"}}
    pyreadstat.write_sav(pd.DataFrame(columns), str(path), variable_value_labels=labels,
                         variable_format={"sampdt": "DATETIME20"})
    return path


def site05_rows(**overrides) -> dict:
    base = {
        "subj": [5007.0], "visno": [2.0], "sampid": ["F5-240305-03"],
        "sampdt": pd.to_datetime(["2024-03-05 08:30"]), "lbcode": [1.0], "lbres": [301.5], "lbresc": [""],
        "lbunit": [1.0], "nrlo": [3.4], "nrhi": [20.5],
    }
    base.update(overrides)
    return base


# ================================================================ site 01 (site01-lab.md): regression
def test_site01_dts_edge_values_are_read_as_the_dts_means_them(study, tmp_path):
    """site01-lab.md l.5-6 (UTF-8 BOM, CRLF, quoted where needed), l.10-20 (columns), l.22-24 (codes
    and units): a quoted personal value with a comma, the test code NA (sodium, not a missing value),
    a quoted censored result, an INR with an empty unit, empty REF_LOW/REF_HIGH, every visit spelling."""
    header = ("\ufeffSUBJECT_NO,PATIENT_NAME,MRN,VISIT,SAMPLE_ID,COLLECT_DTM,TEST_CODE,TEST_NAME,RESULT,UNIT,"
              "REF_LOW,REF_HIGH,ABN_FLAG\r\n")
    rows = [
        '01-007,"Zhang, Wei",H302-2291847,Week-1,L1,2024-03-05 08:30,TBIL,"Bilirubin, total",312.4,umol/L,3.4,20.5,H',
        "01-007,张伟,H302-2291847,Week 0,L2,2024-03-05 08:30,NA,Sodium,134,mmol/L,,,",
        '01-007,张伟,H302-2291847,Week 53,L2,2024-03-05 08:30,INR,INR,">1.5",,,,H',
        "01-007,张伟,H302-2291847,Week 1,L2,2024-03-05 08:30,PLT,Platelets,88,10^9/L,125,350,L",
        "01-007,张伟,H302-2291847,Day 3,L2,2024-03-05 08:30,UREA,Urea,6.2,mmol/L,2.9,8.2,",
        "01-007,张伟,H302-2291847,Week 5,L2,2024-03-05 08:30,PT,Prothrombin time,24.3,s,11,14.5,H",
        '01-007,张伟,H302-2291847,Week 12,L3,2024-03-05 23:59,ALB,Albumin,"29.4",g/L,35,,L',
        "01-007,张伟,H302-2291847,Unscheduled,L3,2024-03-05 23:59,ALT,ALT,245,U/L,,40,H",
    ]
    path = tmp_path / "SITE01_20250601.csv"
    path.write_bytes((header + "\r\n".join(rows) + "\r\n").encode("utf-8"))
    records, held, notes = read(study, "site01", path)
    assert held.empty and notes == []
    rec = harmonized(study, records)
    tbil = rec["01|L1|TBIL"]
    assert (tbil["subjid"], tbil["visit"], tbil["collected"]) == ("01-007", "WEEK-1", "2024-03-05T08:30")
    assert (tbil["lbstresc"], tbil["lbstresu"]) == ("18.269", "mg/dL")          # 312.4 umol/L / 17.1
    assert rec["01|L2|NA"]["lbtestcd"] == "SODIUM" and rec["01|L2|NA"]["visit"] == "WEEK0"
    assert (rec["01|L2|NA"]["lbornrlo"], rec["01|L2|NA"]["lbornrhi"]) == ("", "")
    inr = rec["01|L2|INR"]
    assert (inr["unit_status"], inr["result_kind"], inr["lbstresc"]) == ("ok", "censored", ">1.5")
    assert rec["01|L2|UREA"]["lbtestcd"] == "UREAN" and rec["01|L2|UREA"]["lbstresc"] == "6.2"   # urea = urea N
    assert rec["01|L2|PLT"]["visit"] == "WEEK1" and rec["01|L2|PT"]["visit"] == "WEEK5"
    assert (rec["01|L3|ALB"]["lbornrlo"], rec["01|L3|ALB"]["lbornrhi"]) == ("35", "")
    assert rec["01|L3|ALT"]["visit"] == "UNSCHEDULED" and rec["01|L3|ALT"]["collected"] == "2024-03-05T23:59"
    no_personal(["张伟", "Zhang, Wei", "H302-2291847"], records, held, notes)


# ================================================================ site 02 (site02-lab.md): regression
def test_site02_dts_edge_values_are_read_as_the_dts_means_them(study, tmp_path):
    """site02-lab.md l.4-5 (GB18030, LF), l.9 (SUBJID without zero padding), l.13 (YYYY/M/D H:MM),
    l.15 (溶血, 未做), l.16 (μ), l.17 (range as one string: '3.4-20.5', '<40', '>35', empty), l.21-26
    (visit labels, 秒, ×10^9/L, empty INR unit)."""
    header = "受试者编号,姓名,住院号,访视,标本号,采样时间,检验项目,结果,单位,参考范围,提示\n"
    rows = [
        "2-15,李娜,YA0098123,筛选期,B1,2024/3/5 8:30,总胆红素,256.3,μmol/L,3.4-20.5,↑",
        "2-15,李娜,YA0098123,第0周,B1,2024/3/5 8:30,丙氨酸氨基转移酶,45,U/L,<40,↑",
        "2-15,李娜,YA0098123,第3天,B1,2024/3/5 8:30,白蛋白,30,g/L,>35,↓",
        "2-15,李娜,YA0098123,第53周,B1,2024/12/31 23:59,国际标准化比值,2.1,,,",
        "02-015,李娜,YA0098123,计划外,B2,2024/3/5 8:30,凝血酶原时间,24,秒,11-14.5,",
        "2-5,李娜,YA0098123,第1周,B2,2024/3/5 8:30,血小板计数,88,×10^9/L,125-350,↓",
        "2-5,李娜,YA0098123,第1周,B2,2024/3/5 8:30,钠,未做,mmol/L,135-145,",
        "2-5,李娜,YA0098123,第1周,B2,2024/3/5 8:30,尿素氮,溶血,mmol/L,2.9-8.2,",
        "2-5,李娜,YA0098123,第1周,B2,2024/3/5 8:30,肌酐,88,µmol/L,44-133,",
    ]
    path = tmp_path / "SITE02_20250601.csv"
    path.write_bytes((header + "\n".join(rows) + "\n").encode("gb18030"))
    records, held, notes = read(study, "site02", path)
    assert held.empty and notes == []
    rec = harmonized(study, records)
    tbil = rec["02|B1|总胆红素"]
    assert (tbil["subjid"], tbil["visit"], tbil["unit_status"], tbil["lbstresc"]) == ("02-015", "WEEK-1", "ok", "14.988")
    assert (tbil["lbornrlo"], tbil["lbornrhi"]) == ("3.4", "20.5")
    alt = rec["02|B1|丙氨酸氨基转移酶"]
    assert (alt["lbornrlo"], alt["lbornrhi"], alt["lbnrind"]) == ("", "40", "HIGH")
    alb = rec["02|B1|白蛋白"]
    assert (alb["lbornrlo"], alb["lbornrhi"], alb["lbnrind"]) == ("35", "", "LOW")
    assert rec["02|B1|国际标准化比值"]["collected"] == "2024-12-31T23:59"
    assert rec["02|B1|国际标准化比值"]["unit_status"] == "ok"
    assert rec["02|B2|凝血酶原时间"]["subjid"] == "02-015" and rec["02|B2|凝血酶原时间"]["visit"] == "UNSCHEDULED"
    assert rec["02|B2|凝血酶原时间"]["unit_cd"] == "s"
    assert rec["02|B2|血小板计数"]["subjid"] == "02-005" and rec["02|B2|血小板计数"]["unit_cd"] == "10^9/L"
    assert (rec["02|B2|钠"]["lbstat"], rec["02|B2|钠"]["lbreasnd"]) == ("NOT DONE", "NO REASON GIVEN BY SITE")
    assert rec["02|B2|尿素氮"]["lbreasnd"] == "HEMOLYZED"
    assert rec["02|B2|肌酐"]["unit_cd"] == "umol/L" and rec["02|B2|肌酐"]["lbstresc"] == "0.995"
    no_personal(["李娜", "YA0098123"], records, held, notes)


# ================================================================ site 03 (site03-lab.md): regression
def test_site03_subject_as_number_text_results_and_empty_cells(study, tmp_path):
    """site03-lab.md l.11 (Subject as a number), l.13 (Excel date cell), l.14 (time may be empty),
    l.27-28 (empty cell = no record; a cell may hold text '<0.5', 'hemolysed'; unit from the header)."""
    rows = [[3007.0, "SCR", "S1", dt.datetime(2024, 3, 5), "08:30", 298.1, 29.4, 2.1, None, 88, "  "],
            ["03012", "W53", "S2", dt.datetime(2024, 3, 12), None, "<0.5", "hemolysed", None, 134, None, 6.2]]
    ranges = [["TBIL", 3.4, 20.5, "µmol/L"], ["Na", 135, 145, "mmol/L"], ["BUN", None, 7.1, "mmol/L"]]
    records, held, notes = read(study, "site03", site03(tmp_path, rows, ranges))
    assert held.empty and notes == []
    rec = harmonized(study, records)
    assert set(rec) == {"03|S1|TBIL", "03|S1|ALB", "03|S1|INR", "03|S1|PLT",
                        "03|S2|TBIL", "03|S2|ALB", "03|S2|Na", "03|S2|BUN"}     # blank cells: no record
    assert (rec["03|S1|TBIL"]["subjid"], rec["03|S1|TBIL"]["collected"]) == ("03-007", "2024-03-05T08:30")
    assert rec["03|S1|TBIL"]["unit_cd"] == "umol/L" and rec["03|S1|TBIL"]["lbstresc"] == "17.433"
    assert rec["03|S1|INR"]["unit"] == "" and rec["03|S1|INR"]["unit_status"] == "ok"
    assert rec["03|S2|TBIL"]["collected"] == "2024-03-12" and rec["03|S2|TBIL"]["visit"] == "WEEK53"
    assert rec["03|S2|TBIL"]["result_kind"] == "censored"
    assert rec["03|S2|ALB"]["lbreasnd"] == "HEMOLYZED"
    assert (rec["03|S2|Na"]["lbornrlo"], rec["03|S2|Na"]["lbornrhi"]) == ("135", "145")
    assert (rec["03|S2|BUN"]["lbornrlo"], rec["03|S2|BUN"]["lbornrhi"]) == ("", "7.1")


def test_site03_time_typed_as_an_excel_time_cell_is_a_finding_with_a_reason(study, tmp_path):
    """site03-lab.md l.14: Collection Time is *text* HH:MM. A time cell is a departure: quarantined
    with a reason naming the column and the value, never a crash and never a wrong time."""
    rows = [["03007", "SCR", "S1", dt.datetime(2024, 3, 5), dt.time(8, 30), 298.1, None, None, None, None, None]]
    records, held, _ = read(study, "site03", site03(tmp_path, rows))
    assert records.empty
    assert held[["row_number", "column_name", "rule"]].values.tolist() == [[2, "Collection Time", "bad_time"]]
    assert "'08:30:00'" in held["reason"].item() and "%H:%M" in held["reason"].item()


# ---------------------------------------------------------------------------- site 03: was a bug
@pytest.mark.parametrize("text", ["N/A", "NA", "null", "None", "nan"])
def test_site03_text_cell_that_pandas_calls_missing_is_not_silently_dropped(study, tmp_path, text):
    """Was a bug. site03-lab.md l.27: "An empty cell means the test was not done (no record). A
    cell may hold text". A result cell holding the text 'N/A' (or 'NA', 'null', 'None', '#N/A', ...)
    is not empty: it must become a record (an unknown text result, for the rules to report) or a
    quarantined row. aclf.readers.read_excel_sheet calls pd.read_excel with pandas' default
    na_values, which turns these texts into NaN; as_text makes them '' and lab._melt_wide drops them
    as 'not done'. The record vanishes without a finding, and the independent counter (openpyxl,
    aclf.reconcile._excel_cells) counts one more record than was loaded + quarantined."""
    rows = [["03007", "SCR", "S1", dt.datetime(2024, 3, 5), "08:30", 298.1, text, None, None, None, None]]
    path = site03(tmp_path, rows)
    records, held, _ = read_lab(path, study.sources["site03"], study.lab)
    assert count_source_records(path, study.sources["site03"]) == 2
    kept = by_key(records)
    assert "03|S1|ALB" in kept or len(held) == 1, f"the ALB cell {text!r} vanished without a finding"
    if "03|S1|ALB" in kept:
        assert kept["03|S1|ALB"]["result"] == text


def site03_with_errors(path: Path, rows: list[list]) -> Path:
    """A site 03 workbook whose cells given as ('error', '#N/A') hold that Excel error with its
    formula, as Excel saves a failed formula: a cell of type error, its value the error's text."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    lab, ranges = book.add_worksheet("Lab"), book.add_worksheet("Reference ranges")
    dates = book.add_format({"num_format": "yyyy-mm-dd"})
    lab.write_row(0, 0, SITE03_HEADER)
    ranges.write_row(0, 0, ["Test", "Low", "High", "Unit"])
    ranges.write_row(1, 0, ["ALB", 35, 55, "g/L"])
    ranges.write_row(2, 0, ["TBIL", None, 20.5, "µmol/L"])
    ranges.write_formula(2, 1, "=1/0", None, "#DIV/0!")
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, tuple):
                lab.write_formula(r, c, "=NA()" if value[1] == "#N/A" else "=1/0", None, value[1])
            elif isinstance(value, dt.datetime):
                lab.write_datetime(r, c, value, dates)
            elif value is not None:
                lab.write(r, c, value)
    book.close()
    return path


# ---------------------------------------------------------------------------- site 03: was a bug
def test_site03_excel_error_cell_is_quarantined_with_its_cell_not_dropped(study, tmp_path):
    """Was a bug. site03-lab.md l.27: an empty cell is no record, a cell may hold text. A cell
    holding an Excel error (a formula that failed: #N/A, #DIV/0!) is neither: pandas read it as
    missing, so the result vanished and only the reconciliation's balance showed it. It is now
    quarantined as a spreadsheet error naming its row and column; the other cells of the row load,
    and an error in the subject column holds back the row's results as any bad subject does."""
    rows = [["03007", "SCR", "S1", dt.datetime(2024, 3, 5), "08:30", 298.1, ("error", "#N/A"), 2.1,
             None, None, ("error", "#DIV/0!")],
            [("error", "#N/A"), "W0", "S2", dt.datetime(2024, 3, 12), "08:30", 150, None, None, None, None, None]]
    path = site03_with_errors(tmp_path / "SITE03_20250601.xlsx", rows)
    records, held, notes = read(study, "site03", path)
    assert sorted(by_key(records)) == ["03|S1|INR", "03|S1|TBIL"]
    errors = held[held["rule"] == "spreadsheet_error"].sort_values("column_name")
    assert errors[["row_number", "column_name"]].values.tolist() == [[2, "ALB (g/L)"], [2, "BUN (mmol/L)"]]
    assert errors["reason"].tolist() == [
        "ALB (g/L) holds the spreadsheet error '#N/A', not a result: a formula or link that failed where "
        "the file was made",
        "BUN (mmol/L) holds the spreadsheet error '#DIV/0!', not a result: a formula or link that failed "
        "where the file was made"]
    subject = held[held["rule"] == "bad_subject"]
    assert subject[["row_number", "column_name"]].values.tolist() == [[3, "Subject"]]
    assert subject["reason"].item().startswith("Subject is not a site 03 subject number") and \
        "#N/A" not in subject["reason"].item()
    assert notes == ["reference ranges row 3: Low holds the spreadsheet error '#DIV/0!': no limit used"]
    tbil = harmonized(study, records)["03|S1|TBIL"]
    assert (tbil["lbornrlo"], tbil["lbornrhi"]) == ("", "20.5")


def test_spreadsheet_error_exported_as_text_is_quarantined_too(study, tmp_path):
    """A text file exported from a spreadsheet carries its errors as text ('#DIV/0!' in RESULT):
    the same departure, the same rule, for a delimited site; 'N/A' is still a text result."""
    header = "SUBJECT_NO,PATIENT_NAME,MRN,VISIT,SAMPLE_ID,COLLECT_DTM,TEST_CODE,TEST_NAME,RESULT,UNIT,REF_LOW,REF_HIGH,ABN_FLAG\n"
    rows = ["01-007,X,M1,Week 0,L1,2024-03-05 08:30,TBIL,Bilirubin,#DIV/0!,umol/L,3.4,20.5,",
            "01-007,X,M1,Week 0,L1,2024-03-05 08:30,ALB,Albumin,N/A,g/L,35,55,"]
    path = tmp_path / "SITE01_20250601.csv"
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    records, held, _ = read(study, "site01", path)
    assert sorted(by_key(records)) == ["01|L1|ALB"]
    assert held[["row_number", "column_name", "rule"]].values.tolist() == [[2, "RESULT", "spreadsheet_error"]]



def test_spreadsheet_error_names_the_column_it_was_read_from(study, tmp_path):
    """A result read from the first filled of several columns: the finding names the column that
    held the error, the cell the site would correct, not the first configured."""
    columns = {**study.sources["site01"].columns, "result": ["RESULT", "RESULT_TEXT"]}
    dialect = study.sources["site01"].model_copy(update={"columns": columns})
    header = "SUBJECT_NO,VISIT,SAMPLE_ID,COLLECT_DTM,TEST_CODE,RESULT,RESULT_TEXT,UNIT,REF_LOW,REF_HIGH,ABN_FLAG\n"
    rows = ["01-007,Week 0,L1,2024-03-05 08:30,TBIL,,#N/A,umol/L,3.4,20.5,",
            "01-007,Week 0,L1,2024-03-05 08:30,ALB,#VALUE!,,g/L,35,55,",
            "01-007,Week 0,L1,2024-03-05 08:30,CREA,61,,umol/L,57,111,"]
    path = tmp_path / "SITE01_20250601.csv"
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    records, held, _ = read_lab(path, dialect, study.lab)
    assert records["record_key"].tolist() == ["01|L1|CREA"]
    assert held[["row_number", "column_name", "rule"]].values.tolist() == [
        [2, "RESULT_TEXT", "spreadsheet_error"], [3, "RESULT", "spreadsheet_error"]]
    assert held["reason"].str.startswith(("RESULT_TEXT holds the spreadsheet error '#N/A'",
                                          "RESULT holds the spreadsheet error '#VALUE!'")).all()


def test_formula_without_a_saved_result_is_quarantined_not_dropped(study, tmp_path):
    """Found by a hostile-input probe. A workbook written by a program that does not calculate
    (openpyxl, a script) holds formulas with no saved result; pandas read such a cell as empty, so a
    result vanished without a finding and the counter, which read the same empty cell, agreed. Each
    is now quarantined naming its cell (a subject cell holds back its row's results), a reference
    limit of that kind is no limit, and the counter counts the cell; a formula Excel calculated
    (its value saved beside it) is read as its value."""
    import openpyxl

    book = openpyxl.Workbook()
    lab = book.active
    lab.title = "Lab"
    lab.append(SITE03_HEADER)
    lab.append(["03007", "SCR", "S1", dt.datetime(2024, 3, 5), "08:30", 298.1, "=F2/10", 2.1, None, None, None])
    lab.append(['="03008"', "W0", "S2", dt.datetime(2024, 3, 12), "08:30", 150, None, None, None, None, None])
    ranges = book.create_sheet("Reference ranges")
    ranges.append(["Test", "Low", "High", "Unit"])
    ranges.append(["ALB", "=30+5", 55, "g/L"])
    path = tmp_path / "SITE03_20250601.xlsx"
    book.save(path)
    records, held, notes = read(study, "site03", path)
    assert sorted(by_key(records)) == ["03|S1|INR", "03|S1|TBIL"]
    assert held[["row_number", "column_name", "rule"]].sort_values(["row_number", "column_name"]).values.tolist() == [
        [2, "ALB (g/L)", "uncalculated_formula"], [3, "Subject", "uncalculated_formula"]]
    assert held["reason"].str.contains("holds a formula whose result was never saved").all()
    assert notes == ["reference ranges row 2: Low holds a formula whose result was never saved (the workbook "
                     "was written by a program that does not calculate): no limit used"]

    calculated = site03_with_errors(tmp_path / "SITE03_20250602.xlsx",
                                    [["03007", "SCR", "S1", dt.datetime(2024, 3, 5), "08:30", 298.1, None, 2.1,
                                      None, None, None]])
    import zipfile

    with zipfile.ZipFile(calculated) as archive:   # XlsxWriter saves a value beside each formula, as Excel does
        assert b"<f>1/0</f><v>#DIV/0!</v>" in archive.read("xl/worksheets/sheet2.xml")
    records, held, _ = read(study, "site03", calculated)
    assert held.empty and sorted(by_key(records)) == ["03|S1|INR", "03|S1|TBIL"]


@pytest.mark.parametrize("renamed", ["SAMPLE_ID", "RESULT"])
def test_a_header_naming_a_read_column_twice_rejects_the_file_without_its_values(study, tmp_path, renamed):
    """A personal column renamed as a column the dialect reads (MRN as SAMPLE_ID, TEST_NAME as
    RESULT): which of the two holds the data cannot be told, and pandas would read the first. The
    transfer is rejected naming the column, never a value."""
    header = f"SUBJECT_NO,PATIENT_NAME,{renamed},VISIT,SAMPLE_ID,COLLECT_DTM,TEST_CODE,TEST_NAME,RESULT,UNIT,REF_LOW,REF_HIGH,ABN_FLAG\n"
    path = tmp_path / "SITE01_20250601.csv"
    path.write_text(header + "01-007,Li Wei,H302-8878394,Week 0,L1,2024-03-05 08:30,TBIL,Bilirubin,17.2,umol/L,3.4,20.5,\n",
                    encoding="utf-8")
    with pytest.raises(UnreadableTransfer) as raised:
        read(study, "site01", path)
    assert str(raised.value) == (f"SITE01_20250601.csv row 1: the header row names the column(s) {renamed} more "
                                 f"than once; which one holds the data cannot be told")


def test_a_workbook_header_naming_a_read_column_twice_rejects_it(study, tmp_path):
    path = write_site03(tmp_path / "SITE03_20250601.xlsx", [], [["SZ-001", "Week 0", "S1", "2024-03-05", "08:30",
                                                                  17.2, 31.0, 1.2, 135, 88, 5.1, "Week 1"]],
                        [*SITE03_HEADER, "Visit"])
    with pytest.raises(UnreadableTransfer, match=r"names the column\(s\) Visit more than once"):
        read(study, "site03", path)


def test_columns_named_like_pandas_renames_a_repeat_are_not_a_repeat(study, tmp_path):
    """'X' and 'X.1' both written in the header are two columns: only a name written twice is refused."""
    header = "SUBJECT_NO,PATIENT_NAME,MRN,VISIT,SAMPLE_ID,COLLECT_DTM,TEST_CODE,TEST_NAME,RESULT,UNIT,REF_LOW,REF_HIGH,ABN_FLAG,RESULT.1\n"
    path = tmp_path / "SITE01_20250601.csv"
    path.write_text(header + "01-007,X,M1,Week 0,L1,2024-03-05 08:30,TBIL,Bilirubin,17.2,umol/L,3.4,20.5,,9\n",
                    encoding="utf-8")
    records, held, _ = read(study, "site01", path)
    assert by_key(records)["01|L1|TBIL"]["result"] == "17.2" and held.empty


def test_an_spss_date_no_calendar_holds_rejects_the_file(study, tmp_path):
    """A sampdt past the year 9999 makes pyreadstat raise OverflowError: a rejection with the
    reason, the night going on, not a failed ingestion."""
    path = site05(tmp_path, site05_rows(sampdt=[1e16]))
    with pytest.raises(UnreadableTransfer, match="a value cannot be read as the type its variable declares"):
        read(study, "site05", path)


def test_digits_of_other_scripts_are_neither_dates_nor_numbers(study):
    """Python's \\d matches every script's digits: a full-width '２０２４-05-17' passed the ISO check (no
    finding, then SV refused as non-ASCII) and '１２.５' was a number while LBORRES kept its text."""
    assert valid_iso(pd.Series(["２０２４-05-17", "2024-05-17", "٢٠٢٤"]), partial=True).tolist() == [False, True, False]
    kinds = classify_results(pd.Series(["１２.５", "12.5", "<５"]), pd.Series(["", "", ""]), study.lab)["kind"]
    assert kinds.tolist() == ["unknown_text", "number", "unknown_text"]
    assert failures(form_schema("visits", study.form("visits")[1]),
                    pd.DataFrame({"SUBJID": ["０１-001"], "VISIT": ["WEEK0"], "VISIT_DATE": ["2024-05-17"]})
                    )["check"].tolist() == ["str_matches('^[0-9]{2}-[0-9]{3,4}$')"]

# ================================================================ site 04 (site04-lab.md): regression
def test_site04_conventional_units_not_done_and_clock_edges(study, tmp_path):
    """site04-lab.md l.4-5 (tab text, US units), l.13-14 (DDMONYYYY, HHMM may be empty), l.19-20
    (LOW/HIGH may be empty), l.23-27 (analyte units; empty VALUE + COMMENT = not done, not dropped)."""
    rows = [
        site04_row("A1", "Total Bilirubin", "17.2", "mg/dL", low="0.2", high="1.2", time="0000"),
        site04_row("A1", "Albumin", "<1.0", "g/dL", low="3.5", high="5.0", date="05mar2024", time=""),
        site04_row("A1", "Creatinine", "", "mg/dL", comment="QNS", visit="Baseline"),
        site04_row("A1", "Urea Nitrogen", "28", "mg/dL", visit="Week 53", date="29FEB2024", time="2359"),
        site04_row("A1", "Prothrombin Time", "24.3", "sec"),
        site04_row("A1", "Sodium", "134", "mEq/L"),
        site04_row("A1", "Platelet Count", "88", "10^3/uL", low="150", high="400", comment="recollected"),
        site04_row("A1", "INR", "", "", comment="hemolyzed"),
        site04_row("A1", "Prothrombin Activity", "", "%"),
    ]
    records, held, notes = read(study, "site04", site04(tmp_path, rows))
    assert held.empty and notes == []
    rec = harmonized(study, records)
    tbil = rec["04|A1|Total Bilirubin"]
    assert (tbil["subjid"], tbil["collected"], tbil["lbstresc"]) == ("04-007", "2024-03-05T00:00", "17.2")
    alb = rec["04|A1|Albumin"]
    assert (alb["collected"], alb["lbstresc"], alb["lbstnrlo"], alb["lbstnrhi"]) == ("2024-03-05", "<10", 35, 50)
    crea = rec["04|A1|Creatinine"]
    assert (crea["visit"], crea["lbstat"], crea["lbreasnd"]) == ("WEEK0", "NOT DONE", "QUANTITY NOT SUFFICIENT")
    bun = rec["04|A1|Urea Nitrogen"]
    assert (bun["collected"], bun["lbstresc"], bun["lbstresu"]) == ("2024-02-29T23:59", "10", "mmol/L")
    assert rec["04|A1|Prothrombin Time"]["unit_cd"] == "s"
    assert rec["04|A1|Sodium"]["lbstresc"] == "134" and rec["04|A1|Platelet Count"]["lbstresc"] == "88"
    assert rec["04|A1|INR"]["lbreasnd"] == "HEMOLYZED"
    assert rec["04|A1|Prothrombin Activity"]["lbreasnd"] == "NO RESULT REPORTED"
    no_personal(["Wang Fang", "13800138000"], records, held, notes)


# ---------------------------------------------------------------------------- site 04: was a bug
def test_site04_free_text_comment_opening_with_a_quote_does_not_swallow_the_next_records(study, tmp_path):
    """Was a bug (high). site04-lab.md l.4 and l.20: tab-delimited text, COMMENT is free text;
    nothing in the DTS makes '"' special. aclf.readers._read_delimited (pd.read_csv) and
    field_counts (csv.reader) both use '"' as a quote character, so a comment that opens with a
    quote runs on, across tabs and line ends, to the next quote in the file. Here rows 3 and 4 are
    swallowed into row 2's COMMENT: two results vanish, the reconciliation balances (both parsers
    agree: 2 read = 2 loaded) so nothing notices, and the swallowed rows' patient name and phone
    number are stored in a loaded record's comment (DTS README rule 7)."""
    rows = [
        site04_row("A1", "Total Bilirubin", "17.2", "mg/dL", comment='"recollected'),
        site04_row("A1", "Albumin", "2.9", "g/dL", comment="ok", name="Li Lei", phone="13900139000"),
        site04_row("A3", "Sodium", "134", "mEq/L", comment='"QNS" per lab', name="Li Lei", phone="13900139000"),
        site04_row("A3", "INR", "1.4", ""),
    ]
    path = site04(tmp_path, rows)
    records, held, notes = read_lab(path, study.sources["site04"], study.lab)
    no_personal(["Li Lei", "13900139000"], records, held, notes)
    assert sorted(records["test_raw"]) == ["Albumin", "INR", "Sodium", "Total Bilirubin"]
    assert by_key(records)["04|A1|Total Bilirubin"]["comment"] == '"recollected'


def test_site04_unbalanced_quote_in_a_comment_does_not_reject_the_whole_transfer(study, tmp_path):
    """Was a bug (medium). Same statement and cause as above: one comment that opens a quote and
    never closes it rejects the whole snapshot ('EOF inside string starting at row 1' - a parser
    row, not the file's row 2, and no column named), so every other site-04 result of the night is
    held back. The DTS gives quotes no meaning in this file: the row is a legal row."""
    rows = [site04_row("A1", "Total Bilirubin", "17.2", "mg/dL", comment='"see note'),
            site04_row("A1", "Albumin", "2.9", "g/dL")]
    path = site04(tmp_path, rows)
    try:
        records, held, _ = read_lab(path, study.sources["site04"], study.lab)
    except UnreadableTransfer as exc:
        pytest.fail(f"a DTS-conforming file was rejected: {exc}")
    assert len(records) == 2 and held.empty
    assert by_key(records)["04|A1|Total Bilirubin"]["comment"] == '"see note'


# ================================================================ site 05 (site05-lab.md): regression
def test_site05_codes_are_the_contract(study, tmp_path):
    """site05-lab.md l.11-19: subj = site x 1000 + number, visno 99 = unscheduled, lbresc when the
    result is not a number (lbres system-missing), lbunit 4 = no unit (INR), unknown codes are
    findings naming the variable and the code."""
    columns = site05_rows(
        subj=[5007.0, 5007.0, 5011.0, 5011.0, 5012.0], visno=[1.0, 12.0, 99.0, 2.0, 2.0],
        sampid=["F5-1", "F5-1", "F5-2", "F5-2", "F5-3"],
        sampdt=pd.to_datetime(["2024-03-05 08:30"] * 2 + ["2024-03-20 00:00"] * 2 + ["2024-03-21 09:00"]),
        lbcode=[1.0, 5.0, 1.0, 2.0, 12.0], lbres=[301.5, 2.35, NAN, NAN, 40.0],
        lbresc=["", "", "hemolysed", "<5", ""], lbunit=[1.0, 4.0, 1.0, 2.0, 8.0],
        nrlo=[3.4, 0.8, 3.4, 35.0, NAN], nrhi=[20.5, 1.2, 20.5, 55.0, NAN])
    records, held, notes = read(study, "site05", site05(tmp_path, columns))
    rec = harmonized(study, records)
    tbil = rec["05|F5-1|TBIL"]
    assert (tbil["subjid"], tbil["visit"], tbil["collected"], tbil["lbstresc"]) == \
        ("05-007", "WEEK-1", "2024-03-05T08:30", "17.632")
    assert (rec["05|F5-1|INR"]["visit"], rec["05|F5-1|INR"]["unit"], rec["05|F5-1|INR"]["unit_status"]) == \
        ("WEEK53", "", "ok")
    assert rec["05|F5-2|TBIL"]["visit"] == "UNSCHEDULED" and rec["05|F5-2|TBIL"]["lbreasnd"] == "HEMOLYZED"
    assert rec["05|F5-2|ALB"]["result_kind"] == "censored" and rec["05|F5-2|ALB"]["lbstresc"] == "<5"
    assert held[["row_number", "column_name", "rule"]].values.tolist() == [[5, "lbcode", "unknown_code"]]
    assert "lbcode code '12'" in held["reason"].item()


# ---------------------------------------------------------------------------- site 05: was a bug
def test_site05_small_numeric_result_stays_a_number(study, tmp_path):
    """Was a bug (low). site05-lab.md l.14: lbres is the *numeric* result. aclf.readers.as_text
    writes a non-integer float with repr(), which switches to exponent notation below 1e-4
    (0.00005 -> '5e-05'); aclf.units' NUMBER pattern has no exponent, so the number is classified
    'unknown_text' and gets no standard value. (Same path for a numeric cell of site 03.) No study
    test has such values today, but the DTS promises a number, and it stops being one."""
    path = site05(tmp_path, site05_rows(lbcode=[5.0], lbunit=[4.0], lbres=[0.00005], nrlo=[NAN], nrhi=[NAN]))
    records, held, _ = read(study, "site05", path)
    rec = harmonized(study, records)["05|F5-240305-03|INR"]
    assert rec["result_kind"] == "number", f"numeric lbres read as {rec['result']!r}"


# ========================================================================== EDC and IWRS: regression
EDC_CASES = {
    # edc.md l.9-10 and l.20-24: partial dates in history; PRIOR_PLT/PRIOR_CTP may be empty
    "medical_history": ("SUBJID,ETIOLOGY,CIRRHOSIS,ACLF_ONSET_DATE,PRIOR_PLT,PRIOR_CTP\n"
                        "01-007,HBV+ALCOHOL,Y,2023-11,96,7\n02-015,PBC,N,2023,49.5,15\n03-001,OTHER,N,,,\n", 3),
    # edc.md l.40-45: Chinese verbatim term with a comma and a line end, quoted; partial start/end
    "adverse_events": ("SUBJID,AESPID,AETERM,AETERM_EN,AEDECOD,AEBODSYS,AESTDTC,AEENDTC,AESER,AETOXGR,AEREL,AEOUT,AEACN\n"
                       '01-007,1,"发热,寒战\n（夜间）","Fever, chills",,,2023-11,2023,Y,5,DEFINITELY RELATED,FATAL,\n'
                       "01-007,2,腹泻,Diarrhoea,,,2024-03-05,,N,1,UNLIKELY RELATED,,\n", 2),
    # edc.md l.34-36: date-times YYYY-MM-DDTHH:MM; a not-done infusion with a quoted reason
    "infusion": ("SUBJID,VISIT,INF_START,INF_END,KIT_NO,VOLUME_ML,DONE,NOT_DONE_REASON\n"
                 "01-007,WEEK0,2024-03-05T10:00,2024-03-05T10:45,K0131,100,Y,\n"
                 '01-007,WEEK1,,,,,N,"Patient refused, ""too tired"""\n', 2),
    # edc.md l.47-49: both events of one patient
    "outcome_events": ("SUBJID,EVENT,EVENT_DATE,DEATH_CAUSE\n01-007,LIVER TRANSPLANT,2024-04-01,\n"
                       '01-007,DEATH,2024-05-01,"Sepsis, multi-organ failure"\n', 2),
    # edc.md l.15-19: site 05, OTHER/OTHER, a screen failure reason with a comma
    "enrollment": ("SUBJID,SITEID,SCREEN_DATE,CONSENT_DATE,BRTHDTC,SEX,ETHNIC,RACE,ELIGIBLE,SCREEN_FAIL_REASON,"
                   "PATIENT_NAME,PHONE,ID_CARD_NO\n05-001,05,2024-02-27,2024-02-27,1971-05-04,M,OTHER,OTHER,N,"
                   '"TBIL < 5 mg/dL, INR 1.2",欧阳明轩,13912345678,11010519710504231X\n', 1),
}


@pytest.mark.parametrize("form", sorted(EDC_CASES))
def test_edc_forms_dts_edges_are_accepted_and_pass_their_schema(study, tmp_path, form):
    text, expected = EDC_CASES[form]
    edc = study.sources["edc"]
    spec = edc.forms[form]
    path = tmp_path / spec.file
    path.write_bytes(text.encode("utf-8"))
    records, held, notes = read_form(path, spec, edc.file, study.study.subjid_pattern)
    assert (len(records), len(held), notes) == (expected, 0, [])
    assert count_source_records(path.parent, _only(edc, form)) == expected
    assert failures(form_schema(form, spec), records.drop(columns=["record_key", "row_number", "subjid"])).empty
    no_personal(["欧阳明轩", "13912345678", "11010519710504231X"], records, held, notes)
    if form == "adverse_events":
        assert records["AETERM"].iloc[0] == "发热,寒战\n（夜间）" and records["AEENDTC"].iloc[0] == "2023"
    if form == "infusion":
        assert records["NOT_DONE_REASON"].iloc[1] == 'Patient refused, "too tired"'


def _only(edc, form):
    """The EDC source with one form (the counter sums every form file of the folder)."""
    return edc.model_copy(update={"forms": {form: edc.forms[form]}})


def test_iwrs_blinded_list_edges(study, tmp_path):
    """iwrs.md l.6-16: stage 1 and stage 2 rows of one patient, ';'-separated kits."""
    iwrs = study.sources["iwrs"]
    path = tmp_path / "IWRS_20240305.csv"
    path.write_text("SUBJID,SITEID,STAGE,RAND_NO,RAND_DTM,KIT_NOS\n01-007,01,1,R1-0042,2024-03-05T10:12,"
                    "K0131;K0132;K0133\n01-007,01,2,R2-0007,2024-04-02T09:00,K0501;K0502\n", encoding="utf-8")
    spec = iwrs.forms["randomization"]
    records, held, notes = read_form(path, spec, iwrs.file, study.study.subjid_pattern)
    assert records["record_key"].tolist() == ["01-007|1", "01-007|2"] and held.empty and notes == []
    assert records["KIT_NOS"].tolist() == ["K0131;K0132;K0133", "K0501;K0502"]
    assert count_source_records(path, iwrs) == 2
    assert failures(form_schema("randomization", spec), records.drop(columns=["record_key", "row_number", "subjid"])).empty


# ================================================================= landing (README.md rules 3-4)
def test_landing_names_and_sha256sum_manifest_variants(study, tmp_path):
    """README.md l.24-31: `_<n>` second transfer; sha256sum format (binary-mode '*', upper-case hex,
    CRLF, a BOM, a trailing blank line); a file without its manifest is in flight; an EDC folder
    with `_2`."""
    folder = tmp_path / "site01"
    folder.mkdir()
    digest = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    for name, data in (("SITE01_20240305.csv", b"x"), ("SITE01_20240305_2.csv", b"y"), ("SITE01_20240306.csv", b"z")):
        (folder / name).write_bytes(data)
    (folder / "SITE01_20240305.csv.sha256").write_bytes(f"{digest(b'x').upper()} *SITE01_20240305.csv\r\n".encode())
    (folder / "SITE01_20240305_2.csv.sha256").write_bytes(f"\ufeff{digest(b'y')}  SITE01_20240305_2.csv\n\n".encode())
    found = discover("site01", folder, study.sources["site01"].file, latest_date="20990101")
    assert [(c.name, c.status, c.seq) for c in found] == [
        ("SITE01_20240305.csv", "complete", 1), ("SITE01_20240305_2.csv", "complete", 2),
        ("SITE01_20240306.csv", "in_flight", 1)]
    edc = tmp_path / "edc" / "EDC_20240305_2"
    edc.mkdir(parents=True)
    (edc / "visits.csv").write_bytes(b"SUBJID,VISIT,VISIT_DATE\n")
    (edc / "MANIFEST.sha256").write_text(f"{digest(b'SUBJID,VISIT,VISIT_DATE' + bytes([10]))}  visits.csv\n")
    [cand] = discover("edc", edc.parent, study.sources["edc"].file, latest_date="20990101")
    assert (cand.status, cand.seq) == ("complete", 2)


def test_a_manifest_listing_a_file_twice_rejects_the_transfer(study, tmp_path):
    """DTS rule 4: sha256sum -c checks every line, so a file listed with a wrong digest before its
    right one fails; the manifest parser kept only the last line's and loaded the transfer."""
    edc = tmp_path / "edc" / "EDC_20240305"
    edc.mkdir(parents=True)
    (edc / "visits.csv").write_bytes(b"SUBJID,VISIT,VISIT_DATE\n")
    right = hashlib.sha256(b"SUBJID,VISIT,VISIT_DATE\n").hexdigest()
    (edc / "MANIFEST.sha256").write_text(f"{'0' * 64}  visits.csv\n{right}  visits.csv\n")
    [cand] = discover("edc", edc.parent, study.sources["edc"].file, latest_date="20990101")
    assert (cand.status, cand.reason) == (
        "rejected", "manifest unreadable: MANIFEST.sha256 line 2 lists visits.csv a second time")
