"""The subject-level ADaM datasets of the package in force and the digest of each subject's inputs
they were built from, as Parquet beside the package (``<area>/adam_by_subject``): the next night
rebuilds only the subjects whose inputs changed (cdisc.by_subject) and hashes only their rows
(cdisc.row_hash: the datasets' row hashes are kept beside them). Written only with a
package that was written, and under the key of what built them (code, libraries, configuration):
whichever package is in force, a subject with the same digest under the same key gets the same records."""
from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from pathlib import Path

import pandas as pd

from aclf.parquet import write_parquet
from cdisc.by_subject import Previous, Stored, read_digests, write_digests
from cdisc.folders import Swapped, recover
from cdisc.row_hash import read_with_hashes

KEY, DIGESTS = "key.json", "digests.parquet"


def save_previous(folder: Path, key: str, digests: pd.Series, datasets: Mapping[str, pd.DataFrame]) -> Swapped:
    """Start writing the digests and datasets into a fresh folder, swapped in when settled (never
    half of one)."""
    def write(fresh: Path) -> None:
        write_digests(digests, fresh / DIGESTS)
        for name, frame in datasets.items():
            write_parquet(frame, fresh / f"{name}.parquet")
        (fresh / KEY).write_text(json.dumps({"key": key, "datasets": sorted(datasets)}) + "\n", encoding="utf-8")

    return Swapped(folder, write)


def load_previous(folder: Path, key: str | None) -> Previous | None:
    """The previous night's digests and datasets when they were built under ``key``, else None."""
    if key is None:
        return None
    recover(folder)
    path = folder / KEY
    if not path.is_file():
        return None
    written = json.loads(path.read_text(encoding="utf-8"))
    if written.get("key") != key:
        return None
    return Previous(digests=read_digests(folder / DIGESTS),
                    datasets=Stored({name: partial(read_with_hashes, folder / f"{name}.parquet")
                                     for name in written["datasets"]}))
