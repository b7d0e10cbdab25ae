"""The fingerprint of a night's inputs changes with every registry change, the configuration, the
code and the libraries, and a step's record is found again only under the same fingerprint."""
import importlib.metadata
import shutil
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from packaging.utils import canonicalize_name
from packaging.version import Version

import aclf.inputs
from aclf.config import DEFAULT_STUDY_DIR
from aclf.inputs import kept, night_inputs, remember
from aclf.store import make_engine, transfer


@pytest.fixture
def engine(tmp_path, monkeypatch):
    monkeypatch.setattr(aclf.inputs, "code_version", lambda: "1.0+gabc")
    return make_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")


def _register(engine, status: str = "loaded") -> int:
    with engine.begin() as conn:
        return conn.execute(transfer.insert().values(source="site01", name=f"x{status}.csv", sha256="ab",
                                                     first_seen_at="t", processed_at="t1", status=status)
                            ).inserted_primary_key[0]


def test_every_registry_change_the_configuration_and_the_code_change_the_fingerprint(engine, tmp_path, monkeypatch):
    study = tmp_path / "study"
    shutil.copytree(DEFAULT_STUDY_DIR, study)
    empty = night_inputs(engine, study)
    assert empty == night_inputs(engine, study)
    id_ = _register(engine)
    loaded = night_inputs(engine, study)
    _register(engine, status="rejected")                      # a refused file brings findings too
    rejected = night_inputs(engine, study)
    with engine.begin() as conn:
        conn.execute(transfer.update().where(transfer.c.id == id_).values(status="superseded", processed_at="t2"))
    superseded = night_inputs(engine, study)
    (study / "study.yaml").write_text((study / "study.yaml").read_text() + "\n# a comment\n")
    configured = night_inputs(engine, study)
    monkeypatch.setattr(aclf.inputs, "code_version", lambda: "1.1+gdef")
    coded = night_inputs(engine, study)
    monkeypatch.setattr(aclf.inputs, "libraries", lambda: "pandas 9.9")
    upgraded = night_inputs(engine, study)
    assert len({empty, loaded, rejected, superseded, configured, coded, upgraded}) == 7
    monkeypatch.setattr(aclf.inputs, "code_version", lambda: "1.1+gdef.dirty")
    assert night_inputs(engine, study) is None


def test_a_record_is_found_only_under_its_fingerprint(engine):
    remember(engine, "findings", "a" * 64, {"csv": "findings/findings.csv"})
    assert kept(engine, "findings", "a" * 64) == {"csv": "findings/findings.csv"}
    assert kept(engine, "findings", "b" * 64) is None and kept(engine, "sdtm_blinded", "a" * 64) is None
    assert kept(engine, "findings", None) is None               # code without a fingerprint always builds
    remember(engine, "findings", None, {})                      # ... and forgets what was built before
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from layer_input")).scalar() == 0


def test_the_libraries_fingerprint_does_not_depend_on_how_often_a_folder_is_on_the_path(monkeypatch):
    """A process that puts the project folder on sys.path again (a benchmark, a spawned child, a code
    server) sees its distribution twice: the same libraries, the same fingerprint, nothing rebuilt."""
    aclf.inputs.libraries.cache_clear()
    once = aclf.inputs.libraries()
    root = str(Path(aclf.inputs.__file__).resolve().parents[1])
    monkeypatch.setattr(sys, "path", [root, root, *sys.path])
    aclf.inputs.libraries.cache_clear()
    try:
        assert aclf.inputs.libraries() == once
    finally:
        aclf.inputs.libraries.cache_clear()


def test_each_distribution_is_named_as_its_metadata_names_it():
    """The fingerprint reads names and versions from the dist-info folders' names: the same as
    their METADATA says, for every distribution installed here."""
    for dist in importlib.metadata.distributions():
        name, version = aclf.inputs.name_and_version(dist)
        assert name == canonicalize_name(dist.metadata["Name"]), dist
        assert Version(version) == Version(dist.version), dist
