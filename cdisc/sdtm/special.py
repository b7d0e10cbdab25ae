"""Special-purpose domains: DM (one record per screened subject), SE (elements), SV (visits)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from aclf.frames import isin
from cdisc.design import arm_of
from cdisc.sdtm.assignment import MASKED
from cdisc.sdtm.common import Context, date_part, epoch, lineage, sequence, study_day, visit_columns


def randomized(ctx: Context) -> pd.Index:
    iwrs = ctx.forms["randomization"]
    return pd.Index(iwrs.loc[iwrs["STAGE"] == "1", "SUBJID"].unique())


def screen_failed(ctx: Context) -> pd.Series:
    """Per enrollment row: declared not eligible (ELIGIBLE = N) and never randomized. A subject
    still in screening (ELIGIBLE blank) or eligible and awaiting randomization has not failed."""
    enrol = ctx.forms["enrollment"]
    return (enrol["ELIGIBLE"] == "N") & ~isin(enrol["SUBJID"], randomized(ctx))


def _age(born: pd.Series, consent: pd.Series) -> pd.Series:
    b, c = date_part(born), date_part(consent)
    before_birthday = (c.dt.month < b.dt.month) | ((c.dt.month == b.dt.month) & (c.dt.day < b.dt.day))
    return (c.dt.year - b.dt.year - before_birthday.astype(int)).astype(float)


def build_dm(ctx: Context) -> pd.DataFrame:
    """One record per screened subject. Without a planned (actual) arm ARMCD (ACTARMCD) is null and
    ARMNRS says why (SDTMIG 3.4): a screen failure, or a randomized subject never infused."""
    enrol = ctx.forms["enrollment"].reset_index(drop=True)
    ref = ctx.reference.reindex(enrol["SUBJID"]).reset_index(drop=True)
    is_randomized = isin(enrol["SUBJID"], randomized(ctx))
    treated = ref["RFSTDTC"].fillna("") != ""
    blinding = ctx.design.blinding
    armcd = np.where(is_randomized, blinding.armcd, "")
    arm = np.where(is_randomized, blinding.arm, "")
    if not ctx.blinded:
        planned = ctx.assignment.reindex(enrol["SUBJID"])
        armcd = np.where(is_randomized, planned["ARMCD"], "")
        arm = np.where(is_randomized, planned["ARM"], "")
        actual = actual_arms(ctx).reindex(enrol["SUBJID"])
        actarmcd, actarm = actual["ARMCD"].fillna("").to_numpy(), actual["ARM"].fillna("").to_numpy()
    else:
        actarmcd, actarm = armcd, arm
    actarmcd = np.where(is_randomized & treated, actarmcd, "")
    actarm = np.where(is_randomized & treated, actarm, "")
    failed = screen_failed(ctx).reset_index(drop=True)
    armnrs = np.select([failed, ~is_randomized & (enrol["ELIGIBLE"] == "Y"), ~is_randomized, ~treated],
                       [ctx.design.screen_failure["armnrs"], ctx.design.not_assigned["armnrs"],
                        ctx.design.in_screening["armnrs"], ctx.design.not_treated["armnrs"]], "")
    return pd.DataFrame({
        "STUDYID": ctx.studyid, "DOMAIN": "DM", "USUBJID": ctx.usubjid(enrol["SUBJID"]),
        "SUBJID": enrol["SUBJID"], "RFSTDTC": ref["RFSTDTC"], "RFENDTC": ref["RFENDTC"],
        "RFXSTDTC": ref["RFSTDTC"], "RFXENDTC": ref["RFXENDTC"], "RFICDTC": ref["RFICDTC"],
        "RFPENDTC": ref["RFPENDTC"], "DTHDTC": ref["DTHDTC"], "DTHFL": np.where(ref["DTHDTC"] != "", "Y", ""),
        "SITEID": _site(enrol), "BRTHDTC": enrol["BRTHDTC"], "AGE": _age(enrol["BRTHDTC"], enrol["CONSENT_DATE"]),
        "AGEU": "YEARS", "SEX": enrol["SEX"].fillna("").replace("", ctx.design.sex_unknown), "RACE": enrol["RACE"],
        "ETHNIC": enrol["ETHNIC"].map(ctx.design.ethnic).fillna(""),
        "ARMCD": armcd, "ARM": arm, "ACTARMCD": actarmcd, "ACTARM": actarm, "ARMNRS": armnrs,
        "ACTARMUD": "",      # the actual arm is always a planned one or null (actual_arms)
        "COUNTRY": ctx.design.country, **lineage(enrol),
    }).sort_values("USUBJID").reset_index(drop=True)


def _site(enrol: pd.DataFrame) -> pd.Series:
    """DM.SITEID (required): the form's, else (missing or not a site: a finding) the site the SUBJID
    names (SS-NNN)."""
    site = enrol["SITEID"].fillna("")
    return site.where(site != "", enrol["SUBJID"].str[:2])


def build_suppdm(ctx: Context) -> pd.DataFrame:
    """SUPPDM.CETHNIC: the ethnic group as collected (DM.ETHNIC has only the CDISC category)."""
    enrol = ctx.forms["enrollment"].reset_index(drop=True)
    enrol = enrol[enrol["ETHNIC"] != ""]
    return pd.DataFrame({
        "STUDYID": ctx.studyid, "RDOMAIN": "DM", "USUBJID": ctx.usubjid(enrol["SUBJID"]), "IDVAR": "",
        "IDVARVAL": "", "QNAM": "CETHNIC", "QLABEL": "Collected Ethnicity", "QVAL": enrol["ETHNIC"],
        "QORIG": "Collected", "QEVAL": "", **lineage(enrol),
    }).sort_values(["USUBJID", "QNAM"]).reset_index(drop=True)


def actual_arms(ctx: Context) -> pd.DataFrame:
    """Per randomized SUBJID the arm of the infusions actually given: the planned one, without stage 2
    when no stage-2 infusion was given, empty when none was."""
    inf = ctx.forms["infusion"]
    given = inf[inf["DONE"] == "Y"]
    stage2 = set(given.loc[ctx.stage2("infusion"), "SUBJID"])
    arms = arm_of(ctx.design, ctx.level)
    rows = {}
    for subjid, a in ctx.assignment.iterrows():
        if subjid not in set(given["SUBJID"]):
            rows[subjid] = ("", "")          # never infused: ACTARMCD null, ARMNRS says why
            continue
        arm = arms[(a["TRT1"], (a["TRT2"] or None) if subjid in stage2 else None)]
        rows[subjid] = (arm.armcd, arm.arm)
    return pd.DataFrame.from_dict(rows, orient="index", columns=["ARMCD", "ARM"])


def _elements(ctx: Context, subjid: str, r: pd.Series, follow_up: str, end: str) -> list[tuple]:
    """Unblinded: the stage-1 element of the subject's treatment, then for a re-randomized subject the
    stage-2 element from its first stage-2 infusion for the stage-2 duration, then follow-up."""
    a = ctx.assignment.loc[subjid] if subjid in ctx.assignment.index else None
    if a is None:
        return [(subjid, "TRT1", r["RFSTDTC"], end)]
    product = ctx.design.products
    first = product[a["TRT1"]].stage1_element
    start2 = r["stage2_start"]
    if a["TRT2"] and pd.notna(start2):
        second = ctx.design.masked_stage2.element if a["TRT2"] == MASKED else product[a["TRT2"]].stage2_element
        begin = start2.strftime("%Y-%m-%d")
        stop = (start2 + pd.Timedelta(days=ctx.design.treatment_2_days)).strftime("%Y-%m-%d")
        rows = [(subjid, first, r["RFSTDTC"], begin)]
        if end and end[:10] < stop:
            return rows + [(subjid, second, begin, end)]
        return rows + [(subjid, second, begin, stop), (subjid, "FU", stop, end)]
    if end and end[:10] < follow_up:
        return [(subjid, first, r["RFSTDTC"], end)]
    return [(subjid, first, r["RFSTDTC"], follow_up), (subjid, "FU", follow_up, end)]


def build_se(ctx: Context) -> pd.DataFrame:
    """Screening, then the stage-1 element (blinded: the masked one), the stage-2 element of a
    re-randomized subject (unblinded only), then follow-up, per subject."""
    ref = ctx.reference
    elements = {e.etcd: e for e in ctx.design.elements}
    enrolled = ctx.forms["enrollment"].drop_duplicates("SUBJID").set_index("SUBJID")
    rows = []
    for subjid, r in ref.iterrows():
        end = r["RFENDTC"] or r["DTHDTC"]
        if r["RFICDTC"]:     # screening starts at consent (TE.TESTRL); without a valid date it waits for one
            rows.append((subjid, "SCRN", r["RFICDTC"], r["RFSTDTC"] or end))
        if not r["RFSTDTC"]:
            continue
        follow_up = (r["first_date"] + pd.Timedelta(days=ctx.design.treatment_1_days)).strftime("%Y-%m-%d")
        if not ctx.blinded:
            rows += _elements(ctx, subjid, r, follow_up, end)
            continue
        if end and end[:10] < follow_up:
            rows.append((subjid, "TRT1", r["RFSTDTC"], end))
            continue
        rows.append((subjid, "TRT1", r["RFSTDTC"], follow_up))
        rows.append((subjid, "FU", follow_up, end))
    se = pd.DataFrame(rows, columns=["SUBJID", "ETCD", "SESTDTC", "SEENDTC"])
    source = enrolled.reindex(se["SUBJID"]).reset_index()     # elements are traced to the subject's enrollment
    se["ELEMENT"] = se["ETCD"].map({k: e.element for k, e in elements.items()})
    se["EPOCH"] = se["ETCD"].map({k: e.epoch for k, e in elements.items()})
    rfstdtc = se["SUBJID"].map(ref["RFSTDTC"])
    frame = pd.DataFrame({
        "STUDYID": ctx.studyid, "DOMAIN": "SE", "USUBJID": ctx.usubjid(se["SUBJID"]), "ETCD": se["ETCD"],
        "ELEMENT": se["ELEMENT"], "EPOCH": se["EPOCH"], "SESTDTC": se["SESTDTC"], "SEENDTC": se["SEENDTC"],
        "SESTDY": study_day(se["SESTDTC"], rfstdtc), "SEENDY": study_day(se["SEENDTC"], rfstdtc),
        **lineage(source)})
    return sequence(frame, "SE", ["USUBJID", "SESTDTC", "ETCD"])


def build_sv(ctx: Context) -> pd.DataFrame:
    """Visits as collected (SVPRESP/SVOCCUR = Y for a scheduled one) and the scheduled visits the
    subject missed, known from an infusion not given there (SVOCCUR = N with its reason), so that
    every EC visit is in SV. Blinded: stage-2 infusions are not shown (as in EC)."""
    visits = ctx.forms["visits"].reset_index(drop=True)
    rfstdtc = visits["SUBJID"].map(ctx.reference["RFSTDTC"])
    planned = {v.code: (v.target_day + 1 if v.target_day >= 0 else v.target_day) for v in ctx.study.visits}
    scheduled = np.where(visits["VISIT"] != ctx.study.unscheduled_visit, "Y", "")
    frame = pd.DataFrame({
        "STUDYID": ctx.studyid, "DOMAIN": "SV", "USUBJID": ctx.usubjid(visits["SUBJID"]),
        **visit_columns(visits["VISIT"], visits["VISIT_DATE"], visits["SUBJID"], ctx),
        "SVPRESP": scheduled, "SVOCCUR": scheduled, "SVREASOC": "",
        "VISITDY": visits["VISIT"].map(planned).astype(float),
        "EPOCH": epoch(visits["VISIT_DATE"], visits["SUBJID"], ctx),
        "SVSTDTC": visits["VISIT_DATE"], "SVENDTC": visits["VISIT_DATE"],
        "SVSTDY": study_day(visits["VISIT_DATE"], rfstdtc), "SVENDY": study_day(visits["VISIT_DATE"], rfstdtc),
        **lineage(visits)})
    frame = pd.concat([frame, _missed_visits(ctx, frame, planned)], ignore_index=True)
    return frame.sort_values(["USUBJID", "VISITNUM"]).reset_index(drop=True)


def visit_spans(findings: pd.DataFrame, dtc: str) -> pd.DataFrame:
    """Per subject and visit (USUBJID, VISITNUM), the first and last full date of its findings."""
    dates = findings[dtc].fillna("").astype(str).str[:10]
    full = dates.str.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
    return (pd.DataFrame({"USUBJID": findings["USUBJID"][full], "VISITNUM": findings["VISITNUM"][full],
                          "date": dates[full]})
            .groupby(["USUBJID", "VISITNUM"])["date"].agg(["min", "max"]))


def span_findings(sv: pd.DataFrame, spans: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """SV with each occurred visit's start and end widened to the dates of its findings (``spans``:
    ``visit_spans`` of LB's samples), as SDTMIG 3.4's SV assumptions ask: a sample the laboratory
    labels with a visit but took on another day than the EDC's visit date lies within the visit's
    dates (that it lies outside the visit's window is a finding for the data manager, not a change
    of label). The study days and the epoch (of the start) follow; a partial date is left as it is."""
    at = pd.MultiIndex.from_frame(sv[["USUBJID", "VISITNUM"]])
    first = spans["min"].reindex(at).fillna("").to_numpy(dtype=object)
    last = spans["max"].reindex(at).fillna("").to_numpy(dtype=object)
    occurred = (sv["SVOCCUR"] != "N").to_numpy() & (first != "")
    start, end = sv["SVSTDTC"].fillna("").astype(str), sv["SVENDTC"].fillna("").astype(str)

    def widened(current: pd.Series, bound: np.ndarray, earlier: bool) -> pd.Series:
        complete = current.str.len() >= 10
        beyond = (bound < current.str[:10].to_numpy()) if earlier else (bound > current.str[:10].to_numpy())
        take = occurred & ((current == "").to_numpy() | (complete.to_numpy() & beyond))
        return current.where(~take, pd.Series(bound, index=current.index))

    new_start, new_end = widened(start, first, True), widened(end, last, False)
    if (new_start == start).all() and (new_end == end).all():
        return sv
    enrol = ctx.forms["enrollment"]
    subjid = sv["USUBJID"].map(dict(zip(ctx.usubjid(enrol["SUBJID"]), enrol["SUBJID"])))
    rfstdtc = subjid.map(ctx.reference["RFSTDTC"])
    moved = new_start != start
    return sv.assign(SVSTDTC=new_start, SVENDTC=new_end,
                     SVSTDY=study_day(new_start, rfstdtc), SVENDY=study_day(new_end, rfstdtc),
                     EPOCH=sv["EPOCH"].where(~moved, epoch(new_start, subjid, ctx)))


def _missed_visits(ctx: Context, seen: pd.DataFrame, planned: dict[str, int]) -> pd.DataFrame:
    """A scheduled visit with an infusion not given and no visit record: SVOCCUR = N, the reason."""
    inf = ctx.forms["infusion"]
    if ctx.blinded:
        inf = inf[~ctx.stage2("infusion")]
    inf = inf[(inf["DONE"] == "N") & (inf["VISIT"] != ctx.study.unscheduled_visit)].reset_index(drop=True)
    rows = pd.DataFrame({"STUDYID": ctx.studyid, "DOMAIN": "SV", "USUBJID": ctx.usubjid(inf["SUBJID"]),
                         **visit_columns(inf["VISIT"], inf["INF_START"], inf["SUBJID"], ctx),
                         "SVPRESP": "Y", "SVOCCUR": "N", "SVREASOC": inf["NOT_DONE_REASON"],
                         "VISITDY": inf["VISIT"].map(planned).astype(float), "EPOCH": "", "SVSTDTC": "",
                         "SVENDTC": "", "SVSTDY": np.nan, "SVENDY": np.nan, **lineage(inf)})
    known = pd.MultiIndex.from_frame(seen[["USUBJID", "VISITNUM"]])
    rows = rows[~pd.MultiIndex.from_frame(rows[["USUBJID", "VISITNUM"]]).isin(known)]
    return rows.drop_duplicates(["USUBJID", "VISITNUM"])
