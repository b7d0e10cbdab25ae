"""Compare two nights' outputs: every XPT (values, labels, formats, then its bytes apart from the
headers' timestamps), every define.xml and Dataset-JSON file (creation timestamps and code version
aside), the expectation results, every finding (id, status and content; the wall-clock first/last
seen aside) and the query listings as a person sees them (bench/compare_listings.py). Used to prove
that a refactor or a speed-up changed nothing a user sees.

    python bench/compare_outputs.py OUTPUT_A OUTPUT_B     # exit 1 and a list when they differ
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import pyreadstat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # run as a script from anywhere
from bench.compare_listings import compare_listings  # noqa: E402

STAMPS = re.compile(rb'(CreationDateTime|AsOfDateTime)="[^"]*"')
JSON_STAMPS = re.compile(rb'"(datasetJSONCreationDateTime|version)": "[^"]*"')   # the run's time, the code version
XPT_STAMP = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")   # ddMMMyy:hh:mm:ss
XPT_HEADERS = 8 * 80                                             # the records that hold them
WALL_CLOCK = ["first_seen", "last_seen", "closed_at"]


def _xpt(a: Path, b: Path) -> list[str]:
    (fa, ma), (fb, mb) = pyreadstat.read_xport(str(a)), pyreadstat.read_xport(str(b))
    out = []
    if list(fa.columns) != list(fb.columns):
        return [f"{a.name}: columns {list(fa.columns)} != {list(fb.columns)}"]
    if (ma.column_labels, ma.file_label, ma.original_variable_types) != \
            (mb.column_labels, mb.file_label, mb.original_variable_types):
        out.append(f"{a.name}: labels or formats differ")
    if len(fa) != len(fb):
        return out + [f"{a.name}: {len(fa)} rows != {len(fb)} rows"]
    for col in fa.columns:
        sa_, sb = fa[col], fb[col]
        same = (sa_ == sb) | (sa_.isna() & sb.isna())
        if not same.all():
            row = int((~same).to_numpy().nonzero()[0][0])
            out.append(f"{a.name}.{col}: {int((~same).sum())} values differ, first at row {row + 1}: "
                       f"{sa_.tolist()[row]!r} != {sb.tolist()[row]!r}")
    if not out and unstamped(a.read_bytes()) != unstamped(b.read_bytes()):
        out.append(f"{a.name}: the same values, but the files differ beyond their timestamps")
    return out


def unstamped(data: bytes) -> bytes:
    """An XPT file's bytes without the timestamps of its headers."""
    return XPT_STAMP.sub(b"", data[:XPT_HEADERS]) + data[XPT_HEADERS:]


def _package_files(root: Path) -> set[Path]:
    """XPT, XML and Dataset-JSON files of the packages in force (not the hidden folders of a swap in
    progress)."""
    return {p.relative_to(root) for p in root.rglob("*")
            if (p.suffix in (".xpt", ".xml") or p.suffix == ".json" and (p.parent / "define.xml").exists())
            and not any(part.startswith(".") for part in p.relative_to(root).parts)}


def compare(a: Path, b: Path) -> list[str]:
    """Every difference between two output folders, as lines (empty: the same)."""
    diffs = []
    files_a = _package_files(a)
    files_b = _package_files(b)
    diffs += [f"only in {a}: {p}" for p in sorted(files_a - files_b)]
    diffs += [f"only in {b}: {p}" for p in sorted(files_b - files_a)]
    for rel in sorted(files_a & files_b):
        if rel.suffix == ".xpt":
            diffs += [f"{rel.parent}/{d}" for d in _xpt(a / rel, b / rel)]
        elif rel.suffix == ".json":
            if JSON_STAMPS.sub(b"", (a / rel).read_bytes()) != JSON_STAMPS.sub(b"", (b / rel).read_bytes()):
                diffs.append(f"{rel}: differs beyond its timestamp")
        elif STAMPS.sub(b"", (a / rel).read_bytes()) != STAMPS.sub(b"", (b / rel).read_bytes()):
            diffs.append(f"{rel}: differs beyond its timestamps")
    results = [p / "quality" / "result.json" for p in (a, b)]
    if sum(p.exists() for p in results) == 1 or all(p.exists() for p in results) and \
            results[0].read_bytes() != results[1].read_bytes():
        diffs.append("quality/result.json: the expectation results differ")
    listings = [p / "findings" / "findings.csv" for p in (a, b)]
    missing = [p for p in listings if not p.exists()]
    if missing:   # an area without findings (the unblinded area before any) on both sides is no difference
        return diffs + ([f"no findings listing: {p}" for p in missing] if len(missing) == 1 else [])
    fa, fb = (pd.read_csv(p, dtype=str, keep_default_na=False) for p in listings)
    fa, fb = (f.drop(columns=[c for c in WALL_CLOCK if c in f]).sort_values("finding_id").reset_index(drop=True)
              for f in (fa, fb))
    if not fa.equals(fb):
        ids_a, ids_b = set(fa["finding_id"]), set(fb["finding_id"])
        diffs.append(f"findings differ: {len(ids_a - ids_b)} only in A, {len(ids_b - ids_a)} only in B, "
                     f"{len(fa)} vs {len(fb)} rows")
    return diffs + compare_listings(a, b)


if __name__ == "__main__":
    absent = [arg for arg in sys.argv[1:3] if not Path(arg).is_dir()]
    if absent:                 # two missing folders are not two identical outputs
        sys.exit(f"no output folder: {', '.join(absent)}")
    found = compare(Path(sys.argv[1]), Path(sys.argv[2]))
    print("\n".join(found) or "identical: every XPT value and byte, define.xml and Dataset-JSON (timestamps aside), "
          "expectation result, finding and query listing")
    sys.exit(1 if found else 0)
