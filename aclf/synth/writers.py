"""One writer per source dialect, plus `sha256sum`-format manifests; every output is byte-reproducible."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

from .dialects import COLUMNS, MONTHS, SITE05_LABELS
from .edc import FILES


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(manifest: Path, files: list[Path]) -> Path:
    """`<64 hex>  <file name>` per file, as `sha256sum` prints it."""
    manifest.write_bytes("".join(f"{sha256(f)}  {f.name}\n" for f in files).encode("ascii"))
    return manifest


def write_site01(rec: pd.DataFrame, path: Path) -> None:
    rec[COLUMNS["site01"]].to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def write_site02(rec: pd.DataFrame, path: Path) -> None:
    rec[COLUMNS["site02"]].to_csv(path, index=False, encoding="gb18030", lineterminator="\n")


def write_site04(rec: pd.DataFrame, path: Path) -> None:
    rec[COLUMNS["site04"]].to_csv(path, index=False, sep="\t", encoding="utf-8", lineterminator="\n")


def write_site03(samples: pd.DataFrame, rec: pd.DataFrame, references: list[list], cut: int, path: Path,
                 stamp: dt.datetime) -> None:
    """Wide workbook (write-only mode): sheet `Lab`, one row per sample; sheet `Reference ranges`."""
    s = samples[samples._date.to_numpy() <= cut]
    pos = pd.Series(np.arange(len(s)), index=s._sample.to_numpy())
    cells = np.full((len(s), 11), None, dtype=object)
    cells[pos.loc[rec._sample.to_numpy()].to_numpy(), rec._test.to_numpy()] = rec.cell.to_numpy()
    head = s[["Subject", "Visit", "Sample No", "Collection Date", "Collection Time"]].to_numpy(dtype=object)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Lab")
    ws.append(COLUMNS["site03"])
    for h, c in zip(head.tolist(), cells.tolist()):
        ws.append(h + c)
    ref = wb.create_sheet("Reference ranges")
    ref.append(["Test", "Low", "High", "Unit"])
    for row in references:
        ref.append(row)
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.creator = "LIS export"
    buf = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    _restamp_zip(buf, path, stamp)


def _restamp_zip(buf: io.BytesIO, path: Path, stamp: dt.datetime) -> None:
    """Copy a zip with every member's timestamp pinned (zipfile stamps members with the current time)."""
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            member.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(member, src.read(info.filename))


def write_site05(rec: pd.DataFrame, path: Path, stamp: dt.datetime) -> None:
    """SPSS system file with value labels; the header's creation date/time is pinned to `stamp`."""
    df = rec[COLUMNS["site05"]].reset_index(drop=True)
    df = df.astype({"lbresc": str, "sampid": str})
    pyreadstat.write_sav(df, str(path), variable_value_labels=SITE05_LABELS,
                         variable_measure={"lbcode": "nominal", "lbunit": "nominal", "visno": "nominal"},
                         variable_format={"subj": "F4.0", "visno": "F2.0", "lbcode": "F2.0", "lbunit": "F1.0"})
    raw = bytearray(path.read_bytes())
    month = MONTHS[stamp.month - 1].title()
    raw[92:109] = f"{stamp.day:02d} {month} {stamp.year % 100:02d}{stamp:%H:%M:%S}".encode("ascii")
    path.write_bytes(bytes(raw))


def write_edc(tables: dict[str, pd.DataFrame], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in FILES:
        p = folder / name
        tables[name].to_csv(p, index=False, encoding="utf-8", lineterminator="\n")
        out.append(p)
    return out


def write_plain_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
