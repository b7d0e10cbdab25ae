"""RS: clinical classifications from the EDC's clinical assessment (HE grade, ascites)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from cdisc.sdtm.common import Context, epoch, lineage, sequence, study_day, visit_columns



def build_rs(ctx: Context) -> pd.DataFrame:
    ca = ctx.forms["clinical_assessment"].reset_index(drop=True)
    parts = []
    for test in ctx.design.assessments:
        rows = ca[ca[test.column] != ""]
        numeric = pd.to_numeric(rows[test.column], errors="coerce") if test.numeric else np.nan
        standard = rows[test.column].map(test.results).fillna(rows[test.column]) if test.results else rows[test.column]
        parts.append(pd.DataFrame({
            "SUBJID": rows["SUBJID"], "VISIT_CODE": rows["VISIT"], "RSDTC": rows["ASSESS_DATE"],
            "RSTESTCD": test.testcd, "RSTEST": test.test, "RSCAT": test.cat, "RSORRES": rows[test.column],
            "RSSTRESC": standard, "RSSTRESN": numeric, **lineage(rows)}))
    rs = pd.concat(parts, ignore_index=True)
    frame = pd.DataFrame({
        "STUDYID": ctx.studyid, "DOMAIN": "RS", "USUBJID": ctx.usubjid(rs["SUBJID"]), "RSTESTCD": rs["RSTESTCD"],
        "RSTEST": rs["RSTEST"], "RSCAT": rs["RSCAT"], "RSORRES": rs["RSORRES"], "RSSTRESC": rs["RSSTRESC"],
        "RSSTRESN": rs["RSSTRESN"].astype(float),
        **visit_columns(rs["VISIT_CODE"], rs["RSDTC"], rs["SUBJID"], ctx),
        "EPOCH": epoch(rs["RSDTC"], rs["SUBJID"], ctx), "RSDTC": rs["RSDTC"],
        "RSDY": study_day(rs["RSDTC"], rs["SUBJID"].map(ctx.reference["RFSTDTC"])), **lineage(rs)})
    return sequence(frame, "RS", ["USUBJID", "RSTESTCD", "VISITNUM", "RSDTC"])
