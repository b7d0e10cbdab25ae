"""The forms' Parquet copy: the store's read, value for value and dtype for dtype; read instead of
the store while no form source sends a transfer; replaced when one does; never made for code with
uncommitted changes (it has no fingerprint)."""
import pandas as pd
import pytest

import aclf.current
import aclf.inputs
from aclf.config import DEFAULT_STUDY_DIR
from aclf.current import forms_in_force
from support import EDC_FILES, land_edc


@pytest.fixture
def committed(monkeypatch):
    monkeypatch.setattr(aclf.inputs, "code_version", lambda: "1.0+gabc")


def _same(left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame]) -> None:
    assert list(left) == list(right)
    for name in left:
        pd.testing.assert_frame_equal(left[name], right[name], check_exact=True)


def test_the_copy_is_the_store_read_and_follows_each_transfer(engine, study, paths, ingest, tmp_path, monkeypatch,
                                                              committed):
    land_edc(paths, "EDC_20250601")
    ingest("edc")
    mirror = tmp_path / "mirror"
    stored = forms_in_force(engine, study)
    _same(forms_in_force(engine, study, mirror, DEFAULT_STUDY_DIR), stored)
    [copy] = mirror.glob("forms_*")
    with monkeypatch.context() as m:       # no store read while the copy is in force
        m.setattr(aclf.current, "form_in_force", lambda *a: pytest.fail("read the store"))
        _same(forms_in_force(engine, study, mirror, DEFAULT_STUDY_DIR), stored)
    changed = {**EDC_FILES, "visits.csv": EDC_FILES["visits.csv"] + "01-007,WEEK1,2024-03-12\n"}
    land_edc(paths, "EDC_20250602", changed)
    ingest("edc")
    after = forms_in_force(engine, study, mirror, DEFAULT_STUDY_DIR)
    _same(after, forms_in_force(engine, study))
    assert "2024-03-12" in set(after["visits"]["VISIT_DATE"])
    assert not copy.exists() and len(list(mirror.iterdir())) == 1


def test_code_with_uncommitted_changes_reads_the_store(engine, study, paths, ingest, tmp_path, monkeypatch):
    monkeypatch.setattr(aclf.inputs, "code_version", lambda: "1.0+gabc.dirty")
    land_edc(paths, "EDC_20250601")
    ingest("edc")
    _same(forms_in_force(engine, study, tmp_path / "mirror", DEFAULT_STUDY_DIR), forms_in_force(engine, study))
    assert not (tmp_path / "mirror").exists()
