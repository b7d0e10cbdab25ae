"""The SAS transport version 5 layout (SAS TS-140), written column-wise with numpy.

Why not pyreadstat's writer, which the product used before: it converts and copies every cell in
turn, which made it the largest cost of a large night (issue #14). This writer lays out the same
bytes as pyreadstat 1.3.7 (ReadStat's ``readstat_xport_write.c``) a block of rows at a time:
tests/cdisc/test_xpt_v5.py writes every dataset of a generated night with both and compares the
files byte for byte, and reads them back with pyreadstat and pandas. It takes a frame already
conformed and checked (cdisc.xpt does both): text as str, numbers as float64, NaN for missing.
"""
from __future__ import annotations

import datetime as dt
import re
import struct
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdisc.columns import max_bytes, one_array
from cdisc.splice import FileRows, Reuse

RECORD = 80
ROWS_PER_BLOCK = 50_000
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# name (with '$' for text; a name ends in a letter or '_', so digits after it are the width), width, decimals
_FORMAT = re.compile(r"(?P<name>\$?(?:[A-Za-z_](?:[A-Za-z0-9_]*[A-Za-z_])?)?)(?P<width>\d*)(?:\.(?P<decimals>\d*))?")
# ntype nhfun nlng nvar0 nname nlabel nform nfl nfd nfj nfill niform nifl nifd npos, then 52 bytes unused in v5
_NAMESTR = struct.Struct(">hhhh8s40s8shhh2s8shhi52x")
_MISSING = np.array([0x2E, 0, 0, 0, 0, 0, 0, 0], dtype=np.uint8)     # SAS '.', as ReadStat writes it


def timestamp(when: dt.datetime | None = None) -> str:
    """ddMMMyy:hh:mm:ss in local time, as the v5 headers hold it."""
    when = when or dt.datetime.now()
    return f"{when.day:02d}{_MONTHS[when.month - 1]}{when.year % 100:02d}:{when:%H:%M:%S}"


def ibm_doubles(values: np.ndarray) -> np.ndarray:
    """float64 values as 8-byte big-endian IBM floats, one row of uint8 per value; NaN as SAS '.'.

    TS-140's ieee2xpt on whole arrays: the hidden bit restored, the binary exponent turned into a hex
    one by shifting the fraction 0-3 bits (truncating, as SAS does); below 16**-65 is 0, from
    2**249 up (and inf) the largest IBM number.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    bits = values.view(np.uint64)
    hi = (bits >> np.uint64(32)).astype(np.int64)
    lo = (bits & np.uint64(0xFFFFFFFF)).astype(np.int64)
    exponent = ((hi >> 20) & 0x7FF) - 1023
    shift = exponent & 3
    high = (((hi & 0xFFFFF) | 0x100000) << shift) | (((lo >> 24) & 0xE0) >> (8 - shift))
    low = (lo << shift) & 0xFFFFFFFF
    sign = (hi >> 24) & 0x80
    high = (high | ((((exponent >> 2) + 65) | sign) << 24)) & 0xFFFFFFFF
    ibm = (high.astype(np.uint64) << np.uint64(32)) | low.astype(np.uint64)
    ibm[exponent < -260] = 0
    largest = exponent > 248
    ibm[largest] = ((0x7F | sign[largest]).astype(np.uint64) << np.uint64(56)) | np.uint64(0xFFFFFFFFFFFFFF)
    out = ibm.astype(">u8").view(np.uint8).reshape(-1, 8)
    out[np.isnan(values)] = _MISSING
    return out


class _Text:
    """A text column as fields blank-padded to ``width`` (the longest value of the whole column, which
    ``series`` may be some rows of), encoded once per distinct value (missing as blanks)."""

    def __init__(self, series: pd.Series, width: int):
        codes, distinct = pd.factorize(series)
        self.width, fields = width, _fields(distinct, width)
        self.fields = np.vstack([fields, np.full((1, self.width), 0x20, dtype=np.uint8)])   # code -1 (missing): blank
        self.codes = codes.astype(np.min_scalar_type(-len(self.fields)))   # int8/16 mostly: LB's codes in int64 take 200 MB

    def rows(self, start: int, stop: int, out: np.ndarray) -> None:
        # 'wrap' takes code -1 to the last field, as indexing does, and lets numpy write into the
        # block's columns directly (indexing made a copy first: a third of LB's file)
        np.take(self.fields, self.codes[start:stop], axis=0, out=out, mode="wrap")


def _fields(distinct, width: int) -> np.ndarray:
    """Each distinct text as UTF-8 bytes blank-padded to ``width``, one row of uint8 each. ASCII Arrow
    text is padded by Arrow and its buffer read as the rows; other text is encoded value by value."""
    values = pd.array(distinct)
    if isinstance(values, pd.arrays.ArrowStringArray) and len(values):
        arrow = one_array(values)
        if arrow.null_count == 0 and pc.all(pc.string_is_ascii(arrow)).as_py():
            padded = pc.utf8_rpad(arrow, width, " ").cast(pa.large_string())
            offsets = np.frombuffer(padded.buffers()[1], dtype=np.int64)[padded.offset:padded.offset + len(padded) + 1]
            data = np.frombuffer(padded.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
            return data.reshape(-1, width)
    encoded = [v.encode("utf-8") for v in distinct]
    return np.array([e.ljust(width) for e in encoded], dtype=f"S{width}").view(np.uint8).reshape(-1, width)


class _Number:
    width = 8

    def __init__(self, series: pd.Series, width: int = 8):
        self.values = series.to_numpy(dtype=np.float64, na_value=np.nan)

    def rows(self, start: int, stop: int, out: np.ndarray) -> None:
        out[:] = ibm_doubles(self.values[start:stop])


def _pad(out: BinaryIO, written: int) -> None:
    """Blanks up to the end of the 80-byte record."""
    out.write(b" " * (-written % RECORD))


def _record(out: BinaryIO, text: str) -> None:
    out.write(text.encode("ascii").ljust(RECORD))


def _header(out: BinaryIO, name: str, numbers: str = "0" * 30) -> None:
    _record(out, f"HEADER RECORD*******{name:<8}HEADER RECORD!!!!!!!{numbers}")


def _format(fmt: str | None) -> tuple[bytes, int, int]:
    if not fmt:
        return b"", 0, 0
    parts = _FORMAT.fullmatch(fmt)
    if parts is None:
        raise ValueError(f"{fmt!r} is not a SAS format")
    return (parts["name"].encode("ascii"), int(parts["width"] or 0), int(parts["decimals"] or 0))


def layout(frame: pd.DataFrame) -> list[list]:
    """Each column's name, kind (n: numeric, c: text) and width (a text column's longest value in
    bytes, at least 1, as ReadStat): what a row's bytes depend on besides its values."""
    return [[c, "n", 8] if pd.api.types.is_float_dtype(frame[c]) else [c, "c", max_bytes(frame[c])]
            for c in frame.columns]


def write(out: BinaryIO, frame: pd.DataFrame, *, name: str, label: str, labels: Sequence[str],
          formats: dict[str, str], stamp: str | None = None, reuse: Reuse | None = None) -> FileRows:
    """Write ``frame`` (float64 columns numeric, every other column text) as one v5 member; with
    ``reuse`` (cdisc.splice), the rows it names are copied from the file in force, when its columns
    were laid out as tonight's. Returns where the rows lie."""
    stamp = stamp or timestamp()
    laid = layout(frame)
    if reuse is not None and reuse.before.layout != laid:
        reuse = None
    rows_of = frame if reuse is None else frame.take(reuse.new)
    columns = [(_Number if kind == "n" else _Text)(rows_of[c], width) for c, kind, width in laid]
    _header(out, "LIBRARY")
    _record(out, f"{'SAS':<8}{'SAS':<8}{'SASLIB':<8}{'6.06':<8}{'bsd4.2':<8}{'':<24}{stamp:>16}")
    _record(out, stamp)
    _header(out, "MEMBER", "000000000000000001600000000140")
    _header(out, "DSCRPTR")
    _record(out, f"{'SAS':<8}{name[:8]:<8}{'SASDATA':<8}{'6.06':<8}{'bsd4.2':<8}{'':<24}{stamp:>16}")
    _record(out, f"{stamp:>16}{'':<16}{label[:40]:<40}{'':<8}")
    _header(out, "NAMESTR", f"00000{len(columns):05d}" + "0" * 20)
    position = 0
    for number, (variable, column, text) in enumerate(zip(frame.columns, columns, labels), 1):
        num, width = isinstance(column, _Number), column.width
        fmt, fmt_width, decimals = _format(formats.get(variable))
        form = fmt.ljust(8)
        # pyreadstat 1.3.7 right-aligns numbers (nfj) and leaves the informat blank
        out.write(_NAMESTR.pack(1 if num else 2, 0, width, number, variable.encode("ascii").ljust(8),
                                text.encode("utf-8").ljust(40), form, fmt_width, decimals, int(num), b"\0\0",
                                b" " * 8, 0, 0, position))
        position += width
    _pad(out, _NAMESTR.size * len(columns))
    _header(out, "OBS")
    for copied, start, stop in reuse.runs if reuse is not None else [(False, 0, len(frame))]:
        if copied:
            reuse.copy(out, start, stop)
        else:
            _rows(out, columns, start, stop, position)
    _pad(out, len(frame) * position)
    first = RECORD * 9 + -(-_NAMESTR.size * len(columns) // RECORD) * RECORD
    size = first + -(-len(frame) * position // RECORD) * RECORD
    return FileRows(first, np.full(len(frame), position, dtype=np.int64), laid, b"", size)


def _rows(out: BinaryIO, columns: list, start: int, stop: int, width: int) -> None:
    """Rows ``start:stop`` of the columns, a block of rows at a time."""
    for begin in range(start, stop, ROWS_PER_BLOCK):
        end = min(begin + ROWS_PER_BLOCK, stop)
        rows = np.empty((end - begin, width), dtype=np.uint8)
        offset = 0
        for column in columns:
            column.rows(begin, end, rows[:, offset:offset + column.width])
            offset += column.width
        out.write(rows.data)
