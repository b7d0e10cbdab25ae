"""ISO 8601 dates as the sources write them: which values are real dates (full or partial)."""
from __future__ import annotations

import functools
from collections.abc import Callable

import pandas as pd

# [0-9], not \d: Python's \d matches the digits of every script, and '２０２４-05-17' would pass as a date
# and reach the XPT files as non-ASCII text
_FULL = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?)?$"
_PARTIAL = r"^[0-9]{4}(-[0-9]{2})?$"


def per_distinct(parse: Callable[[pd.Series], pd.Series]) -> Callable[[pd.Series], pd.Series]:
    """``parse`` applied once per distinct value and spread back: dates repeat (44 k distinct among
    800 k lab dates), and parsing is the cost."""
    @functools.wraps(parse)
    def wrapper(values: pd.Series, *args, **kwargs) -> pd.Series:
        codes, distinct = pd.factorize(values, use_na_sentinel=False)     # NaN is a value too
        parsed = parse(pd.Series(distinct, dtype=object), *args, **kwargs)
        return pd.Series(parsed.to_numpy()[codes], index=values.index, name=values.name)
    return wrapper


@per_distinct
def valid_iso(values: pd.Series, partial: bool = False) -> pd.Series:
    """True for a calendar-valid YYYY-MM-DD[THH:MM[:SS]] (and YYYY or YYYY-MM when ``partial``) or
    an empty value; False for anything else (2024-02-30, 1970-13-45, 'unknown')."""
    text = values.astype(object).fillna("").astype(str).str.strip()
    full = text.str.match(_FULL)
    real_day = pd.to_datetime(text.str[:10].where(full), format="%Y-%m-%d", errors="coerce").notna()
    clock = pd.to_datetime(text.str[11:16].where(full & (text.str.len() > 10)), format="%H:%M", errors="coerce")
    ok = full & real_day & (clock.notna() | (text.str.len() <= 10))
    if partial:
        months = text.str.extract(r"^[0-9]{4}-([0-9]{2})$")[0].astype(float)
        ok |= text.str.match(_PARTIAL) & (months.isna() | months.between(1, 12))
    return ok | (text == "")


@per_distinct
def date_part(values: pd.Series) -> pd.Series:
    """The date of a full ISO date(-time) as datetime64; NaT for a partial, invalid or empty one."""
    text = values.astype(object).fillna("").astype(str)   # object first: an empty or all-missing float
    return pd.to_datetime(text.str[:10].where(text.str.len() >= 10), format="%Y-%m-%d", errors="coerce")
