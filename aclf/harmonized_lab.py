"""The harmonized lab table: staged records with standard results, study days and analysis visits;
built here and kept here (the store's ``lab_harmonized`` table)."""
from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from aclf.config import Study, config_hash
from aclf.units import harmonize_results
from aclf.isodate import date_part
from aclf.store import bulk_insert, lab_harmonized, lab_harmonized_failure, lab_harmonized_version, transfer
from aclf.version import code_version
from aclf.timing import analysis_visits, labelled_visitnum, study_days

LINEAGE = ["source", "record_key", "transfer_id", "row_number"]
READ_CHUNK = 100_000


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
    return pd.concat([out, harmonize_results(staged, study.lab)], axis=1)


FAILURE_COLUMNS = ["column", "check", "failure_case", "index"]


def inputs_fingerprint(engine: sa.Engine, study_dir: Path) -> str | None:
    """What the table is built from: the transfers in force (lab and forms), the configuration and
    the code. Equal fingerprints, the same table: a night without a new transfer rebuilds nothing.
    None (always rebuild) for code with uncommitted changes, whose version does not say what it is."""
    version = code_version()
    if version.endswith(".dirty"):
        return None
    with engine.connect() as conn:
        loaded = conn.execute(sa.select(transfer.c.id).where(transfer.c.status == "loaded")
                              .order_by(transfer.c.id)).scalars().all()
    return hashlib.sha256(f"{version}|{config_hash(study_dir)}|{loaded}".encode()).hexdigest()


def built_from(engine: sa.Engine) -> str | None:
    """The inputs fingerprint of the table in force (None: unknown, or no table yet)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(lab_harmonized_version.c.inputs)).scalar()


def save_harmonized_lab(engine: sa.Engine, lab: pd.DataFrame, failures: pd.DataFrame,
                        inputs: str | None = None) -> None:
    """Tonight's table and its schema failure cases (``index`` = row position) replace last night's;
    ``inputs``: the fingerprint of what it was built from."""
    columns = [c.name for c in lab_harmonized.columns if c.name != "id"]
    cases = pd.DataFrame({"row_index": failures["index"], "column_name": failures["column"].astype(str),
                          "check_name": failures["check"].astype(str), "failure_case": failures["failure_case"].astype(str)})
    with engine.begin() as conn:
        conn.execute(lab_harmonized.delete())
        conn.execute(lab_harmonized_failure.delete())
        conn.execute(lab_harmonized_version.delete())
        conn.execute(lab_harmonized_version.insert().values(token=uuid.uuid4().hex, inputs=inputs))
        bulk_insert(conn, lab_harmonized, lab.reset_index(drop=True), columns)
        bulk_insert(conn, lab_harmonized_failure, cases.astype({"row_index": "Int64"}), list(cases.columns))


def _version(conn: sa.Connection) -> str | None:
    return conn.execute(sa.select(lab_harmonized_version.c.token)).scalar()


def load_harmonized_lab(engine: sa.Engine, mirror: Path | None = None) -> pd.DataFrame:
    """The table in force. With ``mirror`` (a folder), this version of it is also kept there as
    Parquet and read from there by the night's later readers: one SQL read a night instead of
    three (at 10,000 subjects each takes 13-16 s and a 2 GB transient; the Parquet read under 1 s)."""
    with engine.connect() as conn:
        token = _version(conn)
        path = mirror / f"lab_harmonized_{token}.parquet" if mirror and token else None
        if path and path.exists():
            return pd.read_parquet(path)
        # in chunks: one read_sql of the whole table peaks at several times its result's size
        query = sa.select(lab_harmonized).order_by(lab_harmonized.c.id)
        frame = pd.concat(list(pd.read_sql(query, conn, chunksize=READ_CHUNK)), ignore_index=True)
        unchanged = _version(conn) == token      # not rewritten while it was read
    text = [c.name for c in lab_harmonized.columns if isinstance(c.type, sa.Text)]
    numbers = [c.name for c in lab_harmonized.columns if isinstance(c.type, sa.Float)]
    frame[text] = frame[text].fillna("").astype("str")    # an all-empty column reads back as None objects
    frame[numbers] = frame[numbers].astype("float64")
    frame = frame.drop(columns="id")
    if path and unchanged:
        _keep_mirror(frame, path)
    return frame


def _keep_mirror(frame: pd.DataFrame, path: Path) -> None:
    """Write the Parquet copy whole (a reader never sees half of one) and drop older versions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    frame.to_parquet(partial, index=False)
    partial.replace(path)
    for old in path.parent.glob("lab_harmonized_*.parquet"):
        if old != path:
            old.unlink(missing_ok=True)


def load_schema_failures(engine: sa.Engine) -> pd.DataFrame:
    """The schema failure cases stored with the table, as pandera reported them."""
    with engine.connect() as conn:
        stored = pd.read_sql(sa.select(lab_harmonized_failure).order_by(lab_harmonized_failure.c.id), conn)
    names = {"row_index": "index", "column_name": "column", "check_name": "check"}
    return stored.rename(columns=names)[FAILURE_COLUMNS]
