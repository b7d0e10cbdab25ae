"""Special-purpose domains: DM (one record per screened subject), SE (elements), SV (visits)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from cdisc.sdtm.common import Context, date_part, epoch, lineage, sequence, study_day, visit_labels, visit_numbers


def randomized(ctx: Context) -> pd.Index:
    iwrs = ctx.forms["randomization"]
    return pd.Index(iwrs.loc[iwrs["STAGE"] == "1", "SUBJID"].unique())


def _age(born: pd.Series, consent: pd.Series) -> pd.Series:
    b, c = date_part(born), date_part(consent)
    before_birthday = (c.dt.month < b.dt.month) | ((c.dt.month == b.dt.month) & (c.dt.day < b.dt.day))
    return (c.dt.year - b.dt.year - before_birthday.astype(int)).astype(float)


def build_dm(ctx: Context) -> pd.DataFrame:
    enrol = ctx.forms["enrollment"].reset_index(drop=True)
    ref = ctx.reference.reindex(enrol["SUBJID"]).reset_index(drop=True)
    is_randomized = enrol["SUBJID"].isin(randomized(ctx))
    blinding, failure = ctx.design.blinding, ctx.design.screen_failure
    armcd = np.where(is_randomized, blinding.armcd, failure["armcd"])
    arm = np.where(is_randomized, blinding.arm, failure["arm"])
    return pd.DataFrame({
        "STUDYID": ctx.studyid, "DOMAIN": "DM", "USUBJID": ctx.usubjid(enrol["SUBJID"]),
        "SUBJID": enrol["SUBJID"], "RFSTDTC": ref["RFSTDTC"], "RFENDTC": ref["RFENDTC"],
        "RFXSTDTC": ref["RFSTDTC"], "RFXENDTC": ref["RFXENDTC"], "RFICDTC": ref["RFICDTC"],
        "RFPENDTC": ref["RFENDTC"], "DTHDTC": ref["DTHDTC"], "DTHFL": np.where(ref["DTHDTC"] != "", "Y", ""),
        "SITEID": enrol["SITEID"], "BRTHDTC": enrol["BRTHDTC"], "AGE": _age(enrol["BRTHDTC"], enrol["CONSENT_DATE"]),
        "AGEU": "YEARS", "SEX": enrol["SEX"], "RACE": enrol["RACE"], "ETHNIC": enrol["ETHNIC"],
        "ARMCD": armcd, "ARM": arm, "ACTARMCD": armcd, "ACTARM": arm, "COUNTRY": ctx.design.country,
        **lineage(enrol),
    }).sort_values("USUBJID").reset_index(drop=True)


def build_se(ctx: Context) -> pd.DataFrame:
    """Screening, then (blinded) the masked stage-1 element, then follow-up, per subject."""
    ref = ctx.reference
    elements = {e.etcd: e for e in ctx.design.elements}
    rows = []
    for subjid, r in ref.iterrows():
        end = r["RFENDTC"] or r["DTHDTC"]
        if not r["RFSTDTC"]:
            rows.append((subjid, "SCRN", r["RFICDTC"], end))
            continue
        follow_up = (r["first_date"] + pd.Timedelta(days=ctx.design.treatment_1_days)).strftime("%Y-%m-%d")
        rows.append((subjid, "SCRN", r["RFICDTC"], r["RFSTDTC"]))
        if end and end[:10] < follow_up:
            rows.append((subjid, "TRT1", r["RFSTDTC"], end))
            continue
        rows.append((subjid, "TRT1", r["RFSTDTC"], follow_up))
        rows.append((subjid, "FU", follow_up, end))
    se = pd.DataFrame(rows, columns=["SUBJID", "ETCD", "SESTDTC", "SEENDTC"])
    enrolled = ctx.forms["enrollment"].drop_duplicates("SUBJID").set_index("SUBJID")
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
    visits = ctx.forms["visits"].reset_index(drop=True)
    rfstdtc = visits["SUBJID"].map(ctx.reference["RFSTDTC"])
    planned = {v.code: (v.target_day + 1 if v.target_day >= 0 else v.target_day) for v in ctx.study.visits}
    frame = pd.DataFrame({
        "STUDYID": ctx.studyid, "DOMAIN": "SV", "USUBJID": ctx.usubjid(visits["SUBJID"]),
        "VISITNUM": visit_numbers(visits["VISIT"], visits["VISIT_DATE"], visits["SUBJID"], ctx),
        "VISIT": visits["VISIT"].map(visit_labels(ctx.study)).fillna("UNSCHEDULED"),
        "VISITDY": visits["VISIT"].map(planned).astype(float),
        "EPOCH": epoch(visits["VISIT_DATE"], visits["SUBJID"], ctx),
        "SVSTDTC": visits["VISIT_DATE"], "SVENDTC": visits["VISIT_DATE"],
        "SVSTDY": study_day(visits["VISIT_DATE"], rfstdtc), "SVENDY": study_day(visits["VISIT_DATE"], rfstdtc),
        **lineage(visits)})
    return frame.sort_values(["USUBJID", "VISITNUM"]).reset_index(drop=True)
