"""Findings for people: ``findings/findings.csv`` and one Excel query listing per site.

Both are formula-safe (``validation.cells``); the CSV is UTF-8 with a byte-order mark for Excel."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl.styles import Alignment, Font

from validation.cells import CSV_ENCODING, CSV_LINES, for_csv, for_excel, keep_as_text

LISTING_COLUMNS = {"finding_id": "Finding", "severity": "Severity", "rule": "Rule", "subjid": "Subject",
                   "visit": "Visit", "test": "Test", "file": "Source file", "row_number": "Row",
                   "message": "What to check", "first_seen": "First seen", "last_seen": "Last seen"}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def _ordered(findings: pd.DataFrame) -> pd.DataFrame:
    rank = findings["severity"].map(SEVERITY_ORDER)
    return findings.assign(_rank=rank).sort_values(["_rank", "rule", "subjid", "finding_id"]).drop(columns="_rank")


def write_findings(findings: pd.DataFrame, output: Path, sites: list[str]) -> dict[str, Path]:
    """All findings (open and closed) as CSV; each site's open findings as an .xlsx listing."""
    folder = output / "findings"
    folder.mkdir(parents=True, exist_ok=True)
    written = {"csv": folder / "findings.csv"}
    for_csv(_ordered(findings)).to_csv(written["csv"], index=False, encoding=CSV_ENCODING, lineterminator=CSV_LINES)
    open_ = findings[findings["status"] == "open"]
    for site in sites:
        path = folder / f"site{site}_queries.xlsx"
        listing = _ordered(open_[open_["site_id"] == site])[list(LISTING_COLUMNS)].rename(columns=LISTING_COLUMNS)
        _write_listing(listing, path, f"Site {site} open findings")
        written[f"site{site}"] = path
    return written


def _write_listing(listing: pd.DataFrame, path: Path, title: str) -> None:
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for_excel(listing).to_excel(writer, sheet_name="Queries", index=False)
        sheet = writer.sheets["Queries"]
        keep_as_text(sheet)
        sheet.freeze_panes = "A2"
        sheet.auto_filter.ref = sheet.dimensions
        widths = {"What to check": 90, "Source file": 26, "Finding": 18}
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            sheet.column_dimensions[cell.column_letter].width = widths.get(cell.value, 14)
        for row in sheet.iter_rows(min_row=2, min_col=9, max_col=9):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        writer.book.properties.title = title
