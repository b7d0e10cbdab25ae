"""Parquet files the night writes for its own later reads: the harmonized table's copy, the forms in
force, the SDTM hand-off's datasets and ADaM's subject-level datasets. Each is read whole or by
column, never filtered by value."""
from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_parquet(frame: pd.DataFrame, path: Path, index: bool | None = False) -> None:
    """``frame`` to ``path`` without column statistics: a row group's minimum and maximum serve
    reads filtered by value, which none of these files has, and writing them took a quarter of
    LB's write at 10,000 subjects (0.29 s -> 0.21 s, measured)."""
    frame.to_parquet(path, index=index, write_statistics=False)
