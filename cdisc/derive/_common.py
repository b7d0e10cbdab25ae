"""Shared helpers of the derivation verbs: conditions, flags, date coercion, by-group ordering.

Not part of the public vocabulary; every verb module imports from here so that a condition, a flag
or a "last by order" means the same thing everywhere.
"""
from __future__ import annotations

from typing import Callable, Sequence, Union

import numpy as np
import pandas as pd

from aclf.isodate import per_distinct

Condition = Union[None, str, pd.Series, Callable[[pd.DataFrame], pd.Series]]

FLAG = "Y"


def as_datetime(values) -> pd.Series:
    """Any date-like Series as tz-naive datetime64 (ISO text, date objects, tz-aware stamps)."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        non_null = s.dropna()
        if len(non_null) and isinstance(non_null.iloc[0], str):
            return _iso_datetime(s)
    out = pd.to_datetime(s, errors="coerce")
    if isinstance(out.dtype, pd.DatetimeTZDtype):
        out = out.dt.tz_localize(None)
    return out


@per_distinct
def _iso_datetime(values: pd.Series) -> pd.Series:
    parts = values.astype("string").str.extract(r"^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(:\d{2})?)?")
    clock = (parts[1] + parts[2].fillna(":00")).fillna("00:00:00")
    return pd.to_datetime(parts[0] + "T" + clock, format="%Y-%m-%dT%H:%M:%S", errors="coerce")


def as_date(values) -> pd.Series:
    """Any date-like column (ISO text, date objects, tz-aware stamps) as datetime64 dates."""
    return as_datetime(values).dt.normalize()


def time_of_day(values: pd.Series) -> pd.Series:
    """Seconds since midnight from a date-time column or ``HH:MM[:SS]`` / ISO text; NaN if absent."""
    s = values
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_localize(None)
        return (s - s.dt.normalize()).dt.total_seconds()
    return _clock_seconds(s)


@per_distinct
def _clock_seconds(values: pd.Series) -> pd.Series:
    parts = values.astype("string").str.extract(r"(?:^|T)(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?$")
    h, m, sec = (pd.to_numeric(parts[i], errors="coerce") for i in range(3))
    return (h * 3600 + m * 60 + sec.fillna(0)).astype(float)


def condition(frame: pd.DataFrame, cond: Condition) -> pd.Series:
    """A boolean mask aligned on ``frame``: None -> all true; missing values -> false."""
    if cond is None:
        return pd.Series(True, index=frame.index)
    if callable(cond) and not isinstance(cond, pd.Series):
        cond = cond(frame)
    elif isinstance(cond, str):
        cond = frame[cond] if cond in frame.columns else frame.eval(cond)
    mask = pd.Series(cond, index=frame.index) if not isinstance(cond, pd.Series) else cond
    return mask.astype("boolean").fillna(False).astype(bool)


def flags(mask, index: pd.Index, name: str | None = None) -> pd.Series:
    """``"Y"`` where ``mask`` is true, missing elsewhere."""
    values = np.where(np.asarray(mask, dtype=bool), FLAG, None)
    return pd.Series(list(values), index=index, name=name, dtype=object)


def keys(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def sort_spec(order: str | Sequence[str]) -> tuple[list[str], list[bool]]:
    """Order items as (columns, ascending); ``"-COL"`` sorts COL descending."""
    cols, asc = [], []
    for item in keys(order):
        descending = item.startswith("-")
        cols.append(item[1:] if descending else item)
        asc.append(not descending)
    return cols, asc


def select_extreme(frame: pd.DataFrame, mask: pd.Series, by, order, mode: str) -> np.ndarray:
    """Positions (0-based) of the first/last record by ``order`` within each ``by`` group.

    Sorts ascending with missing values last (dplyr ``arrange``), ties broken by input order."""
    if mode not in ("first", "last"):
        raise ValueError("mode must be 'first' or 'last'")
    by, (cols, asc) = keys(by), sort_spec(order)
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    sub = frame[by + [c for c in cols if c not in by]].iloc[positions].reset_index(drop=True)  # only these copied
    for c in cols:  # dates as datetimes so that object/date columns sort correctly
        if sub[c].dtype == object and len(sub[c].dropna()) and hasattr(sub[c].dropna().iloc[0], "year"):
            sub[c] = as_datetime(sub[c])
    sub["__pos"] = positions
    sub = sub.sort_values(cols + ["__pos"], ascending=asc + [True], na_position="last", kind="stable")
    if by:
        grouped = sub.groupby(by, dropna=False, sort=False)
        picked = grouped.tail(1) if mode == "last" else grouped.head(1)
    else:
        picked = sub.tail(1) if mode == "last" else sub.head(1)
    return picked["__pos"].to_numpy()


def group_ids(frame: pd.DataFrame, by: Sequence[str]) -> np.ndarray:
    """One integer per by-group (missing key values form their own group)."""
    if not by:
        return np.zeros(len(frame), dtype=int)
    return frame.groupby(list(by), dropna=False, sort=False).ngroup().to_numpy()


def column(frame: pd.DataFrame, spec, name: str | None = None) -> pd.Series:
    """A column given by name, or a Series/array/scalar aligned on ``frame`` (None -> all missing)."""
    if isinstance(spec, str):
        return frame[spec]
    if spec is None:
        return pd.Series(np.nan, index=frame.index, name=name)
    if isinstance(spec, pd.Series):
        return spec
    if np.ndim(spec) == 0:
        return pd.Series([spec] * len(frame), index=frame.index, name=name)
    return pd.Series(spec, index=frame.index, name=name)
