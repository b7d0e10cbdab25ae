"""The trace of each submitted subject-level record to its source transfer and file row, kept in
the store's ``sdtm_trace`` table (never in the submission)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from aclf.store import bulk_insert, sdtm_trace


def trace_of(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"dataset": name, "record": range(1, len(frame) + 1), "usubjid": frame["USUBJID"].to_numpy(),
                         "transfer_id": frame["_TRANSFER"].to_numpy(), "row_number": frame["_ROW"].to_numpy()})


def in_order(parts: list[pd.DataFrame], datasets: list[str]) -> pd.DataFrame:
    """Traces of some datasets joined, by dataset in the order of ``datasets``, each as it was."""
    joined = pd.concat([p for p in parts if not p.empty] or parts[:1], ignore_index=True)
    codes, names = pd.factorize(joined["dataset"])        # a rank per distinct name, not per record
    rank = pd.Index(datasets).get_indexer(names)[codes]
    rank[rank < 0] = len(datasets)                         # a dataset not in the list: last
    return joined.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)


def save_trace(engine: sa.Engine, area: str, trace: pd.DataFrame) -> None:
    """Tonight's submitted records of an area and the source transfer and row of each."""
    with engine.begin() as conn:
        conn.execute(sdtm_trace.delete().where(sdtm_trace.c.area == area))
        bulk_insert(conn, sdtm_trace, trace.astype({"transfer_id": "Int64", "row_number": "Int64"}),
                    ["dataset", "record", "usubjid", "transfer_id", "row_number"], area=area)
