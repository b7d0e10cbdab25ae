"""Time in the study: SDTM study day, protocol day, pre-dose, analysis visit by window, unscheduled
numbering. The one home of these rules: the harmonized lab table, SDTM and ADaM all call them.

Protocol day 0 is the day of the first infusion; the SDTM study day counts that day as Day 1 and
has no Day 0 (protocol day 3 = SDTM day 4). The analysis visit is the one whose window holds the
protocol day; outside every window a sample is unscheduled, numbered after the last scheduled
visit whose window began before it (VISITNUM x.01, a DMP convention), and kept.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from aclf.config import Study
from aclf.isodate import date_part

UNSCHEDULED_STEP = 0.01
UNSCHEDULED_LABEL = "UNSCHEDULED"


def day_difference(dates: pd.Series, reference: pd.Series) -> pd.Series:
    """Whole days from the reference date to each date (times of day ignored); NaN without either."""
    dates, reference = pd.to_datetime(dates, errors="coerce"), pd.to_datetime(reference, errors="coerce")
    return ((dates.dt.normalize() - reference.dt.normalize()) / pd.Timedelta(days=1)).astype("Float64")


def sdtm_day(difference: pd.Series) -> pd.Series:
    """The SDTM study-day convention on a day difference: +1 on or after the reference (no day 0)."""
    return difference.where(difference < 0, difference + 1)


def study_days(dates: pd.Series, reference: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(SDTM --DY, protocol day) of each date against its subject's reference date (NaN without one)."""
    diff = day_difference(dates, reference)
    return sdtm_day(diff), diff


def study_day(dtc: pd.Series, rfstdtc: pd.Series) -> pd.Series:
    """--DY of ISO 8601 dates against ISO reference dates; NaN when either is partial or missing."""
    return sdtm_day(day_difference(date_part(dtc), date_part(rfstdtc))).astype(float)


def before_first_dose(dtc: pd.Series, rfstdtc: pd.Series) -> pd.Series:
    """True before the first infusion: earlier date, or the same date earlier in the day; on the
    same date without both times, before (a sample of the infusion day is drawn pre-dose)."""
    dtc, rfstdtc = dtc.fillna("").astype(str), rfstdtc.fillna("").astype(str)
    d, r = date_part(dtc), date_part(rfstdtc)
    both_times = (dtc.str.len() > 10) & (rfstdtc.str.len() > 10)
    same_day = d == r
    return (d < r) | (same_day & (~both_times | (dtc < rfstdtc)))


def first_infusion_dates(infusion: pd.DataFrame) -> pd.Series:
    """Date of each subject's first infusion given (DONE = Y), indexed by SUBJID."""
    if infusion.empty:
        return pd.Series(dtype="datetime64[ns]")
    given = infusion[infusion["DONE"].eq("Y")]
    start = date_part(given["INF_START"])
    return start.groupby(given["SUBJID"]).min().dropna()


def window_index(day: pd.Series, windows: Sequence[tuple[float, float]]) -> np.ndarray:
    """Position of the first window [low, high] (inclusive) holding each day; -1 outside all, or
    without a day. The one implementation of visit windows (the study's and the ADaM verb's)."""
    values = pd.to_numeric(day, errors="coerce").astype(float).to_numpy(dtype=float, na_value=np.nan)
    out = np.full(len(values), -1)
    for position, (low, high) in reversed(list(enumerate(windows))):
        out[(values >= low) & (values <= high)] = position
    return out


def analysis_visits(protocol_day: pd.Series, study: Study) -> tuple[pd.Series, pd.Series]:
    """(AVISIT code, AVISITN) from the visit windows; unscheduled outside them (numbered x.01 after
    the last visit whose window began before the day); '' without a day."""
    visits = sorted(study.visits, key=lambda v: v.window[0])
    day = protocol_day.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(day)
    hit = window_index(protocol_day, [v.window for v in visits])
    codes = np.array([v.code for v in visits] + [study.unscheduled_visit], dtype=object)
    nums = np.array([float(v.visitnum) for v in visits] + [np.nan])
    code = np.where(known, codes[hit], "")
    num = nums[hit]
    previous = np.zeros(len(day))
    for visit in visits:
        previous[known & (day >= visit.window[0])] = visit.visitnum
    outside = known & (hit == -1)
    num[outside] = previous[outside] + UNSCHEDULED_STEP
    num[~known] = np.nan
    return pd.Series(code, index=protocol_day.index, dtype=object), pd.Series(num, index=protocol_day.index)


def labelled_visitnum(visit: pd.Series, analysis_num: pd.Series, study: Study) -> pd.Series:
    """VISITNUM of the visit as labelled; an unscheduled label takes the x.01 number of its date."""
    nums = visit.map({v.code: float(v.visitnum) for v in study.visits})
    unscheduled = visit.eq(study.unscheduled_visit)
    return nums.where(~unscheduled, analysis_num.where(analysis_num % 1 != 0,
                                                       analysis_num + UNSCHEDULED_STEP))


def visit_labels(study: Study) -> dict[str, str]:
    """Visit code -> VISIT/AVISIT label, the unscheduled code included."""
    return {**{v.code: v.label for v in study.visits}, study.unscheduled_visit: UNSCHEDULED_LABEL}
