"""Run every rule family and schema over one night's data: the findings, and per-schema results."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from aclf.blinding import stage2_rows
from aclf.config import FormSpec
from aclf.disclosure import key_shown, quoted
from validation import rules_coding, rules_ingestion, rules_lab, rules_subjects
from validation.findings import combine, make_findings
from validation.inputs import RuleInputs
from validation.schemas import failures, form_schema, harmonized_lab_schema

RULES = [
    rules_ingestion.rejected_transfers, rules_ingestion.transfer_notes, rules_ingestion.vanished,
    rules_ingestion.quarantined, rules_ingestion.duplicates, rules_lab.units, rules_lab.result_texts,
    rules_lab.plausibility, rules_lab.visits, rules_subjects.orphans, rules_subjects.sites,
    rules_subjects.eligibility, rules_subjects.chronology, rules_coding.adverse_events,
]
OWN_RULE = {"plausible_range"}   # schema checks reported by a rule of their own, with a better message


@dataclass
class Evaluation:
    findings: pd.DataFrame
    schemas: dict[str, pd.DataFrame]          # table -> pandera failure cases


def _schema_findings(inp: RuleInputs, table: str, frame: pd.DataFrame, cases: pd.DataFrame,
                     key_cols: list[str], subject: str, spec: FormSpec | None = None) -> pd.DataFrame:
    cases = cases[~cases["check"].isin(OWN_RULE) & cases["index"].notna()].drop_duplicates(["check", "index"])
    if cases.empty:
        return combine([])
    rows = frame.loc[cases["index"].astype(int)].reset_index(drop=True)
    cases = cases.reset_index(drop=True)
    record = rows[key_cols].astype(str).agg("|".join, axis=1)
    key = table + "|" + cases["check"].astype(str) + "|" + record
    found = rows.assign(subjid=rows[subject], file=inp.file_of(rows["transfer_id"]) if "transfer_id" in rows else "")
    # a lab record key is an accession number and a test (DTS keys, shown); a form's key may hold anything
    shown = record if spec is None else key_shown(record)
    value = quoted(cases["failure_case"])
    if spec is None:
        value = value.where(cases["column"] != "record_key", "'" + cases["failure_case"].astype(str) + "'")
    message = (table + ": " + cases["column"].astype(str) + " value " + value
               + " fails the check " + cases["check"].astype(str) + " (record " + shown + ").")
    return make_findings("schema_violation", found, key, message, inp.study,
                         stage2_rows(spec, rows) if spec is not None else None)


def evaluate(inp: RuleInputs) -> Evaluation:
    """All findings of the night (each rule family, then schema violations) and the schema results."""
    lab_cases = inp.lab_failures if inp.lab_failures is not None else failures(harmonized_lab_schema(inp.study), inp.lab)
    schemas = {"harmonized_lab": lab_cases}
    parts = [rule(inp) for rule in RULES]
    parts.append(_schema_findings(inp, "harmonized_lab", inp.lab, schemas["harmonized_lab"], ["record_key"],
                                  "subjid"))
    for name, spec in inp.study.forms.items():
        frame = inp.forms.get(name)
        if frame is None:
            continue
        cases = failures(form_schema(name, spec), frame)
        schemas[name] = cases
        parts.append(_schema_findings(inp, name, frame.reset_index(drop=True), cases, spec.key, spec.subject, spec))
    return Evaluation(findings=combine(parts), schemas=schemas)
