"""The transfer registry: every transfer seen, its digest, status and row counts."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

import sqlalchemy as sa

from aclf.landing import Candidate
from aclf.store import transfer


@dataclass
class TransferOutcome:
    """What became of one transfer in a run (one line of the run report)."""

    source: str
    file: str
    sha256: str | None
    status: str
    reason: str = ""
    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_quarantined: int | None = None
    changes: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    transfer_id: int | None = None
    snapshot_date: str | None = None
    stage2_loaded: int = 0        # stage-2 rows among the loaded and the quarantined ones (aclf.blinding)
    stage2_quarantined: int = 0

    @property
    def balanced(self) -> bool | None:
        """rows read = rows loaded + rows quarantined (None when the transfer was not read)."""
        if self.rows_read is None:
            return None
        return self.rows_read == (self.rows_loaded or 0) + (self.rows_quarantined or 0)

    def blinded(self) -> TransferOutcome:
        """The outcome as a blinded reader may see it: the stage-2 rows left out of every count (their
        number is the number of hUC-MSC patients alive at week 4). Balanced as the full counts are."""
        if self.rows_read is None or not (self.stage2_loaded or self.stage2_quarantined):
            return self
        return replace(self, rows_read=self.rows_read - self.stage2_loaded - self.stage2_quarantined,
                       rows_loaded=(self.rows_loaded or 0) - self.stage2_loaded,
                       rows_quarantined=(self.rows_quarantined or 0) - self.stage2_quarantined,
                       stage2_loaded=0, stage2_quarantined=0)

    def as_dict(self) -> dict:
        return {**asdict(self), "balanced": self.balanced}


class Registry:
    """Registry rows of one source, read and written inside the ingestion transaction."""

    def __init__(self, conn: sa.Connection, source: str, now: str):
        self.conn, self.source, self.now = conn, source, now

    def in_force(self) -> sa.Row | None:
        return self.conn.execute(sa.select(transfer).where(
            (transfer.c.source == self.source) & (transfer.c.status == "loaded"))).first()

    def find(self, cand: Candidate) -> sa.Row | None:
        """The registry row of this exact transfer (same name and bytes), or its in-flight row."""
        same_name = (transfer.c.source == self.source) & (transfer.c.name == cand.name)
        rows = self.conn.execute(sa.select(transfer).where(same_name).order_by(transfer.c.id)).all()
        exact = [r for r in rows if r.sha256 == cand.sha256]
        pending = [r for r in rows if r.status == "in_flight"]
        return (exact or pending or [None])[-1]

    def record(self, cand: Candidate, status: str, reason: str = "", received_at: str | None = None,
               archive: list[dict] | None = None, notes: list[str] = (), **counts) -> int:
        """Insert or update the registry row of a transfer; returns its id."""
        values = dict(source=self.source, name=cand.name, sha256=cand.sha256,
                      snapshot_date=_iso_date(cand.date), seq=cand.seq, status=status,
                      reason=reason or None, processed_at=self.now,
                      notes=json.dumps(list(notes), ensure_ascii=False) if notes else None, **counts)
        if received_at:
            values["received_at"] = received_at
        if archive is not None:
            values["archive"] = json.dumps(archive)
        prior = self.find(cand)
        if prior is not None and prior.status == status and prior.sha256 == cand.sha256:
            return prior.id  # nothing new: a re-run leaves the registry untouched
        if prior is None:
            return self.conn.execute(transfer.insert().values(first_seen_at=self.now, **values)
                                     ).inserted_primary_key[0]
        self.conn.execute(transfer.update().where(transfer.c.id == prior.id).values(**values))
        return prior.id

    def set_status(self, transfer_id: int, status: str, reason: str | None = None) -> None:
        values = dict(status=status, processed_at=self.now) | ({"reason": reason} if reason else {})
        self.conn.execute(transfer.update().where(transfer.c.id == transfer_id).values(**values))

    def set_counts(self, transfer_id: int, **counts: int) -> None:
        self.conn.execute(transfer.update().where(transfer.c.id == transfer_id).values(**counts))

    def outcome(self, transfer_id: int) -> TransferOutcome:
        return outcome_of(self.conn.execute(sa.select(transfer).where(transfer.c.id == transfer_id)).one())


def outcome_of(row: sa.Row) -> TransferOutcome:
    """A registry row as the outcome of its transfer."""
    return TransferOutcome(source=row.source, file=row.name, sha256=row.sha256, status=row.status,
                           reason=row.reason or "", rows_read=row.rows_read, rows_loaded=row.rows_loaded,
                           rows_quarantined=row.rows_quarantined,
                           notes=json.loads(row.notes) if row.notes else [], transfer_id=row.id,
                           snapshot_date=row.snapshot_date, stage2_loaded=row.stage2_loaded or 0,
                           stage2_quarantined=row.stage2_quarantined or 0)


def _iso_date(yyyymmdd: str | None) -> str | None:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}" if yyyymmdd else None


def registered_names(engine: sa.Engine) -> dict[str, set[str]]:
    """Names of the transfers the store has registered, by source (a sensor's first cursor)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(transfer.c.source, transfer.c.name)).all()
    names: dict[str, set[str]] = {}
    for source, name in rows:
        names.setdefault(source, set()).add(name)
    return names


def data_night(engine: sa.Engine) -> str | None:
    """The night of the newest snapshot in force (YYYY-MM-DD): the data a run describes, whatever the
    wall clock (findings are first and last seen on data nights; reports carry it as the data cut)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(transfer.c.snapshot_date))
                            .where(transfer.c.status == "loaded")).scalar_one_or_none()
