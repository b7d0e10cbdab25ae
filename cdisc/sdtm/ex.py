"""EX (unblinded area only): each infusion given, with the product the randomization key assigns to
its stage: hUC-MSC at its protocol dose, placebo at the volume infused; the stage-2 product masked at
the stage-1-only level."""
from __future__ import annotations

import numpy as np
import pandas as pd

from aclf.blinding import stage2_rows
from cdisc.sdtm.assignment import MASKED
from cdisc.sdtm.common import Context, epoch, lineage, sequence, study_day, visit_columns


def infusion_products(ctx: Context, inf: pd.DataFrame) -> pd.Series:
    """The IWRS treatment code of each infusion: the stage-2 one at the stage-2 visits (MASKED at the
    stage-1-only level), the stage-1 one otherwise."""
    stage2 = stage2_rows(ctx.study.form("infusion")[1], inf)
    trt1 = inf["SUBJID"].map(ctx.assignment["TRT1"])
    trt2 = inf["SUBJID"].map(ctx.assignment["TRT2"])
    return trt2.where(stage2, trt1).fillna("")


def product_names(ctx: Context, codes: pd.Series) -> pd.Series:
    names = {code: p.name for code, p in ctx.design.products.items()}
    return codes.map(names).where(codes != MASKED, ctx.design.blinding.stage2_treatment).fillna("")


def dose_forms(ctx: Context, codes: pd.Series) -> pd.Series:
    """Each product's dose form; the masked product's the form every product has (it tells none)."""
    forms = {code: p.dose_form for code, p in ctx.design.products.items()}
    return codes.map(forms).where(codes != MASKED, ctx.design.blinding.dose_form).fillna("")


def build_ex(ctx: Context) -> pd.DataFrame:
    inf = ctx.forms["infusion"]
    inf = inf[inf["DONE"] == "Y"].reset_index(drop=True)
    codes = infusion_products(ctx, inf)
    products = ctx.design.products
    fixed = codes.map({c: p.dose for c, p in products.items()})
    volume = pd.to_numeric(inf["VOLUME_ML"], errors="coerce")
    dose = fixed.where(codes.isin([c for c, p in products.items() if p.dose is not None]), volume)
    dose = dose.where(codes != MASKED)                         # masked: the dose would tell the product
    unit = codes.map({c: p.dose_unit for c, p in products.items()}).fillna("")
    rfstdtc = inf["SUBJID"].map(ctx.reference["RFSTDTC"])
    frame = pd.DataFrame({
        "STUDYID": ctx.studyid, "DOMAIN": "EX", "USUBJID": ctx.usubjid(inf["SUBJID"]),
        "EXTRT": product_names(ctx, codes), "EXDOSE": dose.astype(float),
        "EXDOSU": np.where(dose.notna(), unit, ""), "EXDOSFRM": dose_forms(ctx, codes), "EXROUTE": ctx.design.route,
        **visit_columns(inf["VISIT"], inf["INF_START"], inf["SUBJID"], ctx),
        "EPOCH": epoch(inf["INF_START"], inf["SUBJID"], ctx), "EXSTDTC": inf["INF_START"], "EXENDTC": inf["INF_END"],
        "EXSTDY": study_day(inf["INF_START"], rfstdtc), "EXENDY": study_day(inf["INF_END"], rfstdtc),
        **lineage(inf)})
    return sequence(frame, "EX", ["USUBJID", "EXTRT", "EXSTDTC"])
