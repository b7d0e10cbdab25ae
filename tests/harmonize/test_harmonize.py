"""Harmonization: unit spellings, conversions on clinical thresholds, censored and text results,
reference ranges, study days and analysis visits."""
import pandas as pd
import pytest

from aclf.units import convert, harmonize_results, limit_in_unit
from aclf.timing import analysis_visits, labelled_visitnum, study_days


def lab(rows):
    """Staged-lab-shaped rows from (LBTESTCD, result, unit[, comment])."""
    frame = pd.DataFrame([(*r, "")[:4] for r in rows], columns=["lbtestcd", "result", "unit", "comment"])
    return frame.assign(ref_low="", ref_high="", ref_range="")


@pytest.mark.parametrize("spelling, cdisc", [
    ("umol/L", "umol/L"), ("umol/l", "umol/L"), ("\u03bcmol/L", "umol/L"), ("\u00b5mol/L", "umol/L"),
    ("秒", "s"), ("s", "s"), ("sec", "s"), ("×10^9/L", "10^9/L"), ("10^9/L", "10^9/L"), ("mEq/L", "mEq/L"),
    ("10^3/uL", "10^3/uL"), ("mg/dl", "mg/dL"), ("g/dL", "g/dL"), ("", ""), (" U/L ", "U/L"),
])
def test_unit_spellings_map_to_cdisc_units(study, spelling, cdisc):
    out = harmonize_results(lab([("BILI", "1", spelling)]), study.lab)
    assert out["unit_cd"].item() == cdisc


def test_greek_mu_and_micro_sign_are_distinct_spellings_of_one_unit(study):
    assert "\u03bcmol/L" != "\u00b5mol/L"
    out = harmonize_results(lab([("CREAT", "88.4", "\u03bcmol/L"), ("CREAT", "88.4", "\u00b5mol/L")]), study.lab)
    assert out["lbstresn"].tolist() == [1.0, 1.0] and set(out["lbstresu"]) == {"mg/dL"}


@pytest.mark.parametrize("test, result, unit, standard, why", [
    ("BILI", "85.5", "umol/L", 5.0, "APASL jaundice threshold 5 mg/dL"),
    ("BILI", "34.2", "umol/L", 2.0, "Child-Pugh bilirubin band edge 2 mg/dL"),
    ("BILI", "51.3", "\u00b5mol/L", 3.0, "Child-Pugh bilirubin band edge 3 mg/dL"),
    ("ALB", "2.8", "g/dL", 28.0, "Child-Pugh albumin band edge 28 g/L"),
    ("ALB", "3.5", "g/dl", 35.0, "Child-Pugh albumin band edge 35 g/L"),
    ("CREAT", "353.6", "umol/L", 4.0, "MELD creatinine cap 4 mg/dL"),
    ("CREAT", "88.4", "umol/L", 1.0, "MELD creatinine floor 1 mg/dL"),
    ("UREAN", "28", "mg/dL", 10.0, "urea nitrogen mg/dL / 2.8"),
    ("INR", "1.5", "", 1.5, "APASL INR threshold"),
    ("INR", "2.3", "", 2.3, "Child-Pugh INR band edge"),
    ("PTAC", "40", "%", 40.0, "APASL prothrombin activity threshold"),
    ("PLAT", "50", "10^3/uL", 50.0, "platelet exclusion threshold"),
    ("SODIUM", "125", "mEq/L", 125.0, "MELD-Na sodium floor"),
    ("PT", "4", "秒", 4.0, "seconds"),
])
def test_conversions_land_exactly_on_thresholds(study, test, result, unit, standard, why):
    out = harmonize_results(lab([(test, result, unit)]), study.lab)
    assert out["lbstresn"].item() == standard, why
    assert out["lbstresc"].item() == f"{standard:g}"


def test_binary_floating_point_would_have_missed_the_threshold():
    assert 51.3 / 17.1 != 3.0                         # why the conversion is decimal
    assert float(convert("51.3", "1/17.1", 3)) == 3.0


def test_censored_results_keep_the_original_and_the_limit(study):
    out = harmonize_results(lab([("BILI", "<0.5", "umol/L"), ("PT", "> 75", "s"), ("ALT", "≤5", "U/L")]), study.lab)
    assert out["result_kind"].tolist() == ["censored"] * 3
    assert out["lborres"].tolist() == ["<0.5", "> 75", "≤5"]          # as sent
    assert out["lbstresn"].isna().all()                                 # no numeric standard result
    assert out["censor_limit"].tolist() == [0.029, 75.0, 5.0]          # the limit, in standard units
    assert out["lbstresc"].tolist() == ["<0.029", ">75", "<=5"]         # ASCII operator
    assert out["censor_op"].tolist() == ["<", ">", "<="]


def test_text_results_are_not_done_with_an_ascii_reason(study):
    rows = [("ALB", "溶血", "g/L"), ("ALB", "hemolysed", "g/L"), ("PLAT", "未做", "×10^9/L"),
            ("CREAT", "", "mg/dL", "QNS"), ("CREAT", "", "mg/dL", ""), ("AST", "see comment", "U/L")]
    out = harmonize_results(lab(rows), study.lab)
    assert out["lbstat"].tolist() == ["NOT DONE"] * 5 + [""]
    assert out["lbreasnd"].tolist()[:5] == ["HEMOLYZED", "HEMOLYZED", "NO REASON GIVEN BY SITE", "QUANTITY NOT SUFFICIENT",
                                            "NO RESULT REPORTED"]
    assert all(r.isascii() for r in out["lbreasnd"])
    assert out["result_kind"].iloc[-1] == "unknown_text"              # for the rules to report
    assert out["lborres"].iloc[0] == "溶血"                             # the original is kept


def test_units_the_study_does_not_know_or_cannot_convert_are_flagged(study):
    out = harmonize_results(lab([("BILI", "5", "mmol/dL"), ("BILI", "5", "g/L")]), study.lab)
    assert out["unit_status"].tolist() == ["unknown_unit", "no_conversion"]
    assert out["lbstresn"].isna().all() and out["lborres"].tolist() == ["5", "5"]


def test_a_unit_outside_the_sources_agreement_is_not_converted(study):
    """A (source, local test) with agreed units: another unit the study test converts from is
    ``not_agreed`` and unconverted; the same unit from another source or test converts as usual."""
    rows = lab([("UREAN", "28", "mg/dL"), ("UREAN", "28", "mg/dL"), ("UREAN", "10", "mmol/L"),
                ("UREAN", "5", "mg/dl"), ("UREAN", "", "", "QNS"), ("UREAN", "5", "g/L")])
    rows = rows.assign(source=["site01", "site03", "site01", "site01", "site01", "site01"],
                       test_raw=["UREA", "BUN", "UREA", "UREA", "UREA", "UREA"], ref_low=["10", "", "", "", "", ""])
    out = harmonize_results(rows, study.lab, {("site01", "UREA"): ["mmol/L"]})
    # a unit UREAN has no conversion from (none, or g/L) says so, whatever the agreement
    assert out["unit_status"].tolist() == ["not_agreed", "ok", "ok", "not_agreed", "no_conversion", "no_conversion"]
    assert out["lbstresn"].isna().tolist() == [True, False, False, True, True, True]
    assert out["lbstresn"].iloc[1] == 10.0
    assert out["lbornrlo"].iloc[0] == "10" and pd.isna(out["lbstnrlo"].iloc[0])     # the range as sent, unconverted


def test_reference_ranges_in_both_units(study):
    frame = lab([("BILI", "312.4", "umol/L"), ("ALB", "29", "g/L"), ("ALT", "12", "U/L")])
    frame["ref_low"] = ["3.4", "", ""]
    frame["ref_high"] = ["20.5", "", ""]
    frame["ref_range"] = ["", ">35", "<40"]
    out = harmonize_results(frame, study.lab)
    assert out[["lbornrlo", "lbornrhi"]].values.tolist() == [["3.4", "20.5"], ["35", ""], ["", "40"]]
    assert out["lbstnrlo"].iloc[0] == 0.199 and out["lbstnrhi"].iloc[0] == 1.199
    assert out["lbnrind"].tolist() == ["HIGH", "LOW", "NORMAL"]


def test_a_reference_limit_is_carried_into_another_unit_of_its_test_exactly():
    assert limit_in_unit("4.0", "10", "1") == "40"                   # albumin g/dL -> g/L
    assert limit_in_unit("1.2", "1", "1/17.1") == "20.52"             # bilirubin mg/dL -> umol/L
    assert limit_in_unit("20.5", "1/17.1", "1") == "1.19883"          # and back: six decimals, half up
    assert limit_in_unit("0.00000855", "1/17.1", "1") == "0.000001"    # a tie, rounded as written: up
    assert limit_in_unit("0.099671", "1/88.4", "1") == "0.001128"
    assert limit_in_unit("-0", "10", "1") == "-0"                     # its sign kept, as a limit in the column's unit
    assert limit_in_unit("n/a", "10", "1") == "n/a"                   # not a number: left for original_limits


def test_each_row_is_converted_as_it_would_be_alone():
    """Values are converted once per distinct (value, factor, decimals) and spread back: each row
    gets what converting it alone gives, '-0.0' and '0.0' apart, rows without a value or a factor
    nothing."""
    from decimal import Decimal

    from aclf.units import _convert_column, decimal_text

    values = pd.Series(["1.5", "85.5", None, "", "1.5", "-0.0", "0.0", "1e400", "85.5", "7"], index=range(10, 20))
    fractions = pd.Series(["1/17.1", "1/17.1", "1", "1", "1", "1", "1", "17.1", "1/17.1", None], index=values.index)
    decimals = pd.Series([2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 2.0, 1.0], index=values.index)
    text, number = _convert_column(values, fractions, decimals)
    for row in values.index:
        if pd.notna(values[row]) and values[row] and pd.notna(fractions[row]):
            alone = convert(values[row], fractions[row], int(decimals[row]))
            assert text[row] == decimal_text(alone)
            assert number[row] == float(alone) if abs(alone) < Decimal("1e308") else pd.isna(number[row])
        else:
            assert text[row] == "" and pd.isna(number[row])
    assert text[15] == "-0" and text[16] == "0" and text[11] == text[18] == "5"
    assert text.index.equals(values.index) and number.index.equals(values.index)


def test_reference_ranges_sent_as_one_string_are_split_as_each_would_be_alone(study):
    from aclf.units import _split_range

    ranges = pd.Series(["3.4-20.5", "<40", ">35", "3.4 - 20.5", "", None, "<40", "abc", "3.4-20.5"])
    low, high = _split_range(pd.Series([None] * 9), pd.Series([None] * 9), ranges)
    assert low.tolist() == ["3.4", "", "35", "3.4", "", "", "", "", "3.4"]
    assert high.tolist() == ["20.5", "40", "", "20.5", "", "", "40", "", "20.5"]


def test_study_days_have_no_day_zero_and_protocol_days_do():
    dates = pd.to_datetime(pd.Series(["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-08"]))
    first = pd.to_datetime(pd.Series(["2024-03-05"] * 4))
    sdtm, protocol = study_days(dates, first)
    assert sdtm.tolist() == [-1, 1, 2, 4]                 # protocol day 3 is SDTM day 4
    assert protocol.tolist() == [-1, 0, 1, 3]


def test_analysis_visits_by_window_and_unscheduled_numbering(study):
    day = pd.Series([-7, 0, 3, 7, 10, 17, 371, -20, None], dtype="Float64")
    avisit, avisitn = analysis_visits(day, study)
    assert avisit.tolist() == ["WEEK-1", "WEEK0", "DAY3", "WEEK1", "UNSCHEDULED", "UNSCHEDULED", "WEEK53",
                               "UNSCHEDULED", ""]
    assert avisitn.tolist()[:7] == [1, 2, 3, 4, 4.01, 5.01, 12] and avisitn.iloc[7] == 0.01
    labelled = labelled_visitnum(pd.Series(["WEEK1", "UNSCHEDULED", "UNSCHEDULED"]),
                                 pd.Series([5.0, 4.01, 4.0]), study)
    assert labelled.tolist() == [4.0, 4.01, 4.01]
