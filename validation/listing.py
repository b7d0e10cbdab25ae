"""A query listing laid out to be sent and printed: a title block (study, addressee, data cut, date),
the rows under a header repeated on every printed page, landscape A4 fitted to the page width,
wrapped text with row heights to match, and empty columns for the answer."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.worksheet.worksheet import Worksheet

from validation.cells import for_excel, keep_as_text

HEADER_ROW = 6                      # rows 1-4: the title block; row 5 empty
RESPONSE_COLUMNS = ["Response", "Responded by", "Response date"]
WIDTHS = {"Finding": 18, "Severity": 9, "Subject": 10, "Visit": 10, "Test": 9, "Source file": 24, "Row": 6,
          "Query": 48, "Details": 60, "First seen": 11, "Last seen": 11, "Site": 6,
          "Response": 36, "Responded by": 14, "Response date": 12}
LINE_POINTS = 13.0                  # one wrapped line of 10-point text
SHEET = "Queries"


def write_listing(rows: pd.DataFrame, path: Path, title: list[str], answer: bool) -> None:
    """``rows`` with their display headers; ``title``: the title block's lines; ``answer``: add the
    response columns for the addressee to fill in."""
    if answer:
        rows = rows.assign(**{c: "" for c in RESPONSE_COLUMNS})
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for_excel(rows).to_excel(writer, sheet_name=SHEET, index=False, startrow=HEADER_ROW - 1)
        sheet = writer.sheets[SHEET]
        keep_as_text(sheet)
        _title(sheet, title)
        _columns(sheet, list(rows.columns), answer)
        _print_setup(sheet, len(rows.columns))
        writer.book.properties.title = title[0]


def _title(sheet: Worksheet, lines: list[str]) -> None:
    for number, line in enumerate(lines, start=1):
        cell = sheet.cell(row=number, column=1, value=line)
        cell.font = Font(bold=number == 1, size=14 if number == 1 else 10)


def _columns(sheet: Worksheet, headers: list[str], answer: bool) -> None:
    """Widths, bold header, wrapped top-aligned text and row heights from the longest wrapped cell
    (openpyxl cannot measure text; a character is about one width unit, a CJK one about two)."""
    fill = PatternFill("solid", fgColor="FFF2CC")
    wrap = Alignment(wrap_text=True, vertical="top")    # one object shared by every cell, not one each
    for index, header in enumerate(headers, start=1):
        letter = sheet.cell(row=HEADER_ROW, column=index).column_letter
        sheet.column_dimensions[letter].width = WIDTHS.get(header, 14)
        head = sheet.cell(row=HEADER_ROW, column=index)
        head.font = Font(bold=True)
        head.alignment = wrap
        if answer and header in RESPONSE_COLUMNS:
            head.fill = fill
    # The two styles registered once and set on each cell by their ids: assigning the style objects
    # made openpyxl look each up in the workbook's registry again, a quarter of a listing's time.
    # This is what its style descriptor does after that lookup.
    filled = [answer and header in RESPONSE_COLUMNS for header in headers]
    wrap_id = sheet.parent._alignments.add(wrap)
    fill_id = sheet.parent._fills.add(fill) if any(filled) else 0     # registered only where used
    widths = [WIDTHS.get(header, 14) for header in headers]
    for row in sheet.iter_rows(min_row=HEADER_ROW + 1, max_row=sheet.max_row):
        lines = 1
        for cell, fills, width in zip(row, filled, widths):
            style = cell._style if cell._style is not None else StyleArray()
            style.alignmentId = wrap_id
            if fills:
                style.fillId = fill_id
            cell._style = style
            lines = max(lines, _wrapped_lines(cell.value, width))
        sheet.row_dimensions[row[0].row].height = LINE_POINTS * lines + 4


def _wrapped_lines(value, width: float) -> int:
    if value is None or value == "":
        return 1
    return sum(max(1, math.ceil(_width(part) / max(width - 1, 1))) for part in str(value).split("\n"))


def _width(text: str) -> int:
    """Width units of a line: a CJK character takes about two."""
    return len(text) if text.isascii() else sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _print_setup(sheet: Worksheet, columns: int) -> None:
    """Landscape A4, all columns on the page width, the header row repeated, page numbers."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.oddFooter.center.text = "Page &P of &N"
    sheet.freeze_panes = sheet.cell(row=HEADER_ROW + 1, column=1)
    last = sheet.cell(row=HEADER_ROW, column=columns).column_letter
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{last}{max(sheet.max_row, HEADER_ROW)}"
