"""Findings for people: ``findings/findings.csv`` (all of them) and the open ones as listings to
send, each to whoever can answer it: one per site, one for the medical coder, and one for the data
manager with the items that ask nothing of anyone.

Both are formula-safe (``validation.cells``); the CSV is UTF-8 with a byte-order mark for Excel."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from aclf.config import Study
from validation.cells import CSV_ENCODING, CSV_LINES, for_csv
from validation.listing import write_listing

LISTING_COLUMNS = {"finding_id": "Finding", "severity": "Severity", "subjid": "Subject", "visit": "Visit",
                   "test": "Test", "file": "Source file", "row_number": "Row", "query": "Query",
                   "message": "Details", "first_seen": "First seen", "last_seen": "Last seen"}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
CODER, DATA_MANAGER = "coding_queries.xlsx", "data_manager_items.xlsx"


def _ordered(findings: pd.DataFrame) -> pd.DataFrame:
    rank = findings["severity"].map(SEVERITY_ORDER)
    return findings.assign(_rank=rank).sort_values(["_rank", "rule", "subjid", "finding_id"]).drop(columns="_rank")


def write_findings(findings: pd.DataFrame, output: Path, study: Study, data_cut: str | None) -> dict[str, Path]:
    """All findings (open and closed) as CSV; the open ones as listings: each site's own (in its
    languages), the coder's and the data manager's."""
    folder = output / "findings"
    folder.mkdir(parents=True, exist_ok=True)
    # the store reads a row number back as a float when some findings have none: people read 47, not 47.0
    findings = findings.assign(row_number=pd.to_numeric(findings["row_number"], errors="coerce").astype("Int64"))
    written = {"csv": folder / "findings.csv"}
    for_csv(_ordered(findings)).to_csv(written["csv"], index=False, encoding=CSV_ENCODING, lineterminator=CSV_LINES)
    open_ = _ordered(findings[findings["status"] == "open"])
    audience = open_["rule"].map({name: rule.audience for name, rule in study.rules.items()}).fillna("site")
    heading = study.study.studyid
    cut = f"Data cut (newest snapshot in force): {data_cut or 'none'}  ·  written {date.today().isoformat()}"
    ask = "Please answer each item in the yellow columns and return this file to the data manager."
    for site, languages in study.query_languages.items():
        rows = open_[(audience == "site") & (open_["site_id"] == site)]
        path = folder / f"site{site}_queries.xlsx"
        write_listing(_listing(rows, study, languages), path,
                      [f"{heading}: queries to site {site}", cut, f"{len(rows)} open queries. {ask}"], answer=True)
        written[f"site{site}"] = path
    for name, who, answer in ((CODER, "coder", True), (DATA_MANAGER, "data_manager", False)):
        rows = open_[audience == who]
        title = "coding queries to the medical coder" if who == "coder" else "items for the data manager (no query)"
        write_listing(_listing(rows, study, ["en"], site=True), folder / name,
                      [f"{heading}: {title}", cut, f"{len(rows)} open items." + (f" {ask}" if answer else "")],
                      answer=answer)
        written[who] = folder / name
    return written


def _listing(rows: pd.DataFrame, study: Study, languages: list[str], site: bool = False) -> pd.DataFrame:
    """The display columns; the rule said in words, one line per language."""
    texts = {name: "\n".join(rule.query[lang] for lang in languages if rule.query.get(lang))
             for name, rule in study.rules.items()}
    out = rows.assign(query=rows["rule"].map(texts).fillna(rows["rule"]))
    columns = dict(LISTING_COLUMNS)
    if site:
        columns = {"site_id": "Site", **columns}
    return out[list(columns)].rename(columns=columns)
