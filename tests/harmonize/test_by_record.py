"""A rebuilt source's harmonized rows, built only for the records whose inputs changed (the others'
rows kept with tonight's lineage), equal the rows a full build gives, value for value and in order:
whatever column of a record changed, whatever was added, dropped or moved in the snapshot."""
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st

import aclf.harmonized_lab as module
from aclf.harmonized_lab import _as_stored, build_harmonized_lab, built_by_record
from aclf.store import LAB_VALUE_COLUMNS

FIRST = pd.Series(pd.to_datetime(["2025-03-01", "2025-03-04"]), index=["01-001", "01-002"])
# values each column may take, so that a change can move a record across every branch of the build
CHOICES = {
    "subjid": ["01-001", "01-002", "01-003"], "subject_raw": ["1", "001"], "visit_raw": ["D7", "Day 7", "W4"],
    "visit": ["D7", "W4", "UNS", ""], "sample_id": ["A1", "A2"], "test_raw": ["TBIL", "Bilirubin", "INR"],
    "lbtestcd": ["BILI", "INR", "ALB", ""], "collected": ["2025-03-08", "2025-03-08T09:30", "2025-03-29", ""],
    "result": ["85.5", "<0.5", "not done", "2.3", "hemolysed", ""], "unit": ["umol/L", "mg/dL", "g/dL", "", "furlongs"],
    "ref_low": ["3.4", "", "x"], "ref_high": ["20.5", ""], "ref_range": ["3.4-20.5", "<40", ""],
    "flag": ["H", ""], "comment": ["", "sample hemolysed", "NOT DONE"],
}


def _staged(records: list[dict], transfer_id: int, source: str = "site01") -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=["record_key", *LAB_VALUE_COLUMNS]).astype("str")
    return frame.assign(source=source, transfer_id=transfer_id, row_number=np.arange(2, len(frame) + 2))


def _records(draw, count: int, name: str = "S") -> list[dict]:
    return [{"record_key": f"01|{name}{i}|T", **{c: draw(st.sampled_from(v)) for c, v in CHOICES.items()}}
            for i in range(count)]


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_rows_built_by_record_equal_a_full_build(study, data):
    before = _records(data.draw, 12)
    after = [dict(r) for r in before]
    for record in after:                        # some records change one column, some stay as they were
        if data.draw(st.booleans()):
            column = data.draw(st.sampled_from(list(CHOICES)))
            record[column] = data.draw(st.sampled_from(CHOICES[column]))
    keep = data.draw(st.lists(st.booleans(), min_size=len(after), max_size=len(after)))
    after = [r for r, k in zip(after, keep) if k] + _records(data.draw, data.draw(st.integers(0, 3)), "NEW")
    after = data.draw(st.permutations(after))
    other = _staged(_records(data.draw, 3), 7, source="site02").assign(record_key=lambda f: "02" + f["record_key"])
    kept = _as_stored(build_harmonized_lab(pd.concat([_staged(before, 1), other], ignore_index=True), FIRST, study))
    tonight = _staged(after, 2)
    expected = _as_stored(build_harmonized_lab(tonight, FIRST, study)).reset_index(drop=True)
    assert built_by_record(tonight, kept, FIRST, study).equals(expected)


def test_only_the_records_that_changed_are_built(study, monkeypatch):
    records = [{"record_key": f"01|S{i}|T", **{c: v[i % len(v)] for c, v in CHOICES.items()}} for i in range(6)]
    records[4].update(ref_low="", ref_high="", ref_range="<40")        # its limits come from the range
    kept = _as_stored(build_harmonized_lab(_staged(records, 1), FIRST, study))
    records[1]["result"] = "2.3" if records[1]["result"] != "2.3" else "85.5"
    records[4]["ref_range"] = "<41"
    records[5]["flag"] = "L" if records[5]["flag"] != "L" else ""     # read by no build: the kept row serves
    sizes = []
    real = module.build_harmonized_lab
    monkeypatch.setattr(module, "build_harmonized_lab", lambda staged, *a: sizes.append(len(staged)) or real(staged, *a))
    tonight = _staged(records[::-1], 3)
    out = built_by_record(tonight, kept, FIRST, study)
    assert sizes == [2]
    assert out["transfer_id"].eq(3).all() and out["row_number"].tolist() == list(range(2, 8))
    assert out.equals(_as_stored(real(tonight, FIRST, study)).reset_index(drop=True))
