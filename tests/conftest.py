"""Shared fixtures: the study configuration, a per-test store, and landing-zone helpers.

Set ACLF_TEST_DATABASE_URL to a PostgreSQL URL to run every store test there, each in a schema
of its own (created and dropped around the test); otherwise each test gets a SQLite file.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from aclf.config import load_study
from aclf.ingest import Paths, ingest_source

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def study():
    return load_study()


@contextlib.contextmanager
def store_url(directory: Path):
    """A fresh store: a SQLite file in ``directory``, or a new schema of ACLF_TEST_DATABASE_URL."""
    base = os.environ.get("ACLF_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{directory / 'store.sqlite'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        from assets.resources import dispose_engines

        dispose_engines()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def database_url(tmp_path):
    with store_url(tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url):
    from aclf.store import make_engine

    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def paths(tmp_path) -> Paths:
    return Paths(landing=tmp_path / "landing", archive=tmp_path / "archive")


def write_manifest(path: Path) -> None:
    """A ``sha256sum``-format manifest beside a file, or MANIFEST.sha256 inside an EDC folder."""
    if path.is_dir():
        lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n"
                 for p in sorted(path.iterdir()) if p.name != "MANIFEST.sha256"]
        (path / "MANIFEST.sha256").write_text("".join(lines))
    else:
        path.with_name(path.name + ".sha256").write_text(
            f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n")


def land(paths: Paths, source: str, name: str, content: bytes | Path, manifest: bool = True) -> Path:
    """Drop one transfer file (bytes or a copy of a fixture) into the landing zone."""
    dest = paths.landing / source / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, Path):
        shutil.copyfile(content, dest)
    else:
        dest.write_bytes(content)
    if manifest:
        write_manifest(dest)
    return dest


@pytest.fixture
def ingest(engine, study, paths):
    """Run one source's ingestion against the test store."""
    def run(source: str, study_=None):
        return ingest_source(engine, study_ or study, source, paths)
    return run


def read_table(engine, name: str, where: str = "") -> "pd.DataFrame":
    import pandas as pd

    return pd.read_sql(sa.text(f"select * from {name} {where} order by id"), engine)


@contextlib.contextmanager
def generated_night(root: Path, subjects: int, seed: int):
    """A generated study's first night delivered and run through the real nightly job; yields
    (settings, generation summary, store URL)."""
    import dagster as dg

    from aclf.cli import deliver_night
    from aclf.settings import Settings
    from aclf.synth import generate
    from pipelines.nightly import run_nightly

    summary = generate(root / "incoming", subjects=subjects, seed=seed, nights=1, in_flight=())
    with store_url(root) as url:
        settings = Settings.resolve(landing=root / "landing", output=root / "output", archive=root / "archive",
                                    database_url=url)
        deliver_night(root / "incoming", settings.landing, summary.nights[0].replace("-", ""))
        assert run_nightly(settings, instance=dg.DagsterInstance.ephemeral()).success
        yield settings, summary, url
