"""Read the snapshots in force from the staging store, as DataFrames for the study-wide layers."""
from __future__ import annotations

import contextlib
import json
import shutil
import time
import uuid
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from aclf.inputs import night_inputs
from aclf.lab_rows import stored_lab_rows
from aclf.parquet import write_parquet
from aclf.store import LAB_VALUE_COLUMNS, form_record, lab_result, quarantine, transfer


def lab_in_force(engine: sa.Engine, sources: list[str] | None = None, mirror: Path | None = None) -> pd.DataFrame:
    """Every lab record in force (vanished ones excluded), or those of ``sources``, values as text
    ('' for empty), by source in the store's order of names (its collation), then as written. With
    ``mirror``, each source's rows are read from their copy when it is the store's version."""
    cols = ["source", "record_key", *LAB_VALUE_COLUMNS, "transfer_id", "row_number"]
    names = sa.select(lab_result.c.source).distinct().order_by(lab_result.c.source)
    if sources is not None:
        names = names.where(lab_result.c.source.in_(sources))
    parts = []
    with engine.connect() as conn:
        for source in conn.execute(names).scalars():
            rows = stored_lab_rows(conn, source, mirror)
            parts.append(rows[rows["vanished_transfer_id"].isna().to_numpy()].assign(source=source)[cols])
            del rows
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("transfer_id", "row_number") else "str")
                             for c in cols})
    return pd.concat(parts, ignore_index=True)


def form_in_force(engine: sa.Engine, source: str, form: str, columns: list[str]) -> pd.DataFrame:
    """One form's records in force as a DataFrame of its columns (text), plus lineage."""
    where = ((form_record.c.source == source) & (form_record.c.form == form)
             & form_record.c.vanished_transfer_id.is_(None))
    query = sa.select(form_record.c.data, form_record.c.transfer_id, form_record.c.row_number).where(where)
    with engine.connect() as conn:
        stored = pd.read_sql(query.order_by(form_record.c.id), conn)
    # one parse of the whole column as a JSON array: json.loads row by row costs twice as much
    records = json.loads("[" + ",".join(stored["data"]) + "]")
    values = pd.DataFrame(records, columns=columns, index=stored.index)
    return pd.concat([values.fillna("").astype(str), stored[["transfer_id", "row_number"]]], axis=1)


def form_sources(study) -> list[str]:
    """The sources that send forms (the EDC, the IWRS list)."""
    return [s.source for s in study.sources.values() if getattr(s, "forms", None)]


def forms_in_force(engine: sa.Engine, study, mirror: Path | None = None,
                   study_dir: Path | None = None) -> dict[str, pd.DataFrame]:
    """Every EDC form and the IWRS list, keyed by form name. With ``mirror`` (a folder) and the
    configuration's ``study_dir``, they are kept there as Parquet under the fingerprint of the form
    sources' registry rows and the configuration, code and libraries (aclf.inputs): validation, the
    quality suite and SDTM each read the forms, and at 10,000 subjects each store read parses 2-3 s
    of JSON; a night in which no form source sent a transfer reads none. Code with uncommitted
    changes has no fingerprint: it always reads the store."""
    sources = [s for s in study.sources.values() if getattr(s, "forms", None)]
    token = night_inputs(engine, study_dir, form_sources(study)) if mirror and study_dir else None
    folder = mirror / f"forms_{token}" if token else None
    if folder is not None:
        try:
            return {name: pd.read_parquet(folder / f"{name}.parquet") for s in sources for name in s.forms}
        except FileNotFoundError:      # no copy of these forms yet (or one just replaced): the store
            pass
    out = {name: form_in_force(engine, source.source, name, spec.columns)
           for source in sources for name, spec in source.forms.items()}
    if folder is not None:
        _keep_forms(out, folder)
    return out


def _keep_forms(forms: dict[str, pd.DataFrame], folder: Path) -> None:
    """Write the copies in a folder of their own, then give it its name at once, so that a reader
    finds a whole copy or none (when another process named its copy first, that one stays); then
    drop older copies and partial ones a killed process left."""
    partial = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}")
    partial.mkdir(parents=True)
    for name, frame in forms.items():
        write_parquet(frame, partial / f"{name}.parquet", index=None)
    try:
        partial.rename(folder)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
    for old in folder.parent.glob("forms_*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    for left in folder.parent.glob(".forms_*"):
        with contextlib.suppress(OSError):     # another process may be writing (or removing) it now
            if left.stat().st_mtime < time.time() - 3600:
                shutil.rmtree(left)


def transfers(engine: sa.Engine) -> pd.DataFrame:
    """The transfer registry."""
    with engine.connect() as conn:
        return pd.read_sql(sa.select(transfer).order_by(transfer.c.id), conn)


def quarantine_in_force(engine: sa.Engine) -> pd.DataFrame:
    """Quarantined rows of the transfers in force (those of superseded transfers are history)."""
    query = sa.select(quarantine).join(transfer, transfer.c.id == quarantine.c.transfer_id).where(
        transfer.c.status == "loaded").order_by(quarantine.c.id)
    with engine.connect() as conn:
        return pd.read_sql(query, conn)


def vanished_records(engine: sa.Engine) -> pd.DataFrame:
    """Records a later snapshot no longer holds: source, entity, record_key, subjid, the transfer they
    were last in and the one they vanished from."""
    cols = ["record_key", "subjid", "transfer_id", "vanished_transfer_id"]
    lab = sa.select(lab_result.c.source, sa.literal("lab").label("entity"), *[lab_result.c[c] for c in cols]) \
        .where(lab_result.c.vanished_transfer_id.is_not(None))
    forms = sa.select(form_record.c.source, form_record.c.form.label("entity"), *[form_record.c[c] for c in cols]) \
        .where(form_record.c.vanished_transfer_id.is_not(None))
    with engine.connect() as conn:
        return pd.concat([pd.read_sql(lab, conn), pd.read_sql(forms, conn)], ignore_index=True)
