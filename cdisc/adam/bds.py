"""BDS datasets: ADLB (lab parameters) and ADSCORE (liver scores at the scheduled visits), built with
the generic derivations of ``cdisc.derive`` and the scores of ``aclf.scores``."""
from __future__ import annotations

import numpy as np
import pandas as pd

from aclf import scores
from aclf.config import Study
from cdisc import derive
from cdisc.adam.adsl import from_sas, sas_date
from cdisc.adam.analysis import Analysis, Scores
from aclf.timing import analysis_visits, before_first_dose, visit_labels

BY = ["USUBJID", "PARAMCD"]


def _timeline(frame: pd.DataFrame, adsl: pd.DataFrame, dtc: str, study: Study) -> pd.DataFrame:
    """ADT (datetime), ADY, AVISIT/AVISITN by window of the protocol day, the subject's TRTSDT."""
    subject = adsl.set_index("USUBJID")
    out = frame.copy()
    out["TRTSDT_D"] = from_sas(out["USUBJID"].map(subject["TRTSDT"]))
    out["TRTSDTM"] = out["USUBJID"].map(subject["TRTSDTM"]).fillna("")
    out["TRTEDT_D"] = from_sas(out["USUBJID"].map(subject["TRTEDT"]))
    out["ADT_D"] = derive.derive_vars_dt(out, dtc, prefix="A")["ADT"]
    out["ADY"] = derive.derive_var_dy(out["ADT_D"], out["TRTSDT_D"]).astype(float)
    protocol_day = (out["ADT_D"] - out["TRTSDT_D"]).dt.days
    code, num = analysis_visits(protocol_day, study)
    out["AVISIT"] = code.map(visit_labels(study)).fillna("")
    out["AVISITN"] = num.where(code != study.unscheduled_visit)   # ADaM: an unscheduled record has no AVISITN
    return out


def _baseline_and_change(frame: pd.DataFrame, dtc: str, order: list[str]) -> pd.DataFrame:
    """ABLFL (this study's same-day time rule), BASE, CHG, PCHG for records after the first dose."""
    frame["ABLFL"] = derive.derive_var_ablfl(frame, by=BY, order=order, value="AVAL", date="ADT_D",
                                          ref_date="TRTSDT_D", time=dtc, ref_time="TRTSDTM").fillna("")
    frame["BASE"] = derive.derive_var_base(frame, by=BY, source_var="AVAL", new_var="BASE")
    after = ~before_first_dose(frame[dtc], frame["TRTSDTM"]) & (frame["TRTSDTM"] != "") & (frame["ABLFL"] != "Y")
    frame["CHG"] = derive.derive_var_chg(frame, filter=after)
    frame["PCHG"] = derive.derive_var_pchg(frame, filter=after)
    return frame


def build_adlb(lb: pd.DataFrame, adsl: pd.DataFrame, study: Study, analysis: Analysis) -> pd.DataFrame:
    lb = lb[lb["USUBJID"].isin(adsl["USUBJID"])].reset_index(drop=True)
    frame = pd.DataFrame({"STUDYID": lb["STUDYID"], "USUBJID": lb["USUBJID"], "PARAMCD": lb["LBTESTCD"],
                          "PARAM": lb["LBTEST"] + np.where(lb["LBSTRESU"] != "", " (" + lb["LBSTRESU"] + ")", ""),
                          "LBDTC": lb["LBDTC"], "AVAL": lb["LBSTRESN"], "AVALC": lb["LBSTRESC"],
                          "ANRLO": lb["LBSTNRLO"], "ANRHI": lb["LBSTNRHI"], "SRCDOM": "LB", "SRCSEQ": lb["LBSEQ"]})
    frame = _timeline(frame, adsl, "LBDTC", study)
    frame["ANRIND"] = derive.derive_var_anrind(frame, "AVAL", "ANRLO", "ANRHI").fillna("")
    frame = _baseline_and_change(frame, "LBDTC", ["ADT_D", "LBDTC", "SRCSEQ"])
    frame["BNRIND"] = derive.derive_var_base(frame, by=BY, source_var="ANRIND", new_var="BNRIND").fillna("")
    frame["ONTRTFL"] = derive.derive_var_ontrtfl(frame, "ADT_D", "TRTSDT_D", "TRTEDT_D",
                                                ref_end_window=analysis.on_treatment_window_days).fillna("")
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
    rows = adlb[(adlb["PARAMCD"] == code) & (adlb["ANL01FL"] == "Y")]
    return rows.set_index(["USUBJID", "AVISITN"])["AVAL"]


def _assessments(rs: pd.DataFrame, forms: dict, adsl: pd.DataFrame, study: Study,
                 components: Scores) -> pd.DataFrame:
    """Encephalopathy and ascites (RS) and dialysis (EDC) per subject and analysis visit, by window."""
    rs = _timeline(rs[rs["USUBJID"].isin(adsl["USUBJID"])].reset_index(drop=True), adsl, "RSDTC", study)
    wide = rs.pivot_table(index=["USUBJID", "AVISITN"], columns="RSTESTCD", values="RSORRES", aggfunc="last")
    graded = {components.encephalopathy.testcd: "encephalopathy", components.ascites.testcd: "ascites"}
    source = components.dialysis
    ca = forms[source.form].assign(USUBJID=lambda f: study.study.studyid + "-" + f["SUBJID"])
    ca = _timeline(ca[ca["USUBJID"].isin(adsl["USUBJID"])].reset_index(drop=True), adsl, "ASSESS_DATE", study)
    dialysis = ca.groupby(["USUBJID", "AVISITN"])[source.column].last().eq(source.given)
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


def build_adscore(adlb: pd.DataFrame, rs: pd.DataFrame, forms: dict, adsl: pd.DataFrame, study: Study,
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
    comp = _scoreable(comp.join(_assessments(rs, forms, adsl, study, components).reindex(grid)), study, components)
    subject = adsl.set_index("USUBJID")
    who = comp.index.get_level_values("USUBJID")
    etio = pd.Series(who.map(subject["MELDETIO"]), index=grid)
    female = pd.Series(who.map(subject["SEX"]) == "F", index=grid)
    dialysis = comp["dialysis"].eq(True)
    bili, inr, creat, sodium, alb = (comp[r] for r in ("bilirubin", "inr", "creatinine", "sodium", "albumin"))
    ctp = scores.child_pugh(bili, alb, inr, None, ascites=comp["ascites"].fillna(""),
                            encephalopathy=pd.to_numeric(comp["encephalopathy"], errors="coerce"))
    meld_parts = dict(bilirubin=bili, INR=inr, creatinine=creat)
    values = {
        "MELDPROT": (scores.meld_protocol(bili, inr, creat, etio, dialysis), dict(**meld_parts, etiology=etio)),
        "MELD": (scores.meld_unos(bili, inr, creat, dialysis), meld_parts),
        "MELDNA": (scores.meld_na(bili, inr, creat, sodium, dialysis), dict(**meld_parts, sodium=sodium)),
        "MELD3": (scores.meld_3(bili, inr, creat, sodium, scores.g_l_to_g_dl(alb), female, dialysis),
                  dict(**meld_parts, sodium=sodium, albumin=alb)),
    }
    ctp_parts = dict(bilirubin=bili, albumin=alb, INR=inr, ascites=comp["ascites"].fillna(""),
                     **{"HE grade": comp["encephalopathy"].fillna("")})
    values["CTPSCORE"] = (ctp["score"], ctp_parts)
    values["CTPCLASN"] = (ctp["class"].map({"A": 1.0, "B": 2.0, "C": 3.0}), ctp_parts)
    parts = []
    for paramcd, (aval, parts_used) in values.items():
        part = pd.DataFrame({"PARAMCD": paramcd, "PARAM": components.parameters[paramcd], "AVAL": aval.astype(float),
                             "AREASND": scores.missing_reason(**parts_used)}, index=grid).reset_index()
        part["AREASND"] = part["AREASND"].where(part["AVAL"].isna(), "")   # MELD-Na may not need sodium
        part["AVALC"] = np.where(paramcd == "CTPCLASN", ctp["class"].fillna("").to_numpy(), "")
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    code_of = {visitnums[c]: c for c in analysis.score_visits}
    frame["AVISIT"] = frame["AVISITN"].map(lambda n: labels[code_of[n]])
    dates = adlb[adlb["ANL01FL"] == "Y"].groupby(["USUBJID", "AVISITN"])["ADT_D"].max()
    frame["ADT_D"] = pd.MultiIndex.from_frame(frame[["USUBJID", "AVISITN"]]).map(dates.to_dict().get)
    frame["ADT_D"] = pd.to_datetime(frame["ADT_D"])
    frame["STUDYID"] = study.study.studyid
    frame = frame.merge(adsl[["USUBJID"]], on="USUBJID")
    subject_dates = adsl.set_index("USUBJID")
    frame["ADY"] = derive.derive_var_dy(frame["ADT_D"], from_sas(frame["USUBJID"].map(subject_dates["TRTSDT"])))
    frame["ABLFL"] = np.where(frame["AVISITN"] == visitnums[study.lab.eligibility.screening_visit], "Y", "")
    frame["ABLFL"] = np.where(frame["AVAL"].notna(), frame["ABLFL"], "")
    frame["BASE"] = derive.derive_var_base(frame, by=BY, source_var="AVAL", new_var="BASE")
    frame["CHG"] = derive.derive_var_chg(frame, filter=frame["AVISITN"] > visitnums[study.lab.eligibility.screening_visit])
    return _finish(frame, adsl)
