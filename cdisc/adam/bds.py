"""BDS datasets: ADLB (lab parameters) and ADSCORE (liver scores at the scheduled visits), built with
the generic derivations of ``cdisc.derive`` and the scores of ``aclf.scores``."""
from __future__ import annotations

import numpy as np
import pandas as pd

from aclf import scores
from aclf.config import Study
from aclf.frames import isin
from cdisc import derive
from cdisc.adam.adsl import from_sas, sas_date
from cdisc.adam.analysis import Analysis, Scores
from aclf.timing import before_first_dose, visit_labels

BY = ["USUBJID", "PARAMCD"]
LB_USED = ["STUDYID", "USUBJID", "LBTESTCD", "LBTEST", "LBSTRESU", "LBDTC", "LBSTRESN", "LBSTRESC", "LBSTNRLO",
           "LBSTNRHI", "LBSEQ"]     # the LB variables ADLB is derived from


def _timeline(frame: pd.DataFrame, adsl: pd.DataFrame, dtc: str, study: Study) -> pd.DataFrame:
    """ADT (datetime), ADY, AVISIT/AVISITN by window of the protocol day, the subject's TRTSDT."""
    subject = adsl.set_index("USUBJID")
    out = frame.copy()
    out["TRTSDT_D"] = from_sas(out["USUBJID"].map(subject["TRTSDT"]))
    out["TRTSDTC"] = out["USUBJID"].map(subject["TRTSDTC"]).fillna("")     # ISO, for the same-day time rule
    out["TRTEDT_D"] = from_sas(out["USUBJID"].map(subject["TRTEDT"]))
    out["ADT_D"] = derive.derive_vars_dt(out, dtc, prefix="A")["ADT"]
    out["ADY"] = derive.derive_var_dy(out["ADT_D"], out["TRTSDT_D"]).astype(float)
    protocol_day = (out["ADT_D"] - out["TRTSDT_D"]).dt.days
    windows = [(v.label, v.visitnum, *v.window) for v in sorted(study.visits, key=lambda v: v.window[0])]
    # ADaM: a record outside every window is unscheduled and has no AVISITN
    visits = derive.derive_vars_avisit_window(protocol_day, windows,
                                              unscheduled=visit_labels(study)[study.unscheduled_visit])
    out["AVISIT"], out["AVISITN"] = visits["AVISIT"].fillna(""), visits["AVISITN"]
    return out


def _baseline_and_change(frame: pd.DataFrame, dtc: str, order: list[str]) -> pd.DataFrame:
    """ABLFL (this study's same-day time rule), BASE, CHG, PCHG for records after the first dose."""
    frame["ABLFL"] = derive.derive_var_ablfl(frame, by=BY, order=order, value="AVAL", date="ADT_D",
                                          ref_date="TRTSDT_D", time=dtc, ref_time="TRTSDTC").fillna("")
    frame["BASE"] = derive.derive_var_base(frame, by=BY, source_var="AVAL", new_var="BASE")
    after = ~before_first_dose(frame[dtc], frame["TRTSDTC"]) & (frame["TRTSDTC"] != "") & (frame["ABLFL"] != "Y")
    frame["CHG"] = derive.derive_var_chg(frame, filter=after)
    frame["PCHG"] = derive.derive_var_pchg(frame, filter=after)
    return frame


def build_adlb(lb: pd.DataFrame, adsl: pd.DataFrame, study: Study, analysis: Analysis) -> pd.DataFrame:
    lb = lb.loc[isin(lb["USUBJID"], adsl["USUBJID"]), LB_USED].reset_index(drop=True)   # the rest of LB is let go
    # the parameter's unit is its test's standard unit, not the record's: a record without a result
    # has no LBSTRESU, and PARAMCD and PARAM must stay one-to-one (ADaMIG 1.3 3.3.4)
    unit = lb["LBTESTCD"].map({code: test.standard_unit for code, test in study.lab.tests.items()}).fillna("")
    frame = pd.DataFrame({"STUDYID": lb["STUDYID"], "USUBJID": lb["USUBJID"], "PARAMCD": lb["LBTESTCD"],
                          "PARAM": lb["LBTEST"] + np.where(unit != "", " (" + unit + ")", ""),
                          "LBDTC": lb["LBDTC"], "AVAL": lb["LBSTRESN"],
                          "AVALC": lb["LBSTRESC"].where(lb["LBSTRESN"].isna(), ""),   # text results only: AVAL/AVALC 1:1
                          "ANRLO": lb["LBSTNRLO"], "ANRHI": lb["LBSTNRHI"], "SRCDOM": "LB", "SRCSEQ": lb["LBSEQ"]})
    frame = _timeline(frame, adsl, "LBDTC", study)
    frame["ANRIND"] = derive.derive_var_anrind(frame, "AVAL", "ANRLO", "ANRHI").fillna("")
    frame = _baseline_and_change(frame, "LBDTC", ["ADT_D", "LBDTC", "SRCSEQ"])
    frame["BNRIND"] = derive.derive_var_base(frame, by=BY, source_var="ANRIND", new_var="BNRIND").fillna("")
    frame["ONTRTFL"] = derive.derive_var_ontrtfl(   # a pre-dose sample of the first infusion day is not on treatment
        frame, "ADT_D", "TRTSDT_D", "TRTEDT_D", ref_end_window=analysis.on_treatment_window_days,
        filter_pre_timepoint=before_first_dose(frame["LBDTC"], frame["TRTSDTC"])).fillna("")
    frame["ANL01FL"] = derive.derive_var_extreme_flag(
        frame, by=[*BY, "AVISITN"], order=["ADT_D", "LBDTC", "SRCSEQ"],
        filter=frame["AVAL"].notna() & frame["AVISITN"].notna(), new_var="ANL01FL").fillna("")
    return _finish(frame, adsl)


def _finish(frame: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    subject = adsl.set_index("USUBJID")
    frame["SITEID"] = frame["USUBJID"].map(subject["SITEID"])
    frame["TRTSDT"] = frame["USUBJID"].map(subject["TRTSDT"])
    frame["ADT"] = sas_date(frame["ADT_D"])
    return frame


def _visit_values(adlb: pd.DataFrame, code: str) -> pd.Series:
    """The analysis value of one lab parameter per (USUBJID, AVISITN), from its ANL01FL record."""
    rows = adlb.loc[(adlb["PARAMCD"] == code) & (adlb["ANL01FL"] == "Y"), ["USUBJID", "AVISITN", "AVAL"]]
    return rows.set_index(["USUBJID", "AVISITN"])["AVAL"]


def _assessments(rs: pd.DataFrame, pr: pd.DataFrame, adsl: pd.DataFrame, study: Study,
                 components: Scores) -> pd.DataFrame:
    """Encephalopathy and ascites (RS) and dialysis (PR: True, False, or missing where not asked) per
    subject and analysis visit, by window."""
    rs = _timeline(rs[isin(rs["USUBJID"], adsl["USUBJID"])].reset_index(drop=True), adsl, "RSDTC", study)
    wide = rs.pivot_table(index=["USUBJID", "AVISITN"], columns="RSTESTCD", values="RSORRES", aggfunc="last")
    graded = {components.encephalopathy.testcd: "encephalopathy", components.ascites.testcd: "ascites"}
    source = components.dialysis
    asked = pr[(pr["PRTRT"] == source.prtrt) & pr["PROCCUR"].isin(["Y", "N"])   # not NOT DONE: unknown
               & isin(pr["USUBJID"], adsl["USUBJID"])].reset_index(drop=True)
    asked = _timeline(asked, adsl, "PRDTC", study).sort_values(["USUBJID", "PRDTC"], kind="stable")
    dialysis = asked.groupby(["USUBJID", "AVISITN"])["PROCCUR"].last().eq(source.occurred).astype(object)
    return wide.reindex(columns=list(graded)).rename(columns=graded).assign(dialysis=dialysis)


def _scoreable(comp: pd.DataFrame, study: Study, components: Scores) -> pd.DataFrame:
    """Components a score may use: a lab value outside its plausible range, an encephalopathy grade or
    ascites code the configuration does not list is treated as missing (each is already a finding),
    so a data error leaves one score missing instead of stopping the night."""
    comp = comp.copy()
    for role, code in components.lab.items():
        low, high = study.lab.tests[code].plausible
        comp[role] = comp[role].where(comp[role].between(low, high))
    for role in ("encephalopathy", "ascites"):
        comp[role] = comp[role].where(comp[role].isin(getattr(components, role).valid))
    return comp


def _component_records(comp: pd.DataFrame, components: Scores) -> pd.DataFrame:
    """The score components as records (PARAMCD = the component's role) per subject and score visit,
    every visit present: AVAL for numbers, AVALC for codes and the encephalopathy grade as written."""
    numeric = set(components.lab) | {"encephalopathy"}
    records = []
    for role in comp.columns:
        value = comp[role]
        # as objects first: the encephalopathy grade is a number column, which pandas 4 will not fill with ''
        text = (value.map({True: "Y", False: "N"}).fillna("") if role == "dialysis"
                else value.astype(object).fillna("").astype(str))
        records.append(pd.DataFrame({"PARAMCD": role,
                                     "AVAL": pd.to_numeric(value, errors="coerce") if role in numeric else np.nan,
                                     "AVALC": "" if role in components.lab else text}, index=comp.index))
    return pd.concat(records).reset_index()


def _score_parameters(comp: pd.DataFrame, adsl: pd.DataFrame, components: Scores) -> pd.DataFrame:
    """Each liver score as a parameter derived from its components' records (derive_param_computed,
    keep_nas: a visit missing a component keeps its record, with AVAL missing and the reason)."""
    subject = adsl.set_index("USUBJID")
    bili, inr, creat, sodium, alb = ("AVAL." + r for r in ("bilirubin", "inr", "creatinine", "sodium", "albumin"))

    def dialysis(w):   # 1/0; missing where not asked at the visit: MELD then has a value only if creatinine is capped
        return w["AVALC.dialysis"].map({"Y": 1.0, "N": 0.0}).astype(float)

    def female(w):   # 1/0; missing for a sex that is neither (U): MELD 3.0 then has no value
        return w["USUBJID"].map(subject["SEX"]).map({"F": 1.0, "M": 0.0}).astype(float)

    def ctp(w):
        return scores.child_pugh(w[bili], w[alb], w[inr], None, ascites=w["AVALC.ascites"],
                                 encephalopathy=w["AVAL.encephalopathy"])

    def meld_parts(w, cap=scores.UNOS_CREATININE_CAP):   # the dialysis answer is missing only below the cap
        return dict(bilirubin=w[bili], INR=w[inr], creatinine=w[creat],
                    dialysis=w["AVALC.dialysis"].where(~(w[creat] >= cap), "not needed"))

    def ctp_parts(w):
        return dict(bilirubin=w[bili], albumin=w[alb], INR=w[inr], ascites=w["AVALC.ascites"],
                    **{"HE grade": w["AVALC.encephalopathy"]})

    derived = {   # PARAMCD: (AVAL, the components whose absence AREASND names)
        "MELDPROT": (lambda w: scores.meld_protocol(w[bili], w[inr], w[creat], w["USUBJID"].map(subject["MELDETIO"]),
                                                    dialysis(w)),
                     lambda w: dict(**meld_parts(w), etiology=w["USUBJID"].map(subject["MELDETIO"]))),
        "MELD": (lambda w: scores.meld_unos(w[bili], w[inr], w[creat], dialysis(w)), meld_parts),
        "MELDNA": (lambda w: scores.meld_na(w[bili], w[inr], w[creat], w[sodium], dialysis(w)),
                   lambda w: dict(**meld_parts(w), sodium=w[sodium])),
        "MELD3": (lambda w: scores.meld_3(w[bili], w[inr], w[creat], w[sodium], scores.g_l_to_g_dl(w[alb]),
                                         female(w), dialysis(w)),
                  lambda w: dict(**meld_parts(w, scores.MELD3_CREATININE_CAP), sodium=w[sodium], albumin=w[alb],
                                 sex=female(w))),
        "CTPSCORE": (lambda w: ctp(w)["score"], ctp_parts),
        "CTPCLASN": (lambda w: ctp(w)["class"].map({"A": 1.0, "B": 2.0, "C": 3.0}), ctp_parts),
    }
    records = _component_records(comp, components)
    frame = derive.derive_param_computed(
        records, by=["USUBJID", "AVISITN"], parameters=list(comp.columns), source_vars=["AVAL", "AVALC"],
        keep_nas=True, set_values=[{
            "PARAMCD": paramcd, "PARAM": components.parameters[paramcd],
            "AVAL": lambda w, aval=aval: aval(w).astype(float),
            "AREASND": lambda w, used=used: scores.missing_reason(**used(w)),
            "AVALC": lambda w, code=paramcd: ctp(w)["class"].fillna("") if code == "CTPCLASN" else ""}
            for paramcd, (aval, used) in derived.items()])
    frame = frame.iloc[len(records):].reset_index(drop=True)
    frame["AREASND"] = frame["AREASND"].where(frame["AVAL"].isna(), "")   # MELD-Na may not need sodium
    return frame


def build_adscore(adlb: pd.DataFrame, rs: pd.DataFrame, pr: pd.DataFrame, adsl: pd.DataFrame, study: Study,
                  analysis: Analysis) -> pd.DataFrame:
    """One record per subject, score and scheduled score visit, from same-visit components only; a
    missing component leaves AVAL missing and AREASND names it."""
    labels = {v.code: v.label for v in study.visits}
    visitnums = {v.code: float(v.visitnum) for v in study.visits}
    grid = pd.MultiIndex.from_product([adsl["USUBJID"], [visitnums[c] for c in analysis.score_visits]],
                                      names=["USUBJID", "AVISITN"])
    components = analysis.scores
    comp = pd.DataFrame(index=grid)
    for role, code in components.lab.items():
        comp[role] = _visit_values(adlb, code).reindex(grid)
    comp = _scoreable(comp.join(_assessments(rs, pr, adsl, study, components).reindex(grid)), study, components)
    frame = _score_parameters(comp, adsl, components)
    code_of = {visitnums[c]: c for c in analysis.score_visits}
    frame["AVISIT"] = frame["AVISITN"].map({n: labels[code] for n, code in code_of.items()})
    analysed = adlb.loc[adlb["ANL01FL"] == "Y", ["USUBJID", "AVISITN", "ADT_D"]]     # these columns only copied
    dates = analysed.groupby(["USUBJID", "AVISITN"])["ADT_D"].max()
    at = pd.MultiIndex.from_frame(frame[["USUBJID", "AVISITN"]])
    frame["ADT_D"] = pd.to_datetime(dates.reindex(at).to_numpy())
    frame["STUDYID"] = study.study.studyid
    frame = frame.merge(adsl[["USUBJID"]], on="USUBJID")
    subject_dates = adsl.set_index("USUBJID")
    frame["ADY"] = derive.derive_var_dy(frame["ADT_D"], from_sas(frame["USUBJID"].map(subject_dates["TRTSDT"])))
    frame["ABLFL"] = np.where(frame["AVISITN"] == visitnums[study.lab.eligibility.screening_visit], "Y", "")
    frame["ABLFL"] = np.where(frame["AVAL"].notna(), frame["ABLFL"], "")
    frame["BASE"] = derive.derive_var_base(frame, by=BY, source_var="AVAL", new_var="BASE")
    frame["CHG"] = derive.derive_var_chg(frame, filter=frame["AVISITN"] > visitnums[study.lab.eligibility.screening_visit])
    return _finish(frame, adsl)
