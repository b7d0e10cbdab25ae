"""Analysis visits: AVISIT/AVISITN from the collected visit label by rules, or from the day by windows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from aclf.timing import window_index


@dataclass(frozen=True)
class VisitRule:
    """Visits whose label matches ``pattern`` (a regex, searched) get this analysis visit.

    ``exclude=True``: no analysis visit (AVISIT and AVISITN missing), e.g. screening, unscheduled
    or ambulatory visits. Otherwise AVISIT = ``avisit`` (None: the default label rule) and AVISITN
    = ``avisitn`` (None: the default number rule)."""

    pattern: str
    avisit: str | None = None
    avisitn: float | None = None
    exclude: bool = False


def _title_case(text: pd.Series) -> pd.Series:
    """stringr::str_to_title-like: every word lower-cased then capitalised ("AMBUL ECG" -> "Ambul Ecg")."""
    lower = text.astype("string").str.lower()
    return lower.str.replace(r"(?<![A-Za-z0-9'])([a-z])", lambda m: m.group(1).upper(), regex=True)


def derive_vars_avisit(
    frame: pd.DataFrame,
    visit: str = "VISIT",
    visitnum: str | None = "VISITNUM",
    rules: Sequence[VisitRule] = (),
    title_case: bool = True,
    avisitn_from_label: str | None = None,
) -> pd.DataFrame:
    """AVISIT/AVISITN from the collected visit label by the study's rules, so every template's
    visit mapping is a parameter. admiral: the templates' ``mutate(AVISIT = case_when(...))``.

    The first matching rule wins. Unmatched visits: AVISIT is the label (title-cased when
    ``title_case``, as str_to_title in admiral's templates); AVISITN is taken from the label by the
    regex ``avisitn_from_label`` (its first group, e.g. ``r"WEEK\\s*(\\d+)"``: "WEEK 12" -> 12; no
    match -> missing) when given, else VISITNUM. A missing label gives both missing."""
    text = frame[visit].astype("string")
    avisit = (_title_case(text) if title_case else text).astype(object).to_numpy(copy=True)
    if avisitn_from_label is not None:
        found = text.str.extract(avisitn_from_label, expand=True)[0]
        avisitn = pd.to_numeric(found, errors="coerce").astype(float).to_numpy(copy=True)
    elif visitnum is not None:
        avisitn = pd.to_numeric(frame[visitnum], errors="coerce").astype(float).to_numpy(copy=True)
    else:
        avisitn = np.full(len(frame), np.nan)
    decided = np.zeros(len(frame), dtype=bool)
    for rule in rules:
        hit = text.str.contains(rule.pattern, regex=True, na=False).to_numpy(dtype=bool) & ~decided
        if rule.exclude:
            avisit[hit], avisitn[hit] = None, np.nan
        else:
            if rule.avisit is not None:
                avisit[hit] = rule.avisit
            if rule.avisitn is not None:
                avisitn[hit] = float(rule.avisitn)
        decided |= hit
    missing = text.isna().to_numpy()
    avisit = np.array([None if (m or pd.isna(v)) else v for v, m in zip(avisit, missing)], dtype=object)
    avisitn[missing] = np.nan
    return pd.DataFrame({"AVISIT": pd.Series(avisit, index=frame.index, dtype=object),
                         "AVISITN": avisitn}, index=frame.index)


def derive_vars_avisit_window(
    day: pd.Series,
    windows: Sequence[tuple[str, float, float, float]],
    unscheduled: str | None = "UNSCHEDULED",
) -> pd.DataFrame:
    """AVISIT/AVISITN from the window containing the day, so the analysis visit follows the date.
    admiral: the visit-window lookups of its "Visit and Period Variables" vignette.

    ``windows`` are (AVISIT, AVISITN, low, high), bounds inclusive, first match wins (the study's
    window arithmetic, ``aclf.timing.window_index``); outside every window -> ``unscheduled`` with
    AVISITN missing; a missing day -> both missing."""
    day = pd.to_numeric(day, errors="coerce").astype(float)
    hit = window_index(day, [(low, high) for _, _, low, high in windows])
    codes = np.array([code for code, *_ in windows] + [unscheduled], dtype=object)
    nums = np.array([float(num) for _, num, _, _ in windows] + [np.nan])
    avisit = pd.Series(np.where(day.notna(), codes[hit], None), index=day.index, dtype=object, name="AVISIT")
    avisitn = pd.Series(nums[hit], index=day.index, name="AVISITN")
    return pd.DataFrame({"AVISIT": avisit, "AVISITN": avisitn})
