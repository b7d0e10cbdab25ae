"""New records from existing ones: summaries (DTYPE AVERAGE...), extremes (LOV, WOC...), basetypes.

Each verb returns a new frame: the input's records (in order) followed by the new ones, with a
fresh RangeIndex; the input is not modified.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np
import pandas as pd

from cdisc.derive._common import Condition, condition, keys, select_extreme

Aggregation = Union[str, Callable[[pd.Series], Any]]


def _stack(frame: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    if new.empty:
        return frame.reset_index(drop=True)
    return pd.concat([frame, new], ignore_index=True)


def derive_summary_records(
    frame: pd.DataFrame,
    by: str | Sequence[str],
    values: Mapping[str, Aggregation],
    set_values: Mapping[str, Any] | None = None,
    filter: Condition = None,
    min_records: int = 1,
    source: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One new record per by-group summarising its records, e.g. the mean of triplicate ECGs
    (DTYPE "AVERAGE"). admiral: derive_summary_records.

    ``values``: new column -> aggregation of that column over the group ("mean", "median", "min",
    "max", "sum", "first"... missing values skipped, as ``na.rm = TRUE``, or a callable on the
    group's Series). Only records where ``filter`` holds, and groups with at least ``min_records``
    of them (admiral's ``n() >= 2``), are summarised; ``source`` (default: ``frame``) is admiral's
    ``dataset_add``. New records carry only ``by``, ``values`` and ``set_values`` (constants)."""
    by = keys(by)
    src = frame if source is None else source
    src = src.loc[condition(src, filter)]
    if src.empty:
        return _stack(frame, pd.DataFrame())
    grouped = src.groupby(by, dropna=False, sort=False)
    size = grouped[by[0]].transform("size")
    src = src.loc[size >= min_records]
    grouped = src.groupby(by, dropna=False, sort=False)
    new = grouped.agg(**{name: (name, how) for name, how in values.items()}).reset_index()
    for name, value in (set_values or {}).items():
        new[name] = value
    return _stack(frame, new)


def derive_extreme_records(
    frame: pd.DataFrame,
    by: str | Sequence[str],
    order: str | Sequence[str],
    mode: str = "last",
    filter: Condition = None,
    set_values: Mapping[str, Any] | None = None,
    keep_source_vars: Sequence[str] | None = None,
    source: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A copy of the first/last record by ``order`` per by-group as a new record, e.g. the last value
    on treatment (DTYPE "LOV") or the worst (order by ``"-AVAL"``, DTYPE "WOC").
    admiral: derive_extreme_records.

    Only records where ``filter`` holds take part; ``source`` (default ``frame``) is admiral's
    ``dataset_add``; the copy keeps ``keep_source_vars`` (default: all) and gets ``set_values``."""
    src = frame if source is None else source
    positions = select_extreme(src, condition(src, filter), by, order, mode)
    new = src.iloc[np.sort(positions)].copy()
    if keep_source_vars is not None:
        new = new[list(dict.fromkeys([*keys(by), *keep_source_vars]))]
    for name, value in (set_values or {}).items():
        new[name] = value
    return _stack(frame, new)


def derive_basetype_records(
    frame: pd.DataFrame,
    basetypes: Mapping[str, Condition],
    new_var: str = "BASETYPE",
) -> pd.DataFrame:
    """BASETYPE: each record is repeated once per baseline type whose condition it meets, so that
    each type gets its own baseline (e.g. one per time point, "LAST"). admiral:
    derive_basetype_records.

    Records meeting no condition are kept once with BASETYPE missing. Rows are grouped by basetype
    in the order given (admiral stacks the subsets the same way)."""
    parts, matched = [], np.zeros(len(frame), dtype=bool)
    for name, cond in basetypes.items():
        mask = condition(frame, cond).to_numpy()
        matched |= mask
        parts.append(frame.loc[mask].assign(**{new_var: name}))
    rest = frame.loc[~matched].assign(**{new_var: None})
    if len(rest):
        parts.append(rest)
    out = pd.concat(parts, ignore_index=True) if parts else frame.assign(**{new_var: None})
    out[new_var] = out[new_var].astype(object)
    return out.reset_index(drop=True)
