"""Site lab exports to one long staging shape, driven by the dialect configuration.

Pure functions on DataFrames: a dialect's raw table in, staged records and quarantined rows out.
Every input record ends in exactly one of the two (rows read = rows loaded + rows quarantined).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from pathlib import Path

import pandas as pd

from aclf.config import LabConfig, LabDialect
from aclf.disclosure import PERSON_LIKE, UNSHOWN_SUBJECT, person_like, quote, quoted
from aclf.problems import QUARANTINE_COLUMNS, Problems, seal_ragged_rows
from aclf.readers import ROW, SPREADSHEET_ERRORS, UNCALCULATED, RawTable, read_excel_sheet, read_table, require_columns
from aclf.store import KEY_LIMIT
from aclf.units import limit_in_unit

COLUMN = "_column"   # the file column a wide record came from (its test column header)
_UNSAVED = "a formula whose result was never saved (the workbook was written by a program that does not calculate)"
LAB_COLUMNS = ["record_key", "row_number", "subjid", "subject_raw", "visit_raw", "visit",
               "sample_id", "collected", "test_raw", "lbtestcd", "result", "unit",
               "ref_low", "ref_high", "ref_range", "flag", "comment"]


def read_lab(path: Path, dialect: LabDialect, lab: LabConfig) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Read and normalize one lab file: (staged records, quarantine, transfer notes). ``lab`` gives
    the units a wide file's reference ranges may be sent in (aclf.units.limit_in_unit)."""
    dropped = set(dialect.personal) | set(dialect.ignored)
    native = {s.column for s in (dialect.collected.datetime, dialect.collected.date)
              if s is not None and s.format == "native"}
    if dialect.layout == "wide":
        keep = lambda c: c not in dropped  # noqa: E731 - test columns are not known in advance
    else:
        wanted = set(dialect.read_columns)
        keep = wanted.__contains__
    table = read_table(path, dialect.file, keep, native)
    known = set(dialect.read_columns) | dropped
    require_columns(table, dialect.read_columns, path.name, known)
    notes = [f"column {c!r} is not in the dialect configuration; not read"
             for c in table.header if c not in known and dialect.layout == "long"]
    references = _read_references(path, dialect, notes) if dialect.layout == "wide" else None
    if references is not None:
        references = _references_by_column(references, table.header, dialect, lab, notes)
    known = {*lab.unit_of_spelling, *lab.reason_of_text}
    records, quarantine = normalize_lab(table.frame, dialect, references, header_fields=len(table.header), known=known)
    return records, quarantine, notes


def _read_references(path: Path, dialect: LabDialect, notes: list[str]) -> pd.DataFrame | None:
    spec = dialect.wide.reference_sheet
    if spec is None:
        return None
    wanted = {spec.test, spec.low, spec.high} | ({spec.unit} if spec.unit else set())
    try:
        table: RawTable = read_excel_sheet(path, spec.sheet, wanted.__contains__, set())
        require_columns(table, sorted(wanted), f"{path.name} sheet {spec.sheet!r}")
    except Exception as exc:  # the ranges are helpful, not essential: note and go on
        notes.append(f"reference ranges not read: {exc}")
        return None
    # the reader gives every cell as stripped text ('' when empty)
    ref = table.frame.rename(columns={spec.test: "test", spec.low: "ref_low", spec.high: "ref_high",
                                      **({spec.unit: "ref_unit"} if spec.unit else {})})
    ref = ref.assign(**({} if spec.unit else {"ref_unit": ""}))
    for name, column in (("ref_low", spec.low), ("ref_high", spec.high)):   # a failed formula is no limit
        for row in ref.index[ref[name].isin(SPREADSHEET_ERRORS)]:
            notes.append(f"reference ranges row {ref.at[row, ROW]}: {column} holds the spreadsheet error "
                         f"'{ref.at[row, name]}': no limit used")
            ref.at[row, name] = ""
        for row in ref.index[ref[name] == UNCALCULATED]:
            notes.append(f"reference ranges row {ref.at[row, ROW]}: {column} holds {_UNSAVED}: no limit used")
            ref.at[row, name] = ""
        for row in ref.index[person_like(ref[name])]:    # a patient's phone in a limit reaches no dataset
            notes.append(f"reference ranges row {ref.at[row, ROW]}: {column} holds a value {PERSON_LIKE}: no limit used")
            ref.at[row, name] = ""
    return ref[["test", "ref_low", "ref_high", "ref_unit"]]


def _same_unit(sent: str, unit: str, spelling: dict[str, str]) -> bool:
    """Whether a range's unit is its column's: none given, the same text but for case and the micro
    sign, or two spellings of one unit in the study's list."""
    def plain(text: str) -> str:
        return text.casefold().replace("\u00b5", "u").replace("\u03bc", "u")

    return sent == "" or plain(sent) == plain(unit) or (sent in spelling and spelling[sent] == spelling.get(unit))


def _references_by_column(references: pd.DataFrame, header: list[str], dialect: LabDialect, lab: LabConfig,
                          notes: list[str]) -> pd.DataFrame:
    """Each test column's reference limits in the column's unit. The sheet gives each test's range
    with a unit of its own (DTS: ``Unit``), which may differ from the column's: 4.0-5.5 g/dL for a
    column of g/L is 40-55. Of a test's rows, the first in the column's unit is taken, else the first
    that converts to it. A range in a unit the study does not know, or without a conversion to the
    column's, is not used, and the transfer's notes say so: read in the column's unit, it would be
    wrong."""
    pattern = re.compile(dialect.wide.header_pattern)
    spelling = lab.unit_of_spelling
    rows = {}
    for column in header:
        parsed = pattern.match(column)
        test = parsed["test"].strip() if parsed else column
        ranges = references[references["test"] == test]
        if ranges.empty:
            continue
        unit = ((parsed.groupdict().get("unit") or "") if parsed else "").strip()
        same = [_same_unit(sent, unit, spelling) for sent in ranges["ref_unit"]]
        if any(same):
            rows[column] = tuple(ranges.loc[same, ["ref_low", "ref_high"]].iloc[0])
            continue
        code = dialect.tests.get(test)
        convert = lab.tests[code].convert if code in lab.tests else {}
        to = convert.get(spelling[unit]) if unit in spelling else None
        for low, high, sent in ranges[["ref_low", "ref_high", "ref_unit"]].itertuples(index=False):
            fro = convert.get(spelling[sent]) if sent in spelling else None
            if to is not None and fro is not None:
                rows[column] = (limit_in_unit(low, fro, to), limit_in_unit(high, fro, to))
                break
        else:
            sent = ranges["ref_unit"].iloc[0]
            why = ", a unit the study does not know" if sent not in spelling else \
                f", which has no conversion to its column's unit {unit!r}"
            notes.append(f"reference range of {test!r} given in {quote(sent)}{why}: not used")
            rows[column] = ("", "")
    return pd.DataFrame.from_dict(rows, orient="index", columns=["ref_low", "ref_high"])


def _melt_wide(frame: pd.DataFrame, dialect: LabDialect, references: pd.DataFrame | None) -> pd.DataFrame:
    """One row per filled test cell; the test and unit come from the column header."""
    ids = [c for c in dialect.read_columns if c in frame.columns] + [ROW]
    tests = [c for c in frame.columns if c not in ids]
    long = frame.melt(id_vars=ids, value_vars=tests, var_name=COLUMN, value_name="_result")
    long = long[long["_result"].astype(str).str.strip() != ""].copy()
    pattern = re.compile(dialect.wide.header_pattern)
    parsed = {c: pattern.match(c) for c in tests}
    long["_test"] = long[COLUMN].map(lambda c: parsed[c]["test"].strip() if parsed[c] else c)
    long["_unit"] = long[COLUMN].map(lambda c: (parsed[c].groupdict().get("unit") or "").strip() if parsed[c] else "")
    for bound in ("ref_low", "ref_high"):     # references: each test column's limits (_references_by_column)
        long[f"_{bound}"] = long[COLUMN].map(references[bound]) if references is not None else ""
    long["_result"] = long["_result"].astype(str)
    return long.sort_values([ROW, COLUMN], kind="stable").reset_index(drop=True)


def _per_value(series: pd.Series, parse) -> pd.Series:
    """Apply a vectorized parse to the distinct values only (ids and dates repeat across tests), each
    row then given its value's result by position (a lookup by value took 0.1 s a file per column)."""
    codes, distinct = pd.factorize(series, use_na_sentinel=False)
    if len(distinct) == len(series):
        return parse(series)
    parsed = parse(pd.Series(distinct))
    if isinstance(parsed, pd.DataFrame):
        return parsed.take(codes).set_axis(series.index)
    return pd.Series(parsed.to_numpy()).take(codes).set_axis(series.index)


def _field(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """The first non-empty value among the given columns ('' when none). A text column (every column
    of a delimited file) stays Arrow text: through Python objects and back, a site's 225,000 rows
    took 0.35 s more per file; other columns (a workbook's numbers and dates) become text first."""
    out = pd.Series("", index=frame.index, dtype=object)
    for col in reversed(columns):
        values = _text(frame[col])
        out = values.where(values != "", out)
    return out


def _text(column: pd.Series) -> pd.Series:
    """A column's values as text, '' where missing."""
    return column.fillna("") if column.dtype == "str" else column.astype(object).fillna("").astype(str)


def _taken_from(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """For each row, the column ``_field`` took its value from (the first when none holds one): a
    finding names the cell the site would correct."""
    out = pd.Series(columns[0], index=frame.index, dtype=object)
    if len(columns) > 1:               # with one column, every value is its own
        for col in reversed(columns):
            out = out.where(_text(frame[col]) == "", col)
    return out


def _parse_part(series: pd.Series, fmt: str) -> pd.Series:
    if fmt == "native":
        if pd.api.types.is_datetime64_any_dtype(series):
            return series
        is_date = series.map(lambda v: isinstance(v, (dt.date, pd.Timestamp)) and not pd.isna(v))
        return pd.to_datetime(series.where(is_date, None), errors="coerce")
    return _per_value(series.astype(str), lambda s: pd.to_datetime(s, format=fmt, errors="coerce"))


def _collected(frame: pd.DataFrame, dialect: LabDialect, problems: Problems) -> pd.Series:
    """Collection date-time as ISO 8601 (date only when the site sent no time)."""
    spec = dialect.collected
    main = spec.datetime or spec.date
    raw = frame[main.column]
    empty = raw.isna() | (raw.astype(str).str.strip() == "")
    stamp = _parse_part(raw, main.format)
    problems.add(empty, "missing_date", main.column, f"{main.column} is empty")
    bad = ~empty & stamp.isna()
    problems.add(bad, "bad_date", main.column,
                 f"{main.column} " + quoted(raw[bad].astype(str)) + f" is not a date in the format {main.format}")
    def text(values: pd.Series, fmt: str) -> pd.Series:
        return _per_value(values, lambda s: s.dt.strftime(fmt)).fillna("").astype(str)

    if spec.datetime is not None:
        return text(stamp, "%Y-%m-%dT%H:%M")
    iso = text(stamp, "%Y-%m-%d")
    if spec.time is None:
        return iso
    time_raw = frame[spec.time.column].astype(str).str.strip()
    clock = _parse_part(time_raw, spec.time.format)
    bad = (time_raw != "") & clock.isna()
    problems.add(bad, "bad_time", spec.time.column,
                 f"{spec.time.column} " + quoted(time_raw[bad]) + f" is not a time in the format {spec.time.format}")
    return iso.where(clock.isna() | (iso == ""), iso + "T" + text(clock, "%H:%M"))


def _uncalculated(frame: pd.DataFrame, problems: Problems) -> None:
    """A workbook cell holding a formula without a saved result (aclf.readers.UNCALCULATED) has no
    value the site can be said to have sent: its row is quarantined naming the cell. A wide record's
    cell is its test column's."""
    for col in frame.columns:
        if col not in (ROW, COLUMN) and (not col.startswith("_") or col == "_result"):
            hit = frame[col] == UNCALCULATED
            if hit.any():
                where = frame[COLUMN] if col == "_result" else col
                problems.add(hit, "uncalculated_formula", where, where + f" holds {_UNSAVED}, not a value")


def _personal_values(frame: pd.DataFrame, dialect: LabDialect, out: pd.DataFrame, known: set[str],
                     problems: Problems) -> None:
    """A result, unit or reference cell with the form of a name or an identifier (a site's own
    patient typed in the wrong column) is no value: its record is held, so it reaches no output."""
    wide = dialect.layout == "wide"     # there a row's only cell of its own is the result
    for name in ("result",) if wide else ("result", "unit", "ref_low", "ref_high", "ref_range"):
        shaped = _per_value(out[name], lambda s: person_like(s, known))
        if shaped.any():
            column = frame[COLUMN] if wide else _taken_from(frame, dialect.source_columns(name) or [name])
            problems.add(shaped, "personal_value", column, column + " holds a value " + PERSON_LIKE + "; not loaded")


def _decode(frame: pd.DataFrame, dialect: LabDialect, problems: Problems) -> pd.DataFrame:
    """Replace coded values (SPSS) by the configured text; an unknown code is a problem."""
    frame = frame.copy()
    for col, codes in dialect.decode.items():
        raw = frame[col].astype(str)
        decoded = raw.map(codes)
        unknown = (raw != "") & decoded.isna()
        problems.add(unknown, "unknown_code", col, f"{col} code " + quoted(raw[unknown]) + " is not in the configuration")
        frame[col] = decoded.fillna("")
    return frame


def normalize_lab(frame: pd.DataFrame, dialect: LabDialect, references: pd.DataFrame | None = None,
                  header_fields: int | None = None, known: Collection[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map a raw dialect table to (staged long records, quarantined rows with reasons). ``known``: texts
    the study configures (unit spellings, not-done texts) besides the dialect's own."""
    if frame.empty:   # a header-only snapshot: nothing to stage (string operations need rows)
        return pd.DataFrame(columns=LAB_COLUMNS), pd.DataFrame(columns=QUARANTINE_COLUMNS)
    if dialect.layout == "wide":
        frame = _melt_wide(frame, dialect, references)
        if frame.empty:
            return normalize_lab(frame, dialect)
    else:
        frame = frame.reset_index(drop=True)
    problems = Problems(frame.index)
    seal_ragged_rows(frame, header_fields, problems)
    _uncalculated(frame, problems)
    frame = _decode(frame, dialect, problems)

    def field(name: str) -> pd.Series:
        cols = dialect.source_columns(name)
        return _field(frame, cols) if cols else pd.Series("", index=frame.index, dtype=object)

    out = pd.DataFrame({"row_number": frame[ROW].astype(int)}, index=frame.index)
    subject_col = dialect.source_columns("subject")[0]
    out["subject_raw"] = field("subject")
    pattern = f"^(?:{dialect.subject.pattern})$"

    def subject(raw: pd.Series) -> pd.DataFrame:
        num = raw.str.extract(pattern)["num"]
        subjid = (dialect.site_id + "-" + num.fillna("0").astype(int).map("{:03d}".format)).where(num.notna(), "")
        return pd.DataFrame({"num": num, "subjid": subjid})

    parsed = _per_value(out["subject_raw"], subject)
    expected = dialect.subject.expected or dialect.subject.pattern
    problems.add(parsed["num"].isna(), "bad_subject", subject_col,
                 f"{subject_col} is not a site {dialect.site_id} subject number (expected {expected}; "
                 f"{UNSHOWN_SUBJECT})")
    out["subjid"] = parsed["subjid"]

    out["sample_id"] = field("sample_id")
    sample_col = dialect.source_columns("sample_id")[0]
    problems.add(out["sample_id"] == "", "missing_key", sample_col, f"{sample_col} (accession number) is empty")

    out["collected"] = _collected(frame, dialect, problems)
    out["visit_raw"] = field("visit")
    out["visit"] = _per_value(out["visit_raw"], lambda s: s.map(dialect.visits)).fillna("")

    wide = dialect.layout == "wide"
    out["test_raw"] = frame["_test"] if wide else field("test")
    test_col = frame[COLUMN] if wide else dialect.source_columns("test")[0]
    out["lbtestcd"] = _per_value(out["test_raw"], lambda s: s.map(dialect.tests)).fillna("")
    no_test = out["test_raw"] == ""
    problems.add(no_test & problems.clean(), "missing_test", test_col, "the test is empty")
    unknown = (out["lbtestcd"] == "") & ~no_test
    problems.add(unknown, "unknown_test", test_col,
                 "test " + quoted(out["test_raw"][unknown]) + " is not in the site's test configuration")
    out["result"] = frame["_result"] if wide else field("result")
    result_col = frame[COLUMN] if wide else _taken_from(frame, dialect.source_columns("result"))
    problems.add(out["result"].isin(SPREADSHEET_ERRORS), "spreadsheet_error", result_col,
                 result_col + " holds the spreadsheet error '" + out["result"]
                 + "', not a result: a formula or link that failed where the file was made")
    out["unit"] = frame["_unit"] if wide else field("unit")
    for name in ("ref_low", "ref_high"):
        out[name] = frame[f"_{name}"].astype(object).fillna("").astype(str) if wide else field(name)
    for name in ("ref_range", "flag", "comment"):
        out[name] = field(name)
    known = {*known, *dialect.tests, *dialect.visits, *(t for codes in dialect.decode.values() for t in codes.values())}
    _personal_values(frame, dialect, out, known, problems)
    out["record_key"] = dialect.site_id + "|" + out["sample_id"] + "|" + out["test_raw"]
    problems.add(out["record_key"].str.len() > KEY_LIMIT, "key_too_long", sample_col,
                 f"the record key (accession and test) is longer than {KEY_LIMIT} characters")

    problems.add_duplicates(out, sample_col, lambda first: "same accession and test as row " + first
                            + " (key " + out["record_key"] + ")")
    raw = frame[[c for c in frame.columns if not c.startswith("_") or c == COLUMN]]
    if wide:  # an unknown column may hold anything, personal data included: keep its header, not its value
        value = frame["_result"].where(out["lbtestcd"] != "", "(not kept: column not configured)")
        raw = raw.assign(value=value).rename(columns={COLUMN: "test_column"})
    quarantine = problems.quarantine(out, raw, known, keys=dialect.source_columns("sample_id"))
    records = out[problems.clean()][LAB_COLUMNS].reset_index(drop=True)
    return records, quarantine
