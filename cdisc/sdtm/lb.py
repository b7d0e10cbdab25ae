"""LB: every harmonized lab record, not-done and censored ones included, with LBBLFL."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aclf.frames import isin
from cdisc import derive
from cdisc.by_subject import changed_subjects, subject_digests
from cdisc.sdtm.common import Context, epoch, lineage, sequence, study_day, visit_columns


def _ascii(values: pd.Series) -> pd.Series:
    """Submission text is ASCII: a value that is not (a Chinese text result) is left empty; the
    record says why through LBSTAT/LBREASND, and the original stays in the store."""
    text = values.fillna("").astype(str)
    return text.where(text.map(str.isascii), "")


def baseline_flag(lab: pd.DataFrame, rfstdtc: pd.Series) -> pd.Series:
    """Y on the last record per subject and test with a numeric standard result, on or before the
    first infusion (on the infusion day: before its time, or when either time is missing) — the same
    derivation and the same records as ADaM's ABLFL, so the two flags cannot disagree."""
    frame = lab.assign(_RESULT=lab["LBSTRESN"],
                       _RFSTDTC=rfstdtc.to_numpy())
    flag = derive.derive_var_ablfl(frame, by=["USUBJID", "LBTESTCD"], order=["LBDTC", "LBREFID"], value="_RESULT",
                                date="LBDTC", ref_date="_RFSTDTC", time="LBDTC", ref_time="_RFSTDTC")
    return flag.fillna("")


# The harmonized table's columns LB is made of (the builder is given these only): a subject whose
# rows of them did not change gets the same records, whatever else of the table changed.
READS = ["subjid", "site_id", "sample_id", "lbtestcd", "lbtest", "visit", "lbdtc", "unit_status", "unit_cd", "lborres",
         "lbornrlo", "lbornrhi", "lbstat", "lbreasnd", "lbstresc", "lbstresn", "lbstresu", "lbstnrlo", "lbstnrhi",
         "lbnrind", "transfer_id", "row_number"]


@dataclass
class Built:
    """LB's records built tonight (with their lineage, in key order), the digest of each enrolled
    subject's harmonized rows (cdisc.by_subject; None: not made), and the subjects built (None:
    every one)."""

    records: pd.DataFrame
    digests: pd.Series | None
    subjects: pd.Index | None = None


def build_lb(ctx: Context, load_lab: Callable[[], pd.DataFrame], before: pd.Series | None = None,
             digested: bool = True) -> Built:
    """LB of the enrolled subjects' records; with ``before`` (each subject's digest when the LB in
    force was built), of the subjects whose digest changed or who are new only. ``load_lab`` reads
    the harmonized table: a loader, so that the table (the layer's largest input) is let go before
    the records are sorted. Without ``before`` and not ``digested`` (no later night will use them:
    the unblinded area keeps nothing), the subjects' digests are not made."""
    lab = _enrolled(load_lab()[READS], ctx)
    digests = subject_digests([lab], subject="subjid") if digested or before is not None else None
    subjects = None if before is None else changed_subjects(before, digests)
    if subjects is not None:
        lab = lab[isin(lab["subjid"], subjects)].reset_index(drop=True)
    frame, rfstdtc = _records(ctx, lab)
    del lab
    frame["LBBLFL"] = baseline_flag(frame, rfstdtc)
    return Built(sequence(frame, "LB", ["USUBJID", "LBTESTCD", "VISITNUM", "LBDTC", "LBREFID"]), digests, subjects)


def _enrolled(lab: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    enrolled = isin(lab["subjid"], ctx.forms["enrollment"]["SUBJID"])
    return (lab if enrolled.all() else lab[enrolled]).reset_index(drop=True)


def _records(ctx: Context, h: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The LB records in the table's order, and each one's RFSTDTC."""
    rfstdtc = h["subjid"].map(ctx.reference["RFSTDTC"]).fillna("")
    visit = h["visit"].where(h["visit"] != "", ctx.study.unscheduled_visit)
    known_unit = h["unit_status"] != "unknown_unit"
    orres = _ascii(h["lborres"].where(h["lbstat"] != "NOT DONE", ""))
    loinc = {code: test.loinc or "" for code, test in ctx.study.lab.tests.items()}
    frame = pd.DataFrame({
        "STUDYID": ctx.studyid, "DOMAIN": "LB", "USUBJID": ctx.usubjid(h["subjid"]), "LBREFID": h["sample_id"],
        "LBTESTCD": h["lbtestcd"], "LBTEST": h["lbtest"],
        "LBORRES": orres, "LBORRESU": h["unit_cd"].where(known_unit & (orres != ""), ""),
        "LBORNRLO": h["lbornrlo"], "LBORNRHI": h["lbornrhi"],
        "LBSTRESC": h["lbstresc"], "LBSTRESN": h["lbstresn"],
        "LBSTRESU": h["lbstresu"].where(h["lbstresc"].fillna("") != "", ""),   # no unit without a result (CORE/P21)
        "LBSTNRLO": h["lbstnrlo"], "LBSTNRHI": h["lbstnrhi"], "LBNRIND": h["lbnrind"],
        "LBSTAT": h["lbstat"], "LBREASND": h["lbreasnd"],
        "LBNAM": h["site_id"].map({s: ctx.design.lab_name.format(site=s) for s in h["site_id"].unique()}),
        "LBLOINC": h["lbtestcd"].map(loinc).fillna(""),
        **visit_columns(visit, h["lbdtc"], h["subjid"], ctx),
        "EPOCH": epoch(h["lbdtc"], h["subjid"], ctx), "LBDTC": h["lbdtc"], "LBDY": study_day(h["lbdtc"], rfstdtc),
        **lineage(h),
    })
    return frame, rfstdtc
