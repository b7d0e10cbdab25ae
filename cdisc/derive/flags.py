"""Record flags: first/last per group (ABLFL, ANLzzFL, AOCCzzFL...), on-treatment, treatment-emergent."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from cdisc.derive._common import Condition, as_date, condition, flags, select_extreme


def derive_var_extreme_flag(
    frame: pd.DataFrame,
    by: str | Sequence[str],
    order: str | Sequence[str],
    mode: str = "last",
    filter: Condition = None,
    new_var: str = "FLAG",
) -> pd.Series:
    """"Y" on the first/last record by ``order`` per by-group, e.g. ANL01FL (one analysis record per
    visit) or AOCCIFL. admiral: derive_var_extreme_flag (``filter``: restrict_derivation).

    ``order`` items sort ascending, missing last, ties by input order; ``"-COL"`` sorts descending."""
    mask = condition(frame, filter)
    chosen = np.zeros(len(frame), dtype=bool)
    chosen[select_extreme(frame, mask, by, order, mode)] = True
    return flags(chosen, frame.index, name=new_var)


def derive_var_ontrtfl(
    frame: pd.DataFrame,
    start_date: str = "ADT",
    ref_start_date: str = "TRTSDT",
    ref_end_date: str | None = None,
    ref_end_window: int = 0,
    filter_pre_timepoint: Condition = None,
    end_date: str | None = None,
    open_end: bool = True,
    new_var: str = "ONTRTFL",
) -> pd.Series:
    """ONTRTFL: is the assessment within treatment (+ a window after its end)? admiral:
    derive_var_ontrtfl (dates, ignoring times).

    "Y" when ``start_date`` is missing and ``ref_start_date`` is not; when they are equal unless
    ``filter_pre_timepoint`` holds (e.g. a baseline visit); when ref start < start <= ref end +
    ``ref_end_window`` days. Without ``ref_end_date``, or where it is missing and ``open_end``
    (admiral's rule: treatment not known to have ended), any start after the ref start is "Y".
    With ``end_date``, a record ending before the ref start is never on treatment."""
    a, s = as_date(frame[start_date]), as_date(frame[ref_start_date])
    flag = (a.isna() & s.notna()) | (a.notna() & s.notna() & (a == s))
    if filter_pre_timepoint is not None:
        flag &= ~condition(frame, filter_pre_timepoint)
    after_start = s.notna() & a.notna() & (s < a)
    if ref_end_date is None:
        flag |= after_start
    else:
        e = as_date(frame[ref_end_date])
        within = e.notna() & (a <= e + pd.Timedelta(days=int(ref_end_window)))
        if open_end:
            within |= e.isna()
        flag |= after_start & within
    if end_date is not None:
        flag &= ~(as_date(frame[end_date]) < s).fillna(False)
    return flags(flag, frame.index, name=new_var)


def derive_var_trtemfl(
    frame: pd.DataFrame,
    start_date: str = "ASTDT",
    end_date: str | None = "AENDT",
    trt_start_date: str = "TRTSDT",
    trt_end_date: str | None = None,
    end_window: int | None = None,
    new_var: str = "TRTEMFL",
) -> pd.Series:
    """TRTEMFL: did the event start on or after the first dose (and within ``end_window`` days of
    the last, when given)? admiral: derive_var_trtemfl (dates, without the worsening rule).

    Missing when the treatment start is missing or the event ended before it; "Y" when the event
    start is missing (it may be treatment-emergent), or it starts on/after the treatment start and
    (without an end rule, or treatment end missing, or start <= end + window)."""
    a, s = as_date(frame[start_date]), as_date(frame[trt_start_date])
    ended_before = (as_date(frame[end_date]) < s).fillna(False) if end_date else pd.Series(False, index=frame.index)
    new = a.notna() & s.notna() & (a >= s)
    if end_window is not None:
        if trt_end_date is None:
            raise ValueError("end_window needs trt_end_date")
        e = as_date(frame[trt_end_date])
        new &= e.isna() | (a <= e + pd.Timedelta(days=int(end_window)))
    flag = s.notna() & ~ended_before & (a.isna() | new)
    return flags(flag, frame.index, name=new_var)
