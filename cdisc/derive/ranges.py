"""Reference ranges: ANRIND (and BNRIND via derive_var_base)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from cdisc.derive._common import column


def _signif(x: pd.Series, digits: int | None) -> pd.Series:
    """R's signif(): round to ``digits`` significant digits (None: unchanged)."""
    x = pd.to_numeric(x, errors="coerce").astype(float)
    if digits is None:
        return x
    arr = x.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.floor(np.log10(np.abs(arr)))
        scale = np.power(10.0, digits - 1 - np.where(np.isfinite(mag), mag, 0))
        out = np.where(np.isfinite(arr) & (arr != 0), np.round(arr * scale) / scale, arr)
    return pd.Series(out, index=x.index)


def derive_var_anrind(
    frame: pd.DataFrame,
    value: str = "AVAL",
    low: str = "ANRLO",
    high: str = "ANRHI",
    low_low: str | None = None,
    high_high: str | None = None,
    signif_digits: int | None = 15,
    new_var: str = "ANRIND",
) -> pd.Series:
    """ANRIND: LOW/NORMAL/HIGH of ``value`` against the chosen range columns, a missing limit open.
    admiral: derive_var_anrind.

    LOW LOW / HIGH HIGH beyond the optional ``low_low``/``high_high`` (e.g. A1LO/A1HI); a missing
    value or both limits missing -> missing. Values are compared at ``signif_digits`` significant
    digits, as admiral does. Columns may also be given as Series."""
    idx = frame.index
    v, lo, hi = (_signif(column(frame, c), signif_digits) for c in (value, low, high))
    a1lo = _signif(column(frame, low_low), signif_digits)
    a1hi = _signif(column(frame, high_high), signif_digits)
    conditions = [
        (v >= lo) & hi.isna(),
        (v <= hi) & lo.isna(),
        (v >= lo) & (v <= hi),
        (v < lo) & (a1lo.isna() | (v >= a1lo)),
        (v > hi) & (a1hi.isna() | (v <= a1hi)),
        v < a1lo,
        v > a1hi,
    ]
    choices = ["NORMAL", "NORMAL", "NORMAL", "LOW", "HIGH", "LOW LOW", "HIGH HIGH"]
    out = np.select([c.to_numpy(dtype=bool) for c in conditions], choices, default="")
    return pd.Series([c or None for c in out], index=idx, name=new_var, dtype=object)
