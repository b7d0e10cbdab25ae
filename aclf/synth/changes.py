"""Changes between cumulative snapshots: corrected lab values, vanished lab records, one corrected AE grade.

A change with night index k takes effect in night k: nights before it show the old value (or the
record); nights from k on show the new value (or lack the record).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .design import VI
from .dialects import SPECS


@dataclass(frozen=True)
class LabChange:
    source: str
    row: int          # row of the source's record table
    k: int            # first night index with the new state
    old: float        # site-unit value shown before night k (NaN for a vanished record)


def per_transition(subjects: int, per: int) -> int:
    return 1 + subjects // per


def choose_lab_changes(rng: np.random.Generator, recs: dict[str, pd.DataFrame], cuts: list[int],
                       subjects: int) -> tuple[list[LabChange], list[LabChange]]:
    """A few corrections and vanished records per source and night transition."""
    corrected: list[LabChange] = []
    vanished: list[LabChange] = []
    used: dict[str, set[int]] = {s: set() for s in recs}
    for k in range(1, len(cuts)):
        for source, rec in recs.items():
            pool = np.flatnonzero((rec._date.to_numpy() <= cuts[k - 1]) & ~np.isnan(rec._num.to_numpy())
                                  & (rec._visit.to_numpy() != VI["WEEK-1"]))
            pool = np.setdiff1d(pool, np.fromiter(used[source], dtype=np.int64))
            nc, nv = per_transition(subjects, 200), per_transition(subjects, 300)
            if len(pool) < nc + nv:
                continue
            pick = rng.choice(pool, size=nc + nv, replace=False)
            used[source].update(pick.tolist())
            for row in pick[:nc]:
                corrected.append(LabChange(source, int(row), k, _typo(rng, source, rec, int(row))))
            for row in pick[nc:]:
                vanished.append(LabChange(source, int(row), k, np.nan))
    return corrected, vanished


def _typo(rng: np.random.Generator, source: str, rec: pd.DataFrame, row: int) -> float:
    """An entry error that the site later corrects: a slipped decimal point or a wrong last digit."""
    new = float(rec._num.iat[row])
    dec = SPECS[source][int(rec._test.iat[row])].dec
    if new != 0 and rng.random() < 0.5:
        return round(new * 10, dec)
    return round(new + int(rng.integers(1, 10)) * 10.0 ** -dec, dec)


def choose_edc_corrections(rng: np.random.Generator, aes: pd.DataFrame, cuts: list[int]) -> list[tuple[int, int, int]]:
    """(AE row, night index k, old grade): one AE severity corrected per night transition."""
    out: list[tuple[int, int, int]] = []
    for k in range(1, len(cuts)):
        pool = np.flatnonzero((aes.onset.to_numpy() <= cuts[k - 1]) & ~aes.fatal.to_numpy()
                              & (aes.grade.to_numpy() <= 3))
        pool = np.setdiff1d(pool, [r for r, _, _ in out])
        if len(pool):
            row = int(rng.choice(pool))
            out.append((row, k, int(aes.grade.iat[row]) + 1))
    return out


def lab_snapshot(dialect, rec: pd.DataFrame, cut: int, j: int, corrected: list[LabChange],
                 vanished: list[LabChange]) -> pd.DataFrame:
    """The source's records in night j (data up to day `cut`), with the night's state of each change."""
    keep = rec._date.to_numpy() <= cut
    gone = [c.row for c in vanished if c.source == dialect.source and c.k <= j]
    keep[gone] = False
    old = [c for c in corrected if c.source == dialect.source and c.k > j and keep[c.row]]
    snap = rec[keep]
    if old:
        rows = [c.row for c in old]
        snap = snap.copy()
        new = dialect.set_numeric(rec.loc[rows], np.array([c.old for c in old]))
        for col in dialect.changed_columns:
            snap.loc[rows, col] = new[col].to_numpy()
    return snap
