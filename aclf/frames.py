"""Reordering the rows of a table the size of the harmonized lab table, LB or ADLB without holding
it in two orders at once."""
from __future__ import annotations

import numpy as np
import pandas as pd


def reordered(frame: pd.DataFrame, order: np.ndarray) -> pd.DataFrame:
    """``frame.take(order)`` with a fresh RangeIndex, ``frame`` consumed (left without columns): each
    column is moved to the new order and let go, one at a time, so that the peak is one column more
    than the frame, not twice the frame."""
    columns = {name: frame.pop(name).take(order).reset_index(drop=True) for name in list(frame.columns)}
    return pd.DataFrame(columns, copy=False)


def sorted_consuming(frame: pd.DataFrame, keys: list[str], kind: str = "quicksort") -> pd.DataFrame:
    """``frame.sort_values(keys, kind=kind, ignore_index=True)``, ``frame`` consumed as by ``reordered``."""
    return reordered(frame, frame[keys].reset_index(drop=True).sort_values(keys, kind=kind).index.to_numpy())
