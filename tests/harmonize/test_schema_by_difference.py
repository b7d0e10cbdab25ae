"""A site's night checks the harmonized table's schema on the rows built tonight and the kept rows
that failed before, not on the whole table: the failure cases must be those of a check of the whole
table, in the same order (the order decides which value a finding shows)."""
import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st

from aclf.harmonized_lab import _as_stored, _join_order, _joined, _to_check, build_harmonized_lab, keys_apart
from test_by_record import CHOICES, FIRST, _staged
from validation.schemas import failures, harmonized_lab_schema

ORDER = {"site01": 0, "site02": 1, "site03": 2}


def _source(draw, source: str, count: int, prefix: str = "S") -> pd.DataFrame:
    """Records of one source, some with values that fail a check, one key maybe repeated."""
    site = source[-2:]
    records = [{"record_key": f"{site}|{prefix}{i}|T", **{c: draw(st.sampled_from(v)) for c, v in CHOICES.items()}}
               for i in range(count)]
    if records and draw(st.booleans()):
        records.append(dict(records[draw(st.integers(0, len(records) - 1))]))     # a key the site sent twice
    return _staged(records, 1, source=source)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_failures_found_on_the_changed_rows_are_those_of_the_whole_table(study, data):
    schema = harmonized_lab_schema(study)
    parts = {source: _source(data.draw, source, data.draw(st.integers(0, 8))) for source in ORDER}
    kept = _as_stored(build_harmonized_lab(pd.concat(parts.values(), ignore_index=True), FIRST, study))
    kept = kept.reset_index(drop=True)
    before = failures(schema, kept)
    stale = data.draw(st.sampled_from(list(ORDER)))
    tonight = _source(data.draw, stale, data.draw(st.integers(0, 8)), prefix=data.draw(st.sampled_from(["S", "N"])))
    fresh = _as_stored(build_harmonized_lab(tonight, FIRST, study)).reset_index(drop=True)

    rows = _join_order(kept["source"], fresh["source"], [stale], ORDER)
    checked = _to_check(rows, len(kept), len(fresh), before["index"])
    lab = _joined(kept, fresh, rows)

    whole = failures(schema, lab)
    pd.testing.assert_frame_equal(failures(schema, lab.take(checked)), whole)
    assert len(checked) <= len(fresh) + before["index"].nunique()


def test_the_schema_looks_across_rows_only_for_the_key():
    """What makes checking only some rows right: a table-wide check added to the schema (a unique
    column, a check over several rows) must be taken into ``_to_check`` first."""
    from aclf.config import load_study

    schema = harmonized_lab_schema(load_study())
    assert [name for name, column in schema.columns.items() if column.unique] == ["record_key"]
    assert not schema.unique
    assert [check.name for check in schema.checks] == [
        "standard_unit_of_test", "plausible_range", "number_has_standard_value"]   # each row on its own


def test_sources_sharing_a_site_id_are_checked_whole(study):
    assert keys_apart(study)
    sources = dict(study.sources)
    sources["site02"] = sources["site02"].model_copy(update={"site_id": sources["site01"].site_id})
    assert not keys_apart(study.model_copy(update={"sources": sources}))


def test_kept_rows_that_failed_move_with_the_rebuilt_source_before_them():
    kept = pd.DataFrame({"source": ["site01", "site01", "site02", "site02", "site03"]})
    fresh = pd.DataFrame({"source": ["site01", "site01", "site01"]})
    rows = _join_order(kept["source"], fresh["source"], ["site01"], ORDER)
    # rows 1 (site01: rebuilt) and 3, 4 (site02, site03: kept) failed in the table read
    checked = _to_check(rows, len(kept), len(fresh), pd.Series([1, 3, 4, None, 3]))
    assert checked.tolist() == [0, 1, 2, 4, 5]
