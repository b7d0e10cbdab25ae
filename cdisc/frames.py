"""Reordering the rows of a dataset the size of LB or ADLB without holding it in two orders."""
from __future__ import annotations

import pandas as pd


def sorted_consuming(frame: pd.DataFrame, keys: list[str], kind: str = "quicksort") -> pd.DataFrame:
    """``frame.sort_values(keys, kind=kind, ignore_index=True)``, with ``frame`` consumed (left
    without columns): each column is moved to the new order and let go, one at a time, so that the
    peak is one column more than the frame, not twice the frame."""
    order = frame[keys].reset_index(drop=True).sort_values(keys, kind=kind).index.to_numpy()
    columns = {name: frame.pop(name).take(order).reset_index(drop=True) for name in list(frame.columns)}
    return pd.DataFrame(columns, copy=False)
