"""Rebuilding a subject-level dataset for the subjects whose inputs changed only.

LB's records of one subject are made from that subject's harmonized rows alone, ADLB's and
ADSCORE's from its LB, RS, PR and ADSL rows (the derivations group by subject), so on a night when
one site sent new lab results the records of every other subject are those of the night before.
Each subject's inputs are summarized by a digest; the subjects whose digest changed or who are new
are built, the others' records are taken from the previous night's dataset. The SDTM hand-off
(cdisc.handoff) and cdisc.adam.previous keep the previous datasets and digests.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aclf.frames import float_bits, isin, stacked
from cdisc.row_hash import ROW_HASH, row_hashes

SUBJECT = "USUBJID"


@dataclass(frozen=True)
class Previous:
    """What a night left for the next: each subject's input digest and the datasets built from them."""

    digests: pd.Series
    datasets: Mapping[str, pd.DataFrame]


class Stored(Mapping[str, pd.DataFrame]):
    """Datasets read from their files each time one is asked for, never kept: a previous night's
    LB or ADLB lives only while it is merged, not beside the whole of tonight's build."""

    def __init__(self, readers: Mapping[str, Callable[[], pd.DataFrame]]):
        self._readers = dict(readers)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self._readers[name]()

    def __iter__(self) -> Iterator[str]:
        return iter(self._readers)

    def __len__(self) -> int:
        return len(self._readers)


def positions(codes: np.ndarray) -> np.ndarray:
    """Each row's position among its subject's rows, in order (0, 1, ...), from the subjects'
    factorized codes."""
    return pd.Series(codes).groupby(codes).cumcount().to_numpy()


def subject_digests(parts: Sequence[pd.DataFrame], subject: str = SUBJECT) -> pd.Series:
    """A 64-bit digest per subject of its rows in every part, in their order: each row's values, its
    position among the subject's rows and its part are hashed together (pandas' hash_pandas_object)
    and the subject's row hashes are added (modulo 2**64). Text is hashed as categories: each
    distinct value once, without a Python string per row; floats by their bits (a limit turned from
    0 to -0 is a change Dataset-JSON shows)."""
    sums = []
    for number, part in enumerate(parts):
        codes, subjects = pd.factorize(part[subject])
        text = [c for c in part.columns if pd.api.types.is_string_dtype(part[c])]
        rows = pd.util.hash_pandas_object(
            float_bits(part).astype(dict.fromkeys(text, "category")).assign(
                _position=positions(codes), _part=number), index=False)
        total = np.zeros(len(subjects), dtype="uint64")
        np.add.at(total, codes, rows.to_numpy())
        sums.append(pd.Series(total, index=subjects))
    joined = pd.concat(sums)
    return joined.groupby(level=0).sum().astype("uint64").rename_axis(subject)


def write_digests(digests: pd.Series, path: Path) -> None:
    digests.rename("digest").reset_index().to_parquet(path, index=False)


def read_digests(path: Path) -> pd.Series:
    table = pd.read_parquet(path)
    return table.set_index(table.columns[0])["digest"]


def changed_subjects(before: pd.Series, now: pd.Series) -> pd.Index:
    """Tonight's subjects whose digest differs from the previous one's, or who had none."""
    known = isin(now.index, before.index)
    same = np.zeros(len(now), dtype=bool)
    same[known] = before.reindex(now.index[known]).to_numpy() == now.to_numpy()[known]
    return now.index[~same]


def merge_by_subject(previous: pd.DataFrame, rebuilt: pd.DataFrame | None, keep: pd.Series) -> pd.DataFrame:
    """The previous records of the subjects in ``keep`` and the rebuilt records (None: no subject was
    rebuilt), in subject order. Both frames are in their key order, which begins with the subject:
    each subject's records come from one of them, so a stable sort on the subject alone gives the
    key order of a full build. Both frames are consumed, a column at a time (each is let go once
    moved): a whole previous LB beside the whole result was the peak of a site's night."""
    parts = [previous] if rebuilt is None else [previous, rebuilt]
    held = np.flatnonzero(isin(previous[SUBJECT], keep))
    subjects = pd.concat([previous[SUBJECT].take(held), *(p[SUBJECT] for p in parts[1:])], ignore_index=True)
    codes, _ = pd.factorize(subjects, sort=True)      # codes in the subjects' sort order
    rows = np.concatenate([held, len(previous) + np.arange(sum(len(p) for p in parts[1:]))])
    return stacked(parts, rows[np.argsort(codes, kind="stable")])


def merge_hashed(previous: pd.DataFrame, rebuilt: pd.DataFrame | None, keep: pd.Series,
                 unhashed: Sequence[str] = ()) -> tuple[pd.DataFrame, np.ndarray | None]:
    """``merge_by_subject``, and the merged records' row hashes (cdisc.row_hash) when ``previous``
    carries its own in ``ROW_HASH`` (else None): a row's hash is of its own values, so the kept
    records keep theirs and only the rebuilt ones are hashed, their values in the merged column
    order. ``unhashed``: columns carried beside the values (LB's lineage), not hashed."""
    if ROW_HASH not in previous:
        return merge_by_subject(previous, rebuilt, keep), None
    if rebuilt is not None:
        made = row_hashes(rebuilt[[c for c in previous.columns if c != ROW_HASH and c not in unhashed]])
        if made is None:
            return merge_by_subject(previous.drop(columns=ROW_HASH), rebuilt, keep), None
        rebuilt = rebuilt.assign(**{ROW_HASH: made})
    merged = merge_by_subject(previous, rebuilt, keep)
    return merged, merged.pop(ROW_HASH).to_numpy()
