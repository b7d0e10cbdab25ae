"""Blinding audit: does anything in a blinded package tell the arms apart beyond chance?

Given the datasets of a blinded package and the randomization key (SUBJID -> stage-1 arm, and the
stage-2 arm of the re-randomized), every per-subject feature a blinded reader could compute is
compared between the arms, for stage 1 (all randomized) and stage 2 (the re-randomized):

- the values of each coded variable (character, or numeric with few values): "the subject has a
  record with VAR = value", over the whole study and within each study week after the first
  infusion (the stage-2 infusions fall in weeks 3-5);
- record counts per dataset, overall and per week ("the subject has k records");
- kit and randomization numbers: a variable whose values look like them is a marker by itself;
  sequential numbers are also checked for gaps dated on the subjects' week-4 visits (the gap a
  stage-2 kit leaves in a kit list points at the patient randomized that day);
- date patterns: a per-week count or value feature is "a record dated in that week", and every
  date variable (RFXENDTC, TRTEDT, SEENDTC...) gives "its date falls in study week w".

Declared outcomes (study/blinding_audit.yaml: lab results, scores, death, transplantation, AE
terms...) may differ by arm and are left out. Survival also changes how many records a subject
has, so a per-week feature is compared among subjects at risk at the end of that week (alive,
without transplant, participating, and within the data cut), and an all-study feature among the
subjects without death or transplantation.

Each feature is a 2x2 table (has it / arm); p-values come from the score test (statsmodels,
vectorized) or Fisher's exact test (scipy) where an expected count is below 5, corrected for all the
tests of the audit together (Holm); a marker also needs a minimum absolute rate difference.
Pure pandas, no Dagster: the test suite and any tool can run it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import test_proportions_2indep

from aclf.config import DEFAULT_STUDY_DIR, load_model

SDTM_GLOB = "tabulations/sdtm/*.xpt"
ADAM_GLOB = "analysis/adam/datasets/*.xpt"
ALL = "ALL"          # the all-study "week"
PRE = "PRE"          # records dated before the first infusion
NUMBER = re.compile(r"^(\D*?)(\d+)$")
MARKER_COLUMNS = ["comparison", "dataset", "variable", "value", "week", "feature", "arm_a", "arm_b",
                  "n_a", "n_b", "k_a", "k_b", "rate_a", "rate_b", "p_value", "p_adjusted"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Exclusion(_Model):
    """A declared outcome: variables (``*`` = all) of a dataset, optionally only some values; with
    ``counts`` the dataset's record counts are left out too."""

    dataset: str
    variables: list[str]
    values: list[str] | None = None
    counts: bool = False
    reason: str


class DateVariable(_Model):
    dataset: str
    variable: str
    reason: str = ""


class OutcomeRecords(_Model):
    """Records that are an outcome themselves (a fatal AE is the death): left out of every feature."""

    dataset: str
    variable: str
    values: list[str]
    reason: str


class AuditConfig(_Model):
    alpha: float
    correction: str = "holm"
    min_rate_difference: float
    min_subjects: int
    max_levels: int
    count_cap: int
    weeks: int
    events: list[DateVariable]
    end_of_participation: DateVariable
    identifier_patterns: list[str]
    gap_window_days: tuple[int, int]
    gap_visit_dataset: str
    gap_min_density: float
    ignore_variables: list[str]
    exclusions: list[Exclusion]
    outcome_records: list[OutcomeRecords] = []

    def excluded(self, dataset: str, variable: str) -> list[str] | None | bool:
        """False when tested; True when the whole variable is excluded; else the excluded values."""
        values: list[str] = []
        for e in self.exclusions:
            if e.dataset == dataset and ("*" in e.variables or variable in e.variables):
                if e.values is None:
                    return True
                values += e.values
        return values or False

    def counts_excluded(self, dataset: str) -> bool:
        return any(e.dataset == dataset and e.counts for e in self.exclusions)


def load_audit_config(path: str | Path | None = None) -> AuditConfig:
    return load_model(Path(path or DEFAULT_STUDY_DIR / "blinding_audit.yaml"), AuditConfig, "blinding audit configuration")


@dataclass
class AuditResult:
    """Every marker found (``markers``, one row each, MARKER_COLUMNS) and every feature tested."""

    markers: pd.DataFrame
    tested: pd.DataFrame
    subjects: dict[str, int]

    @property
    def tests(self) -> int:
        return len(self.tested)

    @property
    def failed(self) -> bool:
        return not self.markers.empty

    def report(self) -> str:
        if not self.failed:
            return f"blinding audit passed: {self.tests} tests, no marker ({self.subjects})"
        lines = [f"blinding audit FAILED: {len(self.markers)} marker(s) in {self.tests} tests ({self.subjects})"]
        for m in self.markers.itertuples():
            if m.comparison == "any":
                lines.append(f"  {m.dataset}.{m.variable}: {m.feature} (e.g. {m.value!r}), not allowed in a blinded package")
                continue
            lines.append(f"  [{m.comparison}] {m.dataset}.{m.variable} = {m.value!r} week {m.week} ({m.feature}): "
                         f"{m.arm_a} {m.k_a:.0f}/{m.n_a:.0f} ({m.rate_a:.3f}) vs {m.arm_b} {m.k_b:.0f}/{m.n_b:.0f} ({m.rate_b:.3f}), "
                         f"p = {m.p_value:.2g}, adjusted {m.p_adjusted:.2g}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- inputs

def randomization_key(iwrs: pd.DataFrame, randkey: pd.DataFrame) -> pd.DataFrame:
    """SUBJID, ARM1, ARM2 ('' when not re-randomized) from the IWRS list (SUBJID, STAGE, RAND_NO) and
    the key (RAND_NO, TREATMENT)."""
    rows = iwrs[["SUBJID", "STAGE", "RAND_NO"]].astype(str).merge(
        randkey[["RAND_NO", "TREATMENT"]].astype(str), on="RAND_NO", how="inner", validate="many_to_one")
    arms = rows.pivot_table(index="SUBJID", columns="STAGE", values="TREATMENT", aggfunc="first")
    out = pd.DataFrame({"ARM1": arms.get("1"), "ARM2": arms.get("2")}, index=arms.index).fillna("")
    return out[out["ARM1"] != ""].reset_index()


def read_package(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Every SDTM and ADaM dataset of a package folder, by upper-case name (dates as datetime64)."""
    import pyreadstat

    folder = Path(folder)
    out = {}
    for path in sorted([*folder.glob(SDTM_GLOB), *folder.glob(ADAM_GLOB)]):
        frame, _ = pyreadstat.read_xport(str(path))
        for col in frame.columns:
            if frame[col].dtype == object and frame[col].map(lambda v: hasattr(v, "year")).any():
                frame[col] = pd.to_datetime(frame[col], errors="coerce")
        out[path.stem.upper()] = frame
    return out


# ------------------------------------------------------------------------------------------ timing

def _date(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.normalize()
    text = values.astype(str).str[:10]
    return pd.to_datetime(text.where(text.str.fullmatch(r"\d{4}-\d{2}-\d{2}")), errors="coerce")


def _record_dates(name: str, frame: pd.DataFrame) -> pd.Series | None:
    """The date a record is about: --STDTC, --DTC, ASTDT, ADT (first found)."""
    prefix = name[:2]
    for col in (f"{prefix}STDTC", f"{prefix}DTC", "ASTDT", "ADT", "SVSTDTC"):
        if col in frame:
            return _date(frame[col])
    return None


@dataclass
class _Timeline:
    """Per USUBJID: first-infusion date, last day at risk (protocol days), data cut."""

    first: pd.Series
    at_risk_until: pd.Series      # first protocol day not at risk (event or end of participation)
    event_free: pd.Series         # no death/transplant anywhere
    cut_day: pd.Series

    def eligible(self, week: str) -> pd.Series:
        if week == PRE:
            return pd.Series(True, index=self.first.index)
        if week == ALL or week.endswith("+"):
            return self.event_free
        end = 7 * int(week[1:]) + 6
        return (self.at_risk_until > end) & (self.cut_day >= end)


def _timeline(datasets: dict[str, pd.DataFrame], subjects: pd.Index, config: AuditConfig) -> _Timeline:
    dm = datasets["DM"].drop_duplicates("USUBJID").set_index("USUBJID")
    first = _date(dm["RFSTDTC"]).reindex(subjects)
    never = pd.Series(np.inf, index=subjects)
    event = never.copy()
    for ev in config.events:
        frame = datasets.get(ev.dataset)
        if frame is None or ev.variable not in frame:
            continue
        when = pd.Series(_date(frame[ev.variable]).to_numpy(), index=frame["USUBJID"]).dropna()
        day = (when - first.reindex(when.index)).dt.days.groupby(level=0).min()
        event = np.fmin(event, day.reindex(subjects).fillna(np.inf))
    end = never.copy()
    eop = config.end_of_participation
    if eop.dataset in datasets and eop.variable in datasets[eop.dataset]:
        frame = datasets[eop.dataset]
        when = pd.Series(_date(frame[eop.variable]).to_numpy(), index=frame["USUBJID"]).dropna()
        end = (when - first.reindex(when.index)).dt.days.groupby(level=0).min().reindex(subjects).fillna(np.inf)
    cut = max(d.max() for n, f in datasets.items() if (d := _record_dates(n, f)) is not None and d.notna().any())
    return _Timeline(first=first, at_risk_until=np.fmin(event, end), event_free=np.isinf(event),
                     cut_day=(cut - first).dt.days.fillna(-1))


def _weeks(days: pd.Series, config: AuditConfig) -> pd.Series:
    week = np.floor(days / 7)
    out = ("W" + week.clip(upper=config.weeks).astype("Int64").astype(str)).where(days.notna(), "")
    out = out.where(week < config.weeks, f"W{config.weeks}+").where(days.notna(), "")
    return out.where(~(days < 0), PRE)


# ------------------------------------------------------------------------------------------ features

def _coded(frame: pd.DataFrame, col: str, config: AuditConfig) -> bool:
    if col in config.ignore_variables or col.endswith(("SEQ", "DY", "DTC", "DT", "DTM")):
        return False
    values = frame[col]
    if pd.api.types.is_datetime64_any_dtype(values):
        return False
    return values.nunique(dropna=True) <= config.max_levels


def _is_date(frame: pd.DataFrame, col: str) -> bool:
    return pd.api.types.is_datetime64_any_dtype(frame[col]) or (
        col.endswith(("DTC", "DT", "DTM")) and not pd.api.types.is_numeric_dtype(frame[col]))


def _presence(records: pd.DataFrame, value: pd.Series, label: dict) -> list[pd.DataFrame]:
    """(USUBJID, week, value) holdings of one feature family, all-study and per week."""
    base = pd.DataFrame({"USUBJID": records["USUBJID"], "week": records["_week"], "value": value.astype(str)})
    weekly = base[base["week"] != ""].drop_duplicates()
    overall = base.assign(week=ALL).drop_duplicates()
    return [pd.concat([weekly, overall], ignore_index=True).assign(**label)]


def _counts(records: pd.DataFrame, subjects: pd.Index, weeks: list[str], cap: int, label: dict) -> list[pd.DataFrame]:
    """Record counts as holdings "n=k" for every subject and week (zeros included)."""
    per_week = records[records["_week"] != ""].groupby(["USUBJID", "_week"]).size()
    overall = records.groupby("USUBJID").size()
    parts = []
    for week in weeks:
        n = (overall if week == ALL else per_week.xs(week, level="_week") if week in per_week.index.get_level_values(1)
             else pd.Series(dtype=int)).reindex(subjects).fillna(0).astype(int)
        text = np.where(n >= cap, f"n>={cap}", "n=" + n.astype(str))
        parts.append(pd.DataFrame({"USUBJID": subjects, "week": week, "value": text}))
    return [pd.concat(parts, ignore_index=True).assign(**label)]


def _identifier_markers(name: str, frame: pd.DataFrame, config: AuditConfig) -> list[dict]:
    out = []
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            values = frame[col].dropna().astype(str)
            values = values[values != ""]
            if len(values) and any(values.str.fullmatch(p).mean() >= 0.9 for p in config.identifier_patterns):
                out.append({"dataset": name, "variable": col, "value": values.iloc[0], "week": ALL,
                            "feature": "kit/randomization number", "comparison": "any"})
    return out


def _gap_holdings(name: str, frame: pd.DataFrame, col: str, dates: pd.Series | None,
                  datasets: dict[str, pd.DataFrame], tl: _Timeline, config: AuditConfig) -> pd.DataFrame | None:
    """Subjects whose week-4 visit falls on a day whose dated number gaps could be theirs.

    Each number is dated by its subject's first record; a gap (missing numbers) is dated from the
    number before it to the number after it. A subject "holds" the gap feature when, on the day of a
    visit in the gap window, the gap mass (missing numbers / smallest gap) reaches the number of
    subjects with such a visit that day: then every one of them may be the gap's owner."""
    values = frame[col].astype(str)
    parsed = values.str.extract(NUMBER)
    if dates is None or parsed[1].isna().mean() > 0.1 or parsed[0].nunique() > 1:
        return None
    first = dates.groupby(frame["USUBJID"]).min()          # a record without a date keeps its number
    numbers = pd.DataFrame({"USUBJID": frame["USUBJID"], "n": pd.to_numeric(parsed[1]),
                            "date": frame["USUBJID"].map(first)}).dropna()
    numbers = numbers.drop_duplicates("n").sort_values("n")
    if len(numbers) < 3:
        return None
    span = numbers["n"].iloc[-1] - numbers["n"].iloc[0] + 1
    if len(numbers) / span < config.gap_min_density:
        return None
    missing = numbers["n"].diff().fillna(1).astype(int) - 1
    gaps = pd.DataFrame({"lo": numbers["date"].shift(), "hi": numbers["date"], "m": missing})[missing > 0]
    if gaps.empty:
        return None
    block = gaps["m"].min()
    mass: dict[pd.Timestamp, float] = {}
    for g in gaps.itertuples():
        lo, hi = min(g.lo, g.hi), max(g.lo, g.hi)
        days = pd.date_range(lo, hi, freq="D")
        for d in days:
            mass[d] = mass.get(d, 0.0) + g.m / block / len(days)
    visits = datasets.get(config.gap_visit_dataset)
    if visits is None:
        return None
    vd = pd.DataFrame({"USUBJID": visits["USUBJID"], "date": _record_dates(config.gap_visit_dataset, visits)})
    vd["day"] = (vd["date"] - vd["USUBJID"].map(tl.first)).dt.days
    lo, hi = config.gap_window_days
    vd = vd[vd["day"].between(lo, hi)].drop_duplicates(["USUBJID", "date"])
    visitors = vd.groupby("date")["USUBJID"].nunique()
    vd["share"] = vd["date"].map(lambda d: mass.get(d, 0.0)) / vd["date"].map(visitors)
    holds = vd.groupby("USUBJID")["share"].max() >= 1 - 1e-9
    return pd.DataFrame({"USUBJID": holds.index, "week": f"days {lo}-{hi}",
                         "value": np.where(holds, "gap-dated visit", "no gap-dated visit")})


def _holdings(datasets: dict[str, pd.DataFrame], subjects: pd.Index, tl: _Timeline, config: AuditConfig
              ) -> tuple[pd.DataFrame, list[dict]]:
    """Every (USUBJID, week, value, dataset, variable, feature) a blinded reader could compute."""
    parts: list[pd.DataFrame] = []
    identifiers: list[dict] = []
    for name, frame in sorted(datasets.items()):
        if "USUBJID" not in frame:
            continue
        identifiers += _identifier_markers(name, frame, config)
        keep = frame["USUBJID"].isin(subjects)
        for rec in config.outcome_records:
            if rec.dataset == name and rec.variable in frame:
                keep &= ~frame[rec.variable].astype(str).isin(rec.values)
        frame = frame[keep]
        dates = _record_dates(name, frame)
        days = (dates - frame["USUBJID"].map(tl.first)).dt.days if dates is not None else pd.Series(np.nan, index=frame.index)
        records = frame.assign(_week=_weeks(days, config))
        weeks = [ALL] + ([] if dates is None else sorted(set(records["_week"]) - {""}))
        if not config.counts_excluded(name):
            parts += _counts(records, subjects, weeks, config.count_cap, {"dataset": name, "variable": "(records)",
                                                                            "feature": "record count"})
        for col in frame.columns:
            rule = config.excluded(name, col)
            if rule is True:
                continue
            if _is_date(frame, col):
                when = _weeks((_date(records[col]) - records["USUBJID"].map(tl.first)).dt.days, config)
                dated = when != ""
                parts += _presence(records[dated].assign(_week=""), when[dated],
                                   {"dataset": name, "variable": col, "feature": "date week"})
            elif _coded(frame, col, config):
                keep = ~records[col].astype(str).isin(rule or [])
                parts += _presence(records[keep], records.loc[keep, col], {"dataset": name, "variable": col,
                                                                            "feature": "value"})
            elif pd.api.types.is_string_dtype(records[col]) or records[col].dtype == object:
                gap = _gap_holdings(name, frame, col, dates, datasets, tl, config)
                if gap is not None:
                    parts.append(gap.assign(dataset=name, variable=col, feature="number gap"))
    return pd.concat(parts, ignore_index=True), identifiers


# ------------------------------------------------------------------------------------------ tests

def _tables(holdings: pd.DataFrame, arm: pd.Series, tl: _Timeline, comparison: str) -> pd.DataFrame:
    """One 2x2 table per feature: subjects eligible for its week, per arm, and how many hold it.
    ``holdings`` carries ``sid``, the subject's position in ``arm``'s index (-1: not compared)."""
    arms = sorted(arm[arm != ""].unique())
    if len(arms) != 2:
        return pd.DataFrame()
    code = np.where(arm.to_numpy() == arms[0], 0, np.where(arm.to_numpy() == arms[1], 1, -1))
    keys = ["dataset", "variable", "feature", "value"]
    parts = []
    for week, group in holdings.groupby("week", observed=True):
        sid = group["sid"].to_numpy()
        if week.startswith("days"):                 # a window feature: the subjects with such visits
            ok = np.zeros(len(arm), dtype=bool)
            ok[sid] = True
        else:
            ok = tl.eligible(week).reindex(arm.index).fillna(False).to_numpy(dtype=bool, copy=True)
        ok &= code >= 0
        n = np.bincount(code[ok], minlength=2)
        keep = ok[sid]
        group = group[keep].assign(arm=code[sid[keep]])
        k = group.groupby(keys + ["arm"], observed=True).size().unstack("arm", fill_value=0)
        k = k.reindex(columns=[0, 1], fill_value=0)
        parts.append(pd.DataFrame({"week": week, "arm_a": arms[0], "arm_b": arms[1], "n_a": n[0], "n_b": n[1],
                                   "k_a": k[0], "k_b": k[1]}).reset_index())
    return pd.concat(parts, ignore_index=True).assign(comparison=comparison)


def _test(tables: pd.DataFrame, config: AuditConfig) -> pd.DataFrame:
    t = tables.copy()
    held = t["k_a"] + t["k_b"]
    total = t["n_a"] + t["n_b"]
    t = t[(held >= config.min_subjects) & (total - held >= config.min_subjects) & (t["n_a"] > 0) & (t["n_b"] > 0)]
    t = t.reset_index(drop=True)
    t["rate_a"], t["rate_b"] = t["k_a"] / t["n_a"], t["k_b"] / t["n_b"]
    if t.empty:
        return t.assign(p_value=[], p_adjusted=[])
    with np.errstate(all="ignore"):
        p = test_proportions_2indep(t["k_a"].to_numpy(), t["n_a"].to_numpy(), t["k_b"].to_numpy(),
                                    t["n_b"].to_numpy(), method="score", compare="diff", correction=False).pvalue
    p = np.nan_to_num(np.asarray(p, dtype=float), nan=1.0)
    held, total = t["k_a"] + t["k_b"], t["n_a"] + t["n_b"]
    smallest = np.minimum(held, total - held) * np.minimum(t["n_a"], t["n_b"]) / total
    exact = (smallest < 5) & ((t["rate_a"] - t["rate_b"]).abs() >= config.min_rate_difference)
    for i in np.flatnonzero(exact.to_numpy()):
        r = t.iloc[i]
        p[i] = fisher_exact([[r.k_a, r.n_a - r.k_a], [r.k_b, r.n_b - r.k_b]]).pvalue
    t["p_value"] = p
    t["p_adjusted"] = multipletests(p, alpha=config.alpha, method=config.correction)[1]
    return t


def audit(datasets: dict[str, pd.DataFrame], key: pd.DataFrame, config: AuditConfig | None = None) -> AuditResult:
    """Look for arm markers in a blinded package's datasets (by name; DM required) given the key
    (USUBJID or SUBJID, ARM1, ARM2)."""
    config = config or load_audit_config()
    datasets = {name: frame.astype({"USUBJID": object}) if "USUBJID" in frame else frame   # fast isin/map
                for name, frame in datasets.items()}
    dm = datasets["DM"]
    if "USUBJID" not in key:
        key = key.assign(USUBJID=key["SUBJID"].map(dm.drop_duplicates("SUBJID").set_index("SUBJID")["USUBJID"]))
    key = key.dropna(subset=["USUBJID"]).astype({"USUBJID": object}).drop_duplicates("USUBJID").set_index("USUBJID")
    subjects = key.index
    tl = _timeline(datasets, subjects, config)
    holdings, identifiers = _holdings(datasets, subjects, tl, config)
    holdings = holdings.astype({c: "category" for c in ["dataset", "variable", "feature", "value", "week"]})
    holdings["sid"] = pd.Categorical(holdings.pop("USUBJID").astype(object), categories=subjects.astype(object)).codes
    arm2 = key["ARM2"].fillna("") if "ARM2" in key else pd.Series("", index=subjects)
    comparisons = {"stage 1": key["ARM1"], "stage 2": arm2[arm2 != ""]}
    tables = pd.concat([_tables(holdings, arm.reindex(subjects).fillna(""), tl, name)
                        for name, arm in comparisons.items()], ignore_index=True)
    tested = _test(tables, config)
    significant = (tested["p_adjusted"] < config.alpha) & (
        (tested["rate_a"] - tested["rate_b"]).abs() >= config.min_rate_difference)
    markers = pd.concat([pd.DataFrame(identifiers), tested[significant]], ignore_index=True)
    markers = markers.reindex(columns=MARKER_COLUMNS).sort_values(["p_adjusted", "dataset", "variable"],
                                                                  na_position="first").reset_index(drop=True)
    return AuditResult(markers=markers, tested=tested.reindex(columns=MARKER_COLUMNS),
                       subjects={name: int(len(arm)) for name, arm in comparisons.items()})


def audit_package(folder: str | Path, key: pd.DataFrame, config: AuditConfig | None = None) -> AuditResult:
    """The audit of a package folder (``tabulations/sdtm`` and ``analysis/adam/datasets``)."""
    return audit(read_package(folder), key, config)


def main(argv: list[str] | None = None) -> int:
    """``python -m cdisc.blinding_audit PACKAGE IWRS.csv RANDKEY.csv``: print the audit; exit 1 on a marker."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("package", type=Path, help="blinded package folder (.../m5/datasets/<study>)")
    parser.add_argument("iwrs", type=Path, help="the blinded IWRS list (SUBJID, STAGE, RAND_NO)")
    parser.add_argument("randkey", type=Path, help="the randomization key (RAND_NO, TREATMENT)")
    parser.add_argument("--config", type=Path, help="audit configuration (default study/blinding_audit.yaml)")
    args = parser.parse_args(argv)
    read = lambda path: pd.read_csv(path, dtype=str, keep_default_na=False)  # noqa: E731
    result = audit_package(args.package, randomization_key(read(args.iwrs), read(args.randkey)),
                           load_audit_config(args.config))
    print(result.report())
    return 1 if result.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
