"""Large tables (the harmonized lab table, LB, ADLB): their rows reordered without holding them in two
orders at once, stacked from parts, filtered on a large set of text values, and their floats made
hashable by their bits."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def reordered(frame: pd.DataFrame, order: np.ndarray) -> pd.DataFrame:
    """``frame.take(order)`` with a fresh RangeIndex, ``frame`` consumed (left without columns): each
    column is moved to the new order and let go, one at a time, so that the peak is one column more
    than the frame, not twice the frame."""
    columns = {name: frame.pop(name).take(order).reset_index(drop=True) for name in list(frame.columns)}
    return pd.DataFrame(columns, copy=False)


def sorted_consuming(frame: pd.DataFrame, keys: list[str], kind: str = "quicksort") -> pd.DataFrame:
    """``frame.sort_values(keys, kind=kind, ignore_index=True)``, ``frame`` consumed as by ``reordered``."""
    return reordered(frame, frame[keys].reset_index(drop=True).sort_values(keys, kind=kind).index.to_numpy())


def stacked(parts: list[pd.DataFrame], rows: np.ndarray) -> pd.DataFrame:
    """``pd.concat(parts, ignore_index=True).take(rows)`` with a fresh RangeIndex, the parts consumed
    a column at a time as by ``reordered`` (each needs the first part's columns). Arrow text is
    copied a run of consecutive rows at a time: Arrow's ``take`` copies one string per row (LB merged
    by subject, its 21 text columns: 1.1 s), and rows that interleave blocks of subjects or sources
    make few runs (0.4 s with every fifth subject rebuilt)."""
    rows = np.asarray(rows, dtype=np.int64)
    runs: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}   # by chunk layout
    columns = {}
    for name in list(parts[0].columns):
        pieces = [part.pop(name) for part in parts]
        dtypes = {piece.dtype for piece in pieces}
        if len(rows) and len(dtypes) == 1 and all(isinstance(p.array, pd.arrays.ArrowStringArray) for p in pieces):
            columns[name] = _text_in_runs(pieces, rows, runs)
        else:
            columns[name] = pd.concat(pieces, ignore_index=True).take(rows).reset_index(drop=True)
    return pd.DataFrame(columns, copy=False)


def _text_in_runs(pieces: list[pd.Series], rows: np.ndarray, runs: dict) -> pd.Series:
    chunks = []
    for piece in pieces:
        arrow = pa.array(piece.array)
        chunks += arrow.chunks if isinstance(arrow, pa.ChunkedArray) else [arrow]
    layout = tuple(len(chunk) for chunk in chunks)
    if layout not in runs:
        bounds = np.cumsum([0, *layout])
        chunk = np.searchsorted(bounds, rows, side="right") - 1
        cut = np.flatnonzero((np.diff(rows) != 1) | (np.diff(chunk) != 0)) + 1
        starts = np.concatenate([[0], cut])
        lengths = np.diff(np.concatenate([starts, [len(rows)]]))
        runs[layout] = (chunk[starts], rows[starts] - bounds[chunk[starts]], lengths)
    which, offsets, lengths = runs[layout]
    joined = pa.concat_arrays([chunks[c].slice(o, n) for c, o, n in zip(which.tolist(), offsets.tolist(),
                                                                         lengths.tolist())])
    return joined.to_pandas(types_mapper={joined.type: pieces[0].dtype}.get)


def isin(values: pd.Series | pd.Index, wanted) -> np.ndarray:
    """``values.isin(wanted)`` as a boolean array, for text and a large set (every subject of a study):
    pandas 3 makes an Arrow scalar of each wanted value before Arrow's ``is_in`` runs (0.6 s for
    10,000 subjects, at each of a dozen filters of a night); here the set becomes one Arrow array.
    As pandas: only text and missing values of ``wanted`` can match, a missing value a missing one."""
    if not isinstance(values.array, pd.arrays.ArrowStringArray):
        return np.asarray(values.isin(wanted), dtype=bool)
    texts = [None if not isinstance(v, str) else v for v in wanted
             if isinstance(v, str) or (pd.api.types.is_scalar(v) and pd.isna(v))]
    column = pa.array(values.array)
    found = pc.is_in(column, value_set=pa.array(texts, type=column.type))
    return found.to_numpy(zero_copy_only=False).astype(bool, copy=False)


def positions_in(values, wanted) -> np.ndarray:
    """Each of ``values``' position in ``wanted`` (its first), -1 where it is absent; both text
    (pandas Series or Arrow arrays). ``pd.Index(wanted).get_indexer(values)`` by Arrow's hash
    lookup, without a Python string per row (two sites' 225,000 record keys: milliseconds)."""
    def text(column):
        return (pa.array(column.array) if isinstance(column, pd.Series) else column).cast(pa.string())

    at = pc.index_in(text(values), value_set=text(wanted))
    return at.fill_null(-1).to_numpy().astype(np.int64, copy=False)


_NAN_BITS = np.array([np.nan]).view("int64")[0]


def float_bits(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each float column (numpy's or pandas' nullable) replaced by its values' bits as
    int64, every missing value (NaN or NA) as one: pandas' ``hash_pandas_object`` hashes -0.0 as
    0.0, which Dataset-JSON and the harmonized table's copy tell apart, so a hash meant to see every
    change of a value hashes the bits."""
    bits = {}
    for name in frame.columns:
        if pd.api.types.is_float_dtype(frame[name].dtype):
            values = frame[name].to_numpy(dtype="float64", na_value=np.nan)
            bits[name] = np.where(np.isnan(values), _NAN_BITS, values.view("int64"))
    return frame.assign(**bits) if bits else frame
