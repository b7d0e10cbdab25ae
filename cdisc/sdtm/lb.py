"""LB: every harmonized lab record, not-done and censored ones included, with LBLOBXFL and LBBLFL."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from aclf.config import LabDialect, Study
from aclf.frames import isin
from cdisc import derive
from cdisc.by_subject import changed_subjects, positions, subject_digests
from cdisc.sdtm.common import POSITION, Context, epoch, lineage, sequence, study_day, visit_columns


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


# The harmonized table's columns LB's values are made of: a subject whose rows of them did not
# change gets the same records, whatever else of the table changed. Their lineage (transfer and
# file row) is not among them: a new snapshot restates every record of its site from a new transfer.
VALUES = ["subjid", "site_id", "sample_id", "test_raw", "lbtestcd", "lbtest", "visit", "lbdtc", "unit_status",
          "unit_cd", "lborres", "lbornrlo", "lbornrhi", "lbstat", "lbreasnd", "lbstresc", "lbstresn", "lbstresu",
          "lbstnrlo", "lbstnrhi", "lbnrind"]
READS = [*VALUES, "transfer_id", "row_number"]     # the builder is given these only


@dataclass
class Built:
    """LB's records built tonight (with their lineage and position, in key order), the digest of
    each enrolled subject's harmonized values (cdisc.by_subject; None: not made), the subjects built
    (None: every one) and, when not every one, tonight's lineage of every enrolled subject's rows by
    position (``sources``: subjid, position, transfer_id, row_number)."""

    records: pd.DataFrame
    digests: pd.Series | None
    subjects: pd.Index | None = None
    sources: pd.DataFrame | None = None


def build_lb(ctx: Context, load_lab: Callable[[], pd.DataFrame], before: pd.Series | None = None,
             digested: bool = True) -> Built:
    """LB of the enrolled subjects' records; with ``before`` (each subject's digest when the LB in
    force was built), of the subjects whose digest changed or who are new only. ``load_lab`` reads
    the harmonized table: a loader, so that the table (the layer's largest input) is let go before
    the records are sorted. Without ``before`` and not ``digested`` (no later night will use them:
    the unblinded area keeps nothing), the subjects' digests are not made."""
    lab = _enrolled(load_lab()[READS], ctx)
    lab[POSITION] = positions(pd.factorize(lab["subjid"])[0])
    digests = subject_digests([lab[VALUES]], subject="subjid") if digested or before is not None else None
    subjects = None if before is None else changed_subjects(before, digests)
    sources = None
    if subjects is not None:
        sources = lab[["subjid", POSITION, "transfer_id", "row_number"]]
        lab = lab[isin(lab["subjid"], subjects)].reset_index(drop=True)
    frame, rfstdtc = _records(ctx, lab)
    del lab
    # the protocol's baseline is the last observation before exposure: SDTMIG 3.4's LBLOBXFL (Exp),
    # and LBBLFL (Perm) as before
    frame["LBLOBXFL"] = frame["LBBLFL"] = baseline_flag(frame, rfstdtc)
    return Built(sequence(frame, "LB", ["USUBJID", "LBTESTCD", "VISITNUM", "LBDTC", "LBREFID"]), digests, subjects,
                 sources)


def relineage(records: pd.DataFrame, sources: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """Each record's transfer and file row from tonight's harmonized rows (``Built.sources``), found
    by its subject and position: a subject's records taken from the night before are those of the
    same values in the same order, which a new snapshot of its site restates from another transfer
    and other rows."""
    codes, subjects = pd.factorize(sources["subjid"])
    record_codes, usubjids = pd.factorize(records["USUBJID"])
    code_of = pd.Index(ctx.usubjid(pd.Series(subjects, dtype="str"))).get_indexer(usubjids)[record_codes]
    width = int(max(sources[POSITION].max(), records[POSITION].max(), 0)) + 1 if len(records) else 1
    at = pd.Index(codes.astype("int64") * width + sources[POSITION].to_numpy()).get_indexer(
        code_of.astype("int64") * width + records[POSITION].to_numpy())
    if (code_of < 0).any() or (at < 0).any():
        raise ValueError("an LB record whose harmonized row is not in tonight's table")
    return records.assign(_TRANSFER=sources["transfer_id"].to_numpy()[at], _ROW=sources["row_number"].to_numpy()[at])


def _enrolled(lab: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    enrolled = isin(lab["subjid"], ctx.forms["enrollment"]["SUBJID"])
    return (lab if enrolled.all() else lab[enrolled]).reset_index(drop=True)


def _loinc(h: pd.DataFrame, measured: pd.Series, study: Study) -> pd.Series:
    """LBLOINC: each test's code for the unit its result was sent in (study/lab.yaml), or the code of
    the analyte a site measures where it is not the study test's own (a dialect's ``loinc``: site 01
    sends urea as urea nitrogen). Where the code depends on the unit (moles or mass per volume): a
    result in a unit without a code (or one the study does not know) has none, since the property
    measured is not known; a test not done without a unit has its standard unit's."""
    tests = study.lab.tests
    codes = h["lbtestcd"].map({code: test.loinc_of(None) for code, test in tests.items()}).fillna("")
    coded = [(h["lbtestcd"] == code, test.loinc, test.standard_unit) for code, test in tests.items()
             if isinstance(test.loinc, dict)]
    coded += [((h["site_id"] == src.site_id) & (h["test_raw"] == raw), loinc, tests[src.tests[raw]].standard_unit)
              for src in study.sources.values() if isinstance(src, LabDialect) for raw, loinc in src.loinc.items()]
    for rows, loinc, standard_unit in coded:
        if not isinstance(loinc, dict):
            codes[rows] = loinc
            continue
        by_unit = h.loc[rows, "unit_cd"].map(loinc)
        codes[rows] = by_unit.fillna(measured[rows].map({True: "", False: loinc.get(standard_unit, "")}))
    return codes


def _records(ctx: Context, h: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The LB records in the table's order, and each one's RFSTDTC."""
    rfstdtc = h["subjid"].map(ctx.reference["RFSTDTC"]).fillna("")
    visit = h["visit"].where(h["visit"] != "", ctx.study.unscheduled_visit)
    known_unit = h["unit_status"] != "unknown_unit"
    orres = _ascii(h["lborres"].where(h["lbstat"] != "NOT DONE", ""))
    category = {code: test.category for code, test in ctx.study.lab.tests.items()}
    frame = pd.DataFrame({
        "STUDYID": ctx.studyid, "DOMAIN": "LB", "USUBJID": ctx.usubjid(h["subjid"]), "LBREFID": h["sample_id"],
        "LBTESTCD": h["lbtestcd"], "LBTEST": h["lbtest"], "LBCAT": h["lbtestcd"].map(category).fillna(""),
        "LBORRES": orres, "LBORRESU": h["unit_cd"].where(known_unit & (orres != ""), ""),
        "LBORNRLO": h["lbornrlo"], "LBORNRHI": h["lbornrhi"],
        "LBSTRESC": h["lbstresc"], "LBSTRESN": h["lbstresn"],
        "LBSTRESU": h["lbstresu"].where(h["lbstresc"].fillna("") != "", ""),   # no unit without a result (CORE/P21)
        "LBSTNRLO": h["lbstnrlo"], "LBSTNRHI": h["lbstnrhi"], "LBNRIND": h["lbnrind"],
        "LBSTAT": h["lbstat"], "LBREASND": h["lbreasnd"],
        "LBNAM": h["site_id"].map({s: ctx.design.lab_name.format(site=s) for s in h["site_id"].unique()}),
        "LBLOINC": _loinc(h, orres != "", ctx.study),
        **visit_columns(visit, h["lbdtc"], h["subjid"], ctx),
        "EPOCH": epoch(h["lbdtc"], h["subjid"], ctx), "LBDTC": h["lbdtc"], "LBDY": study_day(h["lbdtc"], rfstdtc),
        **lineage(h), POSITION: h[POSITION].to_numpy(),
    })
    return frame, rfstdtc
