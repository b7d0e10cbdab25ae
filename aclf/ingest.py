"""Nightly ingestion of one source: newest complete transfer in, audited, archived, reconciled.

Walks the source's transfers newest first. The newest complete one newer than the snapshot in
force is archived, read with the dialect's reader and put in force; older ones are superseded.
A rejected or in-flight transfer changes nothing but its registry row, so the previous snapshot
stays in force. One transaction per source: a failure leaves the store as it was.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from aclf.archive import archive_files
from aclf.blinding import stage2_data, stage2_of_entities, stage2_rows
from aclf.config import FormsSource, LabDialect, Study
from aclf.forms import read_form
from aclf.lab import read_lab
from aclf.lab_rows import rows_written, stored_lab_rows
from aclf.landing import Candidate, discover
from aclf.mirror import mirror_folder
from aclf.readers import UnreadableTransfer
from aclf.reconcile import count_source_records, stored_counts
from aclf.registry import Registry, TransferOutcome
from aclf.snapshot import Changes, replace_form_snapshot, replace_lab_snapshot
from aclf.store import bulk_insert, form_record, lab_result, quarantine as quarantine_table


@dataclass(frozen=True)
class Paths:
    """Where a run reads from and keeps raw copies."""

    landing: Path
    archive: Path


@dataclass
class _Read:
    """A transfer read in full, before anything is written."""

    parts: list[tuple[str, pd.DataFrame, pd.DataFrame]]   # (entity, records, quarantine)
    notes: list[str]


def now_iso(study: Study) -> str:
    return dt.datetime.now(ZoneInfo(study.study.timezone)).isoformat(timespec="seconds")


FUTURE_REASON = "its date is later than the run's date allows; a transfer cannot come from the future"


def latest_accepted_date(study: Study) -> str:
    """YYYYMMDD: the run's date in the study time zone plus the configured tolerance."""
    today = dt.datetime.now(ZoneInfo(study.study.timezone)).date()
    return (today + dt.timedelta(days=study.transfers.future_date_tolerance_days)).strftime("%Y%m%d")


def _received_at(cand: Candidate, study: Study) -> str | None:
    # lstat: a refused symlink is dated as itself, never followed
    stamps = [f.path.lstat().st_mtime for f in cand.files] or (
        [cand.path.lstat().st_mtime] if cand.path.exists() or cand.path.is_symlink() else [])
    if not stamps:
        return None
    return dt.datetime.fromtimestamp(max(stamps), ZoneInfo(study.study.timezone)).isoformat(timespec="seconds")


def _read_transfer(cand: Candidate, source: LabDialect | FormsSource, study: Study) -> _Read:
    """Read every file of the transfer; raises UnreadableTransfer before anything is written."""
    if isinstance(source, LabDialect):
        records, held, notes = read_lab(cand.path, source, study.lab)
        return _Read([("lab", records, held)], notes)
    parts, notes = [], []
    for form, spec in source.forms.items():
        path = cand.path / spec.file if source.file.format == "folder" else cand.path
        records, held, form_notes = read_form(path, spec, source.file, study.study.subjid_pattern)
        parts.append((form, records, held))
        notes += form_notes
    return _Read(parts, notes)


def _write_transfer(conn: sa.Connection, read: _Read, cand: Candidate, source: LabDialect | FormsSource,
                    transfer_id: int, now: str, mirror: Path) -> Changes:
    totals = Changes()
    for entity, records, held in read.parts:
        if isinstance(source, LabDialect):
            changes, stored = replace_lab_snapshot(conn, cand.source, stored_lab_rows(conn, cand.source, mirror),
                                                   records, transfer_id, now)
            rows_written(conn, cand.source, stored, mirror)
        else:
            changes = replace_form_snapshot(conn, cand.source, entity, records, source.forms[entity], transfer_id,
                                            now)
        totals = Changes(**{k: getattr(totals, k) + v for k, v in changes.as_dict().items()})
        if not held.empty:
            file = cand.name
            if isinstance(source, FormsSource) and source.forms[entity].file:
                file = f"{cand.name}/{source.forms[entity].file}"
            bulk_insert(conn, quarantine_table, held, list(held.columns), transfer_id=transfer_id,
                        source=cand.source, entity=entity, file=file)
    return totals


def ingest_source(engine: sa.Engine, study: Study, name: str, paths: Paths) -> list[TransferOutcome]:
    """Bring one source up to its newest complete transfer; returns what became of each transfer."""
    source = study.sources[name]
    required = [f.file for f in source.forms.values()] if isinstance(source, FormsSource) and \
        source.file.format == "folder" else []
    latest = latest_accepted_date(study)
    candidates = discover(name, paths.landing / name, source.file, required, latest)
    now = now_iso(study)
    outcomes: list[TransferOutcome] = []
    with engine.begin() as conn:
        registry = Registry(conn, name, now)
        current = registry.in_force()
        settled = False
        for cand in reversed(candidates):
            prior = registry.find(cand)
            received = _received_at(cand, study)
            if cand.status != "complete":
                archive = archive_files(paths.archive, cand.files) if cand.files else None
                tid = registry.record(cand, cand.status, cand.reason, received, archive, cand.notes)
                outcomes.append(registry.outcome(tid))
                continue
            if current is not None and prior is not None and prior.id == current.id:
                settled = True
                outcomes.append(registry.outcome(prior.id))
                continue
            archive = archive_files(paths.archive, cand.files)
            # a future-dated snapshot put in force before dates were checked blocks nothing
            blocking = current is not None and _order(current)[0] <= latest
            if settled or (blocking and cand.order < _order(current)):
                tid = registry.record(cand, "superseded", "a newer snapshot is in force", received, archive,
                                      cand.notes)
                outcomes.append(registry.outcome(tid))
                continue
            try:
                read = _read_transfer(cand, source, study)
            except UnreadableTransfer as exc:
                tid = registry.record(cand, "rejected", str(exc), received, archive, cand.notes)
                outcomes.append(registry.outcome(tid))
                continue
            truncated = _looks_truncated(conn, source, read, study)
            if truncated:
                tid = registry.record(cand, "rejected", truncated, received, archive, cand.notes)
                outcomes.append(registry.outcome(tid))
                continue
            tid = registry.record(cand, "loaded", "", received, archive, [*cand.notes, *read.notes])
            changes = _write_transfer(conn, read, cand, source, tid, now, mirror_folder(paths.archive))
            loaded, held = stored_counts(conn, source, tid)
            registry.set_counts(tid, rows_read=count_source_records(cand.path, source),
                                rows_loaded=loaded, rows_quarantined=held, **_stage2_counts(read, source))
            if current is not None and blocking:
                registry.set_status(current.id, "superseded")
            elif current is not None:   # the future-dated one: rejected, never "superseded" by the past
                registry.set_status(current.id, "rejected", FUTURE_REASON)
            settled = True
            outcome = registry.outcome(tid)
            outcome.changes = changes.as_dict()
            outcomes.append(outcome)
    return list(reversed(outcomes))


def _stage2_counts(read: _Read, source: LabDialect | FormsSource) -> dict[str, int]:
    """How many of the transfer's loaded and quarantined rows are stage-2 rows (aclf.blinding): the
    registry keeps them so that blinded reports can leave them out of every count."""
    loaded = held = 0
    for entity, records, quarantined in read.parts if isinstance(source, FormsSource) else []:
        spec = source.forms[entity]
        loaded += int(stage2_rows(spec, records).sum())
        held += int(stage2_data(spec, quarantined["data"]).sum()) if not quarantined.empty else 0
    return {"stage2_loaded": loaded, "stage2_quarantined": held}


def _looks_truncated(conn: sa.Connection, source: LabDialect | FormsSource, read: _Read,
                     study: Study) -> str | None:
    """The reason to hold a snapshot that would lose more than the configured share of the records
    in force (a cut-off file with a matching manifest), else None."""
    table = lab_result if isinstance(source, LabDialect) else form_record
    in_force = conn.execute(sa.select(sa.func.count()).select_from(table).where(
        (table.c.source == source.source) & table.c.vanished_transfer_id.is_(None))).scalar_one()
    arriving = sum(len(records) for _, records, _ in read.parts)
    share = study.transfers.max_record_loss_share
    if not in_force or arriving >= in_force * (1 - share):
        return None
    if isinstance(source, FormsSource):   # the reason is read by blinded people: stage-2 rows not counted
        stored = pd.read_sql(sa.select(form_record.c.form, form_record.c.record_key).where(
            (form_record.c.source == source.source) & form_record.c.vanished_transfer_id.is_(None)), conn)
        in_force = int((~stage2_of_entities(study, stored["form"], stored["record_key"], "key")).sum())
        arriving = sum(int((~stage2_rows(source.forms[entity], records)).sum()) for entity, records, _ in read.parts)
    return (f"held as possibly truncated: it holds {arriving} records where the snapshot in force has "
            f"{in_force}, a loss over the configured {share:.0%} (transfers.max_record_loss_share)")


def _order(row: sa.Row) -> tuple[str, int]:
    return ((row.snapshot_date or "").replace("-", ""), row.seq or 0)
