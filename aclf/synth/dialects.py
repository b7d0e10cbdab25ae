"""The five site lab dialects of the DTS: subject ids, visit labels, test names, units, ranges, flags.

Each dialect renders the canonical samples × results into its source's record table: the output
columns as the site writes them plus internal `_`-columns (record id, date, numeric value) used for
nightly cuts and injected changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from .course import to_date
from .design import VISITS
from .labs import CENSORED, MISSING, OK, QNS, TEXT

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
HHMM_COLON = np.array([f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)], dtype=object)
H_MM = np.array([f"{m // 60}:{m % 60:02d}" for m in range(1440)], dtype=object)
HHMM = np.array([f"{m // 60:02d}{m % 60:02d}" for m in range(1440)], dtype=object)
P_NO_TIME = 0.03          # site03/site04 leave the collection time empty
P_NUMBER_SUBJECT = 0.05   # site03 Subject arrives as a number cell
P_UNIT_VARIANT = {"site01": 0.04, "site02": 0.08, "site04": 0.04}
P_RECOLLECTED = 0.004


class Spec(NamedTuple):
    local: str        # code/name as written (site03: header before the unit; site05: lbcode)
    name: str         # long English name (site01 TEST_NAME)
    unit: str
    factor: float     # site value = SI value × factor
    dec: int
    low: str          # reference limits as written, "" when absent
    high: str
    censor: str       # censored result in the site's unit


SITE01 = (
    Spec("TBIL", "Total bilirubin", "umol/L", 1, 1, "3.4", "20.5", ">684.0"),
    Spec("ALB", "Albumin", "g/L", 1, 1, "40", "55", "<10.0"),
    Spec("CREA", "Creatinine", "umol/L", 1, 0, "57", "111", "<18"),
    Spec("UREA", "Urea", "mmol/L", 1, 1, "2.6", "7.5", "<0.5"),
    Spec("INR", "Prothrombin time, INR", "", 1, 2, "0.8", "1.2", ">8.00"),
    Spec("PT", "Prothrombin time", "s", 1, 1, "9.4", "12.5", ">75"),
    Spec("PTA", "Prothrombin activity", "%", 1, 0, "70", "", "<10"),
    Spec("NA", "Sodium", "mmol/L", 1, 0, "137", "147", "<100"),
    Spec("PLT", "Platelet count", "10^9/L", 1, 0, "125", "350", "<5"),
    Spec("ALT", "Alanine aminotransferase", "U/L", 1, 0, "9", "50", "<5"),
    Spec("AST", "Aspartate aminotransferase", "U/L", 1, 0, "15", "40", "<5"),
)
SITE02 = (
    Spec("总胆红素", "", "μmol/L", 1, 1, "3.4", "20.5", ">684.0"),
    Spec("白蛋白", "", "g/L", 1, 1, "35", "", "<10.0"),
    Spec("肌酐", "", "μmol/L", 1, 0, "57", "111", "<18"),
    Spec("尿素氮", "", "mmol/L", 1, 1, "3.1", "8.0", "<0.5"),
    Spec("国际标准化比值", "", "", 1, 2, "", "", ">8.00"),
    Spec("凝血酶原时间", "", "秒", 1, 1, "11.0", "14.5", ">75"),
    Spec("凝血酶原活动度", "", "%", 1, 0, "70", "130", "<10"),
    Spec("钠", "", "mmol/L", 1, 0, "137", "147", "<100"),
    Spec("血小板计数", "", "×10^9/L", 1, 0, "125", "350", "<5"),
    Spec("丙氨酸氨基转移酶", "", "U/L", 1, 0, "", "40", "<5"),
    Spec("天门冬氨酸氨基转移酶", "", "U/L", 1, 0, "", "40", "<5"),
)
SITE03 = (
    Spec("TBIL", "", "µmol/L", 1, 1, "3.4", "20.5", ">684.0"),
    Spec("ALB", "", "g/L", 1, 1, "40", "55", "<10.0"),
    Spec("CREA", "", "µmol/L", 1, 0, "41", "111", "<18"),
    Spec("BUN", "", "mmol/L", 1, 1, "2.9", "8.2", "<0.5"),
    Spec("INR", "", "", 1, 2, "0.8", "1.2", ">8.00"),
    Spec("PT", "", "s", 1, 1, "11", "14.5", ">75"),
    Spec("PTA", "", "%", 1, 0, "70", "120", "<10"),
    Spec("Na", "", "mmol/L", 1, 0, "137", "147", "<100"),
    Spec("PLT", "", "10^9/L", 1, 0, "125", "350", "<5"),
    Spec("ALT", "", "U/L", 1, 0, "7", "40", "<5"),
    Spec("AST", "", "U/L", 1, 0, "13", "35", "<5"),
)
SITE04 = (
    Spec("Total Bilirubin", "", "mg/dL", 1 / 17.1, 1, "0.2", "1.2", ">40.0"),
    Spec("Albumin", "", "g/dL", 0.1, 1, "3.5", "5.0", "<1.0"),
    Spec("Creatinine", "", "mg/dL", 1 / 88.4, 2, "0.60", "1.30", "<0.1"),
    Spec("Urea Nitrogen", "", "mg/dL", 2.8, 0, "7", "20", "<2"),
    Spec("INR", "", "", 1, 2, "", "", ">8.00"),
    Spec("Prothrombin Time", "", "sec", 1, 1, "11.0", "13.5", ">75"),
    Spec("Prothrombin Activity", "", "%", 1, 0, "70", "120", "<10"),
    Spec("Sodium", "", "mEq/L", 1, 0, "135", "145", "<100"),
    Spec("Platelet Count", "", "10^3/uL", 1, 0, "150", "400", "<5"),
    Spec("ALT", "", "U/L", 1, 0, "7", "56", "<5"),
    Spec("AST", "", "U/L", 1, 0, "10", "40", "<5"),
)
SITE05_UNIT_CODE = (1, 2, 1, 3, 4, 5, 6, 3, 7, 8, 8)
SITE05 = (
    Spec("1", "TBIL", "umol/L", 1, 1, "5.1", "19", ">684.0"),
    Spec("2", "ALB", "g/L", 1, 1, "35", "50", "<10.0"),
    Spec("3", "CREA", "umol/L", 1, 0, "53", "106", "<18"),
    Spec("4", "BUN", "mmol/L", 1, 1, "2.5", "7.1", "<0.5"),
    Spec("5", "INR", "", 1, 2, "0.8", "1.2", ">8.00"),
    Spec("6", "PT", "s", 1, 1, "10", "14", ">75"),
    Spec("7", "PTA", "%", 1, 0, "80", "120", "<10"),
    Spec("8", "NA", "mmol/L", 1, 0, "135", "145", "<100"),
    Spec("9", "PLT", "10^9/L", 1, 0, "100", "300", "<5"),
    Spec("10", "ALT", "U/L", 1, 0, "0", "40", "<5"),
    Spec("11", "AST", "U/L", 1, 0, "0", "40", "<5"),
)
SITE05_LABELS = {
    "lbcode": {float(i + 1): s.name for i, s in enumerate(SITE05)},
    "lbunit": {1.0: "umol/L", 2.0: "g/L", 3.0: "mmol/L", 4.0: "(none)", 5.0: "s", 6.0: "%", 7.0: "10^9/L",
               8.0: "U/L"},
    "visno": {1.0: "Week -1 (screening)", 2.0: "Week 0", 3.0: "Day 3", 4.0: "Week 1", 5.0: "Week 2",
              6.0: "Week 3", 7.0: "Week 4", 8.0: "Week 5", 9.0: "Week 8", 10.0: "Week 12", 11.0: "Week 24",
              12.0: "Week 53", 99.0: "Unscheduled"},
}

# visit labels by visit index (last entry: unscheduled)
VISIT_LABELS = {
    "site01": ("Week-1", "Week 0", "Day 3", "Week 1", "Week 2", "Week 3", "Week 4", "Week 5", "Week 8",
               "Week 12", "Week 24", "Week 53", "Unscheduled"),
    "site02": ("筛选期", "第0周", "第3天", "第1周", "第2周", "第3周", "第4周", "第5周", "第8周", "第12周", "第24周",
               "第53周", "计划外"),
    "site03": ("SCR", "W0", "D3", "W1", "W2", "W3", "W4", "W5", "W8", "W12", "W24", "W53", "UNS"),
    "site04": ("Screening", "Baseline", "Day 3", "Week 1", "Week 2", "Week 3", "Week 4", "Week 5", "Week 8",
               "Week 12", "Week 24", "Week 53", "Unscheduled"),
}
TEXT_RESULTS = {"site01": ("HEMOLYZED",), "site02": ("溶血", "未做"), "site03": ("hemolysed",),
                "site04": ("hemolyzed",), "site05": ("hemolysed",)}
# The sites' export columns, personal ones included: the generator plays the sites, so it writes the
# (synthetic) personal data into the landing zone, exactly where the pipeline must never copy it from.
COLUMNS = {
    "site01": ["SUBJECT_NO", "PATIENT_NAME", "MRN", "VISIT", "SAMPLE_ID", "COLLECT_DTM", "TEST_CODE", "TEST_NAME",
               "RESULT", "UNIT", "REF_LOW", "REF_HIGH", "ABN_FLAG"],
    "site02": ["受试者编号", "姓名", "住院号", "访视", "标本号", "采样时间", "检验项目", "结果", "单位", "参考范围", "提示"],
    "site03": ["Subject", "Visit", "Sample No", "Collection Date", "Collection Time"]
              + [f"{s.local} ({s.unit})" if s.unit else s.local for s in SITE03],
    "site04": ["SUBJID", "PAT_NAME", "PHONE", "VISIT_LABEL", "ACCESSION", "COLL_DATE", "COLL_TIME", "ANALYTE", "VALUE",
               "UNITS", "LOW", "HIGH", "COMMENT"],
    "site05": ["subj", "visno", "sampid", "sampdt", "lbcode", "lbres", "lbresc", "lbunit", "nrlo", "nrhi"],
}
SPECS = {"site01": SITE01, "site02": SITE02, "site03": SITE03, "site04": SITE04, "site05": SITE05}
RESULT_COLUMN = {"site01": "RESULT", "site02": "结果", "site03": "cell", "site04": "VALUE", "site05": "lbres"}
CHINESE = "".join(s.local + s.unit for s in SITE02) + "".join(VISIT_LABELS["site02"]) + "".join(TEXT_RESULTS["site02"])


@dataclass
class Context:
    samples: pd.DataFrame
    results: pd.DataFrame
    pat: pd.DataFrame
    people: pd.DataFrame      # by patient: name_cn, name_py, phone, mrn01, mrn02


def _limit(s: str) -> float:
    return float(s) if s else np.nan


def _bounds(specs, tests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([_limit(s.low) for s in specs])[tests]
    hi = np.array([_limit(s.high) for s in specs])[tests]
    return lo, hi


def site_text(specs, tests: np.ndarray, val: np.ndarray) -> np.ndarray:
    """Text of site-unit numeric values with each test's decimals."""
    text = np.full(len(val), "", dtype=object)
    for t, sp in enumerate(specs):
        m = tests == t
        if m.any():
            text[m] = np.char.mod(f"%.{sp.dec}f", val[m]).astype(object)
    return text


def numeric(specs, tests: np.ndarray, si: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Site-unit values rounded to the site's decimals, and their text."""
    val = np.full(len(si), np.nan)
    for t, sp in enumerate(specs):
        m = tests == t
        if m.any():
            val[m] = np.round(si[m] * sp.factor, sp.dec)
    return val, site_text(specs, tests, val)


def flags(specs, tests: np.ndarray, val: np.ndarray, high: str = "H", low: str = "L") -> np.ndarray:
    lo, hi = _bounds(specs, tests)
    out = np.full(len(val), "", dtype=object)
    out[val > hi] = high
    out[val < lo] = low
    return out


def _censor_values(specs, tests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    txt = np.array([s.censor for s in specs], dtype=object)[tests]
    num = np.array([float(s.censor[1:]) for s in specs])[tests]
    return txt, num


def _date_strings(days: np.ndarray, fmt) -> np.ndarray:
    uniq, inv = np.unique(days, return_inverse=True)
    return np.array([fmt(to_date(d)) for d in uniq], dtype=object)[inv]


def _subject(site: str, num: np.ndarray, width: np.ndarray) -> np.ndarray:
    prefix = {"01": "01-", "04": "SZ3-", "03": "03"}[site]
    return np.array([f"{prefix}{k:0{w}d}" for k, w in zip(num, width)], dtype=object)


def _sample_ids(site: str, s: pd.DataFrame) -> np.ndarray:
    seq = s.seq.to_numpy()
    if site == "01":
        d = _date_strings(s.date.to_numpy(), lambda x: f"{x:%y%m%d}")
        return np.array([f"L{a}{b:04d}" for a, b in zip(d, seq)], dtype=object)
    if site == "02":
        d = _date_strings(s.date.to_numpy(), lambda x: f"{x:%Y%m%d}")
        return np.array([f"{a}-{b:04d}" for a, b in zip(d, seq)], dtype=object)
    if site == "03":
        d = _date_strings(s.date.to_numpy(), lambda x: f"{x:%y%m%d}")
        return np.array([f"SL{a}{b:03d}" for a, b in zip(d, seq)], dtype=object)
    if site == "04":
        d = _date_strings(s.date.to_numpy(), lambda x: f"{x:%y%m%d}")
        return np.array([f"SZ{a}{b:05d}" for a, b in zip(d, seq)], dtype=object)
    d = _date_strings(s.date.to_numpy(), lambda x: f"{x:%y%m%d}")
    return np.array([f"F5-{a}-{b:02d}" for a, b in zip(d, seq)], dtype=object)


class LabDialect:
    """Renders one site's records; subclasses set the site's columns."""

    source = ""
    site = ""
    changed_columns: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.specs = SPECS[self.source]
        self.columns = COLUMNS[self.source]
        self.unit_variants: list[str] = []

    def _base(self, ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
        s = ctx.samples
        s = s[s.site.to_numpy() == self.site]
        r = ctx.results
        r = r[(ctx.samples.site.to_numpy() == self.site)[r["sample"].to_numpy()]]
        keep = r.status.to_numpy() != MISSING
        r = r[keep]
        sp = s.pid.to_numpy()
        ss = pd.DataFrame({
            "_sample": s.index.to_numpy(), "_pid": sp, "_date": s.date.to_numpy(), "_minute": s.minute.to_numpy(),
            "_visit": s.visit.to_numpy(), "_u_time": s.u_time.to_numpy(), "_u_subj": s.u_subj.to_numpy(),
            "_subjid": ctx.pat.subjid.to_numpy()[sp], "_sample_id": _sample_ids(self.site, s),
        })
        self.sample_ids = dict(zip(ss._sample.tolist(), ss._sample_id.tolist()))
        pos = np.full(len(ctx.samples), -1)
        pos[ss._sample.to_numpy()] = np.arange(len(ss))
        rec = ss.iloc[pos[r["sample"].to_numpy()]].reset_index(drop=True)
        rec["_rid"] = r.index.to_numpy()
        rec["_test"] = r.test.to_numpy()
        rec["_status"] = r.status.to_numpy()
        rec["_u1"] = r.u1.to_numpy()
        rec["_u2"] = r.u2.to_numpy()
        val, text = numeric(self.specs, rec._test.to_numpy(), r.value.to_numpy())
        st = rec._status.to_numpy()
        cen_txt, cen_num = _censor_values(self.specs, rec._test.to_numpy())
        rec["_num"] = np.where(st == OK, val, np.nan)
        rec["_flagnum"] = np.where(st == OK, val, np.where(st == CENSORED, cen_num, np.nan))
        texts = TEXT_RESULTS[self.source]
        alt = np.array(texts, dtype=object)[np.minimum((rec._u2.to_numpy() * len(texts)).astype(int), len(texts) - 1)]
        rec["_text"] = np.where(st == OK, text, np.where(st == CENSORED, cen_txt, np.where(st == TEXT, alt, "")))
        return ss, rec

    def _units(self, rec: pd.DataFrame, variant: dict[str, str]) -> np.ndarray:
        unit = np.array([s.unit for s in self.specs], dtype=object)[rec._test.to_numpy()]
        p = P_UNIT_VARIANT.get(self.source, 0)
        swap = (rec._u1.to_numpy() < p) & np.isin(unit, list(variant))
        if swap.any():
            unit[swap] = [variant[u] for u in unit[swap]]
            self.unit_variants = sorted(set(unit[swap]))
        return unit

    def _visit_labels(self, visit: np.ndarray) -> np.ndarray:
        return np.array(VISIT_LABELS[self.source], dtype=object)[np.where(visit >= 0, visit, len(VISITS))]

    def render(self, ctx: Context) -> pd.DataFrame:
        raise NotImplementedError

    def set_numeric(self, rec: pd.DataFrame, val: np.ndarray) -> pd.DataFrame:
        """Copy of rec with the result columns rewritten for these site-unit numeric values."""
        raise NotImplementedError


class Site01(LabDialect):
    source, site = "site01", "01"
    changed_columns = ("RESULT", "ABN_FLAG", "_num")

    def render(self, ctx: Context) -> pd.DataFrame:
        _, rec = self._base(ctx)
        pid, t = rec._pid.to_numpy(), rec._test.to_numpy()
        rec["SUBJECT_NO"] = rec._subjid
        rec["PATIENT_NAME"] = ctx.people.name_cn.to_numpy()[pid]
        rec["MRN"] = ctx.people.mrn01.to_numpy()[pid]
        rec["VISIT"] = self._visit_labels(rec._visit.to_numpy())
        rec["SAMPLE_ID"] = rec._sample_id
        rec["COLLECT_DTM"] = _date_strings(rec._date.to_numpy(), lambda x: f"{x:%Y-%m-%d}") + " " + HHMM_COLON[rec._minute.to_numpy()]
        rec["TEST_CODE"] = np.array([s.local for s in self.specs], dtype=object)[t]
        rec["TEST_NAME"] = np.array([s.name for s in self.specs], dtype=object)[t]
        rec["RESULT"] = rec._text
        rec["UNIT"] = self._units(rec, {"umol/L": "umol/l"})
        rec["REF_LOW"] = np.array([s.low for s in self.specs], dtype=object)[t]
        rec["REF_HIGH"] = np.array([s.high for s in self.specs], dtype=object)[t]
        rec["ABN_FLAG"] = flags(self.specs, t, rec._flagnum.to_numpy())
        return rec

    def set_numeric(self, rec, val):
        rec = rec.copy()
        rec["RESULT"] = site_text(self.specs, rec._test.to_numpy(), val)
        rec["ABN_FLAG"] = flags(self.specs, rec._test.to_numpy(), val)
        rec["_num"] = val
        return rec


class Site02(LabDialect):
    source, site = "site02", "02"
    changed_columns = ("结果", "提示", "_num")

    def render(self, ctx: Context) -> pd.DataFrame:
        _, rec = self._base(ctx)
        pid, t = rec._pid.to_numpy(), rec._test.to_numpy()
        p = ctx.pat
        rec["受试者编号"] = [f"2-{k}" for k in p.num.to_numpy()[pid]]
        rec["姓名"] = ctx.people.name_cn.to_numpy()[pid]
        rec["住院号"] = ctx.people.mrn02.to_numpy()[pid]
        rec["访视"] = self._visit_labels(rec._visit.to_numpy())
        rec["标本号"] = rec._sample_id
        rec["采样时间"] = _date_strings(rec._date.to_numpy(), lambda x: f"{x.year}/{x.month}/{x.day}") + " " + H_MM[rec._minute.to_numpy()]
        rec["检验项目"] = np.array([s.local for s in self.specs], dtype=object)[t]
        rec["结果"] = rec._text
        rec["单位"] = self._units(rec, {"μmol/L": "µmol/L"})
        rec["参考范围"] = np.array([self.range_text(s) for s in self.specs], dtype=object)[t]
        rec["提示"] = flags(self.specs, t, rec._flagnum.to_numpy(), "↑", "↓")
        return rec

    @staticmethod
    def range_text(s: Spec) -> str:
        if s.low and s.high:
            return f"{s.low}-{s.high}"
        return f"<{s.high}" if s.high else (f">{s.low}" if s.low else "")

    def set_numeric(self, rec, val):
        rec = rec.copy()
        rec["结果"] = site_text(self.specs, rec._test.to_numpy(), val)
        rec["提示"] = flags(self.specs, rec._test.to_numpy(), val, "↑", "↓")
        rec["_num"] = val
        return rec


class Site03(LabDialect):
    """Wide workbook: records hold one cell each; `samples` holds the row head of each sample."""

    source, site = "site03", "03"
    changed_columns = ("cell", "_num")

    def render(self, ctx: Context) -> pd.DataFrame:
        ss, rec = self._base(ctx)
        p = ctx.pat
        pid = ss._pid.to_numpy()
        num, width = p.num.to_numpy()[pid], p.width.to_numpy()[pid]
        subj = _subject("03", num, width)
        as_number = ss._u_subj.to_numpy() < P_NUMBER_SUBJECT
        subj[as_number] = [int(x) for x in subj[as_number]]
        ss["Subject"] = subj
        ss["Visit"] = self._visit_labels(ss._visit.to_numpy())
        ss["Sample No"] = ss._sample_id
        ss["Collection Date"] = _date_strings(ss._date.to_numpy(), lambda x: x)
        ss["Collection Time"] = np.where(ss._u_time.to_numpy() < P_NO_TIME, None, HHMM_COLON[ss._minute.to_numpy()])
        self.samples = ss
        self.numeric_subjects = int(as_number.sum())
        cell = rec._text.to_numpy().copy()
        ok = rec._status.to_numpy() == OK
        cell[ok] = rec._num.to_numpy()[ok].astype(object)
        rec["cell"] = cell
        return rec

    def set_numeric(self, rec, val):
        rec = rec.copy()
        rec["cell"] = val.astype(object)
        rec["_num"] = val
        return rec

    def reference_rows(self) -> list[list]:
        return [[s.local, float(s.low), float(s.high), s.unit or None] for s in self.specs]


class Site04(LabDialect):
    source, site = "site04", "04"
    changed_columns = ("VALUE", "_num")

    def render(self, ctx: Context) -> pd.DataFrame:
        _, rec = self._base(ctx)
        pid, t = rec._pid.to_numpy(), rec._test.to_numpy()
        st = rec._status.to_numpy()
        p = ctx.pat
        rec["SUBJID"] = _subject("04", p.num.to_numpy()[pid], p.width.to_numpy()[pid])
        rec["PAT_NAME"] = ctx.people.name_py.to_numpy()[pid]
        rec["PHONE"] = ctx.people.phone.to_numpy()[pid]
        rec["VISIT_LABEL"] = self._visit_labels(rec._visit.to_numpy())
        rec["ACCESSION"] = rec._sample_id
        rec["COLL_DATE"] = _date_strings(rec._date.to_numpy(), lambda x: f"{x.day:02d}{MONTHS[x.month - 1]}{x.year}")
        rec["COLL_TIME"] = np.where(rec._u_time.to_numpy() < P_NO_TIME, "", HHMM[rec._minute.to_numpy()])
        rec["ANALYTE"] = np.array([s.local for s in self.specs], dtype=object)[t]
        rec["VALUE"] = np.where((st == TEXT) | (st == QNS), "", rec._text.to_numpy())
        rec["UNITS"] = self._units(rec, {"mg/dL": "mg/dl"})
        rec["LOW"] = np.array([s.low for s in self.specs], dtype=object)[t]
        rec["HIGH"] = np.array([s.high for s in self.specs], dtype=object)[t]
        comment = np.where(st == QNS, "QNS", np.where(st == TEXT, rec._text.to_numpy(), ""))
        comment[(st == OK) & (rec._u2.to_numpy() < P_RECOLLECTED)] = "recollected"
        rec["COMMENT"] = comment
        return rec

    def set_numeric(self, rec, val):
        rec = rec.copy()
        rec["VALUE"] = site_text(self.specs, rec._test.to_numpy(), val)
        rec["_num"] = val
        return rec


class Site05(LabDialect):
    source, site = "site05", "05"
    changed_columns = ("lbres", "_num")

    def render(self, ctx: Context) -> pd.DataFrame:
        _, rec = self._base(ctx)
        pid, t = rec._pid.to_numpy(), rec._test.to_numpy()
        st = rec._status.to_numpy()
        rec["subj"] = (5000 + ctx.pat.num.to_numpy()[pid]).astype(float)
        rec["visno"] = np.where(rec._visit.to_numpy() >= 0, rec._visit.to_numpy() + 1, 99).astype(float)
        rec["sampid"] = rec._sample_id
        rec["sampdt"] = (rec._date.to_numpy().astype("datetime64[D]").astype("datetime64[us]")
                         + (rec._minute.to_numpy() * 60_000_000).astype("timedelta64[us]"))
        rec["lbcode"] = (t + 1).astype(float)
        rec["lbres"] = rec._num.to_numpy()
        rec["lbresc"] = np.where(st == OK, "", rec._text.to_numpy())
        rec["lbunit"] = np.array(SITE05_UNIT_CODE, dtype=float)[t]
        lo, hi = _bounds(self.specs, t)
        rec["nrlo"], rec["nrhi"] = lo, hi
        return rec

    def set_numeric(self, rec, val):
        rec = rec.copy()
        rec["lbres"] = val
        rec["_num"] = val
        return rec


DIALECTS = (Site01, Site02, Site03, Site04, Site05)


def test_label(source: str, test: int):
    """How a test is named in a source's records (site03: header before the unit; site05: lbcode)."""
    return int(SPECS[source][test].local) if source == "site05" else SPECS[source][test].local

