"""What the incremental-night scenario tests share: a night run, what it leaves of the harmonized
table and the trace, the work a full recomputation must not keep, and where two frames differ."""
from __future__ import annotations

import shutil

import dagster as dg
import numpy as np
import pandas as pd
import sqlalchemy as sa

from aclf.harmonized_lab import load_harmonized_lab, load_schema_failures
from aclf.mirror import mirror_folder
from aclf.settings import Settings
from aclf.store import lab_harmonized, lab_harmonized_source, lab_harmonized_version, sdtm_trace_key
from pipelines.nightly import run_nightly


def run_night(settings: Settings) -> None:
    assert run_nightly(settings, instance=dg.DagsterInstance.ephemeral(), log_level="ERROR").success


def trace(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.text("select area, dataset, record, usubjid, transfer_id, row_number from sdtm_trace "
                                   "order by area, dataset, record"), conn)


def harmonized_state(settings: Settings, engine) -> dict:
    """The harmonized table as its readers get it (its Parquet copy) and as the store holds it (with
    the store's row ids, by source, and the version saved), its schema failures and the trace."""
    with engine.connect() as conn:
        ids = pd.read_sql(sa.select(lab_harmonized.c.id, lab_harmonized.c.source), conn)
        token = conn.execute(sa.select(lab_harmonized_version.c.token)).scalar_one()
    return {"lab": load_harmonized_lab(engine, mirror_folder(settings.archive)), "token": token,
            "stored_lab": load_harmonized_lab(engine), "ids": ids, "failures": load_schema_failures(engine),
            "trace": trace(engine)}


def forget_kept_work(settings: Settings, engine) -> None:
    """What lets the next night on this store recompute everything: the harmonized table's and the
    trace's fingerprints, the kept suite results, and the table's Parquet copy (with no new transfer,
    the table's inputs are those it was saved under, and the night would keep it whole)."""
    with engine.begin() as conn:
        conn.execute(lab_harmonized_source.delete())
        conn.execute(sdtm_trace_key.delete())
    mirror = mirror_folder(settings.archive)
    shutil.rmtree(mirror / "quality")
    for copy in mirror.glob("lab_harmonized_*.parquet"):
        copy.unlink()


def frame_differences(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """Where two frames differ: columns, dtypes, values (NaN equal to NaN), and a float's sign
    (-0.0 against 0.0, which == and DataFrame.equals do not tell apart)."""
    if list(a.columns) != list(b.columns):
        return [f"columns {list(a.columns)} != {list(b.columns)}"]
    if len(a) != len(b):
        return [f"{len(a)} rows != {len(b)} rows"]
    out = []
    for column in a.columns:
        x, y = a[column].reset_index(drop=True), b[column].reset_index(drop=True)
        if x.dtype != y.dtype:
            out.append(f"{column}: dtype {x.dtype} != {y.dtype}")
            continue
        same = (x == y) | (x.isna() & y.isna())
        if pd.api.types.is_float_dtype(x):
            same &= np.signbit(x.to_numpy(dtype=float)) == np.signbit(y.to_numpy(dtype=float))
        if not same.all():
            rows = np.flatnonzero(~same.to_numpy())
            first = rows[0]
            out.append(f"{column}: {len(rows)} rows differ, first at {first}: {x.iat[first]!r} != {y.iat[first]!r}")
    return out
