"""Column-wise text helpers shared by the writers: work per distinct value, since clinical columns
repeat a few values over many rows (test codes, visits, dates, subject ids)."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TEXT = pd.array([], dtype="str").dtype       # Arrow-backed strings, NaN as their missing value
# values per Arrow call when measuring lengths: each call's temporary (8 bytes a value) stays below
# the 1 MiB from which glibc maps fresh pages for a block (aclf.memory), so it is reused, not faulted
# in again (an 800,000-row column: 0.5 ms a call against 3.5-5 ms and 1,563 page faults)
LENGTHS_AT_ONCE = 1 << 16


def rstripped(series: pd.Series) -> pd.Series:
    """A column of strings (or missing) as Arrow strings (``str``), trailing blanks removed, missing
    as ''. Arrow, not Python objects: a conformed LB or ADLB in objects takes gigabytes. A column
    that is that already (a conformed one, checked and written again) is returned as it is: its
    Arrow buffers are shared, not copied."""
    # asked in Arrow: pandas' endswith turns Arrow's answer into a numpy array of a byte per row first
    if series.dtype == TEXT and not series.hasnans and not pc.any(pc.ends_with(pa.array(series), " ")).as_py():
        return series
    codes, distinct = pd.factorize(series)                # a missing value gets code -1: the last, ''
    values = pd.array([v.rstrip(" ") for v in distinct] + [""], dtype=TEXT)
    return pd.Series(values.take(codes), index=series.index)


def max_bytes(series: pd.Series) -> int:
    """The longest value as UTF-8 text, at least 1 (an all-empty column still needs a length)."""
    if series.dtype == TEXT:        # Arrow counts the bytes of each string in place
        return max(1, longest(pa.array(series)) or 0)
    return max([1, *(len(str(v).encode("utf-8")) for v in pd.unique(series.dropna()))])


def longest(arrow: pa.Array | pa.ChunkedArray) -> int | None:
    """The most bytes of any value of an Arrow text array (None: no value), a slice at a time."""
    most = None
    for start in range(0, len(arrow), LENGTHS_AT_ONCE):
        part = pc.max(pc.binary_length(arrow.slice(start, LENGTHS_AT_ONCE))).as_py()
        most = part if most is None or (part is not None and part > most) else most
    return most


def ascii_within(series: pd.Series, limit: int) -> bool:
    """Whether every value of a text column is ASCII of at most ``limit`` characters (one byte
    each). Arrow checks its strings in place (LB's 21 text columns took 0.3 s with each distinct
    value checked in Python); other columns are checked per distinct value."""
    if series.dtype == TEXT:
        arrow = pa.array(series)
        return pc.all(pc.string_is_ascii(arrow)).as_py() is not False and (longest(arrow) or 0) <= limit
    return all(v.isascii() and len(v) <= limit for v in pd.unique(series))


def one_array(values, type: pa.DataType | None = None) -> pa.Array:
    """Text values (an Index, an array, a Series) as one Arrow array: Arrow-backed text comes as a
    chunked array, of no chunk at all when there are no values, which compute functions and
    concatenation do not all take."""
    arrow = pa.array(values, type=type)
    return arrow.combine_chunks() if isinstance(arrow, pa.ChunkedArray) else arrow
