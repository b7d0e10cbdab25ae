"""Baseline: which record is the baseline (ABLFL) and its value carried to the by-group (BASE...)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from cdisc.derive._common import FLAG, Condition, as_date, condition, keys, time_of_day
from cdisc.derive.flags import derive_var_extreme_flag


def derive_var_ablfl(
    frame: pd.DataFrame,
    by: str | Sequence[str],
    order: str | Sequence[str],
    value: str | Sequence[str] = "AVAL",
    date: str = "ADT",
    ref_date: str = "TRTSDT",
    time: str | None = None,
    ref_time: str | None = None,
    filter: Condition = None,
    time_imputed: Condition = None,
    ref_time_imputed: Condition = None,
    new_var: str = "ABLFL",
) -> pd.Series:
    """ABLFL: the last record with a value on or before the reference date, the baseline to compare
    to. admiral: restrict_derivation(derive_var_extreme_flag, filter = ... ADT <= TRTSDT).

    "Y" on the last record by ``order`` per by-group (put BASETYPE in ``by`` for several baseline
    types) where a ``value`` column (any of several, e.g. AVAL or AVALC) is present, ``date`` <=
    ``ref_date`` and ``filter`` holds. With ``time``/``ref_time`` a same-day record counts only when
    its time is before the reference time or either time is missing; an imputed time (``*_imputed``
    true, e.g. ``TRTSTMF`` present) counts as missing."""
    d, r = as_date(frame[date]), as_date(frame[ref_date])
    present = np.zeros(len(frame), dtype=bool)
    for v in keys(value):
        present |= frame[v].notna().to_numpy()
    eligible = pd.Series(present, index=frame.index) & d.notna() & r.notna() & (d <= r)
    if time is not None or ref_time is not None:
        t = time_of_day(frame[time]) if time is not None else pd.Series(np.nan, index=frame.index)
        rt = (time_of_day(frame[ref_time]) if ref_time is not None
              else pd.Series(np.nan, index=frame.index))
        if time_imputed is not None:
            t = t.where(~condition(frame, time_imputed))
        if ref_time_imputed is not None:
            rt = rt.where(~condition(frame, ref_time_imputed))
        same_day = d == r
        eligible &= ~same_day | t.isna() | rt.isna() | (t < rt)
    eligible &= condition(frame, filter)
    return derive_var_extreme_flag(frame, by, order, mode="last", filter=eligible, new_var=new_var)


def derive_var_base(
    frame: pd.DataFrame,
    by: str | Sequence[str],
    source_var: str = "AVAL",
    new_var: str = "BASE",
    flag: str = "ABLFL",
) -> pd.Series:
    """BASE/BASEC/BNRIND...: the baseline record's ``source_var`` carried to its by-group (include
    BASETYPE in ``by`` for several baseline types). admiral: derive_var_base.

    More than one baseline record in a by-group is an error."""
    by = keys(by)
    is_base = frame[flag].eq(FLAG).fillna(False).astype(bool)
    base = frame.loc[is_base, by + [source_var]]
    dup = base.duplicated(by, keep=False)
    if dup.any():
        examples = base.loc[dup, by].drop_duplicates().head().to_dict("records")
        raise ValueError(f"more than one {flag} record per {by}: {examples}")
    merged = frame[by].merge(base, on=by, how="left", sort=False)
    return pd.Series(merged[source_var].to_numpy(), index=frame.index, name=new_var)


def is_post_baseline(
    frame: pd.DataFrame,
    rule: str = "visit",
    visitn: str = "AVISITN",
    baseline_visitn: float = 0,
    date: str = "ADT",
    ref_date: str = "TRTSDT",
) -> pd.Series:
    """A post-baseline condition for CHG/PCHG (their ``filter``), because change is only defined
    after baseline. admiral: the templates' restrict_derivation filter ``AVISITN > 0``.

    ``rule="visit"``: AVISITN > ``baseline_visitn``; ``rule="date"``: ADT > TRTSDT. Missing values
    -> not post-baseline."""
    if rule == "visit":
        out = pd.to_numeric(frame[visitn], errors="coerce") > baseline_visitn
    elif rule == "date":
        out = as_date(frame[date]) > as_date(frame[ref_date])
    else:
        raise ValueError("rule must be 'visit' or 'date'")
    return out.fillna(False).astype(bool).rename("POSTBL")
