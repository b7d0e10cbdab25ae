"""The SDTM hand-off read by ADaM: a dataset whole, or only the columns a derivation needs (read
alone from the file); a plain mapping of frames answers the same."""
import pandas as pd
import pytest

from cdisc.handoff import columns_of, load_handoff, save_handoff


def test_only_the_columns_asked_for_are_read_and_equal_the_whole_datasets(tmp_path):
    lb = pd.DataFrame({"USUBJID": pd.Series(["S-1", "S-1", "S-2"], dtype="str"),
                       "LBDTC": pd.Series(["2025-01-02", None, "2025-02"], dtype="str"),
                       "LBSTRESN": [1.5, None, 3.0], "LBSEQ": [1.0, 2.0, 1.0]})
    trace = pd.DataFrame({"dataset": ["LB"] * 3, "record": [1, 2, 3], "transfer_id": [1, 1, 2],
                          "row_number": [2, 3, 2]})
    save_handoff(tmp_path / "handoff", {"LB": lb}, trace)
    handoff = load_handoff(tmp_path / "handoff")

    read = columns_of(handoff, "LB", ["LBDTC", "USUBJID"])
    assert list(read.columns) == ["LBDTC", "USUBJID"]
    pd.testing.assert_frame_equal(read, handoff["LB"][["LBDTC", "USUBJID"]])
    pd.testing.assert_frame_equal(handoff["LB"], lb)
    pd.testing.assert_frame_equal(columns_of({"LB": lb}, "LB", ["LBDTC", "USUBJID"]), read)
    with pytest.raises(KeyError):
        columns_of(handoff, "EX", ["USUBJID"])
