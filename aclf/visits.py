"""Study days and analysis visits by date windows (STUDY.md "Time").

Protocol day 0 is the day of the first infusion; the SDTM study day counts that day as Day 1 and
has no Day 0 (protocol day 3 = SDTM day 4). The analysis visit is the one whose window holds the
protocol day; outside every window a sample is unscheduled, numbered after the last scheduled
visit whose window began before it (VISITNUM x.01, a DMP convention), and kept.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from aclf.config import Study
from aclf.isodate import date_part

UNSCHEDULED_STEP = 0.01


def first_infusion_dates(infusion: pd.DataFrame) -> pd.Series:
    """Date of each subject's first infusion given (DONE = Y), indexed by SUBJID."""
    if infusion.empty:
        return pd.Series(dtype="datetime64[ns]")
    given = infusion[infusion["DONE"].eq("Y")]
    start = date_part(given["INF_START"])
    return start.groupby(given["SUBJID"]).min().dropna()


def study_days(dates: pd.Series, reference: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(SDTM --DY, protocol day) of each date against its subject's reference date (NaN without one)."""
    dates, reference = pd.to_datetime(dates, errors="coerce"), pd.to_datetime(reference, errors="coerce")
    diff = ((dates.dt.normalize() - reference.dt.normalize()) / pd.Timedelta(days=1)).astype("Float64")
    sdtm = diff.where(diff < 0, diff + 1)
    return sdtm, diff


def analysis_visits(protocol_day: pd.Series, study: Study) -> tuple[pd.Series, pd.Series]:
    """(AVISIT code, AVISITN) from the visit windows; unscheduled outside them; '' without a day."""
    day = protocol_day.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    code = np.full(len(day), "", dtype=object)
    num = np.full(len(day), np.nan)
    known = ~np.isnan(day)
    code[known] = study.unscheduled_visit
    previous = np.zeros(len(day))
    for visit in sorted(study.visits, key=lambda v: v.window[0]):
        low, high = visit.window
        inside = known & (day >= low) & (day <= high)
        code[inside], num[inside] = visit.code, visit.visitnum
        previous[known & (day >= low)] = visit.visitnum
    outside = known & (code == study.unscheduled_visit)
    num[outside] = previous[outside] + UNSCHEDULED_STEP
    return pd.Series(code, index=protocol_day.index), pd.Series(num, index=protocol_day.index)


def labelled_visitnum(visit: pd.Series, analysis_num: pd.Series, study: Study) -> pd.Series:
    """VISITNUM of the visit as labelled; an unscheduled label takes the x.01 number of its date."""
    nums = visit.map({v.code: float(v.visitnum) for v in study.visits})
    unscheduled = visit.eq(study.unscheduled_visit)
    return nums.where(~unscheduled, analysis_num.where(analysis_num % 1 != 0,
                                                       analysis_num + UNSCHEDULED_STEP))
