"""The comparator that proves a refactor changed nothing: it sees a changed value, a missing file, a
changed define.xml, a changed finding, changed expectation results and a changed listing, and ignores
only timestamps."""
from __future__ import annotations

import shutil

import pandas as pd
import pyreadstat

from bench.compare_outputs import compare
from validation.listing import write_listing


def _output(root, value: float, stamp: str, status: str = "open", failed: int = 0):
    folder = root / "blinded" / "m5" / "sdtm"
    folder.mkdir(parents=True)
    pyreadstat.write_xport(pd.DataFrame({"USUBJID": ["A", "B"], "AGE": [50.0, value]}), str(folder / "dm.xpt"),
                           file_format_version=5, table_name="DM")
    (folder / "define.xml").write_text(f'<ODM CreationDateTime="{stamp}" AsOfDateTime="{stamp}"><x/></ODM>')
    (root / "findings").mkdir()
    pd.DataFrame({"finding_id": ["f1"], "status": [status], "first_seen": [stamp]}).to_csv(
        root / "findings" / "findings.csv", index=False)
    (root / "quality").mkdir()
    (root / "quality" / "result.json").write_text(f'{{"success": {str(not failed).lower()}, "failed": {failed}}}')
    return root


def test_identical_outputs_apart_from_timestamps(tmp_path):
    assert compare(_output(tmp_path / "a", 61.0, "2025-01-01T00:00"), _output(tmp_path / "b", 61.0, "2026-01-01")) == []


def test_every_kind_of_difference_is_reported(tmp_path):
    a = _output(tmp_path / "a", 61.0, "t1")
    b = _output(tmp_path / "b", 62.0, "t2", status="closed", failed=1)
    (b / "blinded" / "m5" / "sdtm" / "define.xml").write_text('<ODM CreationDateTime="t2"><y/></ODM>')
    shutil.copy(b / "blinded" / "m5" / "sdtm" / "dm.xpt", b / "blinded" / "m5" / "sdtm" / "ae.xpt")
    found = "\n".join(compare(a, b))
    assert "dm.xpt.AGE: 1 values differ, first at row 2: 61.0 != 62.0" in found
    assert "only in" in found and "ae.xpt" in found
    assert "define.xml: differs beyond its timestamps" in found
    assert "findings differ" in found
    assert "quality/result.json: the expectation results differ" in found


def _listing(root, details: str, answer: bool = True, title: str = "written 2025-01-01"):
    rows = pd.DataFrame({"Finding": ["f1"], "Details": [details], "Row": pd.Series([4], dtype="Int64")})
    write_listing(rows, root / "findings" / "site01_queries.xlsx", ["Study: queries", title, "1 open query."],
                  answer=answer)


def test_the_listings_are_compared_as_a_person_sees_them(tmp_path):
    a, b = _output(tmp_path / "a", 61.0, "t1"), _output(tmp_path / "b", 61.0, "t1")
    _listing(a, "=1+1")
    _listing(b, "=1+1", title="written 2026-12-06")          # only the day it was written
    assert compare(a, b) == []
    _listing(b, "=1+2")
    assert "findings/site01_queries.xlsx: cells differ: 1 cells, first at row 7, column 2" in "\n".join(compare(a, b))
    _listing(b, "=1+1", answer=False)                          # no shaded answer columns
    found = "\n".join(compare(a, b))
    assert "findings/site01_queries.xlsx: cells differ" in found and "widths differ" in found
