"""pandera schemas of the staged and harmonized tables, built from the study configuration.

Types, allowed values, keys and plausibility per test; each schema runs lazily so every failure
is reported, and the failures become findings and asset-check metadata.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from aclf.config import FormSpec, Study
from aclf.isodate import valid_iso

SUBJID = r"^[0-9]{2}-[0-9]{3,4}$"
ISO_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2})?$"


def implausible(lab: pd.DataFrame, study: Study) -> pd.Series:
    """True where a numeric standard result lies outside its test's plausible range."""
    tests = study.lab.tests
    # the bounds looked up once per distinct code (a map over every record cost 0.3 s at 800,000);
    # an unknown or missing code has none (NaN: never outside)
    codes, names = pd.factorize(lab["lbtestcd"])
    low, high = (np.array([tests[n].plausible[i] if n in tests else np.nan for n in names] + [np.nan])[codes]
                 for i in (0, 1))
    result = lab["lbstresn"]
    return result.notna() & ((result < low) | (result > high))


def staged_lab_schema(study: Study) -> pa.DataFrameSchema:
    visits = [v.code for v in study.visits] + [study.unscheduled_visit, ""]
    return pa.DataFrameSchema({
        "record_key": pa.Column(str, unique=True),
        "subjid": pa.Column(str, pa.Check.str_matches(SUBJID)),
        "sample_id": pa.Column(str, pa.Check.str_length(min_value=1)),
        "collected": pa.Column(str, pa.Check.str_matches(ISO_DATETIME)),
        "lbtestcd": pa.Column(str, pa.Check.isin(list(study.lab.tests))),
        "visit": pa.Column(str, pa.Check.isin(visits)),
        "result": pa.Column(str),
        "unit": pa.Column(str),
    }, name="staged_lab", coerce=False)


def harmonized_lab_schema(study: Study) -> pa.DataFrameSchema:
    tests = study.lab.tests
    standard = {k: t.standard_unit for k, t in tests.items()}
    visits = [v.code for v in study.visits] + [study.unscheduled_visit, ""]
    return pa.DataFrameSchema({
        "record_key": pa.Column(str, unique=True),
        "subjid": pa.Column(str, pa.Check.str_matches(SUBJID)),
        "lbtestcd": pa.Column(str, pa.Check.isin(list(tests))),
        "lbdtc": pa.Column(str, pa.Check.str_matches(ISO_DATETIME)),
        "lbdy": pa.Column("Float64", pa.Check.ne(0), nullable=True),
        "avisit": pa.Column(str, pa.Check.isin(visits)),
        "lbstresn": pa.Column(float, nullable=True),
        "lbstresu": pa.Column(str),
        "lbstat": pa.Column(str, pa.Check.isin(["", "NOT DONE"])),
        "result_kind": pa.Column(str, pa.Check.isin(["number", "censored", "not_done", "unknown_text"])),
        "lbnrind": pa.Column(str, pa.Check.isin(["", "LOW", "NORMAL", "HIGH"])),
    }, checks=[
        pa.Check(lambda df: df["lbstresu"] == df["lbtestcd"].map(standard), name="standard_unit_of_test"),
        pa.Check(lambda df: ~implausible(df, study), name="plausible_range"),
        pa.Check(lambda df: df["lbstresn"].notna() | (df["result_kind"] != "number") | (df["unit_status"] != "ok"),
                 name="number_has_standard_value"),
    ], name="harmonized_lab", coerce=False)


def form_schema(name: str, spec: FormSpec) -> pa.DataFrameSchema:
    """Allowed values and numeric ranges of one form ('' = missing passes, but not in a required
    column), its key unique."""
    def in_range(low: float, high: float) -> pa.Check:
        def check(s: pd.Series) -> pd.Series:
            numbers = pd.to_numeric(s.where(s != ""), errors="coerce")
            return (s == "") | numbers.between(low, high)
        return pa.Check(check, name=f"between_{low:g}_{high:g}")

    columns = {c: pa.Column(str) for c in spec.columns}
    columns[spec.subject] = pa.Column(str, pa.Check.str_matches(SUBJID))
    for col, allowed in spec.values.items():
        columns[col] = pa.Column(str, pa.Check.isin([*allowed, ""]))
    for col, (low, high) in spec.ranges.items():
        columns[col] = pa.Column(str, in_range(low, high))
    for col in spec.dates:
        partial = col in spec.partial_dates
        columns[col] = pa.Column(str, pa.Check(lambda s, partial=partial: valid_iso(s, partial),
                                               name="iso8601_partial_date" if partial else "iso8601_date"))
    for col in spec.required:
        columns[col] = pa.Column(str, [*columns[col].checks, pa.Check(lambda s: s != "", name="not_empty")])
    return pa.DataFrameSchema(columns, unique=spec.key, name=name, coerce=False)


def failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """pandera's failure cases (column, check, failure_case, index), empty when the frame passes.
    The frame is validated in place: no schema here coerces or fills a value, so it is only read,
    and pandera's copy of it (the harmonized table at 10,000 subjects: about 70 MB more at the
    night's peak, with the worker's lab suite beside it) is not made."""
    try:
        schema.validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return cases[["column", "check", "failure_case", "index"]].reset_index(drop=True)
    return pd.DataFrame(columns=["column", "check", "failure_case", "index"])
