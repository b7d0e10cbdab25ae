"""Findings: one row per data problem, with an id that stays the same night after night.

The id hashes the rule and a key naming the problem (a record, a sample, a subject), never the
values that may be corrected, so a problem keeps its id until the source fixes it; then it closes
itself, and reopens under the same id if it comes back.
"""
from __future__ import annotations

import hashlib

import pandas as pd
import sqlalchemy as sa

from aclf.config import Study
from aclf.store import bulk_insert, finding

COLUMNS = ["finding_id", "rule", "family", "severity", "site_id", "subjid", "visit", "test", "source", "file",
           "row_number", "message", "level"]
BLINDED, STAGE1 = "blinded", "stage1"   # who may read a finding: everyone, or from the stage-1 unblinding on
STATE = ["first_seen", "last_seen", "status", "closed_at"]


def finding_id(rule: str, key: str) -> str:
    return hashlib.sha256(f"{rule}\x1f{key}".encode()).hexdigest()[:16]


def make_findings(rule: str, rows: pd.DataFrame, key: pd.Series, message: pd.Series, study: Study,
                  stage2: pd.Series | None = None) -> pd.DataFrame:
    """Findings of one rule: ``rows`` may carry site_id, subjid, visit, test, source, file, row_number.
    ``stage2`` marks the rows that are stage-2 rows (aclf.blinding): their findings would tell a
    blinded reader the stage-1 arm, so only the unblinded area lists them."""
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    spec = study.rules[rule]
    out = pd.DataFrame(index=rows.index)
    out["finding_id"] = [finding_id(rule, k) for k in key.astype(str)]
    out["rule"], out["family"], out["severity"] = rule, spec.family, spec.severity
    for col in ("site_id", "subjid", "visit", "test", "source", "file"):
        out[col] = rows[col].fillna("").astype(str) if col in rows else ""
    if "site_id" not in rows and "subjid" in rows:
        out["site_id"] = rows["subjid"].astype(str).str[:2]
    out["row_number"] = rows["row_number"] if "row_number" in rows else None
    out["message"] = message.astype(str)
    out["level"] = BLINDED if stage2 is None else stage2.map({True: STAGE1, False: BLINDED}).fillna(BLINDED)
    return out[COLUMNS].drop_duplicates("finding_id").reset_index(drop=True)


def combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True).drop_duplicates("finding_id") if parts else \
        pd.DataFrame(columns=COLUMNS)


def track(stored: pd.DataFrame, current: pd.DataFrame, now: str) -> pd.DataFrame:
    """Tonight's findings merged with the stored ones: new ones open, seen ones refreshed (and
    reopened), stored open ones not seen tonight closed. Returns every finding with its state."""
    stored = stored.set_index("finding_id") if not stored.empty else pd.DataFrame(columns=COLUMNS[1:] + STATE)
    current = current.set_index("finding_id")
    seen = current.copy()
    seen["first_seen"] = stored["first_seen"].reindex(seen.index).fillna(now)
    seen["last_seen"], seen["status"], seen["closed_at"] = now, "open", None
    gone = stored.loc[~stored.index.isin(current.index)].copy()
    newly_closed = gone["status"] == "open"
    gone.loc[newly_closed, "status"] = "closed"
    gone.loc[newly_closed, "closed_at"] = now
    return pd.concat([seen, gone]).reset_index(names="finding_id")[COLUMNS + STATE]


def readable(findings: pd.DataFrame, level: str) -> pd.DataFrame:
    """The findings a reader at a blinding level may see (aclf.blinding levels)."""
    allowed = {BLINDED} if level == BLINDED else {BLINDED, STAGE1}
    return findings[findings["level"].fillna(BLINDED).isin(allowed)]


def stored_findings(engine: sa.Engine) -> pd.DataFrame:
    """Every finding in the store with its state, as ``save_findings`` left them."""
    with engine.connect() as conn:
        return pd.read_sql(sa.select(finding), conn)


def save_findings(engine: sa.Engine, tonight: pd.DataFrame, now: str) -> pd.DataFrame:
    """Open, refresh, reopen and close findings against the stored ones; returns them all."""
    with engine.begin() as conn:
        stored = pd.read_sql(sa.select(finding), conn)
        merged = track(stored, tonight, now)
        conn.execute(finding.delete())
        bulk_insert(conn, finding, merged.astype({"row_number": "Int64"}), COLUMNS + STATE)
    return merged


def open_findings(engine: sa.Engine, family: str) -> pd.DataFrame:
    """The open findings of one family that every reader may see (subjid, rule): what SDTM IE reports
    as criteria the data show not met, for the eligibility family."""
    query = sa.select(finding.c.subjid, finding.c.rule).where(
        (finding.c.family == family) & (finding.c.status == "open") & (finding.c.level == BLINDED))
    with engine.connect() as conn:
        return pd.read_sql(query, conn)
