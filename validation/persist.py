"""Findings and the harmonized lab table in the store: tonight's state replaces last night's."""
from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from aclf.store import bulk_insert, finding, lab_harmonized, sdtm_trace
from validation.findings import COLUMNS, STATE, track


def save_harmonized_lab(engine: sa.Engine, lab: pd.DataFrame) -> None:
    columns = [c.name for c in lab_harmonized.columns if c.name != "id"]
    with engine.begin() as conn:
        conn.execute(lab_harmonized.delete())
        bulk_insert(conn, lab_harmonized, lab, columns)


def load_harmonized_lab(engine: sa.Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.read_sql(sa.select(lab_harmonized).order_by(lab_harmonized.c.id), conn)
    text = [c.name for c in lab_harmonized.columns if isinstance(c.type, sa.Text)]
    frame[text] = frame[text].fillna("")
    return frame.drop(columns="id")


def save_findings(engine: sa.Engine, tonight: pd.DataFrame, now: str) -> pd.DataFrame:
    """Open, refresh, reopen and close findings against the stored ones; returns them all."""
    with engine.begin() as conn:
        stored = pd.read_sql(sa.select(finding), conn)
        merged = track(stored, tonight, now)
        conn.execute(finding.delete())
        bulk_insert(conn, finding, merged.astype({"row_number": "Int64"}), COLUMNS + STATE)
    return merged


def save_trace(engine: sa.Engine, area: str, trace: pd.DataFrame) -> None:
    """Tonight's submitted records of an area and the source transfer and row of each."""
    with engine.begin() as conn:
        conn.execute(sdtm_trace.delete().where(sdtm_trace.c.area == area))
        bulk_insert(conn, sdtm_trace, trace.astype({"transfer_id": "Int64", "row_number": "Int64"}),
                    ["dataset", "record", "usubjid", "transfer_id", "row_number"], area=area)
