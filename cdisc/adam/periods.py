"""ADSL's analysis periods: the protocol's two stages, dated from each subject's first infusion.

Period 1 is stage 1 (first infusion to the day before week 4), period 2 stage 2 (week 4 on). They
are dated by the schedule, not by stage-2 infusions, which only one stage-1 arm receives: one rule
for every arm and both areas (each area's own LSTALVDT), and every record's APERIOD lies within its
subject's APxxSDT-APxxEDT.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def analysis_periods(trtsdt: pd.Series, lstalvdt: pd.Series, eosdt: pd.Series, stage_2_day: int,
                     data_cut: float | None = None) -> pd.DataFrame:
    """AP01SDT..AP02EDT (SAS dates) from TRTSDT, LSTALVDT, EOSDT and the data cut (a SAS date). A
    subject enters period 2 once in the study on day ``stage_2_day`` or later: known then (the later
    of EOSDT and LSTALVDT), or still in it at the data cut; a period's end is the end of the subject's
    participation once the subject has left, open before."""
    ended = eosdt.notna()
    last = np.fmax(eosdt, lstalvdt)
    if data_cut is not None:              # a subject who has not left is in the study at the data cut
        last = last.where(ended, np.fmax(lstalvdt, data_cut))
    second = trtsdt + stage_2_day
    reached = last >= second              # False where either is missing
    return pd.DataFrame({
        "AP01SDT": trtsdt,
        "AP01EDT": (second - 1).where(reached, last.where(ended & trtsdt.notna())),
        "AP02SDT": second.where(reached),
        "AP02EDT": last.where(reached & ended),
    })
