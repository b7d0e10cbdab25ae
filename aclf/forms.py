"""EDC forms and the blinded IWRS list: read each form's file and key its records.

Personal-data columns are never read. A row without a valid SUBJID or key, or repeating a key
already seen in the same file, is quarantined with its reason.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from aclf.config import FileSpec, FormSpec
from aclf.disclosure import UNSHOWN_SUBJECT, key_shown
from aclf.problems import Problems, seal_ragged_rows
from aclf.readers import ROW, read_table, require_columns
from aclf.store import KEY_LIMIT


def read_form(path: Path, spec: FormSpec, file_spec: FileSpec, subjid_pattern: str
              ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Read one form file: (records, quarantine, notes)."""
    loaded = set(spec.columns)
    table = read_table(path, file_spec, loaded.__contains__)
    known = loaded | set(spec.personal)
    require_columns(table, spec.columns, path.name, known)
    notes = [f"{path.name}: column {c!r} is not in the form configuration; not read"
             for c in table.header if c not in known]
    records, quarantine = normalize_form(table.frame, spec, subjid_pattern, header_fields=len(table.header))
    return records, quarantine, notes


def normalize_form(frame: pd.DataFrame, spec: FormSpec, subjid_pattern: str,
                   header_fields: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Key the form's rows: (records with record_key, row_number, subjid and the columns; quarantine)."""
    frame = frame.reset_index(drop=True)
    problems = Problems(frame.index)
    seal_ragged_rows(frame, header_fields, problems)
    out = frame[spec.columns].fillna("").astype(str)
    out.insert(0, "row_number", frame[ROW].astype(int))
    out.insert(1, "subjid", out[spec.subject])
    bad_subject = ~out["subjid"].str.fullmatch(subjid_pattern)
    problems.add(bad_subject, "bad_subject", spec.subject,
                 f"{spec.subject} does not match {subjid_pattern} ({UNSHOWN_SUBJECT})")
    out.loc[bad_subject, "subjid"] = ""   # not a subject id
    for col in spec.key:
        if col != spec.subject:
            problems.add(out[col] == "", "missing_key", col, f"key column {col} is empty")
    key = out[spec.key[0]]
    out.insert(0, "record_key", key.str.cat([out[c] for c in spec.key[1:]], sep="|") if len(spec.key) > 1 else key)
    problems.add(out["record_key"].str.len() > KEY_LIMIT, "key_too_long", spec.key[-1],
                 f"the record key is longer than {KEY_LIMIT} characters")
    problems.add_duplicates(out, spec.key[-1],
                            lambda first: "same key (" + key_shown(out["record_key"]) + ") as row " + first)
    quarantine = problems.quarantine(out, frame[spec.columns], {v for values in spec.values.values() for v in values})
    return out[problems.clean()].reset_index(drop=True), quarantine
