"""ADSL's treatment variables per area. Unblinded: the planned and actual treatment per period, the
exposure dates per period and the treatment at onset that ADAE carries, from the unblinded SDTM (DM
arms, EX, DS). Blinded: documented dummies, the same in every arm, and stage 1's exposure dates."""
from __future__ import annotations

import numpy as np
import pandas as pd

from aclf.frames import isin
from cdisc.adam.adsl import sas_date
from cdisc.design import Design
from cdisc.sdtm.assignment import MASKED

PERIODS = {1: "TREATMENT 1", 2: "TREATMENT 2"}


def _product_of(design: Design) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """IWRS code -> TRTxxP text and number; EX.EXTRT -> TRTxxP text (the masked product included)."""
    names = {code: p.trt for code, p in design.products.items()} | {MASKED: design.masked_stage2.trt}
    numbers = {code: float(p.trtn) for code, p in design.products.items()} | {MASKED: float(design.masked_stage2.trtn)}
    by_extrt = {p.name: p.trt for p in design.products.values()} | {design.blinding.stage2_treatment: design.masked_stage2.trt}
    return names, numbers, by_extrt


def adsl_treatments(adsl: pd.DataFrame, sdtm: dict[str, pd.DataFrame], design: Design) -> pd.DataFrame:
    """ARM/ACTARM, TRT01P/A(N), TRT02P/A(N), TR01SDT-TR02EDT, RAND2DT, RAND2FL, one row per ADSL row."""
    names, numbers, by_extrt = _product_of(design)
    trt_number = {v: numbers[k] for k, v in names.items()}
    dm = sdtm["DM"].set_index("USUBJID").reindex(adsl["USUBJID"])
    arms = {a.armcd: a for a in design.arms}
    planned = dm["ARMCD"].map(lambda cd: arms[cd] if cd in arms else None)
    out = pd.DataFrame(index=adsl.index)
    out["ARM"], out["ACTARM"] = dm["ARM"].to_numpy(), dm["ACTARM"].to_numpy()
    out["TRT01P"] = [names.get(a.stage1, "") if a else "" for a in planned]
    out["TRT02P"] = [names.get(a.stage2, "") if a and a.stage2 else "" for a in planned]
    ex = sdtm["EX"]
    for n, epoch in PERIODS.items():
        rows = ex[ex["EPOCH"] == epoch].sort_values(["USUBJID", "EXSTDTC"])
        first = rows.drop_duplicates("USUBJID").set_index("USUBJID")["EXTRT"]
        out[f"TRT0{n}A"] = adsl["USUBJID"].map(first.map(by_extrt)).fillna("").to_numpy()
        out[f"TR0{n}SDT"], out[f"TR0{n}EDT"] = exposure_dates(adsl, rows, "EXSTDTC", "EXENDTC")
    for var in ("TRT01P", "TRT02P", "TRT01A", "TRT02A"):
        out[f"{var}N"] = out[var].map(trt_number).astype(float)
    ds = sdtm["DS"]
    rand2 = ds[(ds["DSDECOD"] == "RANDOMIZED") & (ds["DSSCAT"] == "STAGE 2")].drop_duplicates("USUBJID")
    out["RAND2DT"] = sas_date(adsl["USUBJID"].map(rand2.set_index("USUBJID")["DSSTDTC"])).to_numpy()
    out["RAND2FL"] = np.where(isin(adsl["USUBJID"], rand2["USUBJID"]), "Y", "N")
    return out


def exposure_dates(adsl: pd.DataFrame, given: pd.DataFrame, start: str, end: str) -> tuple[np.ndarray, np.ndarray]:
    """Per ADSL row, the SAS dates of the first infusion's start and the last infusion's end (its
    start where no end is collected) among ``given``, one period's infusions."""
    ended = given[end].where(given[end] != "", given[start])
    return tuple(sas_date(adsl["USUBJID"].map(dates).fillna("")).to_numpy()
                 for dates in (given[start].groupby(given["USUBJID"]).min(), ended.groupby(given["USUBJID"]).max()))


def blinded_treatments(adsl: pd.DataFrame, sdtm: dict[str, pd.DataFrame], design: Design) -> pd.DataFrame:
    """The blinded area's documented dummies of the Required treatment variables: ARM/ACTARM as DM
    shows them, TRT01P the masked product for every randomized subject, TRT01A the same for those
    infused (empty otherwise, as in DM.ACTARM), TRT02P the same for those who reached period 2 (its
    dates follow one rule in every arm; ADaMIG names a TRTxxP for each period APERIOD takes): the
    same values in every arm. TR01SDT/TR01EDT from EC's infusions given, stage 1's only in this area
    (the rule EX's TREATMENT 1 records follow in the unblinded area)."""
    subject = sdtm["DM"].set_index("USUBJID").reindex(adsl["USUBJID"])
    ec = sdtm["EC"]
    first, last = exposure_dates(adsl, ec[ec["ECOCCUR"] == "Y"], "ECSTDTC", "ECENDTC")
    masked = design.blinding.treatment
    return pd.DataFrame({"ARM": subject["ARM"].to_numpy(), "ACTARM": subject["ACTARM"].to_numpy(),
                         "TRT01P": masked, "TRT01A": np.where(subject["RFXSTDTC"].to_numpy() != "", masked, ""),
                         "TRT02P": np.where(adsl["AP02SDT"].notna().to_numpy(), masked, ""),
                         "TR01SDT": first, "TR01EDT": last},
                        index=adsl.index)


def treatment_at_onset(events: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """TRTA/TRTAN of each record by its APERIOD: the stage-2 treatment in period 2 for a subject who
    has one, the stage-1 treatment otherwise."""
    subject = adsl.set_index("USUBJID")
    trt1, trt2 = (events["USUBJID"].map(subject[c]).fillna("") for c in ("TRT01A", "TRT02A"))
    n1, n2 = (events["USUBJID"].map(subject[c]) for c in ("TRT01AN", "TRT02AN"))
    second = (events["APERIOD"] == 2) & (trt2 != "")
    return pd.DataFrame({"TRTA": trt2.where(second, trt1), "TRTAN": n2.where(second, n1)}, index=events.index)
