"""IE (criteria not met), DD (cause of death) and CE (the ACLF complications the EDC asks about at
each assessment): the EDC facts a reviewer expects in their own domains. Mappings are configuration
(``study/sdtm/trial_design.yaml``: ``ie``, ``complications``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from aclf.frames import isin
from cdisc.sdtm.common import LINEAGE, Context, epoch, lineage, sequence, study_day, visit_columns
from cdisc.sdtm.special import screen_failed


def _rfstdtc(ctx: Context, subjid: pd.Series) -> pd.Series:
    return subjid.map(ctx.reference["RFSTDTC"]).fillna("")


def _screen_failures(ctx: Context) -> pd.DataFrame:
    """Screen failures (declared not eligible, never randomized), each with the criterion its EDC
    reason maps to (or NaN)."""
    failed = ctx.forms["enrollment"][screen_failed(ctx)]
    return failed.assign(code=failed["SCREEN_FAIL_REASON"].map(ctx.design.ie.screen_failure_reasons))


def unmapped_screen_failures(ctx: Context) -> list[str]:
    """SUBJIDs of screen failures whose reason maps to no criterion (or is blank): IE cannot show
    them until ``ie.screen_failure_reasons`` in trial_design.yaml maps the reason (DS still has it)."""
    failed = _screen_failures(ctx)
    return sorted(failed.loc[failed["code"].isna(), "SUBJID"].unique())


def _not_met(ctx: Context) -> pd.DataFrame:
    """SUBJID, criterion, date and source rows of every criterion not met: the screen failures'
    reasons as the EDC gives them, and the eligibility rules the data contradict (open findings)."""
    ie = ctx.design.ie
    enrol = ctx.forms["enrollment"]
    failed = _screen_failures(ctx)
    parts = [pd.DataFrame({"SUBJID": failed["SUBJID"], "code": failed["code"], "IEDTC": failed["SCREEN_DATE"],
                           **lineage(failed)})]
    if ctx.eligibility is not None and not ctx.eligibility.empty:
        found = ctx.eligibility.assign(code=ctx.eligibility["rule"].map(ie.rules)).dropna(subset=["code"])
        found = found[isin(found["subjid"], enrol["SUBJID"])]
        screened = enrol.drop_duplicates("SUBJID").set_index("SUBJID")["SCREEN_DATE"]
        parts.append(pd.DataFrame({"SUBJID": found["subjid"].to_numpy(), "code": found["code"].to_numpy(),
                                   "IEDTC": found["subjid"].map(screened).to_numpy(),
                                   **dict.fromkeys(LINEAGE, np.nan)}))     # a finding, not one source row
    rows = pd.concat(parts, ignore_index=True).dropna(subset=["code"])
    return rows.drop_duplicates(["SUBJID", "code"]).reset_index(drop=True)


def build_ie(ctx: Context) -> pd.DataFrame:
    """One record per criterion not met: an inclusion criterion answered N, an exclusion one Y."""
    rows = _not_met(ctx)
    criteria = {c.code: c for c in ctx.design.criteria}
    cat = rows["code"].map(lambda c: criteria[c].cat)
    answer = np.where(cat == "INCLUSION", "N", "Y")
    visit = pd.Series(ctx.design.ie.visit, index=rows.index)
    frame = pd.DataFrame({
        "STUDYID": ctx.studyid, "DOMAIN": "IE", "USUBJID": ctx.usubjid(rows["SUBJID"]), "IETESTCD": rows["code"],
        "IETEST": rows["code"].map(lambda c: criteria[c].text), "IECAT": cat, "IEORRES": answer, "IESTRESC": answer,
        **visit_columns(visit, rows["IEDTC"], rows["SUBJID"], ctx), "EPOCH": ctx.design.epochs.screening,
        "IEDTC": rows["IEDTC"], "IEDY": study_day(rows["IEDTC"], _rfstdtc(ctx, rows["SUBJID"])),
        **lineage(rows)})
    return sequence(frame, "IE", ["USUBJID", "IETESTCD"])


def build_dd(ctx: Context) -> pd.DataFrame:
    """One record per death: the primary cause as the EDC's outcome form gives it."""
    events = ctx.forms["outcome_events"]
    deaths = events[events["EVENT"] == "DEATH"].drop_duplicates("SUBJID").reset_index(drop=True)
    cause = deaths["DEATH_CAUSE"].fillna("")
    frame = pd.DataFrame({
        "STUDYID": ctx.studyid, "DOMAIN": "DD", "USUBJID": ctx.usubjid(deaths["SUBJID"]), "DDTESTCD": "PRCDTH",
        "DDTEST": "Primary Cause of Death", "DDORRES": cause, "DDSTRESC": cause,
        "DDSTAT": np.where(cause == "", "NOT DONE", ""), "DDREASND": np.where(cause == "", "CAUSE NOT REPORTED", ""),
        "EPOCH": epoch(deaths["EVENT_DATE"], deaths["SUBJID"], ctx, event=True), "DDDTC": deaths["EVENT_DATE"],
        "DDDY": study_day(deaths["EVENT_DATE"], _rfstdtc(ctx, deaths["SUBJID"])), **lineage(deaths)})
    return sequence(frame, "DD", ["USUBJID", "DDTESTCD"])


def assessed_events(ctx: Context, events: dict[str, str]) -> pd.DataFrame:
    """One row per clinical assessment and pre-specified yes/no question (``events``: EDC column ->
    term): SUBJID, term, occurrence (Y, N, or '' where not answered: the record is NOT DONE), visit,
    date, source row."""
    ca = ctx.forms["clinical_assessment"].reset_index(drop=True)
    parts = [pd.DataFrame({"SUBJID": ca["SUBJID"], "term": term, "occur": ca[column], "VISIT_CODE": ca["VISIT"],
                           "DTC": ca["ASSESS_DATE"], **lineage(ca)})
             for column, term in events.items() if column in ca]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["SUBJID", "term", "occur", "VISIT_CODE", "DTC", *LINEAGE])
    return rows.assign(occur=rows["occur"].fillna("")).reset_index(drop=True)


def not_done(answer: pd.Series) -> pd.Series:
    """--STAT of a pre-specified record (--PRESP Y): NOT DONE where the form has no Y/N answer."""
    return pd.Series(np.where(answer.fillna("").isin(["Y", "N"]), "", "NOT DONE"), index=answer.index, dtype=object)


def build_ce(ctx: Context) -> pd.DataFrame:
    """CE: acute kidney injury, GI bleeding and uncontrolled infection, asked at every assessment
    (CEPRESP Y, CEOCCUR Y/N, else CESTAT NOT DONE); they define ACLF's course and the exclusion
    criterion EXCL01."""
    rows = assessed_events(ctx, ctx.design.complications.events)
    frame = pd.DataFrame({
        "STUDYID": ctx.studyid, "DOMAIN": "CE", "USUBJID": ctx.usubjid(rows["SUBJID"]), "CETERM": rows["term"],
        "CECAT": ctx.design.complications.category, "CEPRESP": "Y", "CEOCCUR": rows["occur"],
        "CESTAT": not_done(rows["occur"]),
        **visit_columns(rows["VISIT_CODE"], rows["DTC"], rows["SUBJID"], ctx),
        "EPOCH": epoch(rows["DTC"], rows["SUBJID"], ctx), "CEDTC": rows["DTC"],
        "CEDY": study_day(rows["DTC"], _rfstdtc(ctx, rows["SUBJID"])), **lineage(rows)})
    return sequence(frame, "CE", ["USUBJID", "CETERM", "VISITNUM", "CEDTC"])
