"""Row-level rule violations found while normalizing a table, turned into quarantine rows."""
from __future__ import annotations

import json
from collections.abc import Collection

import pandas as pd

from aclf.disclosure import PERSON_LIKE, person_like
from aclf.readers import FIELDS

QUARANTINE_COLUMNS = ["row_number", "subjid", "column_name", "rule", "reason", "data"]


class Problems:
    """Collects (rule, column, message) per row; a row's first rule names it, all messages explain it."""

    def __init__(self, index: pd.Index):
        self.rule = pd.Series(None, index=index, dtype=object)
        self.column = pd.Series(None, index=index, dtype=object)
        self.reason = pd.Series("", index=index, dtype=object)
        self.sealed = pd.Series(False, index=index, dtype=bool)   # values untrusted: no message quotes them

    def seal(self, mask: pd.Series, rule: str, column: str, message: str | pd.Series) -> None:
        """Flag rows whose values cannot be trusted (e.g. shifted columns): later rules add nothing to
        them, and their data are not kept, since a shifted personal value may sit in any column."""
        self.add(mask, rule, column, message)
        self.sealed |= mask.fillna(False).astype(bool)

    def add(self, mask: pd.Series, rule: str, column: str | pd.Series, message: str | pd.Series) -> None:
        mask = mask.fillna(False).astype(bool) & ~self.sealed
        if not mask.any():
            return
        as_series = lambda v: v.astype(str) if isinstance(v, pd.Series) else pd.Series(v, index=mask.index)  # noqa: E731
        first = mask & self.rule.isna()
        self.rule[first] = rule
        self.column[first] = as_series(column)[first]
        message = as_series(message)
        joined = self.reason.where(self.reason == "", self.reason + "; ") + message
        self.reason[mask] = joined[mask]

    def clean(self) -> pd.Series:
        return self.rule.isna()

    def add_duplicates(self, staged: pd.DataFrame, column: str, describe) -> None:
        """Among rows still clean, a repeated ``record_key`` after its first row is a duplicate;
        ``describe(first_row)`` explains it (first_row: the row number of the first occurrence)."""
        clean = self.clean()
        keys = staged["record_key"].where(clean)
        repeated = clean & keys.duplicated()
        if repeated.any():
            first = staged[clean].groupby("record_key")["row_number"].transform("min").reindex(staged.index)
            self.add(repeated, "duplicate_key", column, describe(first.fillna(0).astype(int).astype(str)))

    def quarantine(self, staged: pd.DataFrame, raw: pd.DataFrame, known: Collection[str] = (),
                   keys: Collection[str] = ()) -> pd.DataFrame:
        """Quarantine rows: where, which rule, why, and the row as read (personal columns are never
        read; a read value with the form of personal data, typed in the wrong column, is withheld
        unless it is in ``known``, the configuration's own texts, or in a ``keys`` column: an
        accession number has as many digits as a phone)."""
        bad = ~self.clean()
        held = raw[bad]
        checked = [c for c in held.columns if c not in keys]
        if not held.empty and checked:
            held = held.assign(**held[checked].mask(held[checked].apply(person_like, known=known), PERSON_LIKE))
        data = [json.dumps({} if sealed else r, ensure_ascii=False, default=str)
                for r, sealed in zip(held.to_dict("records"), self.sealed[bad])]
        subjid = staged["subjid"][bad] if "subjid" in staged else pd.Series("", index=bad[bad].index)
        return pd.DataFrame({
            "row_number": staged["row_number"][bad].astype(int),
            "subjid": subjid.fillna(""),
            "column_name": self.column[bad],
            "rule": self.rule[bad],
            "reason": self.reason[bad],
            "data": data,
        }, columns=QUARANTINE_COLUMNS).reset_index(drop=True)


def seal_ragged_rows(frame: pd.DataFrame, header_fields: int | None, problems: Problems) -> None:
    """A delimited row with more or fewer fields than the header is quarantined without its values."""
    if FIELDS not in frame or header_fields is None:
        return
    counts = frame[FIELDS].astype(int)
    problems.seal(counts != header_fields, "field_count", "",
                  "the row has " + counts.astype(str) + f" fields where the header has {header_fields}; "
                  "its values are shifted and were not read")
