"""Adverse events of randomized patients: Chinese verbatim terms, English translation, MedDRA coding."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .course import NEVER, Course
from .design import VI

# verbatim (Chinese), English translation, MedDRA PT, MedDRA SOC, weight, tied to an infusion
TERMS = (
    ("发热", "Fever", "Pyrexia", "General disorders and administration site conditions", 10, True),
    ("寒战", "Chills", "Chills", "General disorders and administration site conditions", 4, True),
    ("乏力", "Fatigue", "Fatigue", "General disorders and administration site conditions", 6, False),
    ("腹水加重", "Ascites worsening", "Ascites", "Gastrointestinal disorders", 8, False),
    ("恶心", "Nausea", "Nausea", "Gastrointestinal disorders", 5, False),
    ("腹泻", "Diarrhoea", "Diarrhoea", "Gastrointestinal disorders", 4, False),
    ("上消化道出血", "Upper GI bleeding", "Upper gastrointestinal haemorrhage", "Gastrointestinal disorders", 3, False),
    ("肝性脑病", "Hepatic encephalopathy", "Hepatic encephalopathy", "Nervous system disorders", 5, False),
    ("头痛", "Headache", "Headache", "Nervous system disorders", 3, False),
    ("自发性细菌性腹膜炎", "Spontaneous bacterial peritonitis", "Peritonitis bacterial", "Infections and infestations", 4, False),
    ("肺部感染", "Pulmonary infection", "Lung infection", "Infections and infestations", 5, False),
    ("尿路感染", "Urinary tract infection", "Urinary tract infection", "Infections and infestations", 2, False),
    ("急性肾损伤", "Acute kidney injury", "Acute kidney injury", "Renal and urinary disorders", 4, False),
    ("低钾血症", "Hypokalaemia", "Hypokalaemia", "Metabolism and nutrition disorders", 4, False),
    ("低钠血症", "Hyponatraemia", "Hyponatraemia", "Metabolism and nutrition disorders", 3, False),
    ("皮疹伴瘙痒", "Rash, itchy", "Rash pruritic", "Skin and subcutaneous tissue disorders", 2, True),
    ("失眠", "Insomnia", "Insomnia", "Psychiatric disorders", 2, False),
    ("血小板减少", "Thrombocytopenia", "Thrombocytopenia", "Blood and lymphatic system disorders", 2, False),
)
FATAL = {  # death cause -> fatal AE
    "LIVER FAILURE": ("肝衰竭加重", "Worsening of liver failure", "Hepatic failure", "Hepatobiliary disorders"),
    "MULTIPLE ORGAN FAILURE": ("多器官功能衰竭", "Multiple organ dysfunction", "Multiple organ dysfunction syndrome",
                               "General disorders and administration site conditions"),
    "SEPSIS": ("脓毒症", "Sepsis", "Sepsis", "Infections and infestations"),
    "GASTROINTESTINAL BLEEDING": ("消化道大出血", "Massive GI haemorrhage", "Gastrointestinal haemorrhage",
                                  "Gastrointestinal disorders"),
    "HEPATORENAL SYNDROME": ("肝肾综合征", "Hepatorenal syndrome", "Hepatorenal syndrome", "Renal and urinary disorders"),
}
CHINESE = "".join(t[0] for t in TERMS) + "".join(f[0] for f in FATAL.values())
REL = np.array(["NOT RELATED", "UNLIKELY RELATED", "POSSIBLY RELATED", "PROBABLY RELATED", "DEFINITELY RELATED"])


def simulate_aes(rng: np.random.Generator, c: Course) -> pd.DataFrame:
    """Full-course AE table (absolute days; `end` = NEVER while ongoing at the end of participation)."""
    p = c.pat
    rp = np.flatnonzero(p.randomized.to_numpy())
    dying = (p.end.to_numpy() == "DEATH")[rp]
    k = rng.poisson(1.6, len(rp)) + dying
    pid = np.repeat(rp, k)
    m = len(pid)
    w = np.array([t[4] for t in TERMS], dtype=float)
    term = rng.choice(len(TERMS), size=m, p=w / w.sum())
    onset = -3 + np.floor(rng.exponential(30, m)).astype(np.int64)
    tied = np.array([t[5] for t in TERMS])[term]
    inf_visit = np.array([VI["WEEK0"], VI["WEEK1"], VI["WEEK2"]])[rng.integers(0, 3, m)]
    onset = np.where(tied, c.vday[pid, inf_visit] + rng.integers(0, 2, m), onset)
    onset = np.maximum(onset, c.vday[pid, VI["WEEK-1"]])
    stop = p.stop.to_numpy()[pid]
    keep = (onset < stop) & (onset < 380)
    pid, term, onset, stop = pid[keep], term[keep], onset[keep], stop[keep]
    m = len(pid)
    end = onset + 1 + np.floor(rng.exponential(9, m)).astype(np.int64)
    grade = rng.choice([1, 2, 3, 4], size=m, p=[0.45, 0.35, 0.15, 0.05])
    ser = (grade >= 4) | ((grade == 3) & (rng.random(m) < 0.5))
    rel = np.where(np.array([t[5] for t in TERMS])[term], rng.choice([2, 3], size=m, p=[0.7, 0.3]),
                   rng.choice([0, 1, 2], size=m, p=[0.6, 0.3, 0.1]))
    treating = (onset <= 14) | (p.stage2.to_numpy()[pid] & (onset <= 35))
    acn = np.where(treating, np.where(rng.random(m) < 0.9, "DOSE NOT CHANGED", "DRUG INTERRUPTED"), "NOT APPLICABLE")
    out = np.where(rng.random(m) < 0.95, "RECOVERED/RESOLVED", "RECOVERED/RESOLVED WITH SEQUELAE")
    ae = pd.DataFrame({"pid": pid, "term": term, "onset": onset, "end": np.where(end >= stop, NEVER, end),
                       "grade": grade, "ser": np.where(ser, "Y", "N"), "rel": REL[rel], "acn": acn, "out": out,
                       "fatal": False})
    # one fatal AE per death, ending on the day of death
    dp = np.flatnonzero(p.end.to_numpy() == "DEATH")
    dday = p.end_day.to_numpy()[dp]
    fonset = np.maximum(dday - rng.integers(2, 11, len(dp)), 0)
    fatal = pd.DataFrame({"pid": dp, "term": -1, "onset": fonset, "end": dday, "grade": 5, "ser": "Y",
                          "rel": REL[rng.choice([0, 1], size=len(dp), p=[0.8, 0.2])], "acn": "NOT APPLICABLE",
                          "out": "FATAL", "fatal": True})
    ae = pd.concat([ae, fatal], ignore_index=True)
    d0 = p.d0.to_numpy()[ae.pid]
    ae["onset"] = ae.onset + d0
    ae["end"] = np.where(ae.end >= NEVER, NEVER, ae.end + d0)
    ae["cause"] = p.death_cause.to_numpy()[ae.pid]
    ae = ae.sort_values(["pid", "onset", "fatal", "term"], kind="stable").reset_index(drop=True)
    ae["spid"] = ae.groupby("pid").cumcount() + 1
    n = len(ae)
    ae["coded"] = rng.random(n) >= 0.04
    u = rng.random(n)
    ae["partial_st"] = np.where(u < 0.015, 1, np.where(u < 0.02, 2, 0))     # 1 = YYYY-MM, 2 = YYYY
    u = rng.random(n)
    ae["partial_en"] = np.where(u < 0.015, 1, np.where(u < 0.02, 2, 0))
    ae.loc[ae.fatal, "partial_en"] = 0
    return ae


def term_columns(ae: pd.DataFrame) -> dict[str, np.ndarray]:
    """AETERM, AETERM_EN, AEDECOD, AEBODSYS of each AE (coding empty while not coded)."""
    cols = {k: np.empty(len(ae), dtype=object) for k in ("AETERM", "AETERM_EN", "AEDECOD", "AEBODSYS")}
    term = ae.term.to_numpy()
    for i, t in enumerate(TERMS):
        m = term == i
        for k, v in zip(cols, t[:4]):
            cols[k][m] = v
    for cause, t in FATAL.items():
        m = (term == -1) & (ae.cause.to_numpy() == cause)
        for k, v in zip(cols, t):
            cols[k][m] = v
    uncoded = ~ae.coded.to_numpy()
    cols["AEDECOD"][uncoded] = ""
    cols["AEBODSYS"][uncoded] = ""
    return cols
