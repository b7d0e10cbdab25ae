"""Each row's 64-bit hash of its values: what the package's digests and row indexes are made of
(cdisc.package, cdisc.splice), and what a dataset merged by subject carries over from the night
before for the records it keeps (cdisc.by_subject), so that only tonight's rebuilt records are hashed.
A row's hash is of its own values only, never of its neighbours: the kept records' hashes are those
a full hashing of the merged dataset would give them."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from aclf.frames import float_bits
from cdisc.folders import Swapped

ROW_HASH = "_ROWHASH"        # the column a previous night's records carry their hashes in
EXACT = {"float64", "int64", "str"}     # dtypes whose values pandas hashes as the writers tell them apart
SAMPLE = 512                 # rows hashed again to confirm hashes carried over (``hashes_hold``)


def row_hashes(frame: pd.DataFrame) -> np.ndarray | None:
    """A 64-bit hash of each row's values, or None when a column's hash could confuse two values the
    files show differently: pandas hashes an object column's values by their text (1.0 as '1.0') and
    -0.0 as 0.0 (Dataset-JSON writes its sign), so floats are hashed by their bits and only the
    dtypes a conformed dataset has (``cdisc.xpt.conform``: text and float64) are hashed at all. Every
    NaN is hashed as one value, as both files show it (missing) and Parquet reads it back."""
    if any(str(dtype) not in EXACT for dtype in frame.dtypes):
        return None
    return pd.util.hash_pandas_object(float_bits(frame), index=False).to_numpy()


def hashes_hold(frame: pd.DataFrame, hashes: np.ndarray | None) -> bool:
    """Whether ``hashes`` carried over are ``frame``'s: one per row, and those of rows spread over the
    frame equal to the rows' hashes made again (a guard against a wrong carry, not the proof of it:
    tests compare whole datasets with a full hashing)."""
    if hashes is None or len(hashes) != len(frame):
        return False
    sample = np.unique(np.linspace(0, len(frame) - 1, num=min(SAMPLE, len(frame))).astype("int64"))
    again = row_hashes(frame.take(sample))
    return again is not None and bool((again == hashes[sample]).all())


def hashes_path(dataset: Path) -> Path:
    """Where the row hashes of a dataset kept as Parquet are kept: beside it."""
    return dataset.with_suffix(".rowhash.npy")


def save_hashes(hashes: np.ndarray, dataset: Path) -> None:
    np.save(hashes_path(dataset), np.asarray(hashes, dtype="uint64"), allow_pickle=False)


def keep_hashes(saving: Swapped, hashes: Mapping[str, np.ndarray | None], under: str = "") -> None:
    """Datasets' row hashes, once made, into a folder being written (cdisc.folders.Swapped), each
    beside its ``under/<name>.parquet``: the next night's merge by subject carries the hashes of the
    records it keeps over. None: no hashes made (code with changes), none kept."""
    made = {name: h for name, h in hashes.items() if h is not None}

    def write(fresh: Path) -> None:
        for name, h in made.items():
            save_hashes(h, fresh / under / f"{name}.parquet")

    if made:
        saving.also(write)


def read_with_hashes(dataset: Path) -> pd.DataFrame:
    """A dataset kept as Parquet, with its rows' hashes as the column ``ROW_HASH`` when they were
    kept beside it for as many rows; else as it is (its rows are then hashed in full)."""
    frame, hashes = pd.read_parquet(dataset), load_hashes(dataset)
    return frame.assign(**{ROW_HASH: hashes}) if hashes is not None and len(hashes) == len(frame) else frame


def load_hashes(dataset: Path) -> np.ndarray | None:
    """The row hashes kept beside a dataset, or None."""
    path = hashes_path(dataset)
    return np.load(path, allow_pickle=False) if path.is_file() else None
