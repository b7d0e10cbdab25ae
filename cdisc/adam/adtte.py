"""ADTTE: transplant-free survival and overall survival from stage-1 randomization."""
from __future__ import annotations

import numpy as np
import pandas as pd

from cdisc import derive
from cdisc.adam.adsl import from_sas, sas_date
from cdisc.adam.analysis import Analysis

PARAMS = {"TFS": "Transplant-free survival (days)", "OS": "Overall survival (days)"}


def build_adtte(adsl: pd.DataFrame, analysis: Analysis) -> pd.DataFrame:
    """TFS: death or liver transplantation, whichever first; OS: death. Origin: stage-1
    randomization. Censored at the last known alive (without transplant) date, at the latest on
    protocol day ``tte_cutoff_day`` (week 53)."""
    subjects = adsl.assign(
        RAND=from_sas(adsl["RANDDT"]), DEATH=from_sas(adsl["DTHDT"]), LTX=from_sas(adsl["LTXDT"]),
        ALIVE=from_sas(adsl["LSTALVDT"]),
        CUTOFF=from_sas(adsl["TRTSDT"].fillna(adsl["RANDDT"])) + pd.Timedelta(days=analysis.tte_cutoff_day))
    death = derive.EventSource(subjects, "DEATH", "DEATH", srcdom="ADSL", srcvar="DTHDT")
    transplant = derive.EventSource(subjects, "LTX", "LIVER TRANSPLANTATION", srcdom="ADSL", srcvar="LTXDT")
    alive = derive.CensorSource(subjects, "ALIVE", "LAST KNOWN ALIVE", cnsr=1, srcdom="ADSL", srcvar="LSTALVDT")
    parts = []
    for paramcd, events in (("TFS", [death, transplant]), ("OS", [death])):
        tte = derive.derive_param_tte(subjects, "RAND", events, [alive], cutoff_date="CUTOFF", cutoff_cnsr=2,
                                   cutoff_description="WEEK 53 (END OF FOLLOW-UP)")
        tte["PARAMCD"], tte["PARAM"] = paramcd, PARAMS[paramcd]
        parts.append(tte)
    out = pd.concat(parts, ignore_index=True)
    censored = out["CNSR"].fillna(0) > 0
    return pd.DataFrame({
        "STUDYID": adsl["STUDYID"].iloc[0] if len(adsl) else "", "USUBJID": out["USUBJID"],
        "SITEID": out["USUBJID"].map(adsl.set_index("USUBJID")["SITEID"]), "PARAMCD": out["PARAMCD"],
        "PARAM": out["PARAM"], "STARTDT": sas_date(out["STARTDT"]), "ADT": sas_date(out["ADT"]),
        "AVAL": out["AVAL"], "CNSR": out["CNSR"].astype(float), "EVNTDESC": out["EVNTDESC"].fillna(""),
        "CNSDTDSC": np.where(censored, out["EVNTDESC"].fillna(""), ""),
        # censored at the week-53 cut-off: a derived date, not a variable of a source dataset
        "SRCDOM": out["SRCDOM"].fillna("").where(out["SRCVAR"] != "CUTOFF", ""),
        "SRCVAR": out["SRCVAR"].fillna("").where(out["SRCVAR"] != "CUTOFF", "")})
