"""ADSL: one record per stage-1 randomized subject, from the SDTM domains of the same area.

Dates are SAS dates (days since 1960-01-01, DATE9.). Treatment variables are added per area
(cdisc.adam.treatment: the blinded area's are documented dummies). The analysis periods are the
protocol's stages, one rule in both areas (cdisc.adam.periods).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from aclf.frames import isin
from cdisc.adam.analysis import Analysis
from cdisc.adam.periods import analysis_periods
from cdisc.handoff import columns_of
from cdisc.sdtm.common import date_part

SAS_EPOCH = pd.Timestamp("1960-01-01")


def sas_date(dates: pd.Series) -> pd.Series:
    """Dates (datetime64 or ISO text) as SAS date numbers; NaN where missing or partial."""
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = date_part(dates)
    return ((dates - SAS_EPOCH).dt.days).astype(float)


def sas_datetime(dtc: pd.Series) -> pd.Series:
    """ISO date-times (minutes at least) as SAS datetime numbers (seconds since 1960-01-01); NaN
    where the time or the date is missing or partial."""
    text = dtc.fillna("").astype(str)
    stamp = pd.to_datetime(text.where(text.str.len() >= 16), format="ISO8601", errors="coerce")
    return ((stamp - SAS_EPOCH).dt.total_seconds()).astype(float)


def from_sas(days: pd.Series) -> pd.Series:
    return SAS_EPOCH + pd.to_timedelta(days, unit="D")


def age_group(age: pd.Series, groups: list[tuple[float, float, str]]) -> pd.Series:
    """The configured group whose [low, high) holds the age; '' when missing."""
    return pd.Series(np.select([(age >= lo) & (age < hi) for lo, hi, _ in groups], [g for _, _, g in groups], ""),
                     index=age.index)


def last_known_alive(sdtm: Mapping[str, pd.DataFrame]) -> pd.Series:
    """Per USUBJID the latest full date of any record showing the subject alive, or the end of
    participation (DM.RFPENDTC: the last known contact, or the death)."""
    dated = [("SV", "SVSTDTC"), ("LB", "LBDTC"), ("RS", "RSDTC"), ("EC", "ECSTDTC"), ("AE", "AESTDTC"),
             ("DS", "DSSTDTC"), ("DM", "RFPENDTC")]
    frames = [(columns_of(sdtm, name, ["USUBJID", col]), col) for name, col in dated]
    parts = [pd.DataFrame({"USUBJID": f["USUBJID"], "date": date_part(f[col])}) for f, col in frames if not f.empty]
    if not parts:
        return pd.Series(dtype="datetime64[ns]")
    dates = pd.concat(parts, ignore_index=True).dropna()
    return dates.groupby("USUBJID")["date"].max()


def build_adsl(sdtm: dict[str, pd.DataFrame], analysis: Analysis, etiology_category: str) -> pd.DataFrame:
    """Stage-1 randomized subjects: demographics, etiology, key dates, end of study, population
    flags; from SDTM only, so that every value traces to a tabulation variable."""
    dm, ds, mh = sdtm["DM"], sdtm["DS"], sdtm["MH"]
    rand = ds[(ds["DSDECOD"] == "RANDOMIZED") & (ds["DSSCAT"] == "STAGE 1")].drop_duplicates("USUBJID")
    adsl = dm[isin(dm["USUBJID"], rand["USUBJID"])].reset_index(drop=True)
    etiology = mh[mh["MHCAT"] == etiology_category].drop_duplicates("USUBJID").set_index("USUBJID")["MHTERM"]
    etiology = adsl["USUBJID"].map(etiology).fillna("")
    eos = end_of_study(ds)
    transplant = sdtm["PR"][sdtm["PR"]["PRTRT"] == "LIVER TRANSPLANTATION"].groupby("USUBJID")["PRSTDTC"].min()
    alive = last_known_alive(sdtm)
    death = date_part(adsl["DTHDTC"])
    lstalv = pd.to_datetime(adsl["USUBJID"].map(alive.to_dict()))   # a dict: pandas cannot map an empty datetime Series
    lstalv = lstalv.where(death.isna() | (lstalv <= death), death)
    out = pd.DataFrame({
        "STUDYID": adsl["STUDYID"], "USUBJID": adsl["USUBJID"], "SUBJID": adsl["SUBJID"], "SITEID": adsl["SITEID"],
        "AGE": adsl["AGE"], "AGEU": adsl["AGEU"], "AGEGR1": age_group(adsl["AGE"], analysis.age_groups), "SEX": adsl["SEX"],
        "RACE": adsl["RACE"], "ETHNIC": adsl["ETHNIC"], "ETIOL": etiology,
        "MELDETIO": etiology_term(etiology, analysis.meld_e0_etiologies),
        "RANDDT": sas_date(adsl["USUBJID"].map(rand.set_index("USUBJID")["DSSTDTC"])),
        "TRTSDT": sas_date(adsl["RFXSTDTC"]), "TRTSDTM": sas_datetime(adsl["RFXSTDTC"]),
        "TRTSDTC": adsl["RFXSTDTC"], "TRTEDT": sas_date(adsl["RFXENDTC"]),
        "DTHDT": sas_date(adsl["DTHDTC"]), "DTHFL": adsl["DTHFL"],
        "LTXDT": sas_date(adsl["USUBJID"].map(transplant)),
        "EOSSTT": end_of_study_status(adsl["USUBJID"].map(eos["DSDECOD"])),
        "EOSDT": sas_date(adsl["USUBJID"].map(eos["DSSTDTC"])),
        "DCSREAS": discontinuation_reason(eos, adsl["USUBJID"]),
        "LSTALVDT": sas_date(lstalv), "ITTFL": "Y",
        "SAFFL": np.where(adsl["RFXSTDTC"] != "", "Y", "N"),
    })
    periods = analysis_periods(out["TRTSDT"], out["LSTALVDT"], out["EOSDT"], analysis.stage_2_day, data_cut(sdtm))
    return pd.concat([out, periods], axis=1)


def data_cut(sdtm: Mapping[str, pd.DataFrame]) -> float | None:
    """The data cut (TS DCUTDTC) as a SAS date; None when TS gives none."""
    ts = columns_of(sdtm, "TS", ["TSPARMCD", "TSVAL"])
    cut = sas_date(ts.loc[ts["TSPARMCD"] == "DCUTDTC", "TSVAL"])
    return float(cut.iloc[0]) if len(cut) and pd.notna(cut.iloc[0]) else None


def end_of_study(ds: pd.DataFrame) -> pd.DataFrame:
    """Per USUBJID the end-of-study disposition event (DSCAT DISPOSITION EVENT, not a screen failure)."""
    ended = ds[(ds["DSCAT"] == "DISPOSITION EVENT") & (ds["DSDECOD"] != "SCREEN FAILURE")]
    return ended.drop_duplicates("USUBJID", keep="last").set_index("USUBJID")[["DSDECOD", "DSSTDTC"]]


def discontinuation_reason(eos: pd.DataFrame, usubjid: pd.Series) -> pd.Series:
    """DCSREAS: the DSDECOD of the subject's end-of-study disposition event when it is not COMPLETED."""
    return usubjid.map(eos["DSDECOD"][eos["DSDECOD"] != "COMPLETED"]).fillna("")


def end_of_study_status(status: pd.Series) -> pd.Series:
    """EOSSTT: COMPLETED, DISCONTINUED (any other end-of-study DSDECOD) or ONGOING (no end of study yet)."""
    status = status.astype(object).where(status.notna(), "").astype(str)
    return pd.Series(np.select([status == "COMPLETED", status != ""], ["COMPLETED", "DISCONTINUED"], "ONGOING"),
                     index=status.index)


def etiology_term(etiology: pd.Series, e0: list[str]) -> pd.Series:
    """The protocol MELD's E: 0 for the configured biliary or alcoholic etiologies (MH.MHTERM), 1 otherwise."""
    return etiology.map(lambda e: np.nan if e == "" else (0.0 if e in e0 else 1.0))
