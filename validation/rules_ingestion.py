"""Findings that ingestion leaves behind: rejected transfers, vanished records, quarantined rows,
and duplicate keys (conflicting values or plain repeats)."""
from __future__ import annotations

import hashlib
import json

import pandas as pd

from aclf.blinding import stage2_of_entities
from aclf.disclosure import quoted
from validation.findings import combine, make_findings
from validation.inputs import RuleInputs


def _site_of(inp: RuleInputs, sources: pd.Series) -> pd.Series:
    """Each lab source's site id; missing for the EDC and the IWRS, which serve every site."""
    return sources.map({s.source: s.site_id for s in inp.study.lab_sources})


def rejected_transfers(inp: RuleInputs) -> pd.DataFrame:
    t = inp.transfers
    t = t[t["status"] == "rejected"] if not t.empty else t
    if t.empty:
        return make_findings("transfer_rejected", t, pd.Series(dtype=str), pd.Series(dtype=str), inp.study)
    rows = t.assign(site_id=_site_of(inp, t["source"]).fillna(""), file=t["name"])
    key = t["source"] + "|" + t["name"] + "|" + t["sha256"].fillna("")
    message = "Transfer " + t["name"] + " was rejected: " + t["reason"].fillna("") + \
        ". The previous snapshot stays in force; please resend."
    return make_findings("transfer_rejected", rows, key, message, inp.study)


def transfer_notes(inp: RuleInputs) -> pd.DataFrame:
    """What a transfer in force was loaded without (a column the configuration does not read, a
    reference range in a unit it does not know or holding a spreadsheet error): the data manager
    decides whether the configuration or the site is to change. One finding per source and note,
    so the same note night after night stays one item, closed by a snapshot without it."""
    t = inp.transfers
    t = t[(t["status"] == "loaded") & t["notes"].notna()] if not t.empty else t
    rows = pd.DataFrame([{"source": r.source, "file": r.name, "note": note}
                         for r in t.itertuples() for note in json.loads(r.notes)],
                        columns=["source", "file", "note"])
    rows["site_id"] = _site_of(inp, rows["source"]).fillna("")
    return make_findings("transfer_note", rows, rows["source"] + "|" + rows["note"],
                         rows["file"] + " was loaded with a note: " + rows["note"], inp.study)


def vanished(inp: RuleInputs) -> pd.DataFrame:
    v = inp.vanished
    if v.empty:
        return make_findings("record_vanished", v, pd.Series(dtype=str), pd.Series(dtype=str), inp.study)
    was, gone = inp.file_of(v["transfer_id"]), inp.file_of(v["vanished_transfer_id"])
    parts = v["record_key"].str.split("|")
    lab = v["entity"] == "lab"
    what = ("The lab result of sample " + parts.str[1] + ", test " + parts.str[-1]).where(
        lab, "The " + v["entity"] + " record " + v["record_key"])
    rows = v.assign(file=gone, site_id=v["subjid"].fillna("").str[:2], test=parts.str[-1].where(lab, ""))
    message = (what + " sent in " + was + " is missing from " + gone
               + ". Please confirm that it was deleted on purpose.")
    return make_findings("record_vanished", rows, v["source"] + "|" + v["entity"] + "|" + v["record_key"],
                         message, inp.study, stage2_of_entities(inp.study, v["entity"], v["record_key"], "key"))


def _data_hash(data: pd.Series) -> pd.Series:
    return data.fillna("").map(lambda d: hashlib.sha256(d.encode()).hexdigest()[:16])


def quarantined(inp: RuleInputs) -> pd.DataFrame:
    """Every quarantined row but lab duplicates (those are judged by value in ``duplicates``)."""
    q = inp.quarantine
    q = q[(q["rule"] != "duplicate_key") | (q["entity"] != "lab")] if not q.empty else q
    if q.empty:
        return make_findings("quarantined_row", q, pd.Series(dtype=str), pd.Series(dtype=str), inp.study)
    site = _site_of(inp, q["source"])
    rows = q.assign(site_id=site.fillna(q["subjid"].fillna("").str[:2]))
    key = q["source"] + "|" + q["entity"] + "|" + q["rule"] + "|" + _data_hash(q["data"])
    message = q["file"] + " row " + q["row_number"].astype(str) + " was not loaded: " + q["reason"]
    return make_findings("quarantined_row", rows, key, message, inp.study,
                         stage2_of_entities(inp.study, q["entity"], q["data"], "data"))


def duplicates(inp: RuleInputs) -> pd.DataFrame:
    """A repeated lab key: a conflict when its result differs from the loaded record's, else a repeat."""
    q = inp.quarantine
    q = q[(q["rule"] == "duplicate_key") & (q["entity"] == "lab")] if not q.empty else q
    if q.empty:
        return combine([])
    key = q["reason"].str.extract(r"\(key (?P<key>.+)\)$")["key"]
    loaded = inp.lab.set_index("record_key")
    first = key.map(loaded["lborres"]).fillna("")
    first_row = key.map(loaded["row_number"])
    columns = q["source"].map(lambda name: _result_columns(inp.study.sources[name]))
    repeat = pd.Series([_first_filled(json.loads(d), cols) for d, cols in zip(q["data"], columns)], index=q.index)
    conflict = repeat != first
    rows = q.assign(site_id=_site_of(inp, q["source"]),
                    test=key.str.split("|").str[-1])
    parts = []
    said = inp.study.lab.reason_of_text             # a site's not-done texts, in any script
    for rule, mask, text in [
        ("duplicate_conflict", conflict, " with different results: row " + first_row.astype("Int64").astype(str)
         + " " + quoted(first, known=said) + ", row " + q["row_number"].astype(str) + " "
         + quoted(repeat, known=said) + ". Which one is right?"),
        ("duplicate_record", ~conflict, " twice with the same result (rows " + first_row.astype("Int64").astype(str)
         + " and " + q["row_number"].astype(str) + "); the repeat was not loaded."),
    ]:
        message = q["file"] + ": accession and test " + key.str.split("|", n=1).str[1] + " appear" + text
        parts.append(make_findings(rule, rows[mask], key[mask], message[mask], inp.study))
    return combine(parts)


def _result_columns(dialect) -> list[str]:
    """Where a quarantined row of this dialect keeps its result (a wide sheet: the cell value)."""
    return ["value"] if dialect.layout == "wide" else dialect.source_columns("result")


def _first_filled(data: dict, columns: list[str]) -> str:
    return next((str(data[c]) for c in columns if str(data.get(c, "")) != ""), "")
