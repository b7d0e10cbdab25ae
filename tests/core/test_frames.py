"""aclf.frames: reordering a large dataset without a second copy gives what sort_values gives."""
import numpy as np
import pandas as pd
import pytest

from aclf.frames import isin, sorted_consuming


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 500
    return pd.DataFrame({
        "USUBJID": pd.array(rng.choice(["S-01", "S-02", "S-03"], n), dtype="str"),
        "PARAMCD": rng.choice(["ALB", "BILI", None], n),
        "AVAL": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "AVISITN": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        "ADT": pd.to_datetime("2025-01-01") + pd.to_timedelta(rng.integers(0, 90, n), unit="D"),
    }, index=rng.permutation(n) + 1000)


@pytest.mark.parametrize("keys, kind", [(["USUBJID", "PARAMCD", "ADT"], "quicksort"), (["USUBJID"], "stable"),
                                        (["AVISITN"], "quicksort")])
def test_the_frame_is_sorted_as_sort_values_sorts_it_and_emptied(keys, kind):
    frame = _frame()
    expected = frame.sort_values(keys, kind=kind, ignore_index=True)
    out = sorted_consuming(frame, keys, kind=kind)
    pd.testing.assert_frame_equal(out, expected)
    assert frame.columns.empty and len(out) == 500


@pytest.mark.parametrize("wanted", [["S-01", "S-03"], {"S-02", np.nan}, pd.Series(["S-02"], dtype="str"),
                                    pd.Index(["S-01", None]), [1, "S-01"], [], pd.Series([2.0])])
def test_isin_selects_what_pandas_selects(wanted):
    """Arrow's is_in on the whole set: the same rows as Series.isin, a missing value matching one."""
    values = pd.Series(["S-01", None, "S-02", "S-03", "S-01"], dtype="str")
    assert isin(values, wanted).tolist() == values.isin(wanted).tolist()
    assert isin(pd.Index(values), wanted).tolist() == pd.Index(values).isin(wanted).tolist()
    numbers = pd.Series([1.0, 2.0, np.nan])
    assert isin(numbers, [2.0]).tolist() == numbers.isin([2.0]).tolist()
