"""A site's night joins the kept rows of the other sources with the rebuilt ones: the same rows in
the same order as a concat-and-sort of the two, and the columns in the order a build gives them
(which decides which value pandera reports for a table-wide check)."""
import numpy as np
import pandas as pd

from aclf.harmonized_lab import _join_order, _joined

ORDER = {"site01": 0, "site02": 1, "site03": 2}


def _rows(sources: list[str], start: int) -> pd.DataFrame:
    return pd.DataFrame({"source": pd.Series(sources, dtype="str"),
                         "record_key": pd.Series([f"k{start + i}" for i in range(len(sources))], dtype="str"),
                         "lbstresn": np.arange(start, start + len(sources), dtype="float64")})


def test_the_rebuilt_source_takes_its_place_and_the_others_keep_their_rows():
    kept = _rows(["site01", "site01", "site02", "site03", "site03"], 0)
    fresh = _rows(["site02", "site02", "site02"], 10)[["lbstresn", "record_key", "source"]]   # a build's order

    expected = pd.concat([kept[kept["source"] != "site02"], fresh], ignore_index=True)
    expected = expected.iloc[np.argsort(expected["source"].map(ORDER).to_numpy(), kind="stable")]
    joined = _joined(kept.copy(), fresh.copy(), _join_order(kept["source"], fresh["source"], ["site02"], ORDER))

    assert list(joined.columns) == ["lbstresn", "record_key", "source"]
    pd.testing.assert_frame_equal(joined, expected[list(fresh.columns)].reset_index(drop=True))
    assert joined["record_key"].tolist() == ["k0", "k1", "k10", "k11", "k12", "k3", "k4"]


def test_a_source_new_to_the_table_and_one_the_store_does_not_order_come_where_a_sort_puts_them():
    kept = _rows(["site01", "site03", "unknown"], 0)
    fresh = _rows(["site02"], 10)

    joined = _joined(kept, fresh, _join_order(kept["source"], fresh["source"], ["site02"], ORDER))

    assert joined["source"].tolist() == ["site01", "site02", "site03", "unknown"]
