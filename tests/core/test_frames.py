"""aclf.frames: reordering a large dataset without a second copy gives what sort_values gives, stacking
parts what concat and take give."""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from aclf.frames import float_bits, isin, positions_in, sorted_consuming, stacked


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


def _chunked(frame: pd.DataFrame, size: int) -> pd.DataFrame:
    """The frame with its Arrow text in chunks of ``size`` rows, as a Parquet read gives it."""
    out = frame.copy()
    for name in out.columns:
        if isinstance(out[name].array, pd.arrays.ArrowStringArray):
            whole = pa.concat_arrays(pa.chunked_array(pa.array(out[name].array)).chunks)
            arrow = pa.chunked_array([whole.slice(i, size) for i in range(0, len(out), size)])
            out[name] = pd.Series(arrow.to_pandas(types_mapper={arrow.type: out[name].dtype}.get).array,
                                  index=out.index)
    return out


@pytest.mark.parametrize("rows", ["blocks", "scattered", "reversed", "none"])
def test_stacked_gives_what_concat_and_take_give_and_consumes_the_parts(rows):
    """Runs of consecutive rows that cross chunk and part boundaries, single rows, a reversed order,
    no row: the values (missing ones included), dtypes and a fresh index of concat-and-take."""
    first, second = _chunked(_frame().iloc[:300], 64), _chunked(_frame().iloc[300:], 50)
    total = len(first) + len(second)
    order = {"blocks": np.r_[np.arange(250, 310), np.arange(0, 100), np.arange(400, 500), np.arange(100, 250)],
             "scattered": np.random.default_rng(5).permutation(total)[:200],
             "reversed": np.arange(total)[::-1], "none": np.array([], dtype=np.int64)}[rows]
    expected = pd.concat([first, second], ignore_index=True).take(order).reset_index(drop=True)
    out = stacked([first, second], order)
    pd.testing.assert_frame_equal(out, expected)
    assert first.columns.empty and second.columns.empty


def test_positions_in_is_get_indexer_for_text():
    values = pd.Series(["b", "zé", "a", "q", "b"], dtype="str")
    wanted = pd.Series(["a", "b", "zé"], dtype="str")
    assert positions_in(values, wanted).tolist() == pd.Index(wanted).get_indexer(values).tolist() == [1, 2, 0, -1, 1]
    assert positions_in(pd.Series(["x"], dtype=object), pd.Series([], dtype="str")).tolist() == [-1]


def test_float_bits_tell_a_signed_zero_apart_and_every_missing_value_alike():
    frame = pd.DataFrame({"x": [0.0, -0.0, np.nan, 1.5], "y": pd.array([0.0, -0.0, None, 1.5], dtype="Float64"),
                          "t": ["a", "b", "c", "d"]})
    bits = float_bits(frame)
    for column in ("x", "y"):
        assert bits[column].dtype == "int64"
        assert bits[column].iat[0] != bits[column].iat[1]
    assert bits["x"].tolist() == bits["y"].tolist()                 # NaN and NA: one missing value
    assert bits["t"].tolist() == ["a", "b", "c", "d"] and frame["x"].dtype == "float64"   # the frame as it was
