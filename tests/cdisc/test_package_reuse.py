"""A dataset whose values did not change keeps the files of the package in force: a night in which
one source sent data writes only the datasets it changed, and nothing else differs."""
from __future__ import annotations

import json

import pandas as pd
import pyreadstat
import pytest

import aclf.inputs
from cdisc.package import digests_path, write_package
from cdisc.spec import load_spec
from cdisc.xpt import conform

STUDYID = "NCT05985863"
CREATED = ("2026-11-20T10:00:00", "2026-11-21T10:00:00")


@pytest.fixture(scope="module")
def spec():
    return load_spec()


@pytest.fixture(autouse=True)
def clean_code(monkeypatch):
    """The digests are those of committed code: a test run from a working copy with changes has none."""
    monkeypatch.setattr(aclf.inputs, "code_version", lambda: "1.0+gabc")


def _frame(spec, name, rows):
    columns = spec.datasets[name].names
    base = {"STUDYID": STUDYID, "DOMAIN": name}
    return conform(pd.DataFrame([{c: {**base, **row}.get(c) for c in columns} for row in rows], columns=columns),
                   spec.datasets[name])


def _datasets(spec, title="hUC-MSC in acute-on-chronic liver failure"):
    dm = _frame(spec, "DM", [{"USUBJID": f"{STUDYID}-01001", "SUBJID": "01001", "SITEID": "01", "AGE": 54.0,
                              "AGEU": "YEARS", "SEX": "M", "COUNTRY": "CHN", "ARMCD": "BLINDED"}])
    ts = _frame(spec, "TS", [{"TSSEQ": 1.0, "TSPARMCD": "TITLE", "TSPARM": "Trial Title", "TSVAL": title}])
    return {"DM": dm, "TS": ts}


def _write(spec, datasets, folder, digests, created):
    return write_package(datasets, spec, folder, created, digests=digests)


def test_an_unchanged_dataset_keeps_its_files_and_a_changed_one_is_written(spec, tmp_path):
    folder, digests = tmp_path / "sdtm", digests_path(tmp_path, "sdtm")
    _write(spec, _datasets(spec), folder, digests, CREATED[0])
    first = {p.name: (p.stat().st_ino, p.read_bytes()) for p in folder.iterdir()}
    _write(spec, _datasets(spec, title="A new title"), folder, digests, CREATED[1])
    after = {p.name: (p.stat().st_ino, p.read_bytes()) for p in folder.iterdir()}
    assert after["dm.xpt"] == first["dm.xpt"] and after["dm.json"] == first["dm.json"]    # the same file
    assert after["ts.xpt"][1] != first["ts.xpt"][1] and CREATED[1] in after["ts.json"][1].decode()
    assert CREATED[1] in after["define.xml"][1].decode()
    ts, _ = pyreadstat.read_xport(str(folder / "ts.xpt"))
    assert ts.loc[0, "TSVAL"] == "A new title"
    assert set(json.loads(digests.read_text())) == {"DM", "TS"}


def test_files_read_back_equal_to_those_written_whole(spec, tmp_path):
    reused, whole = tmp_path / "reused", tmp_path / "whole"
    _write(spec, _datasets(spec), reused / "sdtm", digests_path(reused, "sdtm"), CREATED[0])
    _write(spec, _datasets(spec), reused / "sdtm", digests_path(reused, "sdtm"), CREATED[1])
    _write(spec, _datasets(spec), whole / "sdtm", None, CREATED[1])
    for name in ("dm.xpt", "ts.xpt"):
        a, meta_a = pyreadstat.read_xport(str(reused / "sdtm" / name))
        b, meta_b = pyreadstat.read_xport(str(whole / "sdtm" / name))
        pd.testing.assert_frame_equal(a, b)
        assert meta_a.column_labels == meta_b.column_labels and meta_a.file_label == meta_b.file_label


def test_nothing_is_reused_without_digests_or_from_code_with_changes(spec, tmp_path, monkeypatch):
    folder, digests = tmp_path / "sdtm", digests_path(tmp_path, "sdtm")
    _write(spec, _datasets(spec), folder, digests, CREATED[0])
    inode = (folder / "dm.xpt").stat().st_ino
    digests.unlink()                         # as after a crash between the swap and saving them
    _write(spec, _datasets(spec), folder, digests, CREATED[1])
    assert (folder / "dm.xpt").stat().st_ino != inode
    assert CREATED[1] in (folder / "dm.json").read_text()
    monkeypatch.setattr(aclf.inputs, "code_version", lambda: "1.0+gabc.dirty")
    _write(spec, _datasets(spec), folder, digests, CREATED[0])
    assert not digests.exists()              # what it was written by is unknown: no reuse next night


def test_a_spec_change_writes_the_dataset_again(spec, tmp_path):
    folder, digests = tmp_path / "sdtm", digests_path(tmp_path, "sdtm")
    _write(spec, _datasets(spec), folder, digests, CREATED[0])
    dm = spec.datasets["DM"].model_copy(update={"label": "Demographics (relabelled)"})
    relabelled = spec.model_copy(update={"datasets": {**spec.datasets, "DM": dm}})
    _write(relabelled, _datasets(spec), folder, digests, CREATED[1])
    _, meta = pyreadstat.read_xport(str(folder / "dm.xpt"))
    assert meta.file_label == "Demographics (relabelled)"


def test_a_define_that_fails_its_schema_leaves_the_package_in_force(spec, tmp_path, monkeypatch):
    """define.xml is checked while the datasets' files are being written: when it fails, those files
    are dropped with their fresh folder and the package, digests and row indexes in force stay."""
    import cdisc.package

    folder, digests = tmp_path / "sdtm", digests_path(tmp_path, "sdtm")
    _write(spec, _datasets(spec), folder, digests, CREATED[0])
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    saved = digests.read_text()
    monkeypatch.setattr(cdisc.package, "validate_define", lambda tree: ["element 'ItemDef': not expected"])
    with pytest.raises(ValueError, match="(?s)does not validate.*ItemDef"):
        _write(spec, _datasets(spec, title="A new title"), folder, digests, CREATED[1])
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert digests.read_text() == saved
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())      # no fresh folder left behind
