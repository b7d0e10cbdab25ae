"""Generic ADaM derivations in the spirit of admiral (pharmaverse), on pandas.

Every function takes a DataFrame (or Series) and column names/parameters and returns *new*
values — a Series for one variable, a DataFrame for several — aligned on the input's index; the
input is never modified. No study fact lives here: visit windows, baseline rules, periods and
event definitions are parameters, so the study configuration decides them.

Conventions (admiral's, unless a docstring says otherwise):
- dates are pandas ``datetime64`` values at midnight (``ADT``), date-times keep their time
  (``ADTM``); ISO 8601 text, ``datetime.date`` objects and tz-aware stamps are accepted on input;
- flags are ``"Y"`` or missing (never ``"N"``);
- a condition (``filter=``) is a boolean Series, a column name / ``DataFrame.eval`` expression,
  or a callable taking the frame; a missing condition value counts as false (like dplyr's
  ``filter``);
- "last by order" sorts ascending with missing values last (dplyr ``arrange``) and breaks ties by
  the input row order (dplyr's stable sort), then takes the last row of each by-group; an order
  item written ``"-COL"`` sorts that column descending (missing still last).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, Union

import numpy as np
import pandas as pd

from aclf.timing import day_difference, sdtm_day, window_index

__all__ = [
    "Condition",
    "as_date",
    "EventSource",
    "CensorSource",
    "analysis_date",
    "analysis_day",
    "analysis_visit_by_window",
    "analysis_visit_from_visit",
    "baseline_flag",
    "derive_base",
    "post_baseline",
    "derive_chg",
    "derive_pchg",
    "range_indicator",
    "on_treatment_flag",
    "analysis_flag_last",
    "extreme_flag",
    "period_by_dates",
    "time_to_event",
]

Condition = Union[None, str, pd.Series, Callable[[pd.DataFrame], pd.Series]]

_FLAG = "Y"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _as_datetime(values) -> pd.Series:
    """Any date-like Series as tz-naive datetime64 (ISO text, date objects, tz-aware stamps)."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        non_null = s.dropna()
        if len(non_null) and isinstance(non_null.iloc[0], str):
            parsed = analysis_date(s.to_frame("DTC"), "DTC", prefix="", with_time=True)
            return parsed["DTM"].fillna(parsed["DT"])
    out = pd.to_datetime(s, errors="coerce")
    if isinstance(out.dtype, pd.DatetimeTZDtype):
        out = out.dt.tz_localize(None)
    return out


def _as_date(values) -> pd.Series:
    """Any date-like Series as datetime64 at midnight (time of day dropped)."""
    return _as_datetime(values).dt.normalize()


def _time_of_day(values: pd.Series) -> pd.Series:
    """Seconds since midnight from a date-time column or ``HH:MM[:SS]`` / ISO text; NaN if absent."""
    s = values
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_localize(None)
        return (s - s.dt.normalize()).dt.total_seconds()
    text = s.astype("string")
    parts = text.str.extract(r"(?:^|T)(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?$")
    h, m, sec = (pd.to_numeric(parts[i], errors="coerce") for i in range(3))
    return (h * 3600 + m * 60 + sec.fillna(0)).astype(float)


def _condition(frame: pd.DataFrame, cond: Condition) -> pd.Series:
    """A boolean mask aligned on ``frame``: None -> all true; missing values -> false."""
    if cond is None:
        return pd.Series(True, index=frame.index)
    if callable(cond) and not isinstance(cond, pd.Series):
        cond = cond(frame)
    elif isinstance(cond, str):
        cond = frame[cond] if cond in frame.columns else frame.eval(cond)
    mask = pd.Series(cond, index=frame.index) if not isinstance(cond, pd.Series) else cond
    return mask.astype("boolean").fillna(False).astype(bool)


def _flags(mask: np.ndarray | pd.Series, index: pd.Index, name: str | None = None) -> pd.Series:
    """``"Y"`` where ``mask`` is true, missing elsewhere."""
    values = np.where(np.asarray(mask, dtype=bool), _FLAG, None)
    return pd.Series(list(values), index=index, name=name, dtype=object)


def _keys(by: str | Sequence[str]) -> list[str]:
    return [by] if isinstance(by, str) else list(by)


def _sort_spec(order: str | Sequence[str]) -> tuple[list[str], list[bool]]:
    cols, asc = [], []
    for item in _keys(order):
        descending = item.startswith("-")
        cols.append(item[1:] if descending else item)
        asc.append(not descending)
    return cols, asc


def _select_extreme(frame: pd.DataFrame, mask: pd.Series, by, order, mode: str) -> np.ndarray:
    """Positions (0-based) of the first/last record by ``order`` within each ``by`` group."""
    if mode not in ("first", "last"):
        raise ValueError("mode must be 'first' or 'last'")
    by, (cols, asc) = _keys(by), _sort_spec(order)
    positions = np.flatnonzero(mask.to_numpy())
    sub = frame.iloc[positions][by + [c for c in cols if c not in by]].reset_index(drop=True)
    for c in cols:  # dates as datetimes so that object/date columns sort correctly
        if sub[c].dtype == object and len(sub[c].dropna()) and hasattr(sub[c].dropna().iloc[0], "year"):
            sub[c] = _as_datetime(sub[c])
    sub["__pos"] = positions
    sub = sub.sort_values(cols + ["__pos"], ascending=asc + [True], na_position="last", kind="stable")
    grouped = sub.groupby(by, dropna=False, sort=False) if by else None
    picked = (grouped.tail(1) if mode == "last" else grouped.head(1)) if grouped is not None else (
        sub.tail(1) if mode == "last" else sub.head(1))
    return picked["__pos"].to_numpy()


# ---------------------------------------------------------------------------------------------
# dates, days, visits
# ---------------------------------------------------------------------------------------------
def as_date(values) -> pd.Series:
    """Any date-like column (ISO text, date objects, tz-aware stamps) as datetime64 dates."""
    return _as_date(values)


def analysis_date(
    frame: pd.DataFrame,
    dtc: str,
    prefix: str = "A",
    with_time: bool = False,
    time_imputation: str | None = None,
) -> pd.DataFrame:
    """ADT (+ ADTM) from an ISO 8601 --DTC, so analyses compare real dates instead of text.

    Returns a DataFrame with ``{prefix}DT`` (and ``{prefix}DTM`` when ``with_time``). A partial
    date gives NaT — no imputation, as admiral derive_vars_dt by default; ``{prefix}DTM`` is NaT
    without a time unless ``time_imputation="first"`` (00:00:00)."""
    text = frame[dtc].astype("string")
    parts = text.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(:\d{2})?)?")
    date = pd.to_datetime(parts[0], format="%Y-%m-%d", errors="coerce")
    out = pd.DataFrame({f"{prefix}DT": date}, index=frame.index)
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


def analysis_day(adt: pd.Series, ref: pd.Series) -> pd.Series:
    """ADY = ADT - reference date, +1 on or after it: the SDTM study-day convention (no day 0)."""
    return sdtm_day(day_difference(_as_date(adt), _as_date(ref))).astype("Int64").rename("ADY")


def analysis_visit_by_window(
    day: pd.Series,
    windows: Sequence[tuple[str, float, float, float]],
    unscheduled: str | None = "UNSCHEDULED",
) -> pd.DataFrame:
    """AVISIT/AVISITN from the window containing the day, so the analysis visit follows the date.

    ``windows`` are (code, visitnum, low, high), bounds inclusive, first match wins; outside every
    window -> ``unscheduled`` with AVISITN missing; a missing day -> both missing."""
    day = pd.to_numeric(day, errors="coerce").astype(float)
    hit = window_index(day, [(low, high) for _, _, low, high in windows])
    codes = np.array([code for code, *_ in windows] + [unscheduled], dtype=object)
    nums = np.array([float(num) for _, num, _, _ in windows] + [np.nan])
    avisit = pd.Series(np.where(day.notna(), codes[hit], None), index=day.index, dtype=object, name="AVISIT")
    avisitn = pd.Series(nums[hit], index=day.index, name="AVISITN")
    return pd.DataFrame({"AVISIT": avisit, "AVISITN": avisitn})


def _title_case(text: pd.Series) -> pd.Series:
    """stringr::str_to_title-like: every word lower-cased then capitalised ("AMBUL ECG" -> "Ambul Ecg")."""
    lower = text.astype("string").str.lower()
    return lower.str.replace(r"(?<![A-Za-z0-9'])([a-z])", lambda m: m.group(1).upper(), regex=True)


def analysis_visit_from_visit(
    visit: pd.Series,
    visitnum: pd.Series,
    baseline_pattern: str = "SCREEN",
    baseline_visit: str = "Baseline",
    baseline_visitnum: float = 0,
    title_case: bool = True,
) -> pd.DataFrame:
    """AVISIT/AVISITN from the collected visit label, as admiral's ADLB/ADVS templates map them.

    A visit matching ``baseline_pattern`` becomes ``baseline_visit`` (AVISITN =
    ``baseline_visitnum``); every other visit is title-cased with AVISITN = VISITNUM."""
    text = visit.astype("string")
    is_base = text.str.contains(baseline_pattern, regex=True, na=False).to_numpy(dtype=bool)
    shown = (_title_case(text) if title_case else text).astype(object)
    avisit = np.where(is_base, baseline_visit, shown.to_numpy())
    avisit = np.array([None if pd.isna(v) else v for v in avisit], dtype=object)
    avisitn = pd.to_numeric(visitnum, errors="coerce").astype(float).to_numpy()
    avisitn = np.where(avisit == baseline_visit, float(baseline_visitnum), avisitn)
    avisitn = np.where(pd.isna(avisit), np.nan, avisitn)
    return pd.DataFrame({"AVISIT": avisit, "AVISITN": avisitn}, index=visit.index)


# ---------------------------------------------------------------------------------------------
# baseline, change, reference ranges
# ---------------------------------------------------------------------------------------------
def extreme_flag(
    frame: pd.DataFrame,
    by: str | Sequence[str],
    order: str | Sequence[str],
    mode: str = "last",
    filter: Condition = None,
) -> pd.Series:
    """"Y" on the first/last record by ``order`` per by-group: admiral's derive_var_extreme_flag.

    Only records where ``filter`` holds take part (admiral restrict_derivation)."""
    mask = _condition(frame, filter)
    chosen = np.zeros(len(frame), dtype=bool)
    chosen[_select_extreme(frame, mask, by, order, mode)] = True
    return _flags(chosen, frame.index)


def baseline_flag(
    frame: pd.DataFrame,
    by: str | Sequence[str],
    order: str | Sequence[str],
    value: str = "AVAL",
    date: str = "ADT",
    ref_date: str = "TRTSDT",
    time: str | None = None,
    ref_time: str | None = None,
    filter: Condition = None,
    time_imputed: Condition = None,
    ref_time_imputed: Condition = None,
) -> pd.Series:
    """ABLFL: the last non-missing value on or before the reference date, the baseline to compare to.

    "Y" on the last record by ``order`` per by-group with ``value`` present and ``date`` <=
    ``ref_date`` (admiral's template, date only). With ``time``/``ref_time`` a same-day record
    counts only when its time is before the reference time or either time is missing; an imputed
    time (``*_imputed`` true, e.g. ``TRTSTMF`` present) counts as missing."""
    d, r = _as_date(frame[date]), _as_date(frame[ref_date])
    eligible = frame[value].notna() & d.notna() & r.notna() & (d <= r)
    if time is not None or ref_time is not None:
        t = _time_of_day(frame[time]) if time is not None else pd.Series(np.nan, index=frame.index)
        rt = (_time_of_day(frame[ref_time]) if ref_time is not None
              else pd.Series(np.nan, index=frame.index))
        if time_imputed is not None:
            t = t.where(~_condition(frame, time_imputed))
        if ref_time_imputed is not None:
            rt = rt.where(~_condition(frame, ref_time_imputed))
        same_day = d == r
        eligible &= ~same_day | t.isna() | rt.isna() | (t < rt)
    eligible &= _condition(frame, filter)
    return extreme_flag(frame, by, order, mode="last", filter=eligible).rename("ABLFL")


def derive_base(
    frame: pd.DataFrame,
    by: str | Sequence[str],
    source: str = "AVAL",
    target: str = "BASE",
    flag: str = "ABLFL",
) -> pd.Series:
    """BASE/BNRIND/...: the baseline record's ``source`` carried to its by-group (derive_var_base).

    More than one baseline record in a by-group is an error."""
    by = _keys(by)
    is_base = frame[flag].eq(_FLAG).fillna(False).astype(bool)
    base = frame.loc[is_base, by + [source]]
    dup = base.duplicated(by, keep=False)
    if dup.any():
        examples = base.loc[dup, by].drop_duplicates().head().to_dict("records")
        raise ValueError(f"more than one {flag} record per {by}: {examples}")
    merged = frame[by].merge(base, on=by, how="left", sort=False)
    return pd.Series(merged[source].to_numpy(), index=frame.index, name=target)


def post_baseline(
    frame: pd.DataFrame,
    rule: str = "visit",
    visitn: str = "AVISITN",
    baseline_visitn: float = 0,
    date: str = "ADT",
    ref_date: str = "TRTSDT",
) -> pd.Series:
    """Post-baseline mask for CHG/PCHG, because change is only defined after baseline.

    ``rule="visit"``: AVISITN > ``baseline_visitn`` (admiral's ADLB template: AVISITN > 0);
    ``rule="date"``: ADT > TRTSDT. Missing values -> not post-baseline."""
    if rule == "visit":
        out = pd.to_numeric(frame[visitn], errors="coerce") > baseline_visitn
    elif rule == "date":
        out = _as_date(frame[date]) > _as_date(frame[ref_date])
    else:
        raise ValueError("rule must be 'visit' or 'date'")
    return out.fillna(False).astype(bool).rename("POSTBL")


def derive_chg(
    frame: pd.DataFrame,
    value: str = "AVAL",
    base: str = "BASE",
    post_baseline: Condition = None,
) -> pd.Series:
    """CHG = AVAL - BASE on post-baseline records (``post_baseline``; None = all, as derive_var_chg)."""
    chg = pd.to_numeric(frame[value], errors="coerce") - pd.to_numeric(frame[base], errors="coerce")
    return chg.where(_condition(frame, post_baseline)).astype(float).rename("CHG")


def derive_pchg(
    frame: pd.DataFrame,
    value: str = "AVAL",
    base: str = "BASE",
    post_baseline: Condition = None,
) -> pd.Series:
    """PCHG = (AVAL - BASE) / |BASE| * 100 post-baseline; missing when BASE = 0 (derive_var_pchg)."""
    aval = pd.to_numeric(frame[value], errors="coerce").astype(float)
    bval = pd.to_numeric(frame[base], errors="coerce").astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pchg = (aval - bval) / bval.abs() * 100
    pchg = pchg.where(bval.ne(0) & _condition(frame, post_baseline))
    return pchg.astype(float).rename("PCHG")


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


def range_indicator(
    value: pd.Series,
    low: pd.Series,
    high: pd.Series,
    low_low: pd.Series | None = None,
    high_high: pd.Series | None = None,
    signif_digits: int | None = 15,
) -> pd.Series:
    """ANRIND: LOW/NORMAL/HIGH against the reference range, a missing limit open (derive_var_anrind).

    LOW LOW / HIGH HIGH beyond the optional A1LO/A1HI; a missing value or both limits missing ->
    missing. Values are compared at ``signif_digits`` significant digits, as admiral does."""
    idx = value.index
    v, lo, hi = (_signif(pd.Series(s, index=idx), signif_digits) for s in (value, low, high))
    a1lo = (_signif(pd.Series(low_low, index=idx), signif_digits) if low_low is not None
            else pd.Series(np.nan, index=idx))
    a1hi = (_signif(pd.Series(high_high, index=idx), signif_digits) if high_high is not None
            else pd.Series(np.nan, index=idx))
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
    return pd.Series([c or None for c in out], index=idx, name="ANRIND", dtype=object)


def on_treatment_flag(
    adt: pd.Series,
    trtsdt: pd.Series,
    trtedt: pd.Series | None = None,
    end_window_days: int = 0,
    pre_timepoint: pd.Series | None = None,
) -> pd.Series:
    """ONTRTFL: is the assessment within treatment (+ window)? admiral derive_var_ontrtfl, one date.

    "Y" when ADT is missing and TRTSDT is not; when ADT = TRTSDT unless ``pre_timepoint`` (e.g.
    a baseline visit); when TRTSDT < ADT <= TRTEDT + ``end_window_days`` (no TRTEDT: any later ADT)."""
    a, s = _as_date(adt), _as_date(trtsdt)
    flag = (a.isna() & s.notna()) | (a.notna() & s.notna() & (a == s))
    if pre_timepoint is not None:
        pre = pd.Series(pre_timepoint, index=a.index).astype("boolean").fillna(False).astype(bool)
        flag &= ~pre
    if trtedt is None:
        flag |= s.notna() & a.notna() & (s < a)
    else:
        e = _as_date(trtedt) + pd.Timedelta(days=int(end_window_days))
        flag |= s.notna() & a.notna() & e.notna() & (s < a) & (a <= e)
    return _flags(flag, a.index, name="ONTRTFL")


def analysis_flag_last(
    frame: pd.DataFrame,
    by: str | Sequence[str],
    order: str | Sequence[str],
    filter: Condition = None,
) -> pd.Series:
    """ANL01FL: one analysis record per by-group (e.g. visit) — the last by ``order`` among ``filter``."""
    return extreme_flag(frame, by, order, mode="last", filter=filter).rename("ANL01FL")


# ---------------------------------------------------------------------------------------------
# periods
# ---------------------------------------------------------------------------------------------
def period_by_dates(
    adt: pd.Series,
    subject: pd.Series,
    periods: pd.DataFrame,
    subject_col: str = "USUBJID",
    start: str = "AP{n:02d}SDT",
    end: str = "AP{n:02d}EDT",
) -> pd.Series:
    """APERIOD: the period whose dates contain ADT, to attribute a record to a treatment period.

    Per-subject columns ``start``/``end`` for n = 1, 2, ... (default ADSL APxxSDT/APxxEDT); the
    first period n with start <= ADT <= end wins; a missing end leaves the period open."""
    numbers = sorted(
        n for n in range(1, 100)
        if start.format(n=n) in periods.columns and end.format(n=n) in periods.columns
    )
    if not numbers:
        raise ValueError(f"no period columns like {start.format(n=1)}/{end.format(n=1)}")
    table = periods.drop_duplicates(subject_col).set_index(subject_col)
    a = _as_date(adt)
    result = pd.Series(pd.NA, index=adt.index, dtype="Int64", name="APERIOD")
    for n in numbers:
        ps = _as_date(subject.map(table[start.format(n=n)]))
        pe = _as_date(subject.map(table[end.format(n=n)]))
        hit = result.isna() & a.notna() & ps.notna() & (ps <= a) & (pe.isna() | (a <= pe))
        result[hit] = n
    return result


# ---------------------------------------------------------------------------------------------
# time to event
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _DateSource:
    """Records of one domain that give a date per subject (event or censoring)."""

    data: pd.DataFrame
    date: str
    description: str
    cnsr: int = 0
    srcdom: str | None = None
    srcvar: str | None = None
    seq: str | None = None
    filter: Condition = None
    subject: str = "USUBJID"

    def dates(self) -> pd.DataFrame:
        d = self.data
        keep = _condition(d, self.filter)
        d = d.loc[keep]
        return pd.DataFrame({
            "__subject": d[self.subject].to_numpy(),
            "ADT": _as_date(d[self.date]).to_numpy(),
            "CNSR": self.cnsr,
            "EVNTDESC": self.description,
            "SRCDOM": self.srcdom,
            "SRCVAR": self.srcvar or self.date,
            "SRCSEQ": d[self.seq].to_numpy() if self.seq else np.nan,
        }).dropna(subset=["ADT"])


@dataclass(frozen=True)
class EventSource(_DateSource):
    """An event (CNSR = 0): the subject's earliest such date is the event date."""

    def __post_init__(self):
        if self.cnsr != 0:
            raise ValueError("an event has CNSR = 0")


@dataclass(frozen=True)
class CensorSource(_DateSource):
    """A censoring date (CNSR >= 1): without an event the subject's latest such date is used."""

    cnsr: int = 1

    def __post_init__(self):
        if self.cnsr < 1:
            raise ValueError("a censoring has CNSR >= 1")


def _pick(dates: pd.DataFrame, mode: str) -> pd.DataFrame:
    """Earliest (``first``) / latest (``last``) date per subject; ties -> first-listed source."""
    if dates.empty:
        return dates
    dates = dates.reset_index(drop=True)
    dates["__row"] = np.arange(len(dates))
    dates = dates.sort_values(["ADT", "__row"], ascending=[mode == "first", True], kind="stable")
    return dates.groupby("__subject", sort=False).head(1).drop(columns="__row")


def time_to_event(
    subjects: pd.DataFrame,
    origin_date_col: str,
    events: Sequence[EventSource],
    censors: Sequence[CensorSource],
    cutoff_col: str | None = None,
    subject: str = "USUBJID",
    cutoff_cnsr: int = 1,
    cutoff_description: str = "DATA CUTOFF",
) -> pd.DataFrame:
    """Time to the first event, else to the last censoring date, one row per subject (derive_param_tte).

    Columns: STARTDT, ADT, AVAL (= ADT - STARTDT + 1 days), CNSR, EVNTDESC, SRCDOM, SRCVAR,
    SRCSEQ. With ``cutoff_col``, dates after the subject's cutoff are ignored and a subject known
    beyond it is censored at the cutoff (``cutoff_cnsr``). Nothing known -> ADT/CNSR missing."""
    frame = subjects[[subject, origin_date_col] + ([cutoff_col] if cutoff_col else [])].copy()
    frame["__subject"] = frame[subject]
    ev = pd.concat([e.dates() for e in events], ignore_index=True) if events else pd.DataFrame()
    ce = pd.concat([c.dates() for c in censors], ignore_index=True) if censors else pd.DataFrame()
    columns = ["__subject", "ADT", "CNSR", "EVNTDESC", "SRCDOM", "SRCVAR", "SRCSEQ"]
    ev = ev.reindex(columns=columns)
    ce = ce.reindex(columns=columns)
    ev = ev[ev["__subject"].isin(frame["__subject"])]
    ce = ce[ce["__subject"].isin(frame["__subject"])]
    if cutoff_col:
        cut = _as_date(frame.set_index("__subject")[cutoff_col])
        cut = cut[~cut.index.duplicated()]
        known = pd.concat([ev[["__subject", "ADT"]], ce[["__subject", "ADT"]]])
        after_cut = known["ADT"].to_numpy() > known["__subject"].map(cut).to_numpy()
        beyond = known.loc[after_cut, "__subject"].unique()
        ev = ev[~(ev["ADT"] > ev["__subject"].map(cut))]
        ce = ce[~(ce["ADT"] > ce["__subject"].map(cut))]
        at_cut = pd.DataFrame({
            "__subject": beyond,
            "ADT": cut.reindex(beyond).to_numpy(),
            "CNSR": cutoff_cnsr,
            "EVNTDESC": cutoff_description,
            "SRCDOM": "ADSL",
            "SRCVAR": cutoff_col,
            "SRCSEQ": np.nan,
        }).dropna(subset=["ADT"])
        ce = pd.concat([ce, at_cut], ignore_index=True) if len(at_cut) else ce
    first_event = _pick(ev.copy(), "first")
    last_censor = _pick(ce.copy(), "last")
    last_censor = last_censor[~last_censor["__subject"].isin(first_event["__subject"])]
    chosen = pd.concat([first_event, last_censor], ignore_index=True).reindex(columns=columns)
    out = frame[["__subject", origin_date_col]].merge(chosen, on="__subject", how="left", sort=False)
    out.index = frame.index
    startdt = _as_date(out[origin_date_col])
    adt = _as_date(out["ADT"])
    aval = (adt - startdt).dt.days + 1
    return pd.DataFrame({
        subject: frame[subject],
        "STARTDT": startdt,
        "ADT": adt,
        "AVAL": aval.astype(float),
        "CNSR": pd.to_numeric(out["CNSR"], errors="coerce").astype("Int64"),
        "EVNTDESC": out["EVNTDESC"],
        "SRCDOM": out["SRCDOM"],
        "SRCVAR": out["SRCVAR"],
        "SRCSEQ": pd.to_numeric(out["SRCSEQ"], errors="coerce"),
    }, index=frame.index)
