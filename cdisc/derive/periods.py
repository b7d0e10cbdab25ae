"""Periods: which treatment period a record belongs to (APERIOD)."""
from __future__ import annotations

import pandas as pd

from cdisc.derive._common import as_date


def derive_var_aperiod(
    frame: pd.DataFrame,
    periods: pd.DataFrame,
    date: str = "ADT",
    subject: str = "USUBJID",
    start: str = "AP{n:02d}SDT",
    end: str = "AP{n:02d}EDT",
) -> pd.Series:
    """APERIOD: the period whose dates contain the record's date, to attribute a record to a
    treatment period. admiral: derive_vars_joined with the period reference dataset
    (create_period_dataset), by date.

    ``periods``: one row per subject with ``start``/``end`` columns for n = 1, 2, ... (default ADSL
    APxxSDT/APxxEDT); the first period n with start <= date <= end wins; a missing end is open."""
    numbers = sorted(
        n for n in range(1, 100)
        if start.format(n=n) in periods.columns and end.format(n=n) in periods.columns
    )
    if not numbers:
        raise ValueError(f"no period columns like {start.format(n=1)}/{end.format(n=1)}")
    table = periods.drop_duplicates(subject).set_index(subject)
    a = as_date(frame[date])
    who = frame[subject]
    result = pd.Series(pd.NA, index=frame.index, dtype="Int64", name="APERIOD")
    for n in numbers:
        ps = as_date(who.map(table[start.format(n=n)]))
        pe = as_date(who.map(table[end.format(n=n)]))
        hit = result.isna() & a.notna() & ps.notna() & (ps <= a) & (pe.isna() | (a <= pe))
        result[hit] = n
    return result
