"""Unit tests of the cdisc.derive verbs that the admiral agreement tests do not pin down alone:
visit rules, derived parameters, summary / extreme / basetype records, and the record verbs'
promise not to modify their input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdisc import derive as d


def test_visit_rules_exclude_rename_and_number_from_label():
    frame = pd.DataFrame({"VISIT": ["SCREENING 1", "BASELINE", "WEEK 2", "WEEK 12", "AMBUL ECG REMOVAL",
                                    "UNSCHEDULED 3.1", "END OF TREATMENT", None],
                          "VISITNUM": [1, 3, 4, 9, 6, 3.1, 13, 5]})
    rules = [d.VisitRule("SCREEN|UNSCHED|AMBUL", exclude=True), d.VisitRule("^BASELINE$", "Baseline", 0)]
    out = d.derive_vars_avisit(frame, rules=rules, avisitn_from_label=r"WEEK\s*(\d+)")
    assert out["AVISIT"].tolist() == [None, "Baseline", "Week 2", "Week 12", None, None,
                                      "End Of Treatment", None]
    assert out["AVISITN"].tolist()[1:4] == [0.0, 2.0, 12.0]
    assert out["AVISITN"].iloc[[0, 4, 5, 6, 7]].isna().all()     # excluded, or no number in label
    # default numbering: VISITNUM; first matching rule wins
    by_num = d.derive_vars_avisit(frame, rules=[d.VisitRule("WEEK 2", "Two"), d.VisitRule("WEEK", "Any")],
                                  title_case=False)
    assert by_num["AVISIT"].tolist()[2:4] == ["Two", "Any"]
    assert by_num["AVISITN"].tolist()[:4] == [1.0, 3.0, 4.0, 9.0]


@pytest.fixture
def vitals():
    return pd.DataFrame({
        "USUBJID": ["A"] * 6 + ["B"] * 3,
        "AVISIT": ["Baseline", "Baseline", "Week 2", "Week 2", "Week 4", "Week 4",
                   "Baseline", "Baseline", "Week 2"],
        "PARAMCD": ["SYSBP", "DIABP"] * 3 + ["SYSBP", "DIABP", "SYSBP"],
        "AVAL": [120.0, 80.0, 130.0, 85.0, np.nan, 90.0, 110.0, 70.0, 140.0],
    }, index=[10, 11, 12, 13, 14, 15, 16, 17, 18])


def test_derive_param_computed_mean_arterial_pressure(vitals):
    before = vitals.copy()
    out = d.derive_param_computed(
        vitals, ["USUBJID", "AVISIT"], ["SYSBP", "DIABP"],
        {"PARAMCD": "MAP", "AVAL": lambda w: (w["AVAL.SYSBP"] + 2 * w["AVAL.DIABP"]) / 3})
    pd.testing.assert_frame_equal(vitals, before)               # input untouched
    new = out[out["PARAMCD"].eq("MAP")]
    assert len(out) == len(vitals) + 3                          # A/Week 4 (SYSBP missing), B/Week 2 (no DIABP) dropped
    assert new.set_index(["USUBJID", "AVISIT"])["AVAL"].round(6).to_dict() == {
        ("A", "Baseline"): round(280 / 3, 6), ("A", "Week 2"): 100.0, ("B", "Baseline"): 83.333333}
    kept = d.derive_param_computed(vitals, ["USUBJID", "AVISIT"], ["SYSBP", "DIABP"],
                                   {"PARAMCD": "MAP", "AVAL": lambda w: (w["AVAL.SYSBP"] + 2 * w["AVAL.DIABP"]) / 3},
                                   keep_nas=True)
    assert kept["PARAMCD"].eq("MAP").sum() == 5 and kept.loc[kept["PARAMCD"].eq("MAP"), "AVAL"].isna().sum() == 2


def test_derive_param_computed_several_parameters_equal_successive_calls(vitals):
    """A list of set_values builds the wide frame once and adds what successive calls add."""
    mean = {"PARAMCD": "MAP", "AVAL": lambda w: (w["AVAL.SYSBP"] + 2 * w["AVAL.DIABP"]) / 3}
    pulse = {"PARAMCD": "PP", "AVAL": lambda w: w["AVAL.SYSBP"] - w["AVAL.DIABP"], "DTYPE": "DERIVED"}
    args = (["USUBJID", "AVISIT"], ["SYSBP", "DIABP"])
    successive = d.derive_param_computed(d.derive_param_computed(vitals, *args, mean, keep_nas=True), *args, pulse,
                                         keep_nas=True)
    at_once = d.derive_param_computed(vitals, *args, [mean, pulse], keep_nas=True)
    pd.testing.assert_frame_equal(at_once, successive)
    assert at_once["PARAMCD"].value_counts()[["MAP", "PP"]].tolist() == [5, 5]


def test_derive_param_computed_constant_parameter_and_duplicates():
    frame = pd.DataFrame({"USUBJID": ["A", "A", "A"], "AVISIT": ["Screening", "Week 2", "Week 4"],
                          "PARAMCD": ["HEIGHT", "WEIGHT", "WEIGHT"], "AVAL": [200.0, 80.0, 100.0]})
    out = d.derive_param_computed(frame, ["USUBJID", "AVISIT"], ["WEIGHT"],
                                  {"PARAMCD": "BMI", "AVAL": lambda w: w["AVAL.WEIGHT"] / (w["AVAL.HEIGHT"] / 100) ** 2},
                                  constant_parameters=["HEIGHT"], constant_by=["USUBJID"])
    assert out.loc[out["PARAMCD"].eq("BMI"), "AVAL"].tolist() == [20.0, 25.0]
    with pytest.raises(ValueError, match="more than one record"):
        d.derive_param_computed(pd.concat([frame, frame]), ["USUBJID", "AVISIT"], ["WEIGHT"],
                                {"PARAMCD": "X", "AVAL": 1.0})


def test_summary_records_need_min_records_and_skip_missing(vitals):
    out = d.derive_summary_records(vitals, ["USUBJID", "PARAMCD"], {"AVAL": "mean"},
                                   set_values={"DTYPE": "AVERAGE"}, min_records=3)
    new = out[out["DTYPE"].eq("AVERAGE")].set_index(["USUBJID", "PARAMCD"])["AVAL"]
    # A/SYSBP: 120, 130, missing -> 3 records, mean 125; A/DIABP 85; B has < 3 records
    assert new.to_dict() == {("A", "SYSBP"): 125.0, ("A", "DIABP"): 85.0}
    assert out.index.equals(pd.RangeIndex(len(vitals) + 2))
    assert out.iloc[: len(vitals)]["AVAL"].equals(vitals["AVAL"].reset_index(drop=True))


def test_extreme_records_last_and_worst(vitals):
    lov = d.derive_extreme_records(vitals, ["USUBJID", "PARAMCD"], ["AVISIT"], mode="last",
                                   filter="AVAL.notna()", set_values={"DTYPE": "LOV", "AVISIT": "LAST"})
    new = lov[lov["DTYPE"].eq("LOV")].set_index(["USUBJID", "PARAMCD"])["AVAL"]
    assert new.to_dict() == {("A", "SYSBP"): 130.0, ("A", "DIABP"): 90.0, ("B", "SYSBP"): 140.0,
                             ("B", "DIABP"): 70.0}
    woc = d.derive_extreme_records(vitals, ["USUBJID", "PARAMCD"], ["-AVAL"], mode="first",
                                   set_values={"DTYPE": "WOC"})
    assert woc.loc[woc["DTYPE"].eq("WOC"), "AVAL"].tolist()[:2] == [130.0, 90.0]


def test_basetype_records_copy_per_condition_and_keep_the_rest():
    frame = pd.DataFrame({"ATPTN": [815, 816, np.nan, 999], "AVAL": [1, 2, 3, 4]})
    out = d.derive_basetype_records(frame, {"LYING": "ATPTN == 815", "ANY": lambda f: f["ATPTN"].notna()
                                            & f["ATPTN"].lt(900)})
    assert out["BASETYPE"].tolist() == ["LYING", "ANY", "ANY", None, None]
    assert out["AVAL"].tolist() == [1, 1, 2, 3, 4]


def test_a_liver_score_as_a_derived_parameter():
    """The shape ADSCORE can take: MELD from the visit's BILI/INR/CREAT records of ADLB, a missing
    component leaving the score missing with its reason (keep_nas) instead of dropping the visit."""
    from aclf import scores

    adlb = pd.DataFrame({
        "USUBJID": ["S1"] * 6, "AVISITN": [1, 1, 1, 2, 2, 2],
        "PARAMCD": ["BILI", "INR", "CREAT"] * 2, "AVAL": [4.2, 1.2, 1.9, 3.0, np.nan, 1.0]})
    parts = ["BILI", "INR", "CREAT"]
    out = d.derive_param_computed(adlb, ["USUBJID", "AVISITN"], parts, {
        "PARAMCD": "MELD",
        "AVAL": lambda w: scores.meld_unos(w["AVAL.BILI"], w["AVAL.INR"], w["AVAL.CREAT"]),
        "AREASND": lambda w: scores.missing_reason(**{p: w[f"AVAL.{p}"] for p in parts}),
    }, keep_nas=True)
    meld = out[out["PARAMCD"].eq("MELD")]
    assert meld["AVAL"].iloc[0] == 20.0 and np.isnan(meld["AVAL"].iloc[1])
    assert meld["AREASND"].tolist() == ["", "missing: INR"]
