"""ADAE: adverse events of randomized subjects with the treatment-emergent flag and stage of onset,
derived with the admiral-like verbs of ``cdisc.derive``.

Partial onset dates are imputed conservatively (towards treatment emergence), as admiral's ADAE
template does (derive_vars_dt with highest_imputation "M" and the first dose as min_dates): to the
first day of the month (January 1st), or to the first infusion date when that lies within the
dates the partial one allows; ASTDTF says which part was imputed ('D' day, 'M' month and day).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from aclf.frames import isin
from cdisc.adam.adsl import from_sas, sas_date
from cdisc.derive import derive_var_aperiod, derive_var_trtemfl, derive_vars_dt

PERIOD_DATES = ["AP01SDT", "AP01EDT", "AP02SDT", "AP02EDT"]


def impute_onset(dtc: pd.Series, first_dose: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(ASTDT as datetime64, ASTDTF) from a possibly partial ISO onset and the first infusion date."""
    frame = pd.DataFrame({"AESTDTC": dtc.fillna("").astype(str), "TRTSDT": first_dose}, index=dtc.index)
    dates = derive_vars_dt(frame, "AESTDTC", prefix="AST", highest_imputation="M", date_imputation="first",
                           min_dates=["TRTSDT"])
    return dates["ASTDT"], dates["ASTDTF"].fillna("").astype(str)


def build_adae(ae: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """Each AE of an ADSL subject: imputed onset, TRTEMFL, and APERIOD (a treatment-emergent event's
    period by ADSL's period dates)."""
    ae = ae[isin(ae["USUBJID"], adsl["USUBJID"])].reset_index(drop=True)
    subject = adsl.set_index("USUBJID")
    trtsdt = ae["USUBJID"].map(subject["TRTSDT"])
    first_dose = from_sas(trtsdt)
    astdt, astdtf = impute_onset(ae["AESTDTC"], first_dose)
    day = (astdt - first_dose).dt.days
    # protocol: an unknown onset in a dosed subject counts as emergent; the end date plays no part
    trtemfl = derive_var_trtemfl(pd.DataFrame({"ASTDT": astdt, "TRTSDT": first_dose}), end_date=None)
    emergent = trtemfl.eq("Y")
    periods = adsl[["USUBJID", *PERIOD_DATES]].assign(**{c: from_sas(adsl[c]) for c in PERIOD_DATES})
    period = derive_var_aperiod(pd.DataFrame({"USUBJID": ae["USUBJID"], "ADT": astdt}), periods)
    period = period.astype(float).where(emergent)
    return pd.DataFrame({
        "STUDYID": ae["STUDYID"], "USUBJID": ae["USUBJID"], "SITEID": ae["USUBJID"].map(subject["SITEID"]),
        "TRTSDT": trtsdt, "AESEQ": ae["AESEQ"], "AETERM": ae["AETERM"], "AEDECOD": ae["AEDECOD"],
        "AEBODSYS": ae["AEBODSYS"], "AESER": ae["AESER"], "AEREL": ae["AEREL"], "AETOXGR": ae["AETOXGR"],
        "AESTDTC": ae["AESTDTC"], "ASTDT": sas_date(astdt), "ASTDTF": astdtf,
        "ASTDY": day.where(day < 0, day + 1).astype(float), "TRTEMFL": np.where(emergent, "Y", ""),
        "APERIOD": period,
    })
