"""Derived parameters: new PARAMCD records computed from other parameters of the same by-group."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from cdisc.derive._common import Condition, condition, keys


def _wide(frame: pd.DataFrame, by: list[str], parameters: Sequence[str], source_vars: Sequence[str],
          paramcd: str) -> pd.DataFrame:
    """One row per by-group, a column ``VAR.PARAMCD`` per source variable and parameter."""
    rows = frame.loc[frame[paramcd].isin(list(parameters)), by + [paramcd] + list(source_vars)]
    dup = rows.duplicated(by + [paramcd], keep=False)
    if dup.any():
        example = rows.loc[dup, by + [paramcd]].head(3).to_dict("records")
        raise ValueError(f"more than one record per by-group and parameter: {example}")
    if not by:
        raise ValueError("derive_param_computed needs by-variables")
    wide = rows.set_index(by + [paramcd])[list(source_vars)].unstack(paramcd)
    wide.columns = [f"{var}.{code}" for var, code in wide.columns]
    for var in source_vars:
        for code in parameters:
            if f"{var}.{code}" not in wide.columns:
                wide[f"{var}.{code}"] = np.nan
    return wide


def derive_param_computed(
    frame: pd.DataFrame,
    by: str | Sequence[str],
    parameters: Sequence[str],
    set_values: Mapping[str, Any | Callable[[pd.DataFrame], Any]] | Sequence[Mapping[str, Any]],
    source_vars: Sequence[str] = ("AVAL",),
    filter: Condition = None,
    constant_parameters: Sequence[str] = (),
    constant_by: str | Sequence[str] = (),
    keep_nas: bool = False,
    skip_existing: bool = False,
    paramcd: str = "PARAMCD",
) -> pd.DataFrame:
    """A new parameter computed from others of the same by-group (visit, time point...), e.g. mean
    arterial pressure from SYSBP/DIABP, BMI, or a MELD score from BILI/INR/CREAT.
    admiral: derive_param_computed.

    For each by-group with a record of every parameter (``filter`` restricting the records used),
    ``set_values`` gives the new record's columns: a constant, or a callable on the wide frame whose
    columns are ``VAR.PARAMCD`` (``source_vars`` x ``parameters``, plus ``constant_parameters``
    matched on ``constant_by`` only, e.g. height at screening for BMI) and the ``by`` columns.
    Groups with a missing source value are dropped unless ``keep_nas`` (then the callable decides,
    e.g. a missing score with its reason). ``skip_existing``: no new record where the by-group
    already has one of the new parameter (admiral's derive_param_wbc_abs: an absolute count only
    where none was collected). Returns the input followed by the new records (fresh RangeIndex);
    new records carry only ``by`` and ``set_values``. A list of ``set_values`` adds one parameter
    per mapping, in that order, from one wide frame: what successive calls add when no new
    parameter is a source or repeats another (several scores of the same components)."""
    by = keys(by)
    src = frame.loc[condition(frame, filter)]
    wide = _wide(src, by, parameters, source_vars, paramcd)
    if constant_parameters:
        cby = keys(constant_by)
        const = _wide(src, cby, constant_parameters, source_vars, paramcd)
        wide = wide.reset_index().merge(const.reset_index(), on=cby, how="left").set_index(by)
    used = [c for c in wide.columns if c.split(".", 1)[0] in source_vars]
    if not keep_nas:
        wide = wide.dropna(subset=used)
    added = [_new_records(frame, wide, by, values, skip_existing, paramcd)
             for values in ([set_values] if isinstance(set_values, Mapping) else set_values)]
    added = [new for new in added if not new.empty]
    if not added:
        return frame.reset_index(drop=True)
    return pd.concat([frame, *added], ignore_index=True)


def _new_records(frame: pd.DataFrame, wide: pd.DataFrame, by: list[str], set_values: Mapping[str, Any],
                 skip_existing: bool, paramcd: str) -> pd.DataFrame:
    """One new parameter's records from the wide frame (indexed by ``by``)."""
    if skip_existing:
        code = set_values.get(paramcd)
        if code is None or callable(code):
            raise ValueError(f"skip_existing needs a constant {paramcd} in set_values")
        have = frame.loc[frame[paramcd].eq(code), by].drop_duplicates()
        wide = wide[~wide.index.isin(pd.MultiIndex.from_frame(have) if len(by) > 1 else have[by[0]])]
    wide = wide.reset_index()
    new = wide[by].copy()
    for name, value in set_values.items():
        result = value(wide) if callable(value) else value
        new[name] = result.to_numpy() if isinstance(result, pd.Series) else result
    return new
