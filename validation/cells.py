"""Cells made safe for people's spreadsheets: no live formulas, no characters Excel refuses.

A value from a source (an EDC free-text field, say) may begin with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return; a spreadsheet would run it as a formula (OWASP "CSV injection"). Written here
by hand rather than with ``defusedcsv``: pandas writes CSV with its own writer, not through the csv
module that defusedcsv replaces; a listing writes every text as text, a formula-like one with a
quote prefix (validation.listing).
"""
from __future__ import annotations

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CSV_ENCODING = "utf-8-sig"   # with a byte-order mark, so Excel opens Chinese text as UTF-8
CSV_LINES = "\r\n"            # Excel's line end; with it the csv writer also quotes a bare CR in a value


def is_formula_like(value) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]


def for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that would start a formula get a leading apostrophe (OWASP's advice for CSV)."""
    out = frame.copy()
    for col in _text_columns(out):
        out[col] = out[col].map(lambda v: "'" + v if is_formula_like(v) else v)
    return out


def for_excel(frame: pd.DataFrame) -> pd.DataFrame:
    """Control characters a workbook cannot hold (NUL, ...) become U+FFFD instead of an error."""
    out = frame.copy()
    for col in _text_columns(out):
        out[col] = out[col].map(lambda v: ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else v)
    return out
