"""ADAE: adverse events of randomized subjects with the treatment-emergent flag and stage of onset.

Partial onset dates are imputed conservatively (towards treatment emergence): a month or year that
is the first infusion's own is imputed to the first infusion date, otherwise to the first day of
the month (January 1st); ASTDTF says which part was imputed ('D' day, 'M' month and day).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from cdisc.adam.adsl import from_sas, sas_date
from cdisc.adam.analysis import Analysis


def impute_onset(dtc: pd.Series, first_dose: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(ASTDT as datetime64, ASTDTF) from a possibly partial ISO onset and the first infusion date."""
    text = dtc.fillna("").astype(str)
    full = pd.to_datetime(text.str[:10].where(text.str.len() >= 10), format="%Y-%m-%d", errors="coerce")
    month = pd.to_datetime(text.where(text.str.len() == 7) + "-01", format="%Y-%m-%d", errors="coerce")
    year = pd.to_datetime(text.where(text.str.len() == 4) + "-01-01", format="%Y-%m-%d", errors="coerce")
    same_month = month.notna() & (month.dt.to_period("M") == first_dose.dt.to_period("M"))
    same_year = year.notna() & (year.dt.year == first_dose.dt.year)
    imputed = full.fillna(month.where(~same_month, first_dose)).fillna(year.where(~same_year, first_dose))
    # a month or year that ends before the first dose keeps its first day: earlier than the dose anyway
    flag = np.select([full.notna(), month.notna(), year.notna()], ["", "D", "M"], "")
    return imputed, pd.Series(flag, index=dtc.index)


def build_adae(ae: pd.DataFrame, adsl: pd.DataFrame, analysis: Analysis) -> pd.DataFrame:
    ae = ae[ae["USUBJID"].isin(adsl["USUBJID"])].reset_index(drop=True)
    subject = adsl.set_index("USUBJID")
    trtsdt = ae["USUBJID"].map(subject["TRTSDT"])
    first_dose = from_sas(trtsdt)
    astdt, astdtf = impute_onset(ae["AESTDTC"], first_dose)
    day = (astdt - first_dose).dt.days
    dosed = trtsdt.notna()
    emergent = dosed & (astdt.isna() | (day >= 0))     # an unknown onset in a dosed subject counts as emergent
    period = np.where(~emergent | astdt.isna(), np.nan, np.where(day < analysis.stage_2_day, 1.0, 2.0))
    return pd.DataFrame({
        "STUDYID": ae["STUDYID"], "USUBJID": ae["USUBJID"], "SITEID": ae["USUBJID"].map(subject["SITEID"]),
        "TRTSDT": trtsdt, "AESEQ": ae["AESEQ"], "AETERM": ae["AETERM"], "AEDECOD": ae["AEDECOD"],
        "AEBODSYS": ae["AEBODSYS"], "AESER": ae["AESER"], "AEREL": ae["AEREL"], "AETOXGR": ae["AETOXGR"],
        "AESTDTC": ae["AESTDTC"], "ASTDT": sas_date(astdt), "ASTDTF": astdtf,
        "ASTDY": day.where(day < 0, day + 1).astype(float), "TRTEMFL": np.where(emergent, "Y", ""),
        "APERIOD": period,
    })
