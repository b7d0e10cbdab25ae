"""The trace of each submitted subject-level record to its source transfer and file row, kept in
the store's ``sdtm_trace`` table (never in the submission)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import sqlalchemy as sa

from aclf.store import bulk_insert, sdtm_trace, sdtm_trace_key
from cdisc.columns import TEXT
from cdisc.sdtm.common import POSITION


def trace_of(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Each record's number in the dataset, subject, source transfer and file row; for LB also its
    position among the subject's source rows, which the hand-off keeps (not the store)."""
    # the subjects stay Arrow text: through numpy they were a Python string per record, turned back
    # into Arrow text by the frame (0.1-0.4 s for LB at 10,000 subjects)
    trace = pd.DataFrame({"dataset": name, "record": np.arange(1, len(frame) + 1),
                          "usubjid": frame["USUBJID"].astype(TEXT).array,
                          "transfer_id": frame["_TRANSFER"].to_numpy(), "row_number": frame["_ROW"].to_numpy()})
    if POSITION in frame:
        trace["position"] = frame[POSITION].to_numpy()
    return trace


def in_order(parts: list[pd.DataFrame], datasets: list[str]) -> pd.DataFrame:
    """Traces of some datasets joined, by dataset in the order of ``datasets``, each as it was."""
    joined = pd.concat([p for p in parts if not p.empty] or parts[:1], ignore_index=True)
    codes, names = pd.factorize(joined["dataset"])        # a rank per distinct name, not per record
    rank = pd.Index(datasets).get_indexer(names)[codes]
    rank[rank < 0] = len(datasets)                         # a dataset not in the list: last
    return joined.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)


def write_trace(conn: sa.Connection, area: str, trace: pd.DataFrame, keys: Mapping[str, str] | None = None) -> None:
    """Tonight's submitted records of an area and the source transfer and row of each, in ``conn``'s
    transaction. With ``keys`` (cdisc.sdtm.build.dataset_keys), the rows of a dataset whose key is
    the one its stored rows were written under are left as they are: the same key, the same records.
    The keys are written with the rows."""
    keys = dict(keys or {})
    stored = dict(conn.execute(sa.select(sdtm_trace_key.c.dataset, sdtm_trace_key.c.key)
                               .where(sdtm_trace_key.c.area == area)).all())
    same = sorted(name for name, key in keys.items() if stored.get(name) == key)
    conn.execute(sdtm_trace.delete().where((sdtm_trace.c.area == area) & sdtm_trace.c.dataset.not_in(same)))
    conn.execute(sdtm_trace_key.delete().where(sdtm_trace_key.c.area == area))
    if keys:
        conn.execute(sdtm_trace_key.insert(), [{"area": area, "dataset": d, "key": k} for d, k in keys.items()])
    rows = trace[~trace["dataset"].isin(same)]
    bulk_insert(conn, sdtm_trace, rows.astype({"transfer_id": "Int64", "row_number": "Int64"}),
                ["dataset", "record", "usubjid", "transfer_id", "row_number"], area=area)
