"""Shared fixtures: the study configuration, a per-test store, landing-zone paths, ingestion.
Helpers that are not fixtures live in ``support.py``."""
from __future__ import annotations

import pytest

from aclf.config import load_study
from aclf.ingest import Paths, ingest_source
from support import store_url


@pytest.fixture(scope="session")
def study():
    return load_study()


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


@pytest.fixture
def ingest(engine, study, paths):
    """Run one source's ingestion against the test store."""
    def run(source: str, study_=None):
        return ingest_source(engine, study_ or study, source, paths)
    return run
