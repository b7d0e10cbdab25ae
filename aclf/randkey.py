"""The randomization key (RANDKEY, restricted): read only for an authorized unblinding, straight from
its landing folder, verified against its manifest; never staged in the store or archived with the
blinded data."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from aclf.config import ConfigError, FileSpec
from aclf.landing import discover

KEY_COLUMNS = ["RAND_NO", "TREATMENT"]


def read_key(folder: Path, spec: FileSpec, treatments: list[str]) -> pd.DataFrame:
    """RAND_NO -> TREATMENT from the newest complete key transfer; ConfigError when there is none or
    it does not hold the expected columns and treatments (an unblinded run cannot go on without it)."""
    complete = [c for c in discover("iwrs_key", folder, spec) if c.status == "complete"]
    if not complete:
        raise ConfigError(f"no complete randomization key (with its manifest) in {folder}")
    newest = max(complete, key=lambda c: c.order)
    key = pd.read_csv(newest.path, dtype=str, keep_default_na=False, encoding=spec.encoding)
    missing = [c for c in KEY_COLUMNS if c not in key.columns]
    if missing:
        raise ConfigError(f"{newest.name}: the randomization key lacks the columns {', '.join(missing)}")
    unknown = sorted(set(key["TREATMENT"]) - set(treatments))
    if unknown:
        raise ConfigError(f"{newest.name}: treatments the trial design does not know: {', '.join(unknown)}")
    if key["RAND_NO"].duplicated().any():
        raise ConfigError(f"{newest.name}: a randomization number appears twice")
    return key[KEY_COLUMNS]
