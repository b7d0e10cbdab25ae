"""Change from baseline: CHG and PCHG."""
from __future__ import annotations

import numpy as np
import pandas as pd

from cdisc.derive._common import Condition, condition


def derive_var_chg(
    frame: pd.DataFrame,
    value: str = "AVAL",
    base: str = "BASE",
    filter: Condition = None,
) -> pd.Series:
    """CHG = AVAL - BASE where ``filter`` holds (e.g. ``is_post_baseline``; None = every record).
    admiral: derive_var_chg (within restrict_derivation)."""
    chg = pd.to_numeric(frame[value], errors="coerce") - pd.to_numeric(frame[base], errors="coerce")
    return chg.where(condition(frame, filter)).astype(float).rename("CHG")


def derive_var_pchg(
    frame: pd.DataFrame,
    value: str = "AVAL",
    base: str = "BASE",
    filter: Condition = None,
) -> pd.Series:
    """PCHG = (AVAL - BASE) / |BASE| * 100 where ``filter`` holds; missing when BASE = 0, a change
    relative to nothing. admiral: derive_var_pchg."""
    aval = pd.to_numeric(frame[value], errors="coerce").astype(float)
    bval = pd.to_numeric(frame[base], errors="coerce").astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pchg = (aval - bval) / bval.abs() * 100
    pchg = pchg.where(bval.ne(0) & condition(frame, filter))
    return pchg.astype(float).rename("PCHG")
