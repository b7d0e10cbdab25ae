"""What every SDTM domain needs: identifiers, --SEQ, --DY (from ``aclf.timing``), EPOCH, visit names and numbers, and the
per-subject reference dates (with the blinding rules applied)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from aclf.blinding import stage2_rows
from aclf.config import Study
from aclf.isodate import date_part
from aclf.timing import analysis_visits, before_first_dose, labelled_visitnum, study_day, visit_labels
from cdisc.design import Design
from aclf.frames import sorted_consuming


@dataclass
class Context:
    """The inputs of one build: configuration, the forms in force, reference dates per subject."""

    study: Study
    design: Design
    forms: dict[str, pd.DataFrame]
    level: str                       # blinding level of the area: blinded, stage1 or full (aclf.blinding)
    reference: pd.DataFrame          # per SUBJID: RFICDTC, RFSTDTC, RFXENDTC, RFENDTC, RFPENDTC, DTHDTC, first_date, stage2_start
    assignment: pd.DataFrame | None = None   # unblinded: per SUBJID, see cdisc.sdtm.assignment
    data_cut: str | None = None      # the night's data cut (TS DCUTDTC)
    eligibility: pd.DataFrame | None = None   # open eligibility findings (subjid, rule): IE
    ct_release: str = ""             # the pinned CT release (TS TSVCDVER)

    @property
    def blinded(self) -> bool:
        return self.level == "blinded"

    def stage2(self, form: str) -> pd.Series:
        """The rows of a form in force that only stage-2-randomized subjects have."""
        return stage2_rows(self.study.form(form)[1], self.forms[form])

    @property
    def studyid(self) -> str:
        return self.study.study.studyid

    def usubjid(self, subjid: pd.Series) -> pd.Series:
        return self.studyid + "-" + subjid.astype(str)


def epoch(dtc: pd.Series, subjid: pd.Series, ctx: Context, event: bool = False) -> pd.Series:
    """The epoch (names in the trial design) of a record date against the subject's first infusion;
    TREATMENT 2 only in the unblinded area (in the blinded one it would reveal the stage-1 assignment).
    A sample of the infusion day without times is pre-dose; an ``event`` of that day is not (as
    ADAE's treatment-emergent flag)."""
    rfstdtc = subjid.map(ctx.reference["RFSTDTC"]).fillna("")
    day = (date_part(dtc) - date_part(rfstdtc)).dt.days
    names = ctx.design.epochs
    before = before_first_dose(dtc, rfstdtc)
    if event:
        both_times = (dtc.fillna("").astype(str).str.len() > 10) & (rfstdtc.str.len() > 10)
        before = before & ((day < 0) | both_times)
    out = np.where(rfstdtc == "", names.screening,
                   np.where(before, names.screening,
                            np.where(day < ctx.design.treatment_1_days, names.treatment_1, names.follow_up)))
    if not ctx.blinded:       # unblinded: the two weeks from a re-randomized subject's first stage-2 infusion
        start = pd.to_datetime(subjid.map(ctx.reference["stage2_start"].to_dict()))
        since = (date_part(dtc) - start).dt.days
        out = np.where((since >= 0) & (since < ctx.design.treatment_2_days), names.treatment_2, out)
    return pd.Series(out, index=dtc.index).where(date_part(dtc).notna() | (rfstdtc == ""), "")


LINEAGE = ["_TRANSFER", "_ROW"]   # where a record comes from: kept in the store, never in the XPT
POSITION = "_POS"    # an LB record's source row among its subject's harmonized rows (kept in the hand-off)


def lineage(source: pd.DataFrame) -> dict[str, pd.Series]:
    """The transfer and file row of each source row (forms and the harmonized lab carry them)."""
    if LINEAGE[0] in source:  # rows already carrying it (assembled from several sources)
        return {col: source[col].to_numpy() for col in LINEAGE}
    index = source.index
    transfer = source["transfer_id"] if "transfer_id" in source else pd.Series(np.nan, index=index)
    row = source["row_number"] if "row_number" in source else pd.Series(np.nan, index=index)
    return {"_TRANSFER": transfer.to_numpy(), "_ROW": row.to_numpy()}


def sequence(frame: pd.DataFrame, prefix: str, keys: list[str]) -> pd.DataFrame:
    """Sort by the dataset keys and number the records 1.. per USUBJID (--SEQ). The frame is consumed
    (aclf.frames.sorted_consuming): a domain the size of LB never exists in both orders at once."""
    out = sorted_consuming(frame, keys, kind="stable")
    out.insert(3, f"{prefix}SEQ", out.groupby("USUBJID").cumcount().astype(float) + 1)
    return out


def visit_numbers(visit: pd.Series, dtc: pd.Series, subjid: pd.Series, ctx: Context) -> pd.Series:
    """VISITNUM of the labelled visit; unscheduled ones numbered x.01 after the visit window their
    date follows (x.02, ... for further unscheduled ones of the same subject and number)."""
    known = [v.code for v in ctx.study.visits]
    visit = visit.where(visit.isin(known), ctx.study.unscheduled_visit)   # an unknown code: unscheduled
    first = subjid.map(ctx.reference["first_date"].to_dict())   # a dict: pandas cannot map an empty datetime Series
    pday = (date_part(dtc) - pd.to_datetime(first)).dt.days.astype("Float64")
    _, analysis_num = analysis_visits(pday, ctx.study)
    num = labelled_visitnum(visit, analysis_num, ctx.study)
    unscheduled = visit.eq(ctx.study.unscheduled_visit)
    first_visit = float(min(v.visitnum for v in ctx.study.visits))
    num = num.where(num.notna() | ~unscheduled, first_visit + 0.01)   # never dosed: after screening
    if unscheduled.any():
        order = pd.DataFrame({"s": subjid, "n": num, "d": dtc})[unscheduled]
        step = order.groupby(["s", "n"])["d"].rank(method="dense") - 1   # per distinct date, not record
        num.loc[step.index] = (order["n"] + step * 0.01).round(2)
    return num


def visit_columns(visit: pd.Series, dtc: pd.Series, subjid: pd.Series, ctx: Context) -> dict[str, pd.Series]:
    """VISITNUM and VISIT: an unscheduled visit is named by its number ('UNSCHEDULED 3.01'), so that
    VISIT and VISITNUM stay one-to-one across the study (a CORE/Pinnacle 21 consistency check)."""
    num = visit_numbers(visit, dtc, subjid, ctx)
    labels = visit_labels(ctx.study)
    scheduled = visit.map({k: v for k, v in labels.items() if k != ctx.study.unscheduled_visit})
    numbered = pd.Series([f"{labels[ctx.study.unscheduled_visit]} {n:.2f}" for n in num], index=num.index, dtype=object)
    name = scheduled.where(scheduled.notna(), numbered)
    return {"VISITNUM": num, "VISIT": name}


def reference_dates(forms: dict[str, pd.DataFrame], study: Study, blinded: bool) -> pd.DataFrame:
    """Per SUBJID: consent, first and last infusion, end of participation, death; the first
    infusion's date for study days. Blinded: the last infusion ignores the stage-2 visits."""
    enrol = forms["enrollment"].set_index("SUBJID")
    out = pd.DataFrame(index=enrol.index)
    out["RFICDTC"] = enrol["CONSENT_DATE"]
    infusion = forms["infusion"]
    is_stage2 = stage2_rows(study.form("infusion")[1], infusion)
    given = infusion[(infusion["DONE"] == "Y") & ~(is_stage2 & blinded)]
    starts = given.sort_values("INF_START").groupby("SUBJID")["INF_START"]
    out["RFSTDTC"] = starts.first().reindex(out.index).fillna("")
    out["RFXENDTC"] = given.sort_values("INF_START").groupby("SUBJID")["INF_END"].last().reindex(out.index).fillna("")
    eos = forms["end_of_study"].drop_duplicates("SUBJID").set_index("SUBJID")
    out["RFENDTC"] = eos["END_DATE"].reindex(out.index).fillna("")
    outcomes = forms["outcome_events"]
    deaths = outcomes[outcomes["EVENT"] == "DEATH"].drop_duplicates("SUBJID").set_index("SUBJID")
    out["DTHDTC"] = deaths["EVENT_DATE"].reindex(out.index).fillna("")
    out["RFPENDTC"] = end_of_participation(enrol, eos, out["DTHDTC"]).reindex(out.index).fillna("")
    out["first_date"] = date_part(out["RFSTDTC"])
    stage2 = infusion[(infusion["DONE"] == "Y") & is_stage2]
    out["stage2_start"] = (pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]") if blinded else
                           date_part(stage2.groupby("SUBJID")["INF_START"].min().reindex(out.index)))
    return out


def end_of_participation(enrol: pd.DataFrame, eos: pd.DataFrame, death: pd.Series) -> pd.Series:
    """RFPENDTC per SUBJID: the latest of the last known contact, the end of study date and the
    death (SDTMIG 3.4 DM: the last contact or the death; no record of the subject's participation
    lies after it); a screen failure (declared not eligible, no end-of-study form) ends at
    screening. ISO 8601 dates compare as text, a partial date before the full dates it holds."""
    dates = pd.DataFrame({"contact": eos["LAST_CONTACT_DATE"], "end": eos["END_DATE"]}).reindex(enrol.index)
    dates["death"] = death.reindex(enrol.index)
    latest = pd.Series([max(row) for row in dates.fillna("").itertuples(index=False)], index=enrol.index, dtype=object)
    failed = (enrol["ELIGIBLE"] == "N") & ~enrol.index.isin(eos.index)
    return latest.where(latest != "", enrol["SCREEN_DATE"].where(failed))
