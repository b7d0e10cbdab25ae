"""Clinical course of every screened patient: enrolment, eligibility, randomization, outcome, visits.

All dates are integer days since 1970-01-01 (vectorizable); protocol days are relative to Day 0, the
day of stage-1 randomization and first infusion. The whole course is simulated once, to week 53;
nightly snapshots are cuts of it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .design import (ENROL_FIRST, ENROL_LAST, INFUSION_VISITS_1, INFUSION_VISITS_2, MISSABLE, NV, SITE05_CAP,
                     SITE05_DELAY, SITE_WEIGHTS, SITES, VI, VISITS)

EPOCH = dt.date(1970, 1, 1)
NEVER = 10**6                  # a protocol day that never comes

FAIL_REASONS = {  # reason -> (weight, text in SCREEN_FAIL_REASON)
    "TBIL": (0.30, "Total bilirubin < 5 mg/dL (85.5 umol/L)"),
    "INR": (0.15, "INR < 1.5 and prothrombin activity >= 40%"),
    "AGE": (0.10, "Age > 70 years"),
    "HE": (0.15, "Hepatic encephalopathy grade >= 2"),
    "PLT": (0.10, "Platelets < 50 x10^9/L before onset"),
    "HCC": (0.10, "Hepatocellular carcinoma"),
    "CONSENT": (0.10, "Consent withdrawn before randomization"),
}
INELIGIBLE_RULES = ("TBIL", "INR", "AGE", "HE", "PRIOR_PLT")
ETIOLOGIES = {"HBV": 0.55, "HBV+ALCOHOL": 0.10, "ALCOHOL": 0.10, "HCV": 0.03, "AIH": 0.05, "PBC": 0.03,
              "PSC": 0.01, "DILI": 0.06, "CRYPTOGENIC": 0.04, "OTHER": 0.03}
DEATH_CAUSES = {"LIVER FAILURE": 0.40, "MULTIPLE ORGAN FAILURE": 0.20, "SEPSIS": 0.15,
                "GASTROINTESTINAL BLEEDING": 0.12, "HEPATORENAL SYNDROME": 0.13}
ENDS = ("DEATH", "LIVER TRANSPLANT", "WITHDRAWAL BY SUBJECT", "LOST TO FOLLOW-UP", "PHYSICIAN DECISION",
        "COMPLETED")
NOT_DONE_BY_END = {"DEATH": "DEATH", "LIVER TRANSPLANT": "LIVER TRANSPLANT",
                   "WITHDRAWAL BY SUBJECT": "CONSENT WITHDRAWN", "LOST TO FOLLOW-UP": "LOST TO FOLLOW-UP",
                   "PHYSICIAN DECISION": "PHYSICIAN DECISION"}


def to_date(days: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(days))


def epoch_day(d: dt.date) -> int:
    return (d - EPOCH).days


def iso_dates(days: np.ndarray) -> np.ndarray:
    """`YYYY-MM-DD` of epoch days."""
    return np.datetime_as_string(np.asarray(days, dtype=np.int64).astype("datetime64[D]"), unit="D").astype(object)


def iso_minutes(days: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    """`YYYY-MM-DDTHH:MM` of epoch days plus minutes after midnight."""
    t = (np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[m]")
         + np.asarray(minutes, dtype=np.int64).astype("timedelta64[m]"))
    return np.datetime_as_string(t, unit="m").astype(object)


@dataclass
class Course:
    """Simulated truth, one row per screened patient plus per-visit matrices and event tables."""

    pat: pd.DataFrame           # per patient (see simulate)
    vday: np.ndarray            # (n, NV) actual protocol day of each visit
    vdone: np.ndarray           # (n, NV) the visit took place
    rand: pd.DataFrame          # one row per randomization (stage 1 and 2)
    infusions: pd.DataFrame     # one row per planned infusion, with the day it becomes known
    ineligible: list[dict]

    def health(self, idx: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Disease activity h(t): 1 at baseline, towards r on recovery, rising before death/transplant."""
        p = self.pat
        r, tau, amp, w, ev = (p[c].to_numpy()[idx] for c in ("h_r", "h_tau", "h_amp", "h_w", "event_day"))
        t = np.maximum(day, 0).astype(float)
        h = r + (1 - r) * np.exp(-t / tau)
        h = h + amp * np.exp(-np.clip(ev - t, 0, None) / w)
        return np.where(day < 0, 1.0 + day / 80.0, h)


def _assign_sites(rng: np.random.Generator, n: int) -> np.ndarray:
    site = rng.choice(len(SITES), size=n, p=SITE_WEIGHTS)
    if n >= len(SITES):
        for s in range(len(SITES)):
            if not (site == s).any():
                site[rng.integers(n)] = s
    over = np.flatnonzero(site == 4)[SITE05_CAP:]
    if len(over):
        w = SITE_WEIGHTS[:4] / SITE_WEIGHTS[:4].sum()
        site[over] = rng.choice(4, size=len(over), p=w)
    return site


def _blocks(rng: np.random.Generator, n: int, block: list[int]) -> np.ndarray:
    """Permuted-block assignment sequence of length n (1 = hUC-MSC)."""
    out = []
    while len(out) < n:
        out.extend(rng.permutation(block).tolist())
    return np.array(out[:n], dtype=bool)


def _choice(rng: np.random.Generator, table: dict, size: int) -> np.ndarray:
    keys = list(table)
    w = np.array([table[k][0] if isinstance(table[k], tuple) else table[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=size, p=w / w.sum())]


def _birth_dates(rng: np.random.Generator, consent: np.ndarray, age: np.ndarray) -> list[dt.date]:
    out = []
    for c, a in zip(consent, age):
        d = to_date(c)
        anniversary = d.replace(year=d.year - int(a), day=28) if (d.month, d.day) == (2, 29) else d.replace(year=d.year - int(a))
        out.append(anniversary - dt.timedelta(days=int(rng.integers(1, 364))))
    return out


def simulate(rng: np.random.Generator, n: int, last_night: dt.date) -> Course:
    """Simulate n screened patients whose consents fall in the enrolment period before last_night."""
    last = epoch_day(last_night)
    site = _assign_sites(rng, n)
    first = last - ENROL_FIRST
    lo = np.where(site == 4, first + SITE05_DELAY, first)
    consent = lo + np.floor(rng.random(n) * (last - ENROL_LAST - lo + 1)).astype(np.int64)
    order = np.lexsort((np.arange(n), consent))
    site, consent = site[order], consent[order]
    num = np.zeros(n, dtype=np.int64)
    width = np.zeros(n, dtype=np.int64)
    for s in range(len(SITES)):
        m = site == s
        num[m] = np.arange(1, m.sum() + 1)
        width[m] = 3  # a minimum: numbers from 1000 on take four digits (01-1234), as the SUBJID rule says
    sitestr = np.array(SITES, dtype=object)[site]
    subjid = [f"{s}-{k:0{w}d}" for s, k, w in zip(sitestr, num, width)]

    screen = consent + (rng.random(n) < 0.2)
    scr_day = -(7 + np.clip(np.round(rng.normal(0, 2, n)), -5, 5)).astype(np.int64)
    d0 = screen - scr_day

    # screen failures and their reasons
    n_fail = int(round(0.10 * n))
    fail = np.zeros(n, dtype=bool)
    fail[rng.choice(n, size=n_fail, replace=False)] = True
    reason = np.full(n, "", dtype=object)
    reason[fail] = _choice(rng, FAIL_REASONS, n_fail)
    randomized = ~fail
    rand_idx = np.flatnonzero(randomized)

    # deliberate eligibility contradictions among randomized patients
    k_inel = 0 if len(rand_idx) < 5 else max(1, int(round(len(rand_idx) * 0.012)))
    inel_idx = np.sort(rng.choice(rand_idx, size=k_inel, replace=False)) if k_inel else np.array([], dtype=int)
    inel_rule = np.full(n, "", dtype=object)
    for j, i in enumerate(inel_idx):
        inel_rule[i] = INELIGIBLE_RULES[(j + int(rng.integers(len(INELIGIBLE_RULES)))) % len(INELIGIBLE_RULES)]

    age = np.clip(np.round(rng.normal(47, 11, n)), 20, 69).astype(np.int64)
    age[reason == "AGE"] = rng.integers(71, 77, size=(reason == "AGE").sum())
    age[inel_rule == "AGE"] = 71
    female = rng.random(n) < 0.3
    birth = _birth_dates(rng, consent, age)
    ethnic = np.where(rng.random(n) < 0.92, "HAN", "OTHER")
    race = np.where(rng.random(n) < 0.995, "ASIAN", "OTHER")

    etiology = _choice(rng, ETIOLOGIES, n)
    cirrhosis = np.where(rng.random(n) < 0.7, "Y", "N")
    onset = screen - rng.integers(2, 29, n)
    prior_plt = rng.integers(55, 221, n)
    prior_plt[reason == "PLT"] = rng.integers(22, 49, size=(reason == "PLT").sum())
    prior_plt[inel_rule == "PRIOR_PLT"] = 42
    prior_ctp = np.where(cirrhosis == "Y", rng.integers(6, 13, n), rng.integers(5, 9, n))
    he0 = (rng.random(n) < 0.45).astype(np.int64)

    # stage 1: 2:1 permuted blocks of 6 per site, in Day-0 order
    msc = np.zeros(n, dtype=bool)
    for s in range(len(SITES)):
        idx = rand_idx[site[rand_idx] == s]
        idx = idx[np.lexsort((idx, d0[idx]))]
        msc[idx] = _blocks(rng, len(idx), [1, 1, 1, 1, 0, 0])

    # visit days
    vday = np.zeros((n, NV), dtype=np.int64)
    for i, v in enumerate(VISITS):
        vday[:, i] = v.target + np.clip(np.round(rng.normal(0, v.sd, n)), -v.clip, v.clip).astype(np.int64) if v.sd else v.target
    vday[:, VI["WEEK-1"]] = scr_day

    # outcomes (protocol days); hUC-MSC lowers early mortality somewhat
    p28 = np.where(msc, 0.20, 0.30)
    u = rng.random(n)
    death = np.full(n, NEVER, dtype=np.int64)
    early = u < p28
    death[early] = 1 + np.floor(27 * rng.beta(1.3, 2.0, n)[early]).astype(np.int64)
    late = (~early) & (rng.random(n) < 0.24)
    death[late] = 29 + np.floor(342 * rng.beta(1.0, 2.2, n)[late]).astype(np.int64)
    tx = np.where(rng.random(n) < 0.08, 3 + np.floor(150 * rng.beta(1.2, 3.0, n)).astype(np.int64), NEVER)
    wd = np.full(n, NEVER, dtype=np.int64)
    wd_kind = rng.choice(3, size=n, p=[0.5, 0.35, 0.15])
    has_wd = rng.random(n) < 0.06
    wd[has_wd] = rng.integers(10, 361, size=has_wd.sum())
    ev = np.stack([death, tx, wd])
    first_ev = ev.min(axis=0)
    end_kind = np.argmin(ev, axis=0)  # 0 death, 1 transplant, 2 withdrawal-like
    w53 = vday[:, VI["WEEK53"]]
    completed = first_ev > w53
    end = np.where(completed, "COMPLETED",
                   np.where(end_kind == 0, "DEATH", np.where(end_kind == 1, "LIVER TRANSPLANT",
                            np.array(["WITHDRAWAL BY SUBJECT", "LOST TO FOLLOW-UP", "PHYSICIAN DECISION"])[wd_kind])))
    end_day = np.where(completed, w53, first_ev)
    stop = np.where(completed, w53 + 1, first_ev)          # first protocol day without any data
    end = np.where(randomized, end, "")
    event_day = np.where(randomized & ((end == "DEATH") | (end == "LIVER TRANSPLANT")), end_day, NEVER)

    missed = np.zeros((n, NV), dtype=bool)
    for code in MISSABLE:
        missed[:, VI[code]] = rng.random(n) < 0.03
    vdone = (vday < stop[:, None]) & ~missed & randomized[:, None]
    vdone[:, VI["WEEK-1"]] = True

    # stage 2 at week 4: surviving, non-transplanted, still participating hUC-MSC patients, 1:1
    stage2 = msc & randomized & vdone[:, VI["WEEK4"]]
    msc2 = np.zeros(n, dtype=bool)
    for s in range(len(SITES)):
        idx = np.flatnonzero(stage2 & (site == s))
        idx = idx[np.lexsort((idx, d0[idx] + vday[idx, VI["WEEK4"]]))]
        msc2[idx] = _blocks(rng, len(idx), [1, 1, 0, 0])

    # severity model: parameters of the health curve and of baseline labs (canonical units)
    dying = event_day < NEVER
    h_r = np.where(dying & (event_day <= 28), rng.uniform(0.75, 1.0, n), rng.uniform(0.05, 0.35, n))
    h_tau = rng.uniform(8, 45, n) * np.where(msc, 0.85, 1.0)
    h_amp = np.where(end == "DEATH", rng.uniform(0.6, 1.2, n), np.where(end == "LIVER TRANSPLANT", rng.uniform(0.3, 0.7, n), 0.0))
    h_w = rng.uniform(5, 20, n)

    last_visit = np.where(vdone, vday, -NEVER).max(axis=1)
    last_contact = end_day.copy()
    m = end == "DEATH"
    last_contact[m] = np.maximum(last_visit[m], end_day[m] - rng.integers(1, 5, n)[m])
    last_contact[end == "LOST TO FOLLOW-UP"] -= 1
    cause = np.where(end == "DEATH", _choice(rng, DEATH_CAUSES, n), "")

    prior_ctp = np.where(randomized, np.minimum(prior_ctp, 9), prior_ctp)   # randomized: met EXCL02 (score <= 9)
    pat = pd.DataFrame({
        "site": sitestr, "sitei": site, "num": num, "width": width, "subjid": subjid,
        "consent": consent, "screen": screen, "d0": d0, "birth": birth, "age": age, "female": female,
        "ethnic": ethnic, "race": race, "randomized": randomized, "fail_reason": reason,
        "fail_text": [FAIL_REASONS[r][1] if r else "" for r in reason], "ineligible": inel_rule,
        "etiology": etiology, "cirrhosis": cirrhosis, "onset": onset, "prior_plt": prior_plt,
        "prior_ctp": prior_ctp, "he0": he0, "msc": msc & randomized, "stage2": stage2, "msc2": msc2 & stage2,
        "end": end, "end_day": end_day, "stop": stop, "event_day": event_day, "last_contact": last_contact,
        "death_cause": cause, "h_r": h_r, "h_tau": h_tau, "h_amp": h_amp, "h_w": h_w,
    })
    rand = _randomizations(rng, pat, vday)
    course = Course(pat=pat, vday=vday, vdone=vdone, rand=rand, infusions=pd.DataFrame(), ineligible=[])
    course.infusions = _infusions(rng, course)
    course.ineligible = [{"subjid": subjid[i], "rule": inel_rule[i]} for i in inel_idx]
    return course


def _randomizations(rng: np.random.Generator, pat: pd.DataFrame, vday: np.ndarray) -> pd.DataFrame:
    """IWRS rows: stage 1 on Day 0, stage 2 on the week-4 visit; numbers and kits in time order."""
    r1 = pat.index[pat.randomized].to_numpy()
    r2 = pat.index[pat.stage2].to_numpy()
    rows = pd.DataFrame({
        "pid": np.concatenate([r1, r2]),
        "stage": np.r_[np.ones(len(r1), int), np.full(len(r2), 2)],
        "day": np.concatenate([pat.d0.to_numpy()[r1], pat.d0.to_numpy()[r2] + vday[r2, VI["WEEK4"]]]),
        "minute": rng.integers(8 * 60 + 35, 9 * 60 + 21, len(r1) + len(r2)),     # after the sample, before the infusion
        "msc": np.concatenate([pat.msc.to_numpy()[r1], pat.msc2.to_numpy()[r2]]),
    })
    rows = rows.sort_values(["day", "minute", "stage", "pid"], kind="stable").reset_index(drop=True)
    rows["rand_no"] = ""
    for st in (1, 2):
        m = rows.stage == st
        rows.loc[m, "rand_no"] = [f"R{st}-{k:04d}" for k in range(1, m.sum() + 1)]
    nk = np.where(rows.stage == 1, 3, 2)
    start = 101 + np.r_[0, np.cumsum(nk)[:-1]]
    rows["kits"] = [[f"K{k:04d}" for k in range(s, s + c)] for s, c in zip(start, nk)]
    rows["treatment"] = np.where(rows.msc, "HUC-MSC", "PLACEBO")
    return rows


def _infusions(rng: np.random.Generator, c: Course) -> pd.DataFrame:
    """One row per planned infusion; `known` is the absolute day from which the EDC holds the row."""
    p, out = c.pat, []
    for _, r in c.rand.iterrows():
        i = r.pid
        visits = INFUSION_VISITS_1 if r.stage == 1 else INFUSION_VISITS_2
        for k, code in enumerate(visits):
            vi = VI[code]
            planned = VISITS[vi].target
            took = c.vdone[i, vi]
            skip = took and code not in ("WEEK0", "WEEK4") and rng.random() < 0.02
            start = int(rng.integers(9 * 60 + 30, 10 * 60 + 40))
            dur = int(rng.integers(30, 56))
            if took and not skip:
                reason, known, day = "", c.vday[i, vi], c.vday[i, vi]
            elif took:
                reason, known, day = str(rng.choice(["ADVERSE EVENT", "INVESTIGATOR DECISION"])), c.vday[i, vi], c.vday[i, vi]
            else:
                reason = NOT_DONE_BY_END.get(p.end[i], "VISIT MISSED")
                day = planned
                known = max(planned, p.end_day[i])
            out.append((i, code, r.stage, day, start, start + dur, r.kits[k], not reason, reason, p.d0[i] + known))
    return pd.DataFrame(out, columns=["pid", "visit", "stage", "day", "start", "end", "kit", "done", "reason", "known"])
