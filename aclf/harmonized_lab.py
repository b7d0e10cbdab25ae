"""The harmonized lab table: staged records with standard results, study days and analysis visits;
built here and kept here (the store's ``lab_harmonized`` table)."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from aclf.config import LabDialect, Study
from aclf.current import form_in_force, lab_in_force
from aclf.frames import isin, positions_in, stacked
from aclf.inputs import built_by, sha
from aclf.units import harmonize_results, original_limits
from aclf.isodate import date_part
from aclf.mirror import drop_others, keep_copy, write_copy
from aclf.pending import Pending
from aclf.store import (bulk_insert, lab_harmonized, lab_harmonized_failure, lab_harmonized_source,
                        lab_harmonized_version, transfer)
from aclf.timing import analysis_visits, first_infusion_dates, labelled_visitnum, study_days

LINEAGE = ["source", "record_key", "transfer_id", "row_number"]
MIRROR_VERSIONS = "lab_harmonized_*.parquet"
READ_CHUNK = 100_000
# the table as harmonization saved it tonight, under its version token, for the night's readers in
# this process (validation, then SDTM, the last: it takes it): each Parquet read of the copy took
# 0.6 s at 10,000 subjects. At most one version; a token that is no longer the store's never answers
_held: dict[str, pd.DataFrame] = {}


def build_harmonized_lab(staged: pd.DataFrame, first_infusion: pd.Series, study: Study) -> pd.DataFrame:
    """One row per staged record (none dropped): identity, lineage, visits, days, standard results."""
    out = staged[LINEAGE + ["subjid", "sample_id", "visit_raw", "visit", "test_raw", "lbtestcd", "comment"]].copy()
    out.insert(0, "site_id", out["subjid"].str[:2])
    out["lbdtc"] = staged["collected"]
    when = date_part(staged["collected"])
    reference = out["subjid"].map(first_infusion.to_dict())   # a dict: pandas cannot map an empty datetime Series
    out["lbdy"], out["pday"] = study_days(when, reference)
    out["avisit"], out["avisitn"] = analysis_visits(out["pday"], study)
    out["visitnum"] = labelled_visitnum(out["visit"], out["avisitn"], study)
    return pd.concat([out, harmonize_results(staged, study.lab, study.agreed_units)], axis=1)


# each staged column the build reads, and the table's column that holds it as read; the reference
# columns reach the table only through units.original_limits, and are compared as the limits they give
AS_READ = {"subjid": "subjid", "sample_id": "sample_id", "visit_raw": "visit_raw", "visit": "visit",
           "test_raw": "test_raw", "lbtestcd": "lbtestcd", "comment": "comment", "collected": "lbdtc",
           "result": "lborres", "unit": "lborresu"}
REFERENCE, LIMITS = ["ref_low", "ref_high", "ref_range"], ["lbornrlo", "lbornrhi"]


def built_by_record(staged: pd.DataFrame, kept: pd.DataFrame, first_infusion: pd.Series, study: Study) -> pd.DataFrame:
    """``_as_stored(build_harmonized_lab(staged, ...))``, built only for the records whose inputs
    differ from those their row in ``kept`` was built from: each row depends on its own record, its
    subject's first infusion and the configuration alone, so a record read as before is its kept row
    with tonight's lineage (a new snapshot restates every record: 225,000 for a site, a few hundred
    changed). ``kept`` must have been built by the same code and configuration from the same
    infusion form as tonight's build (the caller's fingerprints say so)."""
    prior = np.flatnonzero(isin(kept["source"], pd.unique(staged["source"])))    # the rebuilt sources' rows
    at = positions_in(staged["record_key"], kept["record_key"].take(prior))
    found = np.flatnonzero(at >= 0)            # -1: a record the table does not hold
    rows = prior[at[found]]
    same = np.zeros(len(staged), dtype=bool)
    if len(found):
        now = staged[["source", *AS_READ, *REFERENCE]].take(found).reset_index(drop=True)
        before = kept[["source", *AS_READ.values(), *LIMITS]].take(rows).reset_index(drop=True)
        equal = np.asarray(now["source"] == before["source"], dtype=bool)    # a key is unique within its source
        for column, as_read in AS_READ.items():
            equal = equal & np.asarray(now[column] == before[as_read], dtype=bool)
        for limit, as_read in zip(original_limits(now), LIMITS):
            equal = equal & np.asarray(limit.reset_index(drop=True) == before[as_read], dtype=bool)
        same[found[equal]] = True
        rows = rows[equal]
    reused, built = np.flatnonzero(same), np.flatnonzero(~same)
    fresh = _as_stored(build_harmonized_lab(staged.take(built), first_infusion, study)).reset_index(drop=True)
    again = kept.take(rows)[list(fresh.columns)].reset_index(drop=True)
    again["transfer_id"] = staged["transfer_id"].to_numpy()[reused]
    again["row_number"] = staged["row_number"].to_numpy()[reused]
    order = np.empty(len(staged), dtype=np.int64)
    order[reused], order[built] = np.arange(len(reused)), len(reused) + np.arange(len(built))
    return stacked([again, fresh], order)


FAILURE_COLUMNS = ["column", "check", "failure_case", "index"]


def _loaded(engine: sa.Engine) -> dict[str, list[int]]:
    """The ids of the transfers in force, by source."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(transfer.c.source, transfer.c.id).where(transfer.c.status == "loaded")
                            .order_by(transfer.c.id)).all()
    loaded: dict[str, list[int]] = {}
    for source, id_ in rows:
        loaded.setdefault(source, []).append(id_)
    return loaded


def inputs_fingerprint(engine: sa.Engine, study_dir: Path) -> str | None:
    """What the table is built from: the transfers in force (lab and forms), the configuration, the
    code and the libraries. Equal fingerprints, the same table: a night without a new transfer
    rebuilds nothing. None (always rebuild) for code with uncommitted changes, whose version does
    not say what it is."""
    by = built_by(study_dir)
    if by is None:
        return None
    loaded = sorted(id_ for ids in _loaded(engine).values() for id_ in ids)
    return sha(f"{by}|{loaded}")


def lab_source_names(study: Study) -> list[str]:
    return sorted(name for name, source in study.sources.items() if isinstance(source, LabDialect))


def source_fingerprints(engine: sa.Engine, study: Study, study_dir: Path) -> dict[str, str] | None:
    """Per lab source, what its rows of the table are built from: its transfers in force, those of
    the form that dates the first infusion (study days and visits count from it), the configuration,
    the code and the libraries. None for code with uncommitted changes."""
    by = built_by(study_dir)
    if by is None:
        return None
    loaded = _loaded(engine)
    infusion_source, _ = study.form("infusion")
    common = f"{by}|{loaded.get(infusion_source, [])}"
    return {name: sha(f"{common}|{name}|{loaded.get(name, [])}") for name in lab_source_names(study)}


def built_from(engine: sa.Engine) -> str | None:
    """The inputs fingerprint of the table in force (None: unknown, or no table yet)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(lab_harmonized_version.c.inputs)).scalar()


def _built_sources(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(lab_harmonized_source.c.source, lab_harmonized_source.c.inputs)).all())


def _store_order(engine: sa.Engine) -> dict[str, int]:
    """The rank of each source as the store sorts them (its collation, not Python's): the table's
    rows are by source, and a failure's row index is a position in the store's order."""
    with engine.connect() as conn:
        names = conn.execute(sa.select(transfer.c.source).distinct().order_by(transfer.c.source)).scalars()
        return {name: rank for rank, name in enumerate(names)}


def _ranks(sources: pd.Series, order: dict[str, int]) -> np.ndarray:
    codes, names = pd.factorize(sources)        # a lookup per distinct source, not per row
    return np.array([order.get(name, len(order)) for name in names] + [len(order)], dtype=np.int64)[codes]


def _join_order(kept: pd.Series, fresh: pd.Series, stale: list[str], order: dict[str, int]) -> np.ndarray:
    """Where the joined table's rows come from, given the sources of the table read (``kept``) and
    of the rows built for the ``stale`` sources (``fresh``): positions in ``concat([kept, fresh])``,
    the kept rows of the other sources and the fresh rows, stably sorted by source rank."""
    kept_rank, fresh_rank = _ranks(kept, order), _ranks(fresh, order)
    held = np.flatnonzero(~np.isin(kept_rank, [order.get(name, -1) for name in stale]))
    rows = np.concatenate([held, len(kept) + np.arange(len(fresh))])
    return rows[np.argsort(np.concatenate([kept_rank[held], fresh_rank]), kind="stable")]


def _joined(kept: pd.DataFrame, fresh: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The table read (``kept``) and the ``fresh`` rows built for its stale sources, in the order
    ``_join_order`` gives, made a column at a time with both parts consumed (never two copies of
    the table at once). Its columns are in the order a build gives them, as in a full rebuild:
    pandera reports a table-wide check's failure cases column by column, so the order decides
    which value a finding shows."""
    kept = pd.DataFrame({name: kept.pop(name) for name in fresh.columns}, copy=False)   # in the build's order
    return stacked([kept, fresh], rows)


def _to_check(rows: np.ndarray, kept: int, fresh: int, failed: pd.Series) -> np.ndarray:
    """The joined table's rows (``_join_order``'s ``rows`` of ``kept`` rows read and ``fresh`` rows
    built) that the schema must see tonight to find every failure a check of the whole table finds:
    the rows built tonight, and the kept rows that failed in the table read (``failed``: their
    positions there). The schema looks at one row at a time apart from the key's uniqueness, so a
    kept row that passed passes again; keys repeat only within a source (``keys_apart``), whose
    repeats failed in the table read or are among tonight's rows. Positions in the joined table, in
    order."""
    joined = np.full(kept + fresh, -1, dtype=np.int64)
    joined[rows] = np.arange(len(rows))
    before = failed.dropna().astype(np.int64).unique()
    before = joined[before[(before >= 0) & (before < kept)]]
    return np.unique(np.concatenate([joined[kept:], before[before >= 0]]))


def keys_apart(study: Study) -> bool:
    """Whether no two lab sources can hold the same record key: each key begins with its source's
    site id (aclf.lab), so only sources sharing a site id could."""
    sites = [study.sources[name].site_id for name in lab_source_names(study)]
    return len(set(sites)) == len(sites)


@dataclass
class Refreshed:
    lab: pd.DataFrame             # the table in force
    failures: pd.DataFrame        # its schema failure cases
    rebuilt: list[str]            # the lab sources whose rows were built tonight (none: kept whole)


def refresh_harmonized_lab(engine: sa.Engine, study: Study, study_dir: Path,
                           schema_failures: Callable[[pd.DataFrame], pd.DataFrame],
                           mirror: Path | None = None, ready: Callable[[Path], None] | None = None) -> Refreshed:
    """Tonight's harmonized table, rebuilt only where its inputs changed: kept whole when no
    transfer, configuration or code changed; else the rows of each lab source whose own transfers
    changed are built again and replace its rows in the store, the others kept (a change to the
    infusion form, the configuration or the code rebuilds every source). The schema checks the
    whole table when it is built whole, else the rows built tonight and those that failed before
    (``_to_check``): the same failure cases in the same order. Equal to a full rebuild, row for row.
    The store's save of the rebuilt rows starts once they are built; the table's Parquet copy in
    ``mirror`` is then written and handed to ``ready``, which may start another process's reading of
    it while the schema runs and the store saves (3-4 s at 10,000 subjects); the copy answers readers
    only once the store holds its version, and the copy of the version in force stays until then.
    A table in force without its copy is built again whole, not read from the store: SQLite keeps a
    REAL -0.0 as 0.0, so a row read back there may not be the row a build gives."""
    inputs = inputs_fingerprint(engine, study_dir)
    copied = mirror is None or _has_copy(engine, mirror)
    if copied and inputs is not None and inputs == built_from(engine):
        return Refreshed(load_harmonized_lab(engine, mirror), load_schema_failures(engine), [])
    wanted = source_fingerprints(engine, study, study_dir)
    names = lab_source_names(study)
    built = _built_sources(engine) if wanted and copied else {}
    stale = [name for name in names if not wanted or built.get(name) != wanted[name]]
    if not stale:        # only forms the table does not read changed: it is tonight's as it is
        with engine.begin() as conn:
            conn.execute(lab_harmonized_version.update().values(inputs=inputs))
        return Refreshed(load_harmonized_lab(engine, mirror), load_schema_failures(engine), [])
    form_source, spec = study.form("infusion")
    first = first_infusion_dates(form_in_force(engine, form_source, "infusion", spec.columns))
    token = uuid.uuid4().hex
    save = dict(inputs=inputs, sources=wanted or {}, token=token)
    if stale == names:
        lab, only, recheck = build_harmonized_lab(lab_in_force(engine, mirror=mirror), first, study), None, None
    else:
        kept = load_harmonized_lab(engine, mirror)
        # some source is not rebuilt: the table was built from tonight's code, configuration and form
        fresh = built_by_record(lab_in_force(engine, stale, mirror), kept, first, study)
        order, only = _store_order(engine), stale
        rows = _join_order(kept["source"], fresh["source"], stale, order)
        recheck = _to_check(rows, len(kept), len(fresh), load_schema_failures(engine)["index"]) \
            if keys_apart(study) else None
    # the store's save starts as soon as the rows it inserts are known (about 2 s at 10,000
    # subjects): the rebuilt sources' rows go in while the table is joined, copied and checked
    with _saving(engine, lab if only is None else _by_source(fresh, order), only=only, **save) as checked:
        if only is not None:
            lab = _joined(kept, fresh, rows)
        # some rows are checked on a copy of them (0.3 s for a site's): made and let go before
        # another process starts reading the table's copy, so that the two memory peaks do not
        # meet; the whole table is checked in place, beside that reading
        cases = None if recheck is None else checked(schema_failures(lab.take(recheck)))
        read = None
        if mirror is not None:    # the night's readers start from Parquet: no reader pays the store read
            read = as_read(lab)
            write_copy(read, _mirror_path(mirror, token))
            if ready is not None:
                ready(_mirror_path(mirror, token))
        if cases is None:
            cases = checked(schema_failures(lab))
    if read is None:
        return Refreshed(lab, cases, stale)
    drop_others(_mirror_path(mirror, token), MIRROR_VERSIONS)     # the version in force kept until now
    hold(token, read)
    return Refreshed(read, cases, stale)


def hold(token: str, lab: pd.DataFrame) -> None:
    """Keep ``lab``, version ``token`` as a reader of its Parquet copy gets it, for this process's readers."""
    _held.clear()
    _held[token] = lab.copy(deep=False)


def let_go() -> None:
    """Drop the version held (the night's last reader is done, or the night ends)."""
    _held.clear()


@contextmanager
def _saving(engine: sa.Engine, rows: pd.DataFrame, **save) -> Iterator[Callable[[pd.DataFrame], pd.DataFrame]]:
    """The store's save of ``rows`` (``write_harmonized_lab``) on a thread while the block runs
    (aclf.pending: 225,000 rows take 1.4-2 s, mostly in SQLite); the block hands the schema's failure
    cases to the function it is given, which returns them, and they go in last, in the same
    transaction: the table and its cases are committed together, or nothing is when the block fails."""
    found: Future[pd.DataFrame] = Future()
    saving = Pending(engine, lambda conn, rows=rows.copy(deep=False): write_harmonized_lab(
        conn, rows, found.result, **save))

    def checked(cases: pd.DataFrame) -> pd.DataFrame:
        found.set_result(cases)
        return cases

    try:
        yield checked
    except BaseException as exc:
        if not found.done():
            found.set_exception(exc)
        saving.settle(False)
        raise
    saving.settle(True)


def _by_source(fresh: pd.DataFrame, order: dict[str, int]) -> pd.DataFrame:
    """The rebuilt sources' rows in the order the joined table holds them (``_joined``): by source
    in the store's order, each source's rows in their order."""
    ranks = _ranks(fresh["source"], order)
    if (np.diff(ranks) >= 0).all():
        return fresh
    return fresh.take(np.argsort(ranks, kind="stable"))


def save_harmonized_lab(engine: sa.Engine, lab: pd.DataFrame, failures: pd.DataFrame,
                        inputs: str | None = None, sources: dict[str, str] | None = None,
                        only: list[str] | None = None, token: str | None = None) -> str:
    """Tonight's table and its schema failure cases (``index`` = row position) replace last night's;
    ``inputs``: the fingerprint of what it was built from, ``sources`` each lab source's. With
    ``only``, the rows of those sources alone are replaced, the others stay as they are. Returns
    the new version's token (``token``, when given: its Parquet copy was written before)."""
    token = token or uuid.uuid4().hex
    with engine.begin() as conn:
        write_harmonized_lab(conn, lab, lambda: failures, inputs, sources, only, token)
    return token


def write_harmonized_lab(conn: sa.Connection, lab: pd.DataFrame, failures: Callable[[], pd.DataFrame],
                         inputs: str | None, sources: dict[str, str] | None, only: list[str] | None,
                         token: str) -> None:
    """``save_harmonized_lab``'s statements in ``conn``'s transaction; ``failures`` is asked for once
    the rows are in (the schema may still be running)."""
    columns = [c.name for c in lab_harmonized.columns if c.name != "id"]
    rows = lab.reset_index(drop=True)
    if only is None:
        conn.execute(lab_harmonized.delete())
    else:
        conn.execute(lab_harmonized.delete().where(lab_harmonized.c.source.in_(only)))
        rows = rows[rows["source"].isin(only)]
    conn.execute(lab_harmonized_failure.delete())
    conn.execute(lab_harmonized_version.delete())
    conn.execute(lab_harmonized_source.delete())
    conn.execute(lab_harmonized_version.insert().values(token=token, inputs=inputs))
    if sources:
        conn.execute(lab_harmonized_source.insert(), [{"source": k, "inputs": v} for k, v in sources.items()])
    bulk_insert(conn, lab_harmonized, rows, columns)
    cases = failures()
    cases = pd.DataFrame({"row_index": cases["index"], "column_name": cases["column"].astype(str),
                          "check_name": cases["check"].astype(str), "failure_case": cases["failure_case"].astype(str)})
    bulk_insert(conn, lab_harmonized_failure, cases.astype({"row_index": "Int64"}), list(cases.columns))


def _version(conn: sa.Connection) -> str | None:
    return conn.execute(sa.select(lab_harmonized_version.c.token)).scalar()


def load_harmonized_lab(engine: sa.Engine, mirror: Path | None = None, take: bool = False) -> pd.DataFrame:
    """The table in force. With ``mirror`` (a folder), this version of it is kept there as Parquet
    and read from there: harmonization writes the copy of each version it saves, from the table in
    memory (``as_read``); a version without one is read from the store once and copied (at 10,000
    subjects a store read takes 13-16 s and a 2 GB transient; the Parquet read under 1 s). The
    version harmonization saved in this process comes from memory, a copy the reader may change;
    ``take``: the last reader, after which it is let go."""
    with engine.connect() as conn:
        token = _version(conn)
        if token in _held:
            return (_held.pop(token) if take else _held[token]).copy(deep=False)
        path = _mirror_path(mirror, token) if mirror and token else None
        if path and path.exists():
            return pd.read_parquet(path)
        # in chunks: one read_sql of the whole table peaks at several times its result's size;
        # by source, as built (a source's rows replaced by a later night come last by id)
        query = sa.select(lab_harmonized).order_by(lab_harmonized.c.source, lab_harmonized.c.id)
        frame = pd.concat(list(pd.read_sql(query, conn, chunksize=READ_CHUNK)), ignore_index=True)
        unchanged = _version(conn) == token      # not rewritten while it was read
    frame = _as_stored(frame.drop(columns="id"))
    if path and unchanged:
        keep_copy(frame, path, MIRROR_VERSIONS)
    return frame


def harmonized_lab_file(engine: sa.Engine, mirror: Path) -> Path | None:
    """The Parquet copy of the table in force in ``mirror``, made now if it has none, for a reader in
    another process; None when the table has no version yet (or changed while it was copied)."""
    with engine.connect() as conn:
        token = _version(conn)
    if token is None:
        return None
    path = _mirror_path(mirror, token)
    if not path.exists():
        load_harmonized_lab(engine, mirror)
    return path if path.exists() else None


def _has_copy(engine: sa.Engine, mirror: Path) -> bool:
    """Whether the table in force (if any) has its Parquet copy, or is held in this process."""
    with engine.connect() as conn:
        token = _version(conn)
    return token is None or token in _held or _mirror_path(mirror, token).exists()


def _mirror_path(mirror: Path, token: str) -> Path:
    return mirror / f"lab_harmonized_{token}.parquet"


def as_read(lab: pd.DataFrame) -> pd.DataFrame:
    """A table just saved as a reader of the store gets it back: its columns in the store's order,
    a fresh index, integers as int64, then text and numbers as ``_as_stored`` makes them."""
    columns = [c.name for c in lab_harmonized.columns if c.name != "id"]
    integers = {c.name: "int64" for c in lab_harmonized.columns if isinstance(c.type, sa.Integer) and c.name != "id"}
    return _as_stored(lab[columns].reset_index(drop=True).astype(integers))


def _as_stored(frame: pd.DataFrame) -> pd.DataFrame:
    """Text as ``str`` ('' for empty: an all-empty column reads back as None objects), numbers as
    float64: the table as a reader of the store gets it."""
    text = [c.name for c in lab_harmonized.columns if isinstance(c.type, sa.Text)]
    numbers = [c.name for c in lab_harmonized.columns if isinstance(c.type, sa.Float)]
    frame[text] = frame[text].fillna("").astype("str")
    frame[numbers] = frame[numbers].astype("float64")
    return frame


def load_schema_failures(engine: sa.Engine) -> pd.DataFrame:
    """The schema failure cases stored with the table, as pandera reported them."""
    with engine.connect() as conn:
        stored = pd.read_sql(sa.select(lab_harmonized_failure).order_by(lab_harmonized_failure.c.id), conn)
    names = {"row_index": "index", "column_name": "column", "check_name": "check"}
    return stored.rename(columns=names)[FAILURE_COLUMNS]
