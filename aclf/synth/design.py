"""Study design facts the generator simulates (docs/study.md): visits and windows, tests, sites, calendar.

Kept here rather than read from study.yaml so that the generated data (and the defects it claims to
contain) stay fixed when the pipeline's configuration is changed on purpose.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Visit(NamedTuple):
    code: str          # EDC visit code
    num: int           # VISITNUM
    target: int        # protocol day
    lo: int            # window, inclusive
    hi: int
    labs: bool
    assess: bool       # MELD/CTP clinical assessment (plus week0, the baseline)
    sd: float          # spread of the actual day around the target
    clip: int          # largest deviation from the target for an in-window visit


VISITS: tuple[Visit, ...] = (
    Visit("WEEK-1", 1, -7, -14, -1, True, True, 2.0, 5),
    Visit("WEEK0", 2, 0, 0, 0, True, True, 0.0, 0),
    Visit("DAY3", 3, 3, 2, 4, True, False, 0.6, 1),
    Visit("WEEK1", 4, 7, 5, 9, True, True, 0.6, 1),
    Visit("WEEK2", 5, 14, 12, 16, True, True, 0.6, 1),
    Visit("WEEK3", 6, 21, 19, 23, True, False, 1.0, 2),
    Visit("WEEK4", 7, 28, 25, 31, True, True, 0.6, 1),
    Visit("WEEK5", 8, 35, 33, 37, True, True, 0.6, 1),
    Visit("WEEK8", 9, 56, 49, 63, False, False, 2.5, 6),
    Visit("WEEK12", 10, 84, 77, 91, True, True, 3.0, 6),
    Visit("WEEK24", 11, 168, 154, 182, True, True, 5.0, 12),
    Visit("WEEK53", 12, 371, 343, 399, True, True, 8.0, 25),
)
NV = len(VISITS)
UNSCHEDULED = 99
VISIT_CODES = tuple(v.code for v in VISITS)
VI = {v.code: i for i, v in enumerate(VISITS)}            # visit code -> column index
INFUSION_VISITS_1 = ("WEEK0", "WEEK1", "WEEK2")
INFUSION_VISITS_2 = ("WEEK4", "WEEK5")
MISSABLE = ("DAY3", "WEEK3", "WEEK8", "WEEK12", "WEEK24")

TESTS = ("TBIL", "ALB", "CREA", "BUN", "INR", "PT", "PTA", "NA", "PLT", "ALT", "AST")
NT = len(TESTS)
T = {t: i for i, t in enumerate(TESTS)}

SITES = ("01", "02", "03", "04", "05")
SITE_WEIGHTS = np.array([0.27, 0.23, 0.20, 0.17, 0.13])
SITE05_CAP = 999              # site05 subj = 5000 + number: at most 999 patients
SITE05_DELAY = 182            # days between the study's first consent and site05's first

# Consent dates relative to the last night: a ~10-month enrolment period that ends months before the
# data cut, so that the earliest patients have finished week 53 and the latest are in follow-up.
ENROL_FIRST = 410
ENROL_LAST = 100
STUDY_END_DAY = 400           # beyond the week-53 window: nothing is collected later


def window_of(day: np.ndarray) -> np.ndarray:
    """Index of the visit whose window holds each protocol day, -1 outside every window."""
    out = np.full(np.shape(day), -1, dtype=np.int64)
    for i, v in enumerate(VISITS):
        out[(day >= v.lo) & (day <= v.hi)] = i
    return out
