"""The product's v5 writer (cdisc.xpt_v5) writes the bytes pyreadstat writes, on edge values and on
every dataset of every package of a generated night; pyreadstat and pandas read them back equal."""
import io
import os
from dataclasses import replace

import dagster as dg

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from bench.compare_outputs import unstamped
from cdisc import xpt_v5
from cdisc.spec import DEFAULT_STUDY_DIR, load_spec
from pipelines.nightly import run_nightly
from support import generated_night

STAMP_AT = slice(80 + 64, 160)          # the first real header record ends with the timestamp


def _reference(tmp_path, frame, name, label, labels, formats) -> bytes:
    path = tmp_path / "reference.xpt"
    pyreadstat.write_xport(frame, os.fspath(path), file_format_version=5, table_name=name, file_label=label,
                           column_labels=labels, variable_format=formats or None)
    return path.read_bytes()


def _ours(frame, name, label, labels, formats, stamp: str) -> bytes:
    out = io.BytesIO()
    xpt_v5.write(out, frame, name=name, label=label, labels=labels, formats=formats, stamp=stamp)
    return out.getvalue()


def test_edge_values_are_written_byte_for_byte_as_pyreadstat_writes_them(tmp_path):
    rng = np.random.default_rng(7)
    edges = [0.0, -0.0, np.nan, 1.0, -1.0, 0.1, 1 / 3, 16.0 ** -65, 16.0 ** -65 * 0.999, 2.0 ** 248,
             np.nextafter(2.0 ** 249, 0), 2.0 ** 249, -2.0 ** 249, np.inf, -np.inf, 5e-324, 1e-310, 1e300]
    numbers = np.concatenate([rng.normal(0, 1e3, 3000), rng.uniform(-1, 1, 3000) * 10.0 ** rng.integers(-90, 90, 3000),
                              edges])
    n = len(numbers)
    frame = pd.DataFrame({
        "AVAL": numbers, "ADT": numbers[::-1].copy(), "NONE": np.full(n, np.nan),
        "TEXT": pd.Series(rng.choice(np.array(["", "A", "ABC  X", "x" * 199, None], dtype=object), n), dtype=object),
        "EMPTY": pd.Series([""] * n, dtype=object),
        # Arrow text, padded by Arrow (cdisc.xpt_v5._fields), and Arrow text with nothing but missing values
        "ATEXT": pd.Series(rng.choice(np.array(["", "A", "ABC  X", "x" * 199, None], dtype=object), n), dtype="str"),
        "ANONE": pd.Series([None] * n, dtype="str"),
    })
    meta = dict(name="ADLB", label="Lab Analysis Dataset",
                labels=["Value", "Date", "Nothing", "Text", "Blank", "Arrow text", "Arrow nothing"],
                formats={"ADT": "DATE9.", "NONE": "DATETIME20."})
    for rows in (frame, frame.iloc[:0], frame.iloc[:10]):      # no rows; rows that do not fill a record
        reference = _reference(tmp_path, rows, **meta)
        assert _ours(rows, **meta, stamp=reference[STAMP_AT].decode()) == reference


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """Every XPT of a generated night's blinded packages and of its unblinded area (fully authorized)."""
    root = tmp_path_factory.mktemp("v5")
    with generated_night(root, subjects=40, seed=5) as (settings, _, _url):
        authorization = root / "unblinding.yaml"
        authorization.write_text(
            "- {stage: 1, authorized_by: DMC chair, authorized_on: 2025-01-15, reference: DMC-001}\n"
            "- {stage: 2, authorized_by: DMC chair, authorized_on: 2025-06-15, reference: DMC-002}\n")
        unblinded = replace(settings, unblinding=authorization, unblinded_output=root / "unblinded")
        assert run_nightly(unblinded, instance=dg.DagsterInstance.ephemeral()).success
        yield {area: sorted(folder.rglob("*.xpt")) for area, folder in
               (("blinded", settings.output), ("unblinded", unblinded.unblinded_output))}


def test_every_dataset_of_a_night_is_what_pyreadstat_writes_and_reads_back_equal(packages, tmp_path):
    specs = {**load_spec().datasets, **load_spec(DEFAULT_STUDY_DIR / "adam").datasets}
    assert len(packages["blinded"]) >= 20 and len(packages["unblinded"]) >= 20, packages
    for path in packages["blinded"] + packages["unblinded"]:
        written = path.read_bytes()
        frame, meta = pyreadstat.read_xport(os.fspath(path), disable_datetime_conversion=True)
        ds = specs[meta.table_name]
        labels = [ds.variable[c].label for c in frame.columns]
        formats = {c: ds.variable[c].display_format for c in frame.columns if ds.variable[c].display_format}
        reference = _reference(tmp_path, frame, ds.name, ds.label, labels, formats)
        stamp = reference[STAMP_AT]
        assert _ours(frame, ds.name, ds.label, labels, formats, stamp.decode()) == reference, path
        assert unstamped(written) == unstamped(reference), path
        by_pandas = pd.read_sas(path, format="xport", encoding="ascii")
        assert list(by_pandas.columns) == list(frame.columns)
        for column in frame.columns:
            ours, theirs = frame[column], by_pandas[column]
            if pd.api.types.is_float_dtype(ours):     # pandas reads an exact zero as 5.4e-79 (pandas #50670)
                theirs = theirs.mask(theirs.abs() < 1e-78, 0.0)
                assert np.array_equal(ours.to_numpy(), theirs.to_numpy(), equal_nan=True), (path, column)
            else:
                assert ours.tolist() == theirs.fillna("").tolist(), (path, column)
