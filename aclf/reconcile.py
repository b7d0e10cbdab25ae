"""Reconciliation: count a transfer's source records independently of the dialect reader, and
compare with what the store holds for it (records in force from that transfer + its quarantine).

The counter uses a different parser than the loader on purpose (the csv module, openpyxl cell by
cell, the SPSS header), so a reader that silently drops rows breaks the balance.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from aclf.config import FileSpec, FormsSource, LabDialect
from aclf.readers import field_counts  # also lifts the csv module's 128 KiB field limit
from aclf.readers import formula_cells, unsaved_formulas_possible
from aclf.store import form_record, lab_result, quarantine


def _delimited_rows(path: Path, spec: FileSpec) -> int:
    return max(len(field_counts(path, spec.encoding, spec.delimiter, spec.quoted)) - 1, 0)


def _excel_cells(path: Path, sheet: str, id_columns: set[str]) -> int:
    """Filled cells outside the id columns: one per result in a wide sheet. A formula cell is filled
    even when no result was saved with it (the loader quarantines it: aclf.readers.formula_cells)."""
    import openpyxl

    formulas = set(formula_cells(path, sheet)) if unsaved_formulas_possible(path) else set()
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = wb[sheet].iter_rows(values_only=True)
        header = [str(h) if h is not None else "" for h in next(rows, ())]
        result_cols = [i for i, name in enumerate(header) if name not in id_columns]
        return sum(1 for number, row in enumerate(rows, start=2) for i in result_cols
                   if i < len(row) and ((row[i] is not None and str(row[i]).strip() != "")
                                        or (row[i] is None and (number, i) in formulas)))
    finally:
        wb.close()


def _spss_rows(path: Path) -> int:
    import pyreadstat

    _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
    return int(meta.number_rows)


def count_source_records(path: Path, source: LabDialect | FormsSource) -> int:
    """How many records the transfer holds, by a parser other than the loader's."""
    spec = source.file
    if isinstance(source, FormsSource):
        files = [path / f.file for f in source.forms.values()] if spec.format == "folder" else [path]
        return sum(_delimited_rows(f, spec) for f in files)
    if spec.format == "delimited":
        return _delimited_rows(path, spec)
    if spec.format == "spss":
        return _spss_rows(path)
    ids = set(source.read_columns) | set(source.personal) | set(source.ignored)
    if source.layout == "wide":
        return _excel_cells(path, spec.sheet, ids)
    raise ValueError(f"no independent counter for {spec.format} {source.layout}")


def stored_counts(conn: sa.Connection, source: LabDialect | FormsSource, transfer_id: int) -> tuple[int, int]:
    """(records in force last read from the transfer, quarantined rows of the transfer)."""
    table = lab_result if isinstance(source, LabDialect) else form_record
    loaded = conn.execute(sa.select(sa.func.count()).select_from(table).where(
        (table.c.transfer_id == transfer_id) & table.c.vanished_transfer_id.is_(None))).scalar_one()
    held = conn.execute(sa.select(sa.func.count()).select_from(quarantine).where(
        quarantine.c.transfer_id == transfer_id)).scalar_one()
    return int(loaded), int(held)
