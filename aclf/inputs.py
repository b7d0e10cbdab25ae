"""What a night's outputs are built from, so that a step whose inputs did not change is kept, not redone.

Every change to the store comes through ingestion, which records it in the transfer registry (a new
row, or a row whose status changed); with the configuration, the code and the libraries, the
registry therefore says what every layer after ingestion reads. A step records the fingerprint it
was built from with a summary of what it reported; a later night with the same fingerprint keeps
its outputs and reports the summary again. Code with uncommitted changes has no fingerprint: it
always rebuilds.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib.metadata import Distribution, distributions
from pathlib import Path

import sqlalchemy as sa
from packaging.utils import canonicalize_name

from aclf.config import config_hash
from aclf.store import layer_input, transfer
from aclf.version import code_version


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=1)
def libraries() -> str:
    """The installed distributions and their versions, hashed: upgrading a library can change an output.
    Each name once, as the first on ``sys.path`` (the one imported): a folder on the path twice lists
    its distributions twice, which must not make a new fingerprint of the same libraries."""
    found: dict[str, str] = {}
    for dist in distributions():
        found.setdefault(*name_and_version(dist))
    return sha(str(sorted(found.items())))


def name_and_version(dist: Distribution) -> tuple[str, str]:
    """A distribution's canonical name and version, from its ``name-version.dist-info`` folder where
    it has one (as pip names it): parsing the METADATA of each of 150 distributions took 0.2 s of every
    night's first step. An egg-info folder, or a name that does not split in two, is parsed."""
    folder = getattr(dist, "_path", None)      # importlib.metadata's PathDistribution
    if isinstance(folder, Path) and folder.suffix == ".dist-info" and folder.stem.count("-") == 1:
        name, version = folder.stem.split("-")
        return canonicalize_name(name), version
    return canonicalize_name(dist.metadata["Name"] or ""), dist.version


def code_and_libraries() -> str | None:
    """The code version and the installed libraries. None for code with uncommitted changes, whose
    version does not say what it is (then always rebuild)."""
    version = code_version()
    return None if version.endswith(".dirty") else f"{version}|{libraries()}"


def built_by(study_dir: Path) -> str | None:
    """What turns the data into outputs: the code, the libraries and the configuration (None: code
    with uncommitted changes)."""
    code = code_and_libraries()
    return None if code is None else sha(f"{code}|{config_hash(study_dir)}")


def night_inputs(engine: sa.Engine, study_dir: Path, sources: list[str] | None = None) -> str | None:
    """The fingerprint of everything a layer after ingestion reads: every registry row (a transfer
    loaded, quarantined, rejected or superseded, as tonight's ingestion left it) and ``built_by``;
    with ``sources``, the rows of those sources only (what the store holds for them)."""
    by = built_by(study_dir)
    if by is None:
        return None
    columns = [transfer.c.id, transfer.c.status, transfer.c.sha256, transfer.c.processed_at]
    query = sa.select(*columns).order_by(transfer.c.id)
    if sources is not None:
        query = query.where(transfer.c.source.in_(sources))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return sha(f"{by}|{[tuple(r) for r in rows]}")


def kept(engine: sa.Engine, step: str, inputs: str | None) -> dict | None:
    """The summary recorded by ``step`` when it was last built from ``inputs`` (None: build it)."""
    if inputs is None:
        return None
    with engine.connect() as conn:
        row = conn.execute(sa.select(layer_input.c.inputs, layer_input.c.summary)
                           .where(layer_input.c.layer == step)).first()
    return json.loads(row.summary) if row is not None and row.inputs == inputs else None


def remember(engine: sa.Engine, step: str, inputs: str | None, summary: dict) -> None:
    """Record what ``step`` was built from (nothing for code without a fingerprint: it is forgotten)."""
    with engine.begin() as conn:
        conn.execute(layer_input.delete().where(layer_input.c.layer == step))
        if inputs is not None:
            conn.execute(layer_input.insert().values(layer=step, inputs=inputs,
                                                     summary=json.dumps(summary, ensure_ascii=False)))
