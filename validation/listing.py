"""A query listing laid out to be sent and printed: a title block (study, addressee, data cut, date),
the rows under a header repeated on every printed page, landscape A4 fitted to the page width,
wrapped text with row heights to match, and empty columns for the answer.

Written with XlsxWriter, which streams each cell out with a format registered once: openpyxl built
a cell object per value and a style per cell (the 10,000-subject study's seven listings took 1.3 s).
Every text is written as text, never as a formula."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import xlsxwriter

from validation.cells import for_excel, is_formula_like

HEADER_ROW = 6                      # rows 1-4: the title block; row 5 empty (1-based, as Excel shows them)
RESPONSE_COLUMNS = ["Response", "Responded by", "Response date"]
WIDTHS = {"Finding": 18, "Severity": 9, "Subject": 10, "Visit": 10, "Test": 9, "Source file": 24, "Row": 6,
          "Query": 48, "Details": 60, "First seen": 11, "Last seen": 11, "Site": 6,
          "Response": 36, "Responded by": 14, "Response date": 12}
LINE_POINTS = 13.0                  # one wrapped line of 10-point text
SHEET = "Queries"
ANSWER_FILL = "#FFF2CC"
A4 = 9                              # the paper size code of the OOXML page setup


def write_listing(rows: pd.DataFrame, path: Path, title: list[str], answer: bool) -> None:
    """``rows`` with their display headers; ``title``: the title block's lines; ``answer``: add the
    response columns for the addressee to fill in."""
    if answer:
        rows = rows.assign(**{c: "" for c in RESPONSE_COLUMNS})
    rows = for_excel(rows)
    headers = list(rows.columns)
    options = {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}
    with xlsxwriter.Workbook(path, options) as book:
        book.set_properties({"title": title[0]})
        sheet = book.add_worksheet(SHEET)
        _title(book, sheet, title)
        _table(book, sheet, rows, [answer and header in RESPONSE_COLUMNS for header in headers])
        _print_setup(sheet, len(headers), len(rows))


def _title(book, sheet, lines: list[str]) -> None:
    first, other = book.add_format({"bold": True, "font_size": 14}), book.add_format({"font_size": 10})
    for number, line in enumerate(lines):
        sheet.write_string(number, 0, line, first if number == 0 else other)


def _table(book, sheet, rows: pd.DataFrame, filled: list[bool]) -> None:
    """The header (bold) and the rows: wrapped, top-aligned, the answer columns shaded, a
    value that a spreadsheet would read as a formula kept as text with a quote prefix, and each
    row as high as its longest wrapped cell (a spreadsheet does not size a wrapped row itself)."""
    def style(shade: bool, **more):
        return book.add_format({"text_wrap": True, "valign": "top", **({"bg_color": ANSWER_FILL} if shade else {}),
                                **more})

    head = HEADER_ROW - 1
    for col, (header, shade) in enumerate(zip(rows.columns, filled)):
        sheet.set_column(col, col, WIDTHS.get(header, 14))
        sheet.write_string(head, col, header, style(shade, bold=True))
    plain = [style(shade) for shade in filled]
    quoted = [style(shade, quote_prefix=True) for shade in filled]
    widths = [WIDTHS.get(header, 14) for header in rows.columns]
    numeric = [pd.api.types.is_numeric_dtype(rows[c]) for c in rows.columns]
    columns = [rows[c].astype(object).where(rows[c].notna(), None).tolist() for c in rows.columns]
    measured: dict[tuple[str, float], int] = {}       # a rule's query text repeats on many rows
    for offset, values in enumerate(zip(*columns)):
        row, lines = head + 1 + offset, 1
        for col, value in enumerate(values):
            if value is None or value == "":
                sheet.write_blank(row, col, None, plain[col])
            elif numeric[col]:
                sheet.write_number(row, col, value, plain[col])
            else:
                text = str(value)
                sheet.write_string(row, col, text, quoted[col] if is_formula_like(text) else plain[col])
                key = (text, widths[col])
                if key not in measured:
                    measured[key] = _wrapped_lines(text, widths[col])
                lines = max(lines, measured[key])
        sheet.set_row(row, LINE_POINTS * lines + 4)


def _wrapped_lines(value: str, width: float) -> int:
    return sum(max(1, math.ceil(_width(part) / max(width - 1, 1))) for part in value.split("\n"))


def _width(text: str) -> int:
    """Width units of a line: a CJK character takes about two."""
    return len(text) if text.isascii() else sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _print_setup(sheet, columns: int, rows: int) -> None:
    """Landscape A4, all columns on the page width, the header row repeated, page numbers."""
    head = HEADER_ROW - 1
    sheet.set_landscape()
    sheet.set_paper(A4)
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(head)
    sheet.set_margins(left=0.4, right=0.4, top=1.0, bottom=1.0)
    sheet.set_footer("&CPage &P of &N")
    sheet.freeze_panes(head + 1, 0)
    sheet.autofilter(head, 0, head + rows, columns - 1)
