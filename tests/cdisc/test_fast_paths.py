"""The column-wise paths of the writers and the per-distinct date parsing give exactly what the
value-by-value reference gives, on a generated night's data (harmonized lab and every SDTM dataset)."""
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from aclf.harmonized_lab import load_harmonized_lab
from aclf.isodate import date_part, valid_iso
from aclf.store import make_engine
from cdisc.area import AreaFolders
from cdisc import columns
from cdisc.columns import ascii_within, longest, max_bytes
from cdisc.derive._common import _clock_seconds, _iso_datetime
from cdisc.handoff import load_handoff
from cdisc.xpt import _float, _float_column, _text, _text_column
from support import generated_night


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    with generated_night(tmp_path_factory.mktemp("fast"), subjects=40, seed=11) as (settings, _, url):
        sdtm = load_handoff(AreaFolders(settings.output / "blinded", "NCT05985863").handoff)
        yield load_harmonized_lab(make_engine(url)), sdtm


def _columns(night):
    lab, sdtm = night
    yield from (lab[c] for c in lab.columns)
    yield from (frame[c] for frame in sdtm.values() for c in frame.columns)


def test_text_and_number_conversion_match_the_reference(night):
    checked = 0
    for column in _columns(night):
        reference = pd.Series([_text(v) for v in column.tolist()], index=column.index, dtype=object)
        assert _text_column(column).astype(object).equals(reference), column.name   # Arrow strings, the same values
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            numbers = pd.Series([_float(v, True) for v in column.tolist()], index=column.index, dtype="float64")
            assert _float_column(column).equals(numbers), column.name
            checked += 1
        assert max_bytes(column) == max([1, *(len(str(v).encode()) for v in column.dropna())]), column.name
    assert checked > 20


@pytest.mark.parametrize("at_once", [1, 7, columns.LENGTHS_AT_ONCE])
def test_longest_value_measured_a_slice_at_a_time_is_the_whole_arrays(night, monkeypatch, at_once):
    """Lengths measured a slice at a time (to keep Arrow's temporaries small) give the whole array's
    maximum: on every text column of the night, chunked, sliced, with missing and multi-byte values."""
    monkeypatch.setattr(columns, "LENGTHS_AT_ONCE", at_once)
    arrays = [pa.array(c) for c in _columns(night) if c.dtype == columns.TEXT]
    arrays += [pa.chunked_array([["a", None, "\u00b5mol/L"], [], ["xyz" * 9, ""]]),
               pa.array(["\u6eb6\u8840", "abc", None] * 20).slice(5, 40), pa.array([None, None], pa.string()),
               pa.array([], pa.large_string()), pa.chunked_array([], pa.string())]
    for arrow in arrays:
        assert longest(arrow) == pc.max(pc.binary_length(arrow)).as_py()
    assert len(arrays) > 30


def test_dates_parsed_per_distinct_value_match_parsing_every_row(night):
    lab, sdtm = night
    dates = [lab["lbdtc"], sdtm["LB"]["LBDTC"], sdtm["AE"]["AESTDTC"], sdtm["DM"]["BRTHDTC"],
             pd.Series(["2024-02-30", "2024", "", None, np.nan, "2024-01-05T25:00"])]
    for values in dates:
        assert date_part(values).equals(date_part.__wrapped__(values))
        for partial in (False, True):
            assert valid_iso(values, partial).equals(valid_iso.__wrapped__(values, partial))
        for parse in (_iso_datetime, _clock_seconds):      # the derivations' date and clock parsing
            assert parse(values).equals(parse.__wrapped__(values)), (parse.__name__, values.name)


@pytest.mark.parametrize("extra", [[], ["\u00b5mol/L"], ["x" * 201], ["\u6eb6\u8840", ""]])
def test_ascii_and_length_checked_in_arrow_as_per_distinct_value(night, extra):
    """Arrow's check of a conformed text column (ASCII, at most so many bytes) agrees with checking
    each distinct Python string, on every text column of the night with a value that breaks it."""
    checked = 0
    for column in _columns(night):
        text = pd.concat([_text_column(column), pd.Series(extra, dtype="str")], ignore_index=True)
        for limit in (8, 200):
            reference = all(v.isascii() and len(v) <= limit for v in set(text.tolist()))
            assert ascii_within(text, limit) is reference, (column.name, limit)
            assert ascii_within(text.astype(object), limit) is reference, (column.name, limit)
        checked += 1
    assert checked > 100
