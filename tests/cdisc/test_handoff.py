"""The SDTM hand-off read by ADaM: a dataset whole, or only the columns a derivation needs (read
alone from the file); a plain mapping of frames answers the same. The next night's SDTM takes LB
back with each record's lineage and position, or not at all."""
import pandas as pd
import pytest

from cdisc.handoff import columns_of, handoff_lb, handoff_trace, load_handoff, save_handoff


def test_only_the_columns_asked_for_are_read_and_equal_the_whole_datasets(tmp_path):
    lb = pd.DataFrame({"USUBJID": pd.Series(["S-1", "S-1", "S-2"], dtype="str"),
                       "LBDTC": pd.Series(["2025-01-02", None, "2025-02"], dtype="str"),
                       "LBSTRESN": [1.5, None, 3.0], "LBSEQ": [1.0, 2.0, 1.0]})
    trace = pd.DataFrame({"dataset": ["LB"] * 3, "record": [1, 2, 3], "transfer_id": [1, 1, 2],
                          "row_number": [2, 3, 2]})
    save_handoff(tmp_path / "handoff", {"LB": lb}, trace).settle(True)
    handoff = load_handoff(tmp_path / "handoff")

    read = columns_of(handoff, "LB", ["LBDTC", "USUBJID"])
    assert list(read.columns) == ["LBDTC", "USUBJID"]
    pd.testing.assert_frame_equal(read, handoff["LB"][["LBDTC", "USUBJID"]])
    pd.testing.assert_frame_equal(handoff["LB"], lb)
    pd.testing.assert_frame_equal(columns_of({"LB": lb}, "LB", ["LBDTC", "USUBJID"]), read)
    with pytest.raises(KeyError):
        columns_of(handoff, "EX", ["USUBJID"])


def _lb_handoff(folder, trace: pd.DataFrame) -> None:
    lb = pd.DataFrame({"USUBJID": pd.Series(["S-1", "S-1", "S-2"], dtype="str"), "LBSEQ": [1.0, 2.0, 1.0]})
    digests = pd.Series([11, 22], index=pd.Index(["1", "2"], name="USUBJID"), dtype="uint64")
    save_handoff(folder, {"LB": lb}, trace, lb_subjects=("key", digests)).settle(True)


def test_lb_is_taken_from_the_hand_off_with_each_records_lineage_and_position(tmp_path):
    trace = pd.DataFrame({"dataset": ["LB"] * 3, "record": [1, 2, 3], "transfer_id": [1, 1, 2],
                          "row_number": [2, 3, 2], "position": [1, 0, 0]})
    _lb_handoff(tmp_path / "handoff", trace)
    previous = handoff_lb(tmp_path / "handoff", "key")
    lb = previous.datasets["LB"]
    assert lb["_TRANSFER"].tolist() == [1, 1, 2] and lb["_ROW"].tolist() == [2, 3, 2]
    assert lb["_POS"].tolist() == [1, 0, 0]
    assert handoff_lb(tmp_path / "handoff", "another key") is None


def test_a_hand_off_without_the_records_positions_gives_no_lb_to_take(tmp_path):
    """LB's records could not be given tonight's lineage: LB is built in full."""
    trace = pd.DataFrame({"dataset": ["LB"] * 3, "record": [1, 2, 3], "transfer_id": [1, 1, 2],
                          "row_number": [2, 3, 2]})
    _lb_handoff(tmp_path / "handoff", trace)
    assert handoff_lb(tmp_path / "handoff", "key") is None


def test_the_trace_of_the_datasets_taken_is_theirs_in_the_hand_offs_order(tmp_path):
    trace = pd.DataFrame({"dataset": ["DM", "AE", "AE", "LB", "DM", "LB"], "record": [1, 1, 2, 1, 2, 2],
                          "transfer_id": [1.0, 2.0, 2.0, 3.0, 1.0, 3.0], "row_number": [2.0, 3.0, 4.0, 2.0, 5.0, 3.0]})
    save_handoff(tmp_path / "handoff", {}, trace).settle(True)
    taken = handoff_trace(tmp_path / "handoff", ["DM", "AE"])
    pd.testing.assert_frame_equal(taken, trace[trace["dataset"] != "LB"].reset_index(drop=True), check_exact=True)
    assert handoff_trace(tmp_path / "handoff", ["EX"]).empty
