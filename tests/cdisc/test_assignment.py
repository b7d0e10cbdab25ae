"""The unblinded area's assignments: each randomization number is looked up in the key, of either stage."""
from __future__ import annotations

import pandas as pd
import pytest

from cdisc.design import load_design
from cdisc.sdtm.assignment import assignments

KEY = pd.DataFrame({"RAND_NO": ["R001", "R002", "R101"], "TREATMENT": ["HUC-MSC", "PLACEBO", "HUC-MSC"]})


def _iwrs(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["SUBJID", "STAGE", "RAND_NO", "RAND_DTM"])


def test_each_stage_is_assigned_as_the_key_says():
    iwrs = _iwrs(("01-001", "1", "R001", "2025-01-02"), ("01-002", "1", "R002", "2025-01-03"),
                 ("01-001", "2", "R101", "2025-02-01"))
    out = assignments(iwrs, KEY, load_design(), "full")
    assert out.loc["01-001", ["TRT1", "TRT2", "ARMCD"]].tolist() == ["HUC-MSC", "HUC-MSC", "MSC5"]
    assert out.loc["01-002", ["TRT1", "TRT2", "ARMCD"]].tolist() == ["PLACEBO", "", "PBO"]


@pytest.mark.parametrize("stage", ["1", "2"])
def test_a_randomization_number_the_key_lacks_stops_the_area_at_either_stage(stage):
    """Not read as 'not randomized again': the subject would be shown in the arm of one stage only."""
    iwrs = _iwrs(("01-001", "1", "R001" if stage == "2" else "R999", "2025-01-02"),
                 ("01-001", "2", "R999" if stage == "2" else "R101", "2025-02-01"))
    with pytest.raises(ValueError, match="randomization numbers missing from the key: R999"):
        assignments(iwrs, KEY, load_design(), "full")


@pytest.mark.parametrize("stage", ["3", "", None])
def test_a_randomization_of_no_known_stage_stops_the_area_and_names_the_subject(stage):
    """Not read as no randomization: the subject's infusions would have no product (ECTRT empty)."""
    iwrs = _iwrs(("01-001", "1", "R001", "2025-01-02"), ("01-002", stage, "R002", "2025-01-03"))
    with pytest.raises(ValueError, match="randomizations of a stage other than 1 or 2: 01-002$"):
        assignments(iwrs, KEY, load_design(), "full")


@pytest.mark.parametrize("number", [None, float("nan"), "", "  "])
def test_a_randomization_without_a_number_stops_the_area_and_names_the_row(number):
    iwrs = _iwrs(("01-001", "1", "R001", "2025-01-02"), ("01-001", "2", number, "2025-02-01"))
    with pytest.raises(ValueError, match="randomizations without a randomization number: 01-001 stage 2"):
        assignments(iwrs, KEY, load_design(), "full")
