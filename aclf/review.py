"""What a blinded data manager looks up in the store: the findings (filtered) and one subject's change
history. Both leave out what only the unblinded area may show (stage-2 rows, aclf.blinding) and mask
kit and randomization numbers, which map to treatments (the blinding audit's identifier patterns)."""
from __future__ import annotations

import re

import pandas as pd
import sqlalchemy as sa

from aclf.blinding import stage2_of_entities
from aclf.config import Study
from aclf.store import audit_event, finding, transfer

FINDING_COLUMNS = ["finding_id", "status", "severity", "site_id", "subjid", "visit", "test", "rule", "file",
                   "row_number", "message", "first_seen", "last_seen", "closed_at"]
AUDIT_COLUMNS = ["recorded_at", "source", "entity", "record_key", "change", "field", "old_value", "new_value",
                 "old_transfer", "new_transfer"]
MASK = "(masked: blinding)"


def select_findings(engine: sa.Engine, site: str | None = None, rule: str | None = None,
                    status: str = "open", new: bool = False) -> pd.DataFrame:
    """The blinded findings, most severe first; ``new``: first seen on the latest night a finding
    was seen (tonight's new ones); ``status`` open, closed or all."""
    query = sa.select(finding).where(finding.c.level == "blinded")
    if site:
        query = query.where(finding.c.site_id == site)
    if rule:
        query = query.where(finding.c.rule == rule)
    if status != "all":
        query = query.where(finding.c.status == status)
    with engine.connect() as conn:
        rows = pd.read_sql(query, conn)
        if new:
            latest = conn.execute(sa.select(sa.func.max(finding.c.last_seen))).scalar()
            rows = rows[rows["first_seen"] == latest]
    rows["row_number"] = pd.to_numeric(rows["row_number"], errors="coerce").astype("Int64")
    rank = rows["severity"].map({"high": 0, "medium": 1, "low": 2})
    return rows.assign(_rank=rank).sort_values(["_rank", "site_id", "subjid", "rule", "finding_id"]) \
        .drop(columns="_rank")[FINDING_COLUMNS].reset_index(drop=True)


def subject_history(engine: sa.Engine, study: Study, subjid: str, mask_patterns: list[str]) -> pd.DataFrame:
    """Every audited change to one subject's records, oldest first, with the transfers that brought
    it; stage-2 records left out, kit and randomization numbers masked."""
    old, new = transfer.alias("old"), transfer.alias("new")
    query = (sa.select(*[audit_event.c[c] for c in AUDIT_COLUMNS[:8]], old.c.name.label("old_transfer"),
                       new.c.name.label("new_transfer"))
             .select_from(audit_event.outerjoin(old, audit_event.c.old_transfer_id == old.c.id)
                          .join(new, audit_event.c.new_transfer_id == new.c.id))
             .where(audit_event.c.subjid == subjid).order_by(audit_event.c.id))
    with engine.connect() as conn:
        events = pd.read_sql(query, conn)
    events = events[~stage2_of_entities(study, events["entity"], events["record_key"], by="key")]
    patterns = [re.compile(p) for p in mask_patterns]
    for column in ("record_key", "old_value", "new_value"):
        events[column] = events[column].map(lambda v: _masked(v, patterns))
    return events.reset_index(drop=True)


def _masked(value, patterns: list[re.Pattern]):
    """A value, or its identifier parts (``|``- or ``,``-separated), masked where they match."""
    if not isinstance(value, str):
        return value
    parts = re.split(r"([|,;]\s*)", value)
    return "".join(MASK if any(p.fullmatch(part.strip()) for p in patterns) else part for part in parts)
