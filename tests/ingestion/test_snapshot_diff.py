"""The audit events between the records in force and a new snapshot: each kind of change once per
record (per field for a change), the kinds in a fixed order and each kind by record key, whatever
the order of the snapshot's rows."""
import pandas as pd

from aclf.snapshot import AUDIT_COLUMNS, diff_snapshots, match, merge_snapshot


def _old() -> pd.DataFrame:
    return pd.DataFrame({
        "record_key": ["k5", "k1", "k3", "k9", "k2", "ké"], "subjid": ["01-005", "01-001", "01-003", "", "01-002", "01-007"],
        "result": ["5", "1", "3", "9", "2", "7"], "unit": ["g/L"] * 6,
        "transfer_id": [4, 4, 4, 2, 4, 4], "first_transfer_id": [1, 1, 2, 1, 3, 3],
        "vanished_transfer_id": pd.array([None, None, None, 3, None, None], dtype="Int64")}).astype(
        {c: "str" for c in ("record_key", "subjid", "result", "unit")})


def _new() -> pd.DataFrame:      # k1 and k3 gone, k9 back, k5 and ké changed, k0 and k8 new
    return pd.DataFrame({"record_key": ["k8", "ké", "k9", "k2", "k0", "k5"],
                         "subjid": ["01-008", "01-007", "01-009", "01-002", "01-010", "01-005"],
                         "result": ["8", "7.5", "9", "2", "0", "50"], "unit": ["g/L", "g/dL", "g/L", "g/L", "g/L", "g/dL"]
                         }).astype("str")


def test_events_by_kind_then_record_key():
    events = diff_snapshots(_old(), _new(), ["result", "unit"])
    assert list(events.columns) == AUDIT_COLUMNS
    assert events[["record_key", "change", "field"]].astype(object).where(events.notna(), None).values.tolist() == [
        ["k0", "added", None], ["k8", "added", None],
        ["k1", "vanished", None], ["k3", "vanished", None],
        ["k9", "reappeared", None],
        ["k5", "changed", "result"], ["ké", "changed", "result"],
        ["k5", "changed", "unit"], ["ké", "changed", "unit"]]
    changed = events[events["change"] == "changed"]
    assert changed[["old_value", "new_value"]].values.tolist() == [["5", "50"], ["7", "7.5"], ["g/L", "g/dL"],
                                                                   ["g/L", "g/dL"]]
    assert events["subjid"].tolist() == ["01-010", "01-008", "01-001", "01-003", "01-009", "01-005", "01-007",
                                         "01-005", "01-007"]
    assert events["old_transfer_id"].isna().tolist() == [True, True] + [False] * 7
    assert events["old_transfer_id"].dropna().astype(int).tolist() == [4, 4, 2, 4, 4, 4, 4]


def test_the_records_in_force_after_a_snapshot():
    merged = merge_snapshot(_old(), _new(), 5)
    assert merged["record_key"].tolist() == ["k8", "ké", "k9", "k2", "k0", "k5", "k1", "k3"]
    assert merged["first_transfer_id"].tolist() == [5, 3, 1, 3, 5, 1, 1, 2]
    assert merged["vanished_transfer_id"].tolist()[-2:] == [5, 5] and merged["transfer_id"].tolist()[:6] == [5] * 6


def test_records_matched_once_serve_the_diff_and_the_merge():
    """replace_*_snapshot match the records once for both: the same events and records in force as
    each matching on its own, a first snapshot (nothing stored) included."""
    for old in (_old(), _old().iloc[0:0]):
        matched = match(old, _new())
        fields = ["result", "unit"]
        assert diff_snapshots(old, _new(), fields, matched).equals(diff_snapshots(old, _new(), fields))
        assert merge_snapshot(old, _new(), 5, matched).equals(merge_snapshot(old, _new(), 5))
    assert match(_old(), _new()).in_old.tolist() == [-1, 5, 3, 4, -1, 0]
