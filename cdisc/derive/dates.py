"""Dates, study days and durations: ISO 8601 text to analysis dates with admiral's imputation."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from aclf.timing import day_difference, sdtm_day
from cdisc.derive._common import as_date, column

_LEVELS = {"n": 0, "D": 1, "M": 2, "Y": 3}


def _ymd(year: pd.Series, month, day) -> pd.Series:
    """Dates from numeric parts (a Series or a constant each); NaT where a part is missing/invalid."""
    parts = pd.DataFrame({"year": year, "month": month, "day": day}, index=year.index)
    ok = parts.notna().all(axis=1)
    out = pd.Series(pd.NaT, index=year.index, dtype="datetime64[ns]")
    if ok.any():
        out[ok] = pd.to_datetime(parts[ok].astype(int), errors="coerce")
    return out


def _impute(year: pd.Series, month: pd.Series, day: pd.Series, date_imputation: str):
    """Earliest and latest date a partial date allows, and the imputed one."""
    first = _ymd(year, month.fillna(1), day.fillna(1))
    last_month = month.fillna(12)
    last = _ymd(year, last_month, day).where(day.notna(), _ymd(year, last_month, 1) + pd.offsets.MonthEnd(0))
    if date_imputation == "first":
        imputed = first
    elif date_imputation == "last":
        imputed = last
    elif date_imputation == "mid":
        mid_month = _ymd(year, month.fillna(1), 15)
        imputed = first.where(day.notna(), mid_month).where(month.notna(), _ymd(year, 6, 30))
    else:
        raise ValueError("date_imputation must be 'first', 'mid' or 'last'")
    return first, last, imputed


def _extract(values: pd.Series, pattern: str) -> pd.DataFrame:
    """``str.extract`` of the values as text, once per distinct value: dates repeat (44 k distinct
    among 800 k lab dates), and the regular expression is the cost."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    found = pd.Series(distinct, dtype=object).astype("string").str.extract(pattern)
    return found.take(codes).set_axis(values.index)


def derive_vars_dt(
    frame: pd.DataFrame,
    dtc: str,
    prefix: str = "A",
    with_time: bool = False,
    time_imputation: str | None = None,
    highest_imputation: str = "n",
    date_imputation: str = "first",
    min_dates: Sequence[str | pd.Series] = (),
    max_dates: Sequence[str | pd.Series] = (),
) -> pd.DataFrame:
    """``{prefix}DT`` (+ ``{prefix}DTF``, ``{prefix}DTM``) from an ISO 8601 --DTC, so analyses compare
    real dates instead of text. admiral: derive_vars_dt (derive_vars_dtm with ``with_time``).

    Without imputation (``highest_imputation="n"``, admiral's default) a partial date gives NaT.
    ``highest_imputation`` "D" imputes a missing day, "M" a missing month and day, by
    ``date_imputation`` ("first", "mid", "last"); ``{prefix}DTF`` says what was imputed ("D"/"M").
    ``min_dates``/``max_dates`` (columns or Series) bound an imputed date, as admiral does: a bound
    lying within the range of dates the partial date allows replaces the imputation when it is
    later (min) / earlier (max) - e.g. an AE start in the month of the first dose is not imputed
    before that dose. ``{prefix}DTM`` (``with_time``) is NaT without a time unless
    ``time_imputation="first"`` (00:00:00); it is built from complete dates only."""
    if highest_imputation not in _LEVELS:
        raise ValueError("highest_imputation must be one of 'n', 'D', 'M', 'Y'")
    parts = _extract(frame[dtc], r"^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(:\d{2})?)?")
    date = pd.to_datetime(parts[0], format="%Y-%m-%d", errors="coerce")
    out = pd.DataFrame({f"{prefix}DT": date}, index=frame.index)
    if highest_imputation != "n":
        ymd = _extract(frame[dtc], r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")
        year, month, day = (pd.to_numeric(ymd[i], errors="coerce") for i in range(3))
        missing_level = np.select([year.isna(), month.isna(), day.isna()], [3, 2, 1], 0)
        partial = (missing_level > 0) & (missing_level <= _LEVELS[highest_imputation]) & year.notna()
        partial = pd.Series(partial, index=frame.index) & date.isna()
        first, last, imputed = _impute(year, month, day, date_imputation)
        for bound in min_dates:
            b = as_date(column(frame, bound))
            use = b.notna() & (b >= first) & (b <= last) & (b > imputed)
            imputed = imputed.where(~use, b)
        for bound in max_dates:
            b = as_date(column(frame, bound))
            use = b.notna() & (b >= first) & (b <= last) & (b < imputed)
            imputed = imputed.where(~use, b)
        out[f"{prefix}DT"] = date.where(~partial, imputed)
        dtf = np.where(partial, np.where(missing_level == 1, "D", np.where(missing_level == 2, "M", "Y")), None)
        out[f"{prefix}DTF"] = pd.Series(list(dtf), index=frame.index, dtype=object)
    if with_time:
        if time_imputation not in (None, "first"):
            raise ValueError("time_imputation must be None or 'first'")
        clock = parts[1] + parts[2].fillna(":00")
        if time_imputation == "first":
            clock = clock.fillna("00:00:00")
        out[f"{prefix}DTM"] = pd.to_datetime(
            parts[0] + "T" + clock, format="%Y-%m-%dT%H:%M:%S", errors="coerce"
        )
    return out


def derive_var_dy(dates: pd.Series, reference: pd.Series, name: str = "ADY") -> pd.Series:
    """ADY (or ASTDY, AENDY...) = date - reference, +1 on or after it: the SDTM study-day convention
    (no day 0), from ``aclf.timing``. admiral: derive_vars_dy."""
    return sdtm_day(day_difference(as_date(dates), as_date(reference))).astype("Int64").rename(name)


def derive_vars_duration(
    frame: pd.DataFrame,
    start_date: str = "ASTDT",
    end_date: str = "AENDT",
    new_var: str = "ADURN",
    new_var_unit: str | None = "ADURU",
    add_one: bool = True,
) -> pd.DataFrame:
    """ADURN (+ ADURU = "days"): whole days from start to end date. admiral: derive_vars_duration.

    ``add_one`` counts both ends (a one-day event lasts 1 day) when the duration is not negative,
    as admiral does; a missing date gives a missing duration (and unit)."""
    days = day_difference(as_date(frame[end_date]), as_date(frame[start_date])).astype(float)
    if add_one:
        days = days.where(days < 0, days + 1)
    out = pd.DataFrame({new_var: days.to_numpy(dtype=float, na_value=np.nan)}, index=frame.index)
    if new_var_unit:
        out[new_var_unit] = pd.Series(np.where(days.notna(), "days", None), index=frame.index, dtype=object)
    return out
