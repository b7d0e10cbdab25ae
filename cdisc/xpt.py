"""SAS transport (XPT version 5) files for submission: checked against the spec for everything the
format cannot hold or a writer would quietly change (names, labels, ASCII, lengths, types, keys),
then written by cdisc.xpt_v5 (the bytes pyreadstat writes) and read back with pyreadstat.

Conversion and checks are column-wise: a column already of one kind (numbers, or strings) is
converted and checked with pandas/numpy, or per distinct value; only a column that mixes kinds, or
one that breaks a rule, is walked value by value (to name the rows and values in the message).
"""
from __future__ import annotations

import datetime as dt
import numbers
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from aclf.disclosure import PERSON_LIKE, shown_as_data
from aclf.frames import isin
from cdisc import xpt_v5
from cdisc.columns import ascii_within, rstripped
from cdisc.spec import Dataset, Variable
from cdisc.splice import SUBJECT, FileRows, Reuse

NAME = re.compile(r"[A-Z][A-Z0-9]{0,7}")
MAX_LABEL = 40
MAX_VALUE_BYTES = 200
EXAMPLES = 3
# The IBM floating point of v5: the writer (as pyreadstat) writes 0 < |x| < 16**-65 as 0, and
# |x| >= 2**249 (and inf) as the largest IBM number, which it reads back as inf and pandas as 7.2e75.
SMALLEST = 16.0 ** -65
LARGEST = 2.0 ** 249


@dataclass(frozen=True)
class Violation:
    dataset: str
    variable: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        return self.message


class XptSpecError(ValueError):
    """A frame that does not conform to its dataset spec; nothing was written."""

    def __init__(self, violations: Iterable[Violation]):
        self.violations = list(violations)
        super().__init__("\n".join(v.message for v in self.violations))


def _violation(ds: Dataset, variable: str | None, rule: str, text: str) -> Violation:
    where = ds.name if variable is None else f"{ds.name}.{variable}"
    return Violation(ds.name, variable, rule, f"{where} [{rule}]: {text}")


# ---- values -------------------------------------------------------------------------------------

def _missing(value) -> bool:
    if isinstance(value, str):
        return False
    return value is None or bool(pd.api.types.is_scalar(value) and pd.isna(value))


def _missing_number(value) -> bool:
    return _missing(value) or (isinstance(value, str) and not value.strip())


def _is_number(value) -> bool:
    return isinstance(value, (numbers.Real, Decimal)) and not isinstance(value, (bool, np.bool_))


def _text(value) -> str:
    """A value as the text the file will hold: trailing blanks go, as v5 pads with blanks anyway."""
    if _missing(value):
        return ""
    if isinstance(value, (dt.date, dt.time)):      # pd.Timestamp too: ISO 8601, as --DTC wants
        return value.isoformat()
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).rstrip(" ")


def _all_strings(series: pd.Series) -> bool:
    return pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")


def _plain_numbers(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _text_column(series: pd.Series) -> pd.Series:
    if _all_strings(series):
        return rstripped(series)
    return pd.Series([_text(v) for v in series.tolist()], index=series.index, dtype="str")


def _float(value, strict: bool) -> float:
    if _missing_number(value):
        return np.nan
    if _is_number(value):
        return float(value)
    if strict:
        raise ValueError(f"{value!r} is not a number")
    return np.nan


def _float_column(series: pd.Series, strict: bool = True) -> pd.Series:
    if series.dtype == "float64":       # already what it would become (a conformed frame conformed again)
        return series
    if _plain_numbers(series):
        return pd.Series(series.to_numpy(dtype="float64", na_value=np.nan), index=series.index, dtype="float64")
    try:
        values = [_float(v, strict) for v in series.tolist()]
    except ValueError as exc:
        raise ValueError(f"{series.name}: {exc}") from None
    return pd.Series(values, index=series.index, dtype="float64")


def _convert(series: pd.Series, var: Variable, strict: bool = True) -> pd.Series:
    return _float_column(series, strict) if var.is_numeric else _text_column(series)


def _written(frame: pd.DataFrame, ds: Dataset) -> list[str]:
    return [name for name in ds.names if name in frame.columns]


def conform(frame: pd.DataFrame, ds: Dataset) -> pd.DataFrame:
    """The frame's spec variables in spec order: text as Arrow strings ('' for missing, trailing blanks
    removed, dates and date-times in ISO 8601), numbers as float64 (NaN for missing or blank).

    Columns not in the spec are left out and spec variables absent from the frame are not added;
    ``check_dataset`` reports both. Raises ValueError for a value a numeric variable cannot hold.
    """
    if frame.columns.duplicated().any():
        raise ValueError(f"{ds.name}: the frame has duplicated columns")
    # copy=False: the columns are not stacked into one block (a copy of every number of LB, 0.4 s),
    # which nothing after needs: the writers and checks take a column at a time
    return pd.DataFrame({name: _convert(frame[name], ds.variable[name])
                         for name in _written(frame, ds)}, index=frame.index, copy=False)


# ---- checks -------------------------------------------------------------------------------------

def _show(value: str, limit: int = 40) -> str:
    if len(value) <= limit:
        return shown_as_data(value)
    return f"{value[:limit]!r}..." if shown_as_data(value) != PERSON_LIKE else PERSON_LIKE


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _examples(found: list[tuple[int, str]]) -> str:
    """'row 2: ...; row 7: ...' for the first few findings, then how many more."""
    shown = "; ".join(f"row {row}: {what}" for row, what in found[:EXAMPLES])
    more = len(found) - EXAMPLES
    return shown + (f"; and {more} more" if more > 0 else "")


def _non_ascii(text: str) -> str:
    return ", ".join(f"U+{ord(c):04X} {c!r}" for c in dict.fromkeys(c for c in text if not c.isascii()))


def _name_problem(name: str) -> str | None:
    if NAME.fullmatch(name):
        return None
    if not 1 <= len(name) <= 8:
        return f"{name!r} has {len(name)} characters, not 1-8"
    return f"{name!r} is not upper-case letters and digits starting with a letter"


def _names(frame: pd.DataFrame, ds: Dataset) -> Iterator[Violation]:
    if problem := _name_problem(ds.name):
        yield _violation(ds, None, "name_format", f"dataset name {problem}")
    for name in dict.fromkeys([*ds.names, *map(str, frame.columns)]):
        if problem := _name_problem(name):
            yield _violation(ds, name, "name_format", f"variable name {problem}")


def _label(ds: Dataset, variable: str | None, label: str) -> Iterator[Violation]:
    what = "dataset label" if variable is None else "label"
    if not label.strip():
        yield _violation(ds, variable, "label_missing", f"{what} is blank")
    if len(label) > MAX_LABEL:
        yield _violation(ds, variable, "label_length",
                         f"{what} {label!r} has {len(label)} characters, over {MAX_LABEL}")
    if not label.isascii():
        yield _violation(ds, variable, "label_ascii", f"{what} {label!r} is not ASCII ({_non_ascii(label)})")


def _labels(ds: Dataset) -> Iterator[Violation]:
    yield from _label(ds, None, ds.label)
    for var in ds.variables:
        yield from _label(ds, var.name, var.label)


def _columns(frame: pd.DataFrame, ds: Dataset) -> Iterator[Violation]:
    columns = [str(c) for c in frame.columns]
    for name in dict.fromkeys(c for c in columns if columns.count(c) > 1):
        yield _violation(ds, name, "duplicate_variable", f"the frame has {columns.count(name)} columns {name!r}")
    by_upper = {n.upper(): n for n in ds.names}
    for name in dict.fromkeys(c for c in columns if c not in ds.variable):
        hint = f" (the spec has {by_upper[name.upper()]})" if name.upper() in by_upper else ""
        yield _violation(ds, name, "unknown_variable", f"column {name!r} is not a variable of the spec{hint}")
    for var in ds.variables:
        if var.core != "Perm" and var.name not in columns:
            yield _violation(ds, var.name, "missing_variable", f"{var.core} variable is not in the frame")
    if not any(name in columns for name in ds.names):
        yield _violation(ds, None, "missing_variable",
                         "no variable of the spec is in the frame; a transport file needs one")


def _text_values(ds: Dataset, var: Variable, text: pd.Series) -> Iterator[Violation]:
    limit = min(MAX_VALUE_BYTES, var.length or MAX_VALUE_BYTES)
    if ascii_within(text, limit):
        return
    rows = list(enumerate(text.tolist(), 1))
    bad = [(row, f"{_show(v)} ({_non_ascii(v) if _show(v) != PERSON_LIKE else 'characters not shown'})")
           for row, v in rows if not v.isascii()]
    if bad:
        yield _violation(ds, var.name, "value_ascii",
                         f"{_count(len(bad), 'value')} not ASCII: {_examples(bad)}")
    why = f"the spec length {limit}" if limit < MAX_VALUE_BYTES else f"the v5 limit of {limit} bytes"
    long = [(row, f"{_show(v)} ({len(v.encode())} bytes)") for row, v in rows if len(v.encode()) > limit]
    if long:
        yield _violation(ds, var.name, "value_length",
                         f"{_count(len(long), 'value')} longer than {why}: {_examples(long)}")


def _numeric_values(ds: Dataset, var: Variable, series: pd.Series) -> Iterator[Violation]:
    if _plain_numbers(series):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        present = ~np.isnan(values)
        fraction = np.isfinite(values) & (values != np.floor(values)) if var.type == "integer" else False
        held = (values == 0) | ((np.abs(values) >= SMALLEST) & (np.abs(values) < LARGEST))
        if not (present & (fraction | ~held)).any():
            return
    rows = [(row, v) for row, v in enumerate(series.tolist(), 1) if not _missing_number(v)]
    numbers_ = [(row, float(v)) for row, v in rows if _is_number(v)]
    wrong = [(row, f"{v!r} is not a number") for row, v in rows if not _is_number(v)]
    if var.type == "integer":
        wrong += [(row, f"{v!r} is not a whole number") for row, v in numbers_
                  if np.isfinite(v) and not v.is_integer()]
    if wrong:
        yield _violation(ds, var.name, "type", f"{_count(len(wrong), 'wrong value')} for a {var.type} "
                                               f"variable: {_examples(sorted(wrong))}")
    out = [(row, repr(v)) for row, v in numbers_ if not (v == 0 or SMALLEST <= abs(v) < LARGEST)]
    if out:
        held = f"0 and {SMALLEST:.3g} <= |x| < {LARGEST:.3g}"
        yield _violation(ds, var.name, "value_range",
                         f"{_count(len(out), 'value')} a v5 file cannot hold (only {held}): {_examples(out)}")


def _required(ds: Dataset, var: Variable, series: pd.Series) -> Iterator[Violation]:
    if not ds.required_populated:  # ADaM: Req means the variable is present, not every value
        return
    if _plain_numbers(series):
        blank = series.isna().to_numpy()
    elif _all_strings(series):
        codes, distinct = pd.factorize(series)
        blank = np.array([not v.strip() for v in distinct] + [True], dtype=bool)[codes]
    else:
        blank = np.array([_missing_number(v) for v in series.tolist()], dtype=bool)
    empty = (np.flatnonzero(blank) + 1).tolist()
    if empty:
        yield _violation(ds, var.name, "required_empty",
                         f"{len(empty)} of {_count(len(series), 'row')} empty, the first row {empty[0]}")


def _values(frame: pd.DataFrame, ds: Dataset, conformed: pd.DataFrame) -> Iterator[Violation]:
    for name in conformed.columns:
        var = ds.variable[name]
        if var.is_numeric:
            yield from _numeric_values(ds, var, frame[name])
        else:
            yield from _text_values(ds, var, conformed[name])
        if var.core == "Req":
            yield from _required(ds, var, frame[name] if var.is_numeric else conformed[name])


def _keys(ds: Dataset, conformed: pd.DataFrame) -> Iterator[Violation]:
    keys = [k for k in ds.keys if k in conformed.columns]
    if not keys or not conformed.duplicated(keys).any():    # pandas, as below, takes NaN == NaN
        return
    first_row: dict[tuple, int] = {}
    repeats = []
    for row, key in enumerate(zip(*(conformed[k].tolist() for k in keys)), 1):
        key = tuple(None if isinstance(v, float) and np.isnan(v) else v for v in key)   # NaN != NaN
        if key in first_row:
            shown = ", ".join(f"{k}={v!r}" for k, v in zip(keys, key))
            repeats.append((row, f"{shown}, as row {first_row[key]}"))
        else:
            first_row[key] = row
    if repeats:
        absent = [k for k in ds.keys if k not in keys]
        note = f" ({', '.join(absent)} not in the frame)" if absent else ""
        yield _violation(ds, None, "duplicate_key", f"{_count(len(repeats), 'row')} repeating the key "
                                                    f"({', '.join(keys)}){note}: {_examples(repeats)}")


def _all_text(ds: Dataset, names: list[str]) -> bool:
    return not any(ds.variable[n].is_numeric for n in names)


def _blank_rows(ds: Dataset, conformed: pd.DataFrame) -> Iterator[Violation]:
    """Trailing rows of blanks only (text variables all ''): v5 pads its last 80-byte record with
    blanks, so readers cannot tell such rows from the padding and drop them."""
    if conformed.empty or not _all_text(ds, list(conformed.columns)):
        return
    blank = (conformed == "").all(axis=1).tolist()
    count = next((i for i, b in enumerate(reversed(blank)) if not b), len(blank))
    if count:
        rows = f"row {len(blank)}" if count == 1 else f"rows {len(blank) - count + 1}-{len(blank)}"
        yield _violation(ds, None, "blank_row", f"{rows} at the end, empty in every variable, would be read "
                                                f"back as padding of the transport file and lost")


def check_dataset(frame: pd.DataFrame, ds: Dataset) -> list[Violation]:
    """Every way the frame breaks its spec or would not survive a v5 transport file.

    A Perm variable may be absent from the frame: it is then simply not written. Req and Exp
    variables must be present (Exp ones may be empty). Column order does not matter.
    """
    violations = [*_names(frame, ds), *_labels(ds), *_columns(frame, ds)]
    if frame.columns.duplicated().any():
        return violations
    conformed = _conformed_leniently(frame, ds, _written(frame, ds))
    return [*violations, *_values(frame, ds, conformed), *_keys(ds, conformed), *_blank_rows(ds, conformed)]


def _conformed_leniently(frame: pd.DataFrame, ds: Dataset, names: list[str]) -> pd.DataFrame:
    """Those columns as ``conform`` makes them, a value a number cannot hold left for the checks to report."""
    return pd.DataFrame({name: _convert(frame[name], ds.variable[name], strict=False) for name in names},
                        index=frame.index)


def whole_dataset_checks(frame: pd.DataFrame, ds: Dataset, copied: np.ndarray | None = None) -> list[Violation]:
    """The checks of ``check_dataset`` that look at more than one row (repeated keys, blank rows at the
    end), for a frame whose every row passed the others: what a full check then finds. ``copied``:
    for each row, the row of the package in force it copies (-1: none), when the copied rows passed
    the same checks there and the others passed ``check_dataset`` on their own; the keys are then
    looked at only if ``keys_may_repeat`` says a key could repeat."""
    written = _written(frame, ds)
    keys = [k for k in ds.keys if k in written]
    repeats = copied is None or keys_may_repeat(frame, ds, copied)
    return [*(_keys(ds, _conformed_leniently(frame, ds, keys)) if repeats else []),
            *(_blank_rows(ds, _conformed_leniently(frame, ds, written)) if _all_text(ds, written) else [])]


def keys_may_repeat(frame: pd.DataFrame, ds: Dataset, copied: np.ndarray) -> bool:
    """Whether a key could repeat in ``frame`` (see ``whole_dataset_checks``); False only when none
    can: the key has the subject, and no subject has both copied rows and others, so two rows of one
    key are both copied or both not; no two rows copy the same row, and the package in force (it
    passed) had no two rows of one key; the others' keys were found distinct on their own. LB's key
    check over 800,000 rows took 0.3 s of a night in which one site sent labs."""
    if SUBJECT not in ds.keys or SUBJECT not in frame.columns:
        return True
    # rows are copied in their order as a rule: then none repeats, seen without a sort; else sorted and
    # neighbours compared (numpy 2.4's np.unique took 0.7 s over LB's 800,000 rows, a sort 0.05 s)
    kept = copied[copied >= 0]
    if not (kept[1:] > kept[:-1]).all():
        kept = np.sort(kept)
        if (kept[1:] == kept[:-1]).any():
            return True
    subjects = _conformed_leniently(frame, ds, [SUBJECT])[SUBJECT]
    fresh = copied < 0
    return bool(isin(subjects[~fresh], pd.unique(subjects[fresh])).any())


# ---- files --------------------------------------------------------------------------------------

def write_xpt(frame: pd.DataFrame, ds: Dataset, path: Path, checked: bool = False) -> Path:
    """Check the frame (unless the caller has: ``checked``), then write it in spec order as an XPT
    v5 file; raises XptSpecError (and writes nothing, not even a partial file) on violations."""
    violations = [] if checked else check_dataset(frame, ds)
    if violations:
        raise XptSpecError(violations)
    xpt_rows(frame, ds, path)
    return Path(path)


def xpt_rows(frame: pd.DataFrame, ds: Dataset, path: Path, reuse: Reuse | None = None) -> FileRows:
    """Write a checked frame in spec order as an XPT v5 file (whole, or not at all), the rows that
    ``reuse`` names copied from the file in force (cdisc.splice); returns where its rows lie."""
    data = conform(frame, ds).reset_index(drop=True)
    labels = [ds.variable[name].label for name in data.columns]
    formats = {name: ds.variable[name].display_format for name in data.columns if ds.variable[name].display_format}
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "wb") as out:
            rows = xpt_v5.write(out, data, name=ds.name, label=ds.label, labels=labels, formats=formats, reuse=reuse)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return rows


def read_xpt(path: Path) -> tuple[pd.DataFrame, object]:
    """The frame and pyreadstat's metadata (column_labels, file_label, table_name, ...)."""
    return pyreadstat.read_xport(os.fspath(path))
