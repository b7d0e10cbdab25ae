"""Read one raw table (delimited text, Excel sheet, SPSS file) into text columns.

Only the columns a dialect asks for are loaded, so personal data never reaches memory. Values come
back as stripped text ('' when empty), except columns read ``native`` (dates the format types).
Each row carries ``_row``: the row as a person opening the file sees it (spreadsheet row with the
header as row 1 for text and Excel; the case number for SPSS).
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import re
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from aclf.config import FileSpec

ROW = "_row"
POSITIONAL_DIGITS = 32      # characters of a float written without an exponent, at most
NUL_MARK = "\ufffd"   # stands for a NUL byte in a value (a DTS departure the rules then report)
FIELDS = "_fields"   # delimited text only: how many fields the row has (the header's count when intact)

# The csv module refuses fields over 128 KiB by default; a DTS file may carry long free text (even
# in a personal column that is never loaded), so the counters accept any field the file holds.
csv.field_size_limit(sys.maxsize)

# Excel's error values: a cell holding one (a formula that failed, a broken link, '#N/A' typed in)
# carries no value of its own, in a workbook or in text exported from one
SPREADSHEET_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                                "#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!",
                                "#UNKNOWN!", "#CONNECT!", "#BUSY!", "#PYTHON!"})
# A cell element of type error in a sheet's XML (any prefix, either quote): only a pre-filter,
# openpyxl then finds the cells themselves
_ERROR_CELL = re.compile(rb"""<(?:\w+:)?c\b[^>]*?\bt\s*=\s*["']e["']""")
# What the reader puts in a workbook cell holding a formula whose result was never saved: a program
# that writes formulas without calculating them (openpyxl, a script) leaves no value, and pandas
# reads the cell as empty, so a result would vanish. Not an Excel error value: the project's own.
UNCALCULATED = "#UNCALCULATED"
# A cell holding a formula and no value or an empty one, and not typed as text (Excel saves a
# formula that gives '' as an empty value of type "str"): only a pre-filter, openpyxl then finds the cells
_UNSAVED_FORMULA = re.compile(rb"""<(?:\w+:)?c\b(?![^>]*\bt\s*=\s*["']str["'])[^>]*>\s*"""
                              rb"<(?:\w+:)?f\b[^>]*(?:/>|>[^<]*</(?:\w+:)?f>)\s*"
                              rb"(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>)?\s*</(?:\w+:)?c>")

# Parser messages that name only positions and counts, never a cell's content.
_SAFE_PARSER_MESSAGE = re.compile(r"^Error tokenizing data\. C error: [^'\"]*$")


class UnreadableTransfer(Exception):
    """The file cannot be read at all (corrupt, wrong encoding, missing columns): reject it."""


@dataclass(frozen=True)
class RawTable:
    frame: pd.DataFrame          # the kept columns, plus ROW (and FIELDS for delimited text)
    header: list[str]            # every column the file has, in order


def as_text(value) -> str:
    """A cell as text: numbers without a spurious '.0', dates in ISO 8601, empty for missing."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        # repr from 2**53: a float there is not an exact integer (1e308 would print 309 digits)
        if abs(value) >= 2 ** 53:
            return repr(value)
        if value.is_integer():
            return str(int(value))
        # the shortest digits, without an exponent: repr writes 0.00005 as 5e-05, which the results'
        # parser does not read as a number; one too small to write so (1e-300) stays as repr writes it
        text = repr(value)
        if "e" in text:
            positional = np.format_float_positional(value, trim="-")
            return positional if len(positional) <= POSITIONAL_DIGITS else text
        return text
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2 ** 53:
        return repr(float(value))       # a workbook's 1e308, given as an int: not 309 digits either
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.strftime("%Y-%m-%dT%H:%M") if (value.hour, value.minute) != (0, 0) else value.strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip().replace("\x00", NUL_MARK)


def _texts(frame: pd.DataFrame, native: set[str]) -> pd.DataFrame:
    return pd.DataFrame({col: frame[col] if col in native else frame[col].map(as_text)
                         for col in frame.columns}, index=frame.index)


def _quoting(quoted: bool) -> int:
    return csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE


def _read_delimited(path: Path, spec: FileSpec, keep: Callable[[str], bool]) -> RawTable:
    try:
        header = list(pd.read_csv(path, sep=spec.delimiter, encoding=spec.encoding, nrows=0,
                                  dtype=str, index_col=False, quoting=_quoting(spec.quoted)).columns)
        frame = pd.read_csv(path, sep=spec.delimiter, encoding=spec.encoding, dtype=str, index_col=False,
                            keep_default_na=False, na_filter=False, usecols=lambda c: keep(c),
                            quoting=_quoting(spec.quoted))
    except UnicodeDecodeError as exc:
        raise UnreadableTransfer(f"{path.name} is not valid {spec.encoding} "
                                 f"(byte {exc.start}: {exc.reason})") from None
    except pd.errors.EmptyDataError:
        raise UnreadableTransfer(f"{path.name} row 1: the file is empty (no header row)") from None
    except (pd.errors.ParserError, ValueError) as exc:
        said = str(exc).strip()
        detail = said if _SAFE_PARSER_MESSAGE.match(said) else type(exc).__name__
        raise UnreadableTransfer(f"{path.name} cannot be parsed as delimited text ({detail})") from None
    _refuse_repeated(path, header, keep, lambda: pd.read_csv(
        path, sep=spec.delimiter, encoding=spec.encoding, header=None, nrows=1, dtype=str, index_col=False,
        keep_default_na=False, quoting=_quoting(spec.quoted)).iloc[0].tolist())
    frame = frame.apply(lambda s: s.str.strip())
    if _has_nul(path):   # a NUL byte no store can hold (PostgreSQL text refuses it): mark it visibly
        frame = frame.apply(lambda s: s.str.replace("\x00", NUL_MARK, regex=False))
    counts = field_counts(path, spec.encoding, spec.delimiter, spec.quoted)
    if len(counts) != len(frame) + 1 and not frame.columns.empty:   # (no kept column: the header check rejects)
        # rows not delimited unambiguously: no value can be placed in its column safely
        raise UnreadableTransfer(f"{path.name}: its rows cannot be delimited unambiguously (one parser reads "
                                 f"{len(counts) - 1} records, another {len(frame)}); check quotes and line ends")
    if len(counts) == len(frame) + 1:
        frame[FIELDS] = counts[1:]
    frame[ROW] = range(2, len(frame) + 2)
    return RawTable(frame, header)


def _without_content(exc: Exception) -> str:
    """A library's message, unless it quotes something (a cell could be personal): then its type only.
    Sheet names are the exception: a missing sheet's message quotes the name the dialect gave."""
    said = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if re.fullmatch(r"Worksheet named '[^']*' not found", said) or not re.search(r"['\"]", said):
        return said
    return "details not shown"


def _has_nul(path: Path) -> bool:
    with path.open("rb") as fh:
        return any(b"\x00" in block for block in iter(lambda: fh.read(1 << 20), b""))


def field_counts(path: Path, encoding: str, delimiter: str, quoted: bool = True) -> list[int]:
    """Fields per non-blank row (header first), by the csv module: a row with more or fewer fields
    than the header has its values shifted into other columns, so none of them can be trusted.
    The reader and the reconciliation's counter both ask, one after the other: the file as it is
    on disk is read once (0.7 s for a site's 225,000 rows). As it is: the same inode, size and
    modification time, and the same change time, which no copy that keeps times can set back."""
    stat = path.stat()
    on_disk = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    return list(_field_counts(path.resolve(), on_disk, encoding, delimiter, quoted))


@lru_cache(maxsize=1)
def _field_counts(path: Path, _on_disk: tuple[int, ...], encoding: str, delimiter: str,
                  quoted: bool) -> tuple[int, ...]:
    with path.open(encoding=encoding, errors="replace", newline="") as fh:
        rows = csv.reader(fh, delimiter=delimiter, quoting=_quoting(quoted))
        # a line of blanks only is no record (pandas skips it too)
        return tuple(len(row) for row in rows if row and (len(row) > 1 or row[0].strip()))


def read_excel_sheet(path: Path, sheet: str, keep: Callable[[str], bool], native: set[str]) -> RawTable:
    """One sheet of a workbook; raises UnreadableTransfer for a corrupt file or a missing sheet."""
    try:
        # a cell is missing only when empty: pandas' words for missing ('N/A', 'NA', 'null') are text
        # a site may send as a result (DTS: a cell may hold text), and numbers can be 'NA' (sodium)
        frame = pd.read_excel(path, sheet_name=sheet, dtype=object, engine="openpyxl",
                              keep_default_na=False, na_values=[""])
        may_hold = _may_hold(path, (_ERROR_CELL, _UNSAVED_FORMULA))
        errors = _error_cells(path, sheet) if may_hold[0] else []
        unsaved = formula_cells(path, sheet) if may_hold[1] else []
    except ValueError as exc:
        raise UnreadableTransfer(f"{path.name}: {_without_content(exc)}") from None
    except Exception as exc:  # openpyxl raises zipfile/KeyError/... for a damaged workbook
        raise UnreadableTransfer(f"{path.name} is not a readable Excel workbook "
                                 f"({type(exc).__name__}: {_without_content(exc)})") from None
    for row, column, error in errors:      # as the sheet shows them, not missing
        if 0 <= row - 2 < len(frame) and column < len(frame.columns):
            frame.iat[row - 2, column] = error
    for row, column in unsaved:            # empty to pandas, but not empty in the sheet
        if 0 <= row - 2 < len(frame) and column < len(frame.columns) and pd.isna(frame.iat[row - 2, column]):
            frame.iat[row - 2, column] = UNCALCULATED
    header = [str(c) for c in frame.columns]
    _refuse_repeated(path, header, keep, lambda: _first_row(path, sheet))
    frame.columns = header
    frame = _texts(frame[[c for c in header if keep(c)]], native)
    frame[ROW] = range(2, len(frame) + 2)
    return RawTable(frame, header)


def _refuse_repeated(path: Path, header: list[str], keep: Callable[[str], bool],
                     first_row: Callable[[], list]) -> None:
    """Reject a file whose header row names a column the dialect reads more than once: which of
    the two holds the data cannot be told (a personal column renamed so would be read as data).
    pandas renames a repeated name 'X' to 'X.1', so the header row as written (``first_row``) is
    read again only when a name of that form follows its base name."""
    if not any((m := re.fullmatch(r"(.*)\.\d+", name)) and m[1] in header for name in header):
        return
    names = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in first_row()]
    repeated = sorted({name for name in names if names.count(name) > 1 and keep(name)})
    if repeated:
        raise UnreadableTransfer(f"{path.name} row 1: the header row names the column(s) {', '.join(repeated)} "
                                 f"more than once; which one holds the data cannot be told")


def _first_row(path: Path, sheet: str | int) -> list:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = (book[sheet] if isinstance(sheet, str) else book.worksheets[sheet]).iter_rows(max_row=1, values_only=True)
        return list(next(rows, ()))
    finally:
        book.close()


def _may_hold(path: Path, patterns: tuple[re.Pattern, ...]) -> list[bool]:
    """Whether the workbook's XML matches each pattern: the cells that pandas reads as empty but are
    not (below) cost a second pass of openpyxl over the sheet each (as long as pandas' read), so a
    scan of the XML first (0.04 s for a site's 10 MB sheet) spares them when there are none."""
    found = [False] * len(patterns)
    with zipfile.ZipFile(path) as archive:
        for name in (n for n in archive.namelist() if n.endswith(".xml")):
            xml = archive.read(name)
            found = [was or bool(p.search(xml)) for was, p in zip(found, patterns)]
    return found


def _error_cells(path: Path, sheet: str | int) -> list[tuple[int, int, str]]:
    """(sheet row, column from 0, error value) of each cell of ``sheet`` holding an Excel error.
    pandas reads such a cell as missing, as if empty: a result a site sent would vanish."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        cells = book[sheet].iter_rows() if isinstance(sheet, str) else book.worksheets[sheet].iter_rows()
        return [(cell.row, cell.column - 1, str(cell.value)) for row in cells for cell in row
                if cell.data_type == "e" and cell.value is not None]
    finally:
        book.close()


def formula_cells(path: Path, sheet: str | int) -> list[tuple[int, int]]:
    """(sheet row, column from 0) of each formula cell of ``sheet``; those read as empty had no
    result saved (Excel saves one beside each formula). Also used by the reconciliation's counter."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    try:
        cells = book[sheet].iter_rows() if isinstance(sheet, str) else book.worksheets[sheet].iter_rows()
        return [(cell.row, cell.column - 1) for row in cells for cell in row if cell.data_type == "f"]
    finally:
        book.close()


def unsaved_formulas_possible(path: Path) -> bool:
    """Whether the workbook may hold a formula cell without a saved result (see _UNSAVED_FORMULA)."""
    return _may_hold(path, (_UNSAVED_FORMULA,))[0]


def _read_spss(path: Path, keep: Callable[[str], bool], native: set[str]) -> RawTable:
    import pyreadstat

    try:
        _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
        wanted = [c for c in meta.column_names if keep(c)]
        frame, _ = pyreadstat.read_sav(str(path), usecols=wanted, apply_value_formats=False)
    except pyreadstat.ReadstatError as exc:
        raise UnreadableTransfer(f"{path.name} is not a readable SPSS file: {exc}") from None
    except (OverflowError, ValueError) as exc:    # a date or time no calendar holds (year 10000, inf)
        raise UnreadableTransfer(f"{path.name}: a value cannot be read as the type its variable declares "
                                 f"({type(exc).__name__}: {_without_content(exc)})") from None
    frame = _texts(frame, native)
    frame[ROW] = range(1, len(frame) + 1)
    return RawTable(frame, list(meta.column_names))


def read_table(path: Path, spec: FileSpec, keep: Callable[[str], bool], native: set[str] = frozenset()) -> RawTable:
    """Read the kept columns of one data file of the given format."""
    if spec.format in ("delimited", "folder"):
        return _read_delimited(path, spec, keep)
    if spec.format == "excel":
        return read_excel_sheet(path, spec.sheet or 0, keep, native)
    if spec.format == "spss":
        return _read_spss(path, keep, native)
    raise ValueError(f"no reader for format {spec.format!r}")


def require_columns(table: RawTable, needed: list[str], file_name: str, known: set[str] = frozenset()) -> None:
    """Reject the transfer when a column the dialect needs is absent. The reason names the missing
    columns only: a file without its header row has a patient's data where the header should be."""
    missing = [c for c in needed if c not in table.header]
    if missing:
        unrecognised = sum(1 for c in table.header if c not in set(needed) | set(known))
        raise UnreadableTransfer(f"{file_name} row 1: the header row lacks the required column(s) "
                                 f"{', '.join(missing)} ({unrecognised} unrecognised column(s) not shown)")
