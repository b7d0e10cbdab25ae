"""What a bulk insert sends for each value: the value, or None (SQL NULL) for a missing one and for
empty text, whatever the column's type."""
import numpy as np
import pandas as pd
import pytest

from aclf.store import _column_values


@pytest.mark.parametrize("series", [
    pd.Series(["a", "", None, "b "], dtype="str"),
    pd.Series(["a", "", None, np.nan, 3], dtype=object),
    pd.Series([1.5, np.nan, 0.0, -0.0]),
    pd.Series([1, None, 0], dtype="Int64"),
    pd.Series([3, 0, 7]),
    pd.Series([True, False]),
    pd.Series([True, None, False], dtype="boolean"),
    pd.Series(pd.to_datetime(["2024-01-02", None])),
])
def test_each_value_is_sent_as_itself_or_as_null(series):
    def reference(v):
        return None if pd.isna(v) or (isinstance(v, str) and v == "") else v
    sent = _column_values(series)
    assert sent == [reference(v) for v in series.astype(object)]
    assert [type(v) for v in sent] == [type(reference(v)) for v in series.astype(object)]
