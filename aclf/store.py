"""The staging store: tables and engine (SQLite file by default, any SQLAlchemy URL).

Current records carry their lineage (the transfer and row they were last read from, the transfer
that first brought them, the transfer in which they vanished). Empty source values are NULL.
"""
from __future__ import annotations

from collections.abc import Iterator

import os
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from aclf import sqlite_bulk
from aclf.config import ConfigError

DATABASE_URL_ENV = "ACLF_DATABASE_URL"
KEY_LIMIT = 255   # characters of a record_key (VARCHAR on PostgreSQL): a longer key is quarantined

metadata = sa.MetaData()


def _lineage() -> list[sa.Column]:
    return [
        sa.Column("first_transfer_id", sa.Integer, sa.ForeignKey("transfer.id"), nullable=False),
        sa.Column("transfer_id", sa.Integer, sa.ForeignKey("transfer.id"), nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("vanished_transfer_id", sa.Integer, sa.ForeignKey("transfer.id")),
    ]


LINEAGE = [column.name for column in _lineage()]     # of every stored record: where it came from, when it vanished


transfer = sa.Table(
    "transfer", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("sha256", sa.String(64)),
    sa.Column("snapshot_date", sa.String(10)),
    sa.Column("seq", sa.Integer),
    sa.Column("received_at", sa.String(32)),
    sa.Column("first_seen_at", sa.String(32), nullable=False),
    sa.Column("processed_at", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("notes", sa.Text),
    sa.Column("rows_read", sa.Integer),
    sa.Column("rows_loaded", sa.Integer),
    sa.Column("rows_quarantined", sa.Integer),
    sa.Column("stage2_loaded", sa.Integer),        # of which stage-2 rows (aclf.blinding): blinded reports
    sa.Column("stage2_quarantined", sa.Integer),   # leave them out of every count
    sa.Column("archive", sa.Text),
    sa.UniqueConstraint("source", "name", "sha256", name="uq_transfer_content"),
)

LAB_VALUE_COLUMNS = ["subjid", "subject_raw", "visit_raw", "visit", "sample_id", "collected", "test_raw",
                     "lbtestcd", "result", "unit", "ref_low", "ref_high", "ref_range", "flag", "comment"]

lab_result = sa.Table(
    "lab_result", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("record_key", sa.String(KEY_LIMIT), nullable=False),
    *[sa.Column(name, sa.Text) for name in LAB_VALUE_COLUMNS],
    *_lineage(),
    sa.UniqueConstraint("source", "record_key", name="uq_lab_record"),
)

form_record = sa.Table(
    "form_record", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("form", sa.String(64), nullable=False),
    sa.Column("record_key", sa.String(KEY_LIMIT), nullable=False),
    sa.Column("subjid", sa.String(16)),
    sa.Column("data", sa.Text, nullable=False),   # JSON object of the form's loaded columns
    *_lineage(),
    sa.UniqueConstraint("source", "form", "record_key", name="uq_form_record"),
)

quarantine = sa.Table(
    "quarantine", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("transfer_id", sa.Integer, sa.ForeignKey("transfer.id"), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("entity", sa.String(64), nullable=False),    # 'lab' or the form name
    sa.Column("file", sa.String(255), nullable=False),
    sa.Column("row_number", sa.Integer, nullable=False),
    sa.Column("subjid", sa.String(16)),
    sa.Column("column_name", sa.String(255)),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("data", sa.Text),                             # the row as read (no personal columns)
)

audit_event = sa.Table(
    "audit_event", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("record_key", sa.String(KEY_LIMIT), nullable=False),
    sa.Column("subjid", sa.String(16)),
    sa.Column("change", sa.String(16), nullable=False),     # added | changed | vanished | reappeared
    sa.Column("field", sa.String(64)),
    sa.Column("old_value", sa.Text),
    sa.Column("new_value", sa.Text),
    sa.Column("old_transfer_id", sa.Integer, sa.ForeignKey("transfer.id")),
    sa.Column("new_transfer_id", sa.Integer, sa.ForeignKey("transfer.id"), nullable=False),
    sa.Column("recorded_at", sa.String(32), nullable=False),
)

lab_harmonized = sa.Table(
    "lab_harmonized", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *[sa.Column(name, sa.Text) for name in (
        "site_id", "source", "record_key", "subjid", "sample_id", "visit_raw", "visit", "test_raw", "lbtestcd",
        "comment", "lbdtc", "avisit", "lbtest", "lborres", "lborresu", "unit_cd", "unit_status", "lbstresu",
        "result_kind", "censor_op", "lbstat", "lbreasnd", "lbstresc", "lbornrlo", "lbornrhi", "lbnrind")],
    *[sa.Column(name, sa.Float) for name in (
        "lbdy", "pday", "avisitn", "visitnum", "lbstresn", "censor_limit", "lbstnrlo", "lbstnrhi")],
    sa.Column("transfer_id", sa.Integer, sa.ForeignKey("transfer.id"), nullable=False),
    sa.Column("row_number", sa.Integer, nullable=False),
)

lab_result_version = sa.Table(
    "lab_result_version", metadata,       # per lab source, a new token each time its rows are rewritten
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("token", sa.String(32), nullable=False),
)

lab_harmonized_version = sa.Table(
    "lab_harmonized_version", metadata,   # one row: a new token each time the table is rewritten
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token", sa.String(32), nullable=False),
    sa.Column("inputs", sa.String(64)),   # fingerprint of what it was built from (aclf.harmonized_lab)
)

lab_harmonized_source = sa.Table(
    "lab_harmonized_source", metadata,    # per lab source, the fingerprint its rows were built from
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("inputs", sa.String(64), nullable=False),
)

lab_harmonized_failure = sa.Table(
    "lab_harmonized_failure", metadata,   # the harmonized table's schema failures, found once a night
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("row_index", sa.Integer),   # position in lab_harmonized (source, id order); NULL: a whole-column case
    sa.Column("column_name", sa.Text),
    sa.Column("check_name", sa.Text),
    sa.Column("failure_case", sa.Text),
)

finding = sa.Table(
    "finding", metadata,
    sa.Column("finding_id", sa.String(16), primary_key=True),   # stable: the same problem, the same id
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("family", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("site_id", sa.String(8)),
    sa.Column("subjid", sa.String(16)),
    sa.Column("visit", sa.String(32)),
    sa.Column("test", sa.String(64)),
    sa.Column("source", sa.String(32)),
    sa.Column("file", sa.String(255)),
    sa.Column("row_number", sa.Integer),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("first_seen", sa.String(32), nullable=False),
    sa.Column("last_seen", sa.String(32), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),            # open | closed
    sa.Column("closed_at", sa.String(32)),
    # who may read it: 'blinded' (everyone) or 'stage1' (it concerns stage-2 rows; aclf.blinding)
    sa.Column("level", sa.String(8), nullable=False, server_default="blinded"),
)

layer_input = sa.Table(
    "layer_input", metadata,          # per layer step: what its outputs in force were built from (aclf.inputs)
    sa.Column("layer", sa.String(32), primary_key=True),
    sa.Column("inputs", sa.String(64), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),   # JSON: what the step reports again when it is kept
)

sdtm_trace = sa.Table(
    "sdtm_trace", metadata,           # each submitted record's source, kept here, not in the submission
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("area", sa.String(16), nullable=False),
    sa.Column("dataset", sa.String(8), nullable=False),
    sa.Column("record", sa.Integer, nullable=False),       # row number in the .xpt file (1-based)
    sa.Column("usubjid", sa.String(40)),
    sa.Column("transfer_id", sa.Integer, sa.ForeignKey("transfer.id")),
    sa.Column("row_number", sa.Integer),
)

sdtm_trace_key = sa.Table(
    "sdtm_trace_key", metadata,       # per area and dataset: what its rows in sdtm_trace were built from
    sa.Column("area", sa.String(16), primary_key=True),
    sa.Column("dataset", sa.String(8), primary_key=True),
    sa.Column("key", sa.String(64), nullable=False),
)

sa.Index("ix_quarantine_transfer", quarantine.c.transfer_id)
sa.Index("ix_audit_source_key", audit_event.c.source, audit_event.c.record_key)
sa.Index("ix_form_source_form", form_record.c.source, form_record.c.form)


def _column_values(series: pd.Series) -> list:
    """A column as Python values, with NaN/NA and empty text as None (SQL NULL). Empty text is
    looked for before the values become Python objects, and not at all in numbers: comparing
    every object of a numeric column with '' was a third of what an insert cost."""
    keep = series.notna()
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        keep &= series != ""
    return series.astype(object).where(keep.to_numpy(), None).tolist()


BULK_CHUNK = 50_000   # rows per statement: the Python rows of a whole 800,000-row table take GBs


def _row_chunks(frame: pd.DataFrame, columns: list[str], constants: dict) -> Iterator[list[tuple]]:
    for start in range(0, len(frame), BULK_CHUNK):
        part = frame.iloc[start:start + BULK_CHUNK]
        data = [_column_values(part[c]) for c in columns] + [[v] * len(part) for v in constants.values()]
        yield list(zip(*data))


def bulk_insert(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame, columns: list[str],
                **constants) -> None:
    """Insert a DataFrame's columns (plus constant values) fast: COPY on PostgreSQL (psycopg 3),
    staged chunks on SQLite from ``sqlite_bulk.STAGED_FROM`` rows (aclf.sqlite_bulk), one DBAPI
    executemany per chunk of rows elsewhere. SQLAlchemy's per-row parameter handling is what this
    avoids: it cost more than reading and normalizing a lab file."""
    names = [*columns, *constants]
    if conn.dialect.name == "sqlite" and sqlite_bulk.stageable(conn, frame, columns, constants):
        frame = frame.iloc[sqlite_bulk.insert(conn, table, frame, columns, constants, BULK_CHUNK):]
        if frame.empty:
            return
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        quoted = ", ".join(conn.dialect.identifier_preparer.quote(n) for n in names)
        with conn.connection.driver_connection.cursor() as cur:
            with cur.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy:
                for rows in _row_chunks(frame, columns, constants):
                    for row in rows:
                        copy.write_row(row)
        return
    for rows in _row_chunks(frame, columns, constants):
        if conn.dialect.name == "sqlite":
            marks = ", ".join("?" * len(names))
            conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", rows)
        else:
            conn.execute(table.insert(), [dict(zip(names, row)) for row in rows])


class StoreUnreachable(ConfigError):
    """The store's URL is valid but nothing answers there: a usage error, reported in one line."""


def validate_database_url(url: str) -> str:
    """The URL itself, or a one-line ConfigError when it cannot be parsed or its driver is missing
    (the URL is never echoed whole: it may hold a password)."""
    try:
        parsed = sa.engine.make_url(url)
        parsed.get_dialect().import_dbapi()
    except (sa.exc.NoSuchModuleError, ImportError):   # NoSuchModuleError is an ArgumentError: first
        raise ConfigError(f"the database URL names {parsed.drivername!r}, which is not supported here "
                          "(use sqlite:/// or postgresql://)") from None
    except sa.exc.ArgumentError:
        raise ConfigError("the database URL (--database-url or ACLF_DATABASE_URL) cannot be parsed; "
                          "expected e.g. sqlite:///var/aclf.sqlite or postgresql://user@host:5432/db") from None
    return url


def check_reachable(url: str) -> None:
    """Connect once and run ``SELECT 1``; StoreUnreachable (a ConfigError) in one line if that fails,
    so a run stops before any work instead of failing half-way with a traceback."""
    safe = sa.engine.make_url(validate_database_url(url)).render_as_string(hide_password=True)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        if url.startswith("sqlite:///"):   # as make_engine does: the store's folder may not exist yet
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        cause = (exc.strerror if isinstance(exc, OSError) and exc.strerror
                 else str(getattr(exc, "orig", None) or exc).strip().splitlines()[0])
        raise StoreUnreachable(f"the store {safe} cannot be reached: {cause}") from None
    finally:
        engine.dispose()


def default_database_url(state_dir: Path) -> str:
    return os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{(state_dir / 'aclf.sqlite').resolve()}"


def make_engine(url: str) -> sa.Engine:
    """An engine with the schema created; SQLite gets WAL, foreign keys and a staging schema for
    large inserts (aclf.sqlite_bulk)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()
            sqlite_bulk.attach(dbapi_conn)

        sa.event.listen(engine, "checkin", sqlite_bulk.release)
    metadata.create_all(engine)
    _add_missing_columns(engine)
    return engine


def _add_missing_columns(engine: sa.Engine) -> None:
    """A store made by an earlier version gets the columns added since (all nullable or defaulted).
    Additive changes only, so a plain ALTER TABLE is enough; a change of meaning would need Alembic."""
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:
                    kind = column.type.compile(engine.dialect)
                    default = f" DEFAULT '{column.server_default.arg}'" if column.server_default is not None else ""
                    conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}{default}'))
