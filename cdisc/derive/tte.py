"""Time to event: event and censoring sources, one record per subject and parameter."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from aclf.frames import isin
from cdisc.derive._common import Condition, as_date, condition, sort_spec


@dataclass(frozen=True)
class _DateSource:
    """Records of one dataset that give a date per subject (event or censoring): ``date`` of the
    ``data`` records where ``filter`` holds; ``seq`` names the record (SRCSEQ); ``order`` breaks
    ties between records of one date (default: input order)."""

    data: pd.DataFrame
    date: str
    description: str
    cnsr: int = 0
    srcdom: str | None = None
    srcvar: str | None = None
    seq: str | None = None
    filter: Condition = None
    subject: str = "USUBJID"
    order: Sequence[str] = ()

    def dates(self) -> pd.DataFrame:
        d = self.data
        d = d.loc[condition(d, self.filter)]
        if self.order:  # ties on one date: the first record by ``order`` (e.g. the lowest --SEQ)
            cols, asc = sort_spec(self.order)
            d = d.sort_values(cols, ascending=asc, na_position="last", kind="stable")
        return pd.DataFrame({
            "__subject": d[self.subject].to_numpy(),
            "ADT": as_date(d[self.date]).to_numpy(),
            "CNSR": self.cnsr,
            "EVNTDESC": self.description,
            "SRCDOM": self.srcdom,
            "SRCVAR": self.srcvar or self.date,
            "SRCSEQ": d[self.seq].to_numpy() if self.seq else np.nan,
        }).dropna(subset=["ADT"])


@dataclass(frozen=True)
class EventSource(_DateSource):
    """An event (CNSR = 0): the subject's earliest such date is the event date.
    admiral: event_source."""

    def __post_init__(self):
        if self.cnsr != 0:
            raise ValueError("an event has CNSR = 0")


@dataclass(frozen=True)
class CensorSource(_DateSource):
    """A censoring date (CNSR >= 1): without an event the subject's latest such date is used.
    admiral: censor_source."""

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


def derive_param_tte(
    subjects: pd.DataFrame,
    start_date: str,
    events: Sequence[EventSource],
    censors: Sequence[CensorSource],
    cutoff_date: str | None = None,
    subject: str = "USUBJID",
    cutoff_cnsr: int = 1,
    cutoff_description: str = "DATA CUTOFF",
    set_values: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Time to the first event, else to the last censoring date, one row per subject.
    admiral: derive_param_tte.

    Columns: ``subject``, STARTDT, ADT, AVAL (= ADT - STARTDT + 1 days), CNSR, EVNTDESC, SRCDOM,
    SRCVAR, SRCSEQ, plus ``set_values`` (e.g. PARAMCD). With ``cutoff_date``, dates after the
    subject's cutoff are ignored and a subject known beyond it is censored at the cutoff
    (``cutoff_cnsr``). Nothing known -> ADT/CNSR missing."""
    frame = subjects[[subject, start_date] + ([cutoff_date] if cutoff_date else [])].copy()
    frame["__subject"] = frame[subject]
    columns = ["__subject", "ADT", "CNSR", "EVNTDESC", "SRCDOM", "SRCVAR", "SRCSEQ"]
    ev = pd.concat([e.dates() for e in events], ignore_index=True) if events else pd.DataFrame()
    ce = pd.concat([c.dates() for c in censors], ignore_index=True) if censors else pd.DataFrame()
    ev, ce = ev.reindex(columns=columns), ce.reindex(columns=columns)
    ev = ev[isin(ev["__subject"], frame["__subject"])]
    ce = ce[isin(ce["__subject"], frame["__subject"])]
    if cutoff_date:
        cut = as_date(frame.set_index("__subject")[cutoff_date])
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
            "SRCVAR": cutoff_date,
            "SRCSEQ": np.nan,
        }).dropna(subset=["ADT"])
        ce = pd.concat([ce, at_cut], ignore_index=True) if len(at_cut) else ce
    first_event = _pick(ev.copy(), "first")
    last_censor = _pick(ce.copy(), "last")
    last_censor = last_censor[~isin(last_censor["__subject"], first_event["__subject"])]
    chosen = pd.concat([first_event, last_censor], ignore_index=True).reindex(columns=columns)
    out = frame[["__subject", start_date]].merge(chosen, on="__subject", how="left", sort=False)
    out.index = frame.index
    startdt = as_date(out[start_date])
    adt = as_date(out["ADT"])
    result = pd.DataFrame({
        subject: frame[subject],
        "STARTDT": startdt,
        "ADT": adt,
        "AVAL": ((adt - startdt).dt.days + 1).astype(float),
        "CNSR": pd.to_numeric(out["CNSR"], errors="coerce").astype("Int64"),
        "EVNTDESC": out["EVNTDESC"],
        "SRCDOM": out["SRCDOM"],
        "SRCVAR": out["SRCVAR"],
        "SRCSEQ": pd.to_numeric(out["SRCSEQ"], errors="coerce"),
    }, index=frame.index)
    for name, value in (set_values or {}).items():
        result[name] = value
    return result
