"""Each site dialect read from a small hand-written file: encodings, ids, dates, units, text results."""
from pathlib import Path

import pandas as pd
import pytest

from aclf.lab import read_lab
from aclf.readers import UnreadableTransfer
from binary_files import write_site03, write_site05
from support import FIXTURES


def by_key(records: pd.DataFrame) -> dict[str, dict]:
    return {r["record_key"]: r for r in records.to_dict("records")}


def test_site03_reference_ranges_sent_in_another_unit_are_converted_to_the_columns(study, tmp_path):
    """The sheet's Unit is the range's own (DTS): a range in g/dL for a column of g/L is read in g/L;
    one in a unit without a conversion is not used, and the transfer's notes say why."""
    ranges = [["TBIL", 0.2, 1.2, "mg/dL"], ["ALB", 3.5, 5.5, "g/dL"], ["INR", 0.8, 1.2, ""],
              ["PTA", 70, 130, "furlongs"]]
    records, _, notes = read_lab(write_site03(tmp_path / "SITE03_20250601.xlsx", ranges), study.sources["site03"],
                                 study.lab)
    rec = by_key(records)
    assert (rec["03|SL240305017|TBIL"]["ref_low"], rec["03|SL240305017|TBIL"]["ref_high"]) == ("3.42", "20.52")
    assert (rec["03|SL240305017|ALB"]["ref_low"], rec["03|SL240305017|ALB"]["ref_high"]) == ("35", "55")
    assert (rec["03|SL240305017|INR"]["ref_low"], rec["03|SL240305017|INR"]["ref_high"]) == ("0.8", "1.2")
    assert (rec["03|SL240305017|PTA"]["ref_low"], rec["03|SL240305017|PTA"]["ref_high"]) == ("", "")
    assert notes == ["reference range of 'PTA' given in 'furlongs', a unit the study does not know: not used"]


@pytest.mark.parametrize("ranges, column, expected, note", [
    # the column's unit spelled otherwise, or twice on the sheet: the row in the column's unit is taken
    ([["ALB", 35, 55, "G/L"]], "ALB", ("35", "55"), None),
    ([["TBIL", 3.4, 20.5, "\u03bcmol/L"]], "TBIL", ("3.4", "20.5"), None),
    ([["TBIL", 0.2, 1.2, "furlongs"], ["TBIL", 3.4, 20.5, "umol/L"]], "TBIL", ("3.4", "20.5"), None),
    ([["TBIL", 0.2, 1.2, "mg/dL"], ["TBIL", 3.4, 20.5, "umol/L"]], "TBIL", ("3.4", "20.5"), None),
    # a known unit without a conversion for the test, a cell too long to be a unit or shaped like a name:
    # not used, and the last two not quoted
    ([["ALB", 3.5, 5.5, "mmol/L"]], "ALB", ("", ""),
     "reference range of 'ALB' given in 'mmol/L', which has no conversion to its column's unit 'g/L': not used"),
    ([["ALB", 35, 55, "Zhang San 13800138000 " * 3]], "ALB", ("", ""),
     "reference range of 'ALB' given in (not shown: too long to be a code), a unit the study does not "
     "know: not used"),
    ([["ALB", 35, 55, "Wang Fang"]], "ALB", ("", ""),
     "reference range of 'ALB' given in (not shown: it has the form of a name or an identifier), a unit the study "
     "does not know: not used"),
    # a limit of 60 digits (no crash), or a phone typed as a limit: the form of an identifier, not used
    ([["ALB", "1" * 60, 55, "g/dL"]], "ALB", ("", "550"),
     "reference ranges row 2: Low holds a value (not shown: it has the form of a name or an identifier): no limit used"),
    ([["ALB", 35, "13800138000", "g/L"]], "ALB", ("35", ""),
     "reference ranges row 2: High holds a value (not shown: it has the form of a name or an identifier): no limit used"),
])
def test_site03_reference_range_units_edge_cases(study, tmp_path, ranges, column, expected, note):
    records, _, notes = read_lab(write_site03(tmp_path / "SITE03_20250601.xlsx", ranges), study.sources["site03"],
                                 study.lab)
    record = by_key(records)[f"03|SL240305017|{column}"]
    assert (record["ref_low"], record["ref_high"]) == expected
    assert notes == ([note] if note else [])


def test_site01_utf8_bom_crlf(study):
    records, held, notes = read_lab(FIXTURES / "SITE01_20250601.csv", study.sources["site01"], study.lab)
    rec = by_key(records)
    assert len(records) == 6 and len(held) == 2
    assert rec["01|L2403050123|TBIL"]["subjid"] == "01-007"       # BOM stripped: first column found
    assert rec["01|L2403050123|TBIL"]["collected"] == "2024-03-05T08:30"
    assert rec["01|L2403050123|NA"]["lbtestcd"] == "SODIUM"       # 'NA' is sodium, not a missing value
    assert rec["01|L2403050123|CREA"]["result"] == "<44"          # censored result kept as sent
    assert rec["01|L2403050123|CREA"]["unit"] == "umol/l"         # unit spelling kept as sent
    assert rec["01|L2403120077|TBIL"]["result"] == "HEMOLYZED"
    assert rec["01|L2403150009|PLT"]["visit"] == "UNSCHEDULED"
    assert rec["01|L2403050123|INR"]["unit"] == ""
    reasons = dict(zip(held["rule"], held["reason"]))
    assert reasons["bad_subject"].startswith("SUBJECT_NO is not a site 01 subject number")
    assert "01-12" not in reasons["bad_subject"]        # a subject column may hold another identifier
    assert held.loc[held["rule"] == "unknown_test", "row_number"].item() == 9
    assert "test 'GGT'" in reasons["unknown_test"]
    assert not notes


def test_site02_gb18030_chinese_headers(study):
    records, held, _ = read_lab(FIXTURES / "SITE02_20250601.csv", study.sources["site02"], study.lab)
    rec = by_key(records)
    assert len(records) == 7 and len(held) == 1
    tbil = rec["02|20240305-0456|总胆红素"]
    assert (tbil["subjid"], tbil["lbtestcd"], tbil["visit"]) == ("02-015", "BILI", "WEEK-1")
    assert tbil["unit"] == "\u03bcmol/L"                            # Greek mu as sent
    assert rec["02|20240305-0456|肌酐"]["unit"] == "\u00b5mol/L"     # micro sign as sent
    assert rec["02|20240305-0456|凝血酶原时间"]["unit"] == "秒"
    assert tbil["ref_range"] == "3.4-20.5" and tbil["flag"] == "↑"
    assert rec["02|20240312-0101|丙氨酸氨基转移酶"]["collected"] == "2024-03-12T07:05"  # no zero padding
    assert rec["02|20240312-0101|白蛋白"]["result"] == "溶血"
    assert rec["02|20240315-0033|血小板计数"]["result"] == "未做"
    assert rec["02|20240319-0200|钠"]["subjid"] == "02-003"
    assert held["rule"].tolist() == ["bad_date"] and "2024/3/32" in held["reason"].item()


def test_site03_wide_excel(study, tmp_path):
    records, held, _ = read_lab(write_site03(tmp_path / "SITE03_20250601.xlsx"), study.sources["site03"], study.lab)
    rec = by_key(records)
    assert rec["03|SL240305017|TBIL"]["unit"] == "\u00b5mol/L"      # unit from the column header
    assert rec["03|SL240305017|TBIL"]["ref_high"] == "20.5"          # from the 'Reference ranges' sheet
    assert rec["03|SL240312003|TBIL"]["subjid"] == "03-007"          # subject arrived as the number 3007
    assert rec["03|SL240312003|TBIL"]["subject_raw"] == "3007"
    assert rec["03|SL240312003|TBIL"]["collected"] == "2024-03-12"   # no time sent: date only
    assert rec["03|SL240312003|TBIL"]["result"] == "<0.5"
    assert rec["03|SL240312003|PTA"]["result"] == "hemolysed"
    assert "03|SL240312003|ALB" not in rec                           # empty cell: test not done, no record
    assert len(records) == 7
    assert sorted(held["rule"]) == ["bad_time", "bad_time", "unknown_test"]
    unknown = held[held["rule"] == "unknown_test"]
    assert set(unknown["column_name"]) == {"GGT (U/L)"}
    assert '"value": "55"' not in unknown["data"].item()      # an unknown column's value is not kept


def test_site04_conventional_units_and_qns(study):
    records, held, _ = read_lab(FIXTURES / "SITE04_20250601.txt", study.sources["site04"], study.lab)
    rec = by_key(records)
    assert rec["04|SZ24030500817|Total Bilirubin"]["subjid"] == "04-007"
    assert rec["04|SZ24030500817|Total Bilirubin"]["collected"] == "2024-03-05T08:30"
    assert rec["04|SZ24031200101|Platelet Count"]["collected"] == "2024-03-12"
    qns = rec["04|SZ24031200101|Creatinine"]                        # ordered, no result: kept, not dropped
    assert (qns["result"], qns["comment"]) == ("", "QNS")
    assert rec["04|SZ24030500817|Sodium"]["unit"] == "mEq/L"
    assert held["rule"].tolist() == ["bad_time"] and held["row_number"].item() == 8


def test_site05_spss_codes_not_labels(study, tmp_path):
    records, held, _ = read_lab(write_site05(tmp_path / "SITE05_20250601.sav"), study.sources["site05"], study.lab)
    rec = by_key(records)
    assert rec["05|F5-240305-03|TBIL"]["subjid"] == "05-007"
    assert rec["05|F5-240305-03|TBIL"]["unit"] == "umol/L"           # code 1 decoded by configuration
    assert rec["05|F5-240305-03|INR"]["unit"] == ""                  # code 4: no unit (label '(none)' ignored)
    assert rec["05|F5-240305-03|INR"]["result"] == "2.35"
    assert rec["05|F5-240312-01|TBIL"]["result"] == "hemolysed"      # lbresc when lbres is system-missing
    assert rec["05|F5-240312-01|TBIL"]["collected"] == "2024-03-12T07:10"
    assert rec["05|F5-240305-03|TBIL"]["visit"] == "WEEK-1"
    assert held["rule"].tolist() == ["unknown_code"] and held["row_number"].item() == 4


def test_a_duplicate_of_a_quarantined_row_is_loaded(study):
    from aclf.lab import normalize_lab
    from aclf.readers import ROW

    row = {"SUBJECT_NO": "01-007", "VISIT": "Week 1", "SAMPLE_ID": "L1", "COLLECT_DTM": "2024-03-19 08:00",
           "TEST_CODE": "ALT", "RESULT": "245", "UNIT": "U/L", "REF_LOW": "", "REF_HIGH": "", "ABN_FLAG": ""}
    frame = pd.DataFrame([{**row, "COLLECT_DTM": "19/03/2024", ROW: 2}, {**row, ROW: 3}, {**row, ROW: 4}])
    records, held = normalize_lab(frame, study.sources["site01"])
    assert records["row_number"].tolist() == [3]                  # the first valid occurrence is kept
    assert held[["row_number", "rule"]].values.tolist() == [[2, "bad_date"], [4, "duplicate_key"]]
    assert "same accession and test as row 3" in held["reason"].iloc[1]


def test_a_field_is_the_first_non_empty_of_its_columns_whether_text_or_not():
    """A delimited file's columns stay Arrow text, a workbook's may hold numbers: either way a field
    is the first non-empty of its columns, as text, '' where none is."""
    from aclf.lab import _field

    text = pd.DataFrame({"A": pd.Series(["x", "", None, ""], dtype="str"),
                         "B": pd.Series(["y", "b", "c", ""], dtype="str")})
    mixed = pd.DataFrame({"A": pd.Series(["x", "", None, ""], dtype="str"),
                          "B": pd.Series([1.5, "b", 3, None], dtype=object)})
    assert _field(text, ["A", "B"]).tolist() == ["x", "b", "c", ""]
    assert _field(mixed, ["A", "B"]).tolist() == ["x", "b", "3", ""]
    assert _field(mixed, ["B", "A"]).tolist() == ["1.5", "b", "3", ""]


def test_a_parse_of_the_distinct_values_gives_each_row_its_own_values_result():
    from aclf.lab import _per_value

    stamps = pd.Series(pd.to_datetime(["2024-03-01", None, "2024-03-02", "2024-03-01", None]), index=[5, 3, 9, 1, 0])
    text = _per_value(stamps, lambda s: s.dt.strftime("%Y-%m-%d"))
    assert text.index.tolist() == [5, 3, 9, 1, 0]
    assert text.fillna("").tolist() == ["2024-03-01", "", "2024-03-02", "2024-03-01", ""]
    raw = pd.Series(["01-7", "x", "01-12", "01-7"], dtype="str")
    parts = _per_value(raw, lambda s: s.str.extract(r"^01-(?P<num>\d+)$").assign(seen=s))
    assert parts["num"].fillna("").tolist() == ["7", "", "12", "7"]
    assert parts["seen"].tolist() == raw.tolist()


def test_wrong_encoding_is_an_unreadable_transfer(study, tmp_path):
    bad = tmp_path / "SITE01_20250601.csv"
    bad.write_bytes((FIXTURES / "SITE02_20250601.csv").read_bytes())   # GB18030 bytes, UTF-8 expected
    with pytest.raises(UnreadableTransfer, match="not valid utf-8"):
        read_lab(bad, study.sources["site01"], study.lab)


def test_utf8_file_at_a_gb18030_site_is_an_unreadable_transfer(study, tmp_path):
    bad = tmp_path / "SITE02_20250601.csv"
    bad.write_bytes((FIXTURES / "SITE02_20250601.csv").read_bytes().decode("gb18030").encode("utf-8"))
    with pytest.raises(UnreadableTransfer, match="not valid gb18030"):
        read_lab(bad, study.sources["site02"], study.lab)


def test_missing_column_is_an_unreadable_transfer(study, tmp_path):
    bad = tmp_path / "SITE04_20250601.txt"
    text = (FIXTURES / "SITE04_20250601.txt").read_text().replace("ACCESSION", "ACCESSION_NO")
    bad.write_text(text)
    with pytest.raises(UnreadableTransfer, match=r"lacks the required column\(s\) ACCESSION \(1 unrecognised"):
        read_lab(bad, study.sources["site04"], study.lab)


def test_corrupt_excel_is_an_unreadable_transfer(study, tmp_path):
    bad = tmp_path / "SITE03_20250601.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is not really a workbook")
    with pytest.raises(UnreadableTransfer, match="not a readable Excel workbook"):
        read_lab(bad, study.sources["site03"], study.lab)


def test_a_files_field_counts_are_counted_again_when_the_file_changes(tmp_path):
    """The reader and the reconciliation's counter share one count of a file as it is on disk; a
    file rewritten under the same name is counted again."""
    import os
    import time

    from aclf.readers import field_counts

    path = tmp_path / "SITE01_20250601.csv"
    path.write_text("A,B\n1,2\n3,4\n", encoding="utf-8")
    assert field_counts(path, "utf-8", ",") == [2, 2, 2]
    before = path.stat()
    time.sleep(0.05)                # past the file system's clock tick: the change time moves
    path.write_text("A,B\n1,2\n3,4,", encoding="utf-8")          # the same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))    # and its modification time set back
    assert field_counts(path, "utf-8", ",") == [2, 2, 3]
