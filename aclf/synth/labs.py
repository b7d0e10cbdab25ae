"""Laboratory samples and results in canonical (SI) units, vectorized over samples × tests.

Samples follow the visit schedule, with a few dated outside their visit's window and a few
unscheduled ones; each result carries a status (numeric, not done, censored, text, QNS) that the
site dialects render in their own way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .course import Course
from .design import NT, T, UNSCHEDULED, VI, VISITS, window_of

OK, MISSING, CENSORED, TEXT, QNS = 0, 1, 2, 3, 4
INFUSION_DAY_VISITS = {VI[c] for c in ("WEEK0", "WEEK1", "WEEK2", "WEEK4", "WEEK5")}
SHIFTABLE = [VI[c] for c in ("DAY3", "WEEK1", "WEEK2", "WEEK3", "WEEK4", "WEEK5", "WEEK12", "WEEK24", "WEEK53")]
P_OUT_OF_WINDOW, P_UNSCHEDULED = 0.025, 0.12
P_MISSING, P_CENSORED, P_TEXT, P_QNS = 0.01, 0.0015, 0.0015, 0.002


@dataclass
class Labs:
    samples: pd.DataFrame    # one row per sample
    results: pd.DataFrame    # one row per sample × test: sample, test, value (SI), status, u1, u2


def _samples(rng: np.random.Generator, c: Course) -> pd.DataFrame:
    p = c.pat
    n = len(p)
    labs = np.array([v.labs for v in VISITS])
    pid, vis = np.nonzero(c.vdone & labs[None, :])
    day = c.vday[pid, vis]
    kind = np.full(len(pid), "", dtype=object)
    other = np.full(len(pid), -1)

    # out-of-window samples: labelled with their visit, dated just outside its window
    cand = np.isin(vis, SHIFTABLE) & (rng.random(len(pid)) < P_OUT_OF_WINDOW)
    lo = np.array([v.lo for v in VISITS])[vis]
    hi = np.array([v.hi for v in VISITS])[vis]
    step = rng.integers(1, 3, len(pid))
    after, before = hi + step, lo - step
    stop = p.stop.to_numpy()[pid]
    ok_after, ok_before = after < stop, before >= 1
    use_after = np.where(rng.random(len(pid)) < 0.6, ok_after, ok_after & ~ok_before)
    new = np.where(use_after, after, before)
    shift = cand & (ok_after | ok_before)
    day = np.where(shift, new, day)
    w = window_of(day)
    kind[shift] = np.where(w[shift] >= 0, "other_window", "no_window")
    other[shift] = w[shift]

    # unscheduled samples, outside every window, before the patient's data stop
    rp = np.flatnonzero(p.randomized.to_numpy() & (rng.random(n) < P_UNSCHEDULED))
    u_day = rng.integers(1, 200, len(rp))
    keep = (window_of(u_day) < 0) & (u_day < p.stop.to_numpy()[rp])
    rp, u_day = rp[keep], u_day[keep]

    s = pd.DataFrame({
        "pid": np.r_[pid, rp], "visit": np.r_[vis, np.full(len(rp), -1)],
        "day": np.r_[day, u_day], "kind": np.r_[kind, np.full(len(rp), "unscheduled", dtype=object)],
        "window_visit": np.r_[other, np.full(len(rp), -1)],
    })
    s["visno"] = np.where(s.visit >= 0, s.visit + 1, UNSCHEDULED)
    m = len(s)
    minute = rng.integers(6 * 60 + 30, 10 * 60 + 31, m)
    infusion_day = s.visit.isin(INFUSION_DAY_VISITS) & (s.kind == "")
    minute = np.where(infusion_day, rng.integers(7 * 60, 8 * 60 + 31, m), minute)
    minute = np.where(s.visit == VI["WEEK-1"], rng.integers(7 * 60, 11 * 60 + 1, m), minute)
    minute = np.where(s.kind == "unscheduled", rng.integers(8 * 60, 20 * 60 + 1, m), minute)
    s["minute"] = minute
    s["site"] = p.site.to_numpy()[s.pid]
    s["date"] = p.d0.to_numpy()[s.pid] + s.day
    s["u_time"] = rng.random(m)          # dialect choices (time left empty, subject as a number)
    s["u_subj"] = rng.random(m)
    s = s.sort_values(["site", "date", "minute", "pid", "visno"], kind="stable").reset_index(drop=True)
    # accession sequence per site and day: a lab numbers other patients' samples in between
    first = s.groupby(["site", "date"], sort=False).cumcount().to_numpy() == 0
    inc = np.where(first, rng.integers(1, 40, m), rng.integers(1, 6, m))
    s["seq"] = pd.Series(inc).groupby([s.site, s.date], sort=False).cumsum().to_numpy()
    return s


def _baselines(rng: np.random.Generator, c: Course) -> dict[str, np.ndarray]:
    p = c.pat
    n = len(p)
    b = {
        "TBIL": np.clip(np.exp(rng.normal(np.log(220), 0.4, n)), 100, 500),
        "INR": rng.uniform(1.6, 3.0, n),
        "CREA": np.clip(np.exp(rng.normal(np.log(80), 0.35, n)), 45, 200),
        "ALB": rng.uniform(25, 35, n),
        "BUN": np.clip(np.exp(rng.normal(np.log(5.5), 0.35, n)), 2.5, 12),
        "NA": rng.uniform(126, 141, n),
        "PLT": np.clip(np.exp(rng.normal(np.log(90), 0.3, n)), 50, 160),
        "ALT": np.clip(np.exp(rng.normal(np.log(180), 0.7, n)), 50, 800),
        "AST_RATIO": rng.uniform(0.9, 1.6, n),
    }
    r = p.fail_reason.to_numpy()
    b["TBIL"][r == "TBIL"] = rng.uniform(35, 80, (r == "TBIL").sum())
    b["INR"][r == "INR"] = rng.uniform(1.15, 1.4, (r == "INR").sum())
    return b


def _values(rng: np.random.Generator, c: Course, s: pd.DataFrame) -> np.ndarray:
    """(samples, tests) matrix of SI values following each patient's health curve."""
    b = _baselines(rng, c)
    pid, day = s.pid.to_numpy(), s.day.to_numpy()
    h = c.health(pid, day)
    m = len(s)

    def noise(sd):
        return np.exp(rng.normal(0, sd, m))

    up = np.maximum(h - 1, 0)
    hc = np.minimum(h, 1)
    v = np.empty((m, NT))
    v[:, T["TBIL"]] = 12 + (b["TBIL"][pid] - 12) * h * noise(0.08)
    inr = 1.0 + (b["INR"][pid] - 1.0) * h * noise(0.05)
    scr = (s.visit.to_numpy() == VI["WEEK-1"])
    rule = c.pat.ineligible.to_numpy()[pid]
    eligible = c.pat.randomized.to_numpy()[pid] & scr
    tb = v[:, T["TBIL"]]
    tb[eligible] = np.maximum(tb[eligible], 95 + 10 * rng.random(eligible.sum()))
    mt = eligible & (rule == "TBIL")
    tb[mt] = rng.uniform(62, 82, mt.sum())
    inr[eligible] = np.maximum(inr[eligible], 1.55 + 0.1 * rng.random(eligible.sum()))
    mi = eligible & (rule == "INR")
    inr[mi] = rng.uniform(1.2, 1.4, mi.sum())
    v[:, T["INR"]] = np.maximum(inr, 0.85)
    pt = 12 * v[:, T["INR"]] ** 0.91 * noise(0.02)
    v[:, T["PT"]] = pt
    v[:, T["PTA"]] = np.clip(100 * 5 / np.maximum(pt - 7, 1), 5, 140)
    v[:, T["CREA"]] = b["CREA"][pid] * (0.8 + 0.2 * hc) * (1 + 1.8 * up) * noise(0.07)
    v[:, T["ALB"]] = np.maximum(42 - (42 - b["ALB"][pid]) * np.minimum(h, 1.5), 15) * noise(0.04)
    v[:, T["BUN"]] = b["BUN"][pid] * (0.7 + 0.3 * hc) * (1 + 2 * up) * noise(0.1)
    v[:, T["NA"]] = 140 - (140 - b["NA"][pid]) * np.minimum(h, 1.6) + rng.normal(0, 1.5, m)
    v[:, T["PLT"]] = b["PLT"][pid] * (1.15 - 0.15 * hc) * (1 - 0.35 * np.minimum(up, 1.5)) * noise(0.1)
    alt = 25 + (b["ALT"][pid] - 25) * h ** 1.5 * noise(0.15)
    v[:, T["ALT"]] = alt
    v[:, T["AST"]] = alt * b["AST_RATIO"][pid] * noise(0.1)
    return v


def simulate_labs(rng: np.random.Generator, c: Course) -> Labs:
    """All samples and results of the whole course (nightly cuts select by date)."""
    s = _samples(rng, c)
    v = _values(rng, c, s)
    m = len(s)
    r = pd.DataFrame({
        "sample": np.repeat(np.arange(m), NT),
        "test": np.tile(np.arange(NT), m),
        "value": v.ravel(),
    })
    u = rng.random(len(r))
    status = np.zeros(len(r), dtype=np.int8)
    cuts = np.cumsum([P_MISSING, P_CENSORED, P_TEXT, P_QNS])
    status[u < cuts[3]] = QNS
    status[u < cuts[2]] = TEXT
    status[u < cuts[1]] = CENSORED
    status[u < cuts[0]] = MISSING
    screening = (s.visit.to_numpy() == VI["WEEK-1"])[r["sample"].to_numpy()]
    status[screening] = OK
    site04 = (s.site.to_numpy() == "04")[r["sample"].to_numpy()]
    status[(status == QNS) & ~site04] = OK
    r["status"] = status
    r["u1"] = rng.random(len(r))
    r["u2"] = rng.random(len(r))
    return Labs(samples=s, results=r)

