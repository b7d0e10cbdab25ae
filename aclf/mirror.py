"""Parquet copies of store tables, kept with the raw archive, apart from the outputs people read.

Each copy is written under the version token the store holds for what it copies; a reader takes
the copy only when its token is the store's, and reads the store otherwise (no copy yet, or a
crash between the store's commit and the copy). The expectation suites keep their last results
here too (validation.quality_reuse). All of it is a cache: deleting the folder loses nothing."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from aclf.parquet import write_parquet


def mirror_folder(archive: Path) -> Path:
    return Path(archive) / "mirror"


def keep_copy(frame: pd.DataFrame, path: Path, versions: str) -> None:
    """Write the copy whole (a reader never sees half of one), then drop the other versions: the
    files of ``path``'s folder matching the glob ``versions``."""
    write_copy(frame, path)
    drop_others(path, versions)


def write_copy(frame: pd.DataFrame, path: Path) -> None:
    """Write the copy whole, keeping the other versions (the one in force, until the store holds this one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    write_parquet(frame, partial)
    partial.replace(path)


def drop_others(path: Path, versions: str) -> None:
    """Remove the files of ``path``'s folder matching the glob ``versions``, ``path`` apart."""
    for old in path.parent.glob(versions):
        if old != path:
            old.unlink(missing_ok=True)
