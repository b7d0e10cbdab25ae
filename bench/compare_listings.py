"""Compare two nights' query listings as a person sees them (read with openpyxl): every cell's value
(Excel's escapes of control characters decoded, an empty text the same as an empty cell), its
font weight and size, shading, wrapping, vertical alignment, quote prefix and border; the column widths,
row heights, frozen panes, filter, printed title rows, page setup, margins, footer and the
workbook's title. The day a listing was written, in its title block, is left aside."""
from __future__ import annotations

import re
from pathlib import Path

import openpyxl
from openpyxl.utils.escape import unescape

WRITTEN = re.compile(r"written \d{4}-\d{2}-\d{2}")
DEFAULT_SIZE = 11.0          # the workbook's font size, for a font that names none


def _value(value):
    if isinstance(value, str):
        value = WRITTEN.sub("written <day>", unescape(value))
    return None if value == "" else value


def _cell(cell) -> tuple:
    fill = cell.fill.fgColor.rgb[-6:] if cell.fill.fill_type == "solid" else None
    border = tuple(getattr(cell.border, side).style for side in ("left", "right", "top", "bottom"))
    size = (cell.font.sz or DEFAULT_SIZE) if cell.value not in (None, "") else None
    return (_value(cell.value), bool(cell.font.b), size, fill,
            bool(cell.alignment.wrap_text), cell.alignment.vertical, bool(cell.quotePrefix), border)


def _widths(sheet) -> dict[int, float]:
    """Each column's stored width, a range of columns of one width (one XML element) spread out."""
    return {col: d.width for d in sheet.column_dimensions.values() if d.width
            for col in range(d.min or 1, (d.max or d.min or 1) + 1)}


def seen(path: Path) -> dict:
    """What a person sees of a listing, as comparable values."""
    book = openpyxl.load_workbook(path)
    sheet = book.active
    setup, margins = sheet.page_setup, sheet.page_margins
    return {
        "title": book.properties.title, "sheet": sheet.title,
        "cells": [[_cell(c) for c in row] for row in sheet.iter_rows(min_row=1, max_row=sheet.max_row,
                                                                    max_col=sheet.max_column)],
        "widths": _widths(sheet),
        "heights": {k: d.height for k, d in sheet.row_dimensions.items() if d.height},
        "freeze": sheet.freeze_panes, "filter": sheet.auto_filter.ref, "print titles": sheet.print_title_rows,
        "page": (setup.orientation, int(setup.paperSize), int(setup.fitToWidth or 1), int(setup.fitToHeight or 0),
                 bool(sheet.sheet_properties.pageSetUpPr.fitToPage)),
        "margins": (margins.left, margins.right, margins.top, margins.bottom),
        "footer": sheet.oddFooter.center.text,
    }


def compare_listings(a: Path, b: Path) -> list[str]:
    """Every difference between the listings of two output folders' ``findings/``."""
    names_a = {p.name for p in (a / "findings").glob("*.xlsx")}
    names_b = {p.name for p in (b / "findings").glob("*.xlsx")}
    diffs = [f"listing only in {a}: {n}" for n in sorted(names_a - names_b)]
    diffs += [f"listing only in {b}: {n}" for n in sorted(names_b - names_a)]
    for name in sorted(names_a & names_b):
        sa, sb = seen(a / "findings" / name), seen(b / "findings" / name)
        for key in sa:
            if sa[key] != sb[key]:
                detail = ""
                if key == "cells":
                    pairs = [(r, c, x, y) for r, (ra, rb) in enumerate(zip(sa[key], sb[key]), start=1)
                             for c, (x, y) in enumerate(zip(ra, rb), start=1) if x != y]
                    detail = f": {len(pairs)} cells, first at row {pairs[0][0]}, column {pairs[0][1]}: " \
                             f"{pairs[0][2]!r} != {pairs[0][3]!r}" if pairs else f": {len(sa[key])} vs {len(sb[key])} rows"
                diffs.append(f"findings/{name}: {key} differ{detail}")
    return diffs
