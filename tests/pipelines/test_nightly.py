"""The whole nightly job on a generated study, night by night, through real Dagster runs:
reconciliation, in-flight transfers, audit of corrections and vanished records, idempotence, and
the personal-data rule over every table, output file and run log."""
import json

import dagster as dg
import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines.cli import deliver_night, main
from aclf.config import FormsSource, LabDialect, load_study
from aclf.readers import read_table
from aclf.settings import Settings
from aclf.store import make_engine
from aclf.synth import generate
from support import store_url
from pipelines.nightly import run_nightly

TABLES = ("transfer", "lab_result", "form_record", "quarantine", "audit_event")


def dump(engine):
    with engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(sa.text(f"select * from {t} order by id"))] for t in TABLES}


@pytest.fixture(scope="module")
def study_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("nightly")
    summary = generate(root / "incoming", subjects=60, seed=11, nights=3)
    with store_url(root) as url:
        settings = Settings.resolve(landing=root / "landing", output=root / "output",
                                    archive=root / "archive", database_url=url)
        instance = dg.DagsterInstance.ephemeral()
        reports = []
        for night in summary.nights:
            deliver_night(root / "incoming", settings.landing, night.replace("-", ""))
            assert run_nightly(settings, instance=instance).success
            reports.append(json.loads((settings.output / "run_report.json").read_text()))
        yield summary, settings, instance, reports, make_engine(url)


def test_every_snapshot_in_force_reconciles(study_run):
    _, _, _, reports, _ = study_run
    for report in reports:
        in_force = [t for t in report["transfers"] if t["status"] == "loaded"]
        assert len(in_force) == 7
        for t in in_force:
            assert t["rows_read"] == t["rows_loaded"] + t["rows_quarantined"], t
        assert report["totals"]["balanced"]


def test_the_in_flight_transfer_leaves_the_previous_night_in_force(study_run):
    summary, _, _, reports, _ = study_run
    last = {(t["source"], t["status"]): t["file"] for t in reports[-1]["transfers"]
            if t["status"] in ("loaded", "in_flight")}
    previous = summary.nights[-2].replace("-", "")
    assert last[("site04", "in_flight")] == f"SITE04_{summary.nights[-1].replace('-', '')}.txt"
    assert last[("site04", "loaded")] == f"SITE04_{previous}.txt"


def same_value(value):
    """55, '55' and '55.0' are the same result; text stays text."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def test_generated_corrections_and_vanished_records_are_in_the_audit_trail(study_run):
    summary, _, _, _, engine = study_run
    audit = pd.read_sql("select * from audit_event", engine)
    changed = audit[(audit["change"] == "changed") & (audit["field"] == "result")]
    lab_corrections = [c for c in summary.defects["corrected"] if c["source"].startswith("site")
                       and not (c["source"] == "site04" and c["night_new"] == summary.nights[-1])]
    assert lab_corrections
    for c in lab_corrections:
        hit = changed[changed["record_key"].str.contains(c["sample_id"], regex=False)]
        pairs = {(same_value(o), same_value(n)) for o, n in zip(hit["old_value"], hit["new_value"])}
        assert (same_value(c["old"]), same_value(c["new"])) in pairs, c
    vanished = audit[audit["change"] == "vanished"]
    assert len(vanished) > 0
    lab = pd.read_sql("select record_key, vanished_transfer_id from lab_result", engine)
    assert set(vanished["record_key"]) <= set(lab.loc[lab["vanished_transfer_id"].notna(), "record_key"])


def test_running_the_same_night_again_changes_nothing(study_run):
    _, settings, instance, _, engine = study_run
    before = dump(engine)
    assert run_nightly(settings, instance=instance).success
    assert dump(engine) == before


def personal_values(landing, study) -> set[str]:
    """Every personal value the sources sent, read straight from the landing files."""
    values = set()
    for name, source in study.sources.items():
        for path in sorted((landing / name).iterdir()):
            if path.name.endswith(".sha256"):
                continue
            if isinstance(source, LabDialect) and source.personal:
                wanted = set(source.personal)
                table = read_table(path, source.file, wanted.__contains__)
                values |= {v for c in source.personal if c in table.frame for v in table.frame[c]}
            elif isinstance(source, FormsSource):
                for form in source.forms.values():
                    if form.personal:
                        table = read_table(path / form.file, source.file, set(form.personal).__contains__)
                        values |= {v for c in form.personal for v in table.frame[c]}
    return {v for v in values if v}


def output_text(path) -> str:
    """A file's text; an Excel workbook's cell values (its zip would hide them from a text search)."""
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        return "\n".join(str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row)
    return path.read_text(encoding="utf-8", errors="replace")


def test_no_personal_data_in_tables_outputs_or_logs(study_run, capsys):
    _, settings, instance, _, engine = study_run
    study = load_study()
    secrets = personal_values(settings.landing, study)
    assert len(secrets) > 100        # names, phones, record and ID card numbers were sent
    with engine.connect() as conn:
        stored = "\n".join(str(row) for t in TABLES for row in conn.execute(sa.text(f"select * from {t}")))
    outputs = "\n".join(output_text(p) for p in settings.output.rglob("*") if p.is_file())
    logs = "\n".join(str(entry) for run in instance.get_runs() for entry in instance.all_logs(run.run_id))
    assert main(["run", "--landing", str(settings.landing), "--output", str(settings.output),
                 "--archive", str(settings.archive), "--database-url", settings.database_url]) == 0
    printed = capsys.readouterr()
    for where, text in [("store", stored), ("outputs", outputs), ("run logs", logs),
                        ("terminal", printed.out + printed.err)]:
        leaked = sorted(v for v in secrets if v in text)
        assert not leaked, f"personal data in {where}: {leaked[:5]}"
    assert len(stored) > 100_000 and "rows_read" in outputs   # the searched text is really there
    assert "Details" in outputs and "Query" in outputs         # the site listings were read too


def test_the_archive_keeps_the_originals_byte_for_byte(study_run):
    _, settings, _, reports, _ = study_run
    for t in reports[-1]["transfers"]:
        if t["status"] in ("loaded", "superseded") and not t["file"].startswith("EDC"):
            copy = settings.archive / "sha256" / t["sha256"][:2] / t["sha256"]
            original = settings.landing / t["source"] / t["file"]
            assert copy.read_bytes() == original.read_bytes()


def test_every_generated_unit_spelling_is_harmonized(study_run):
    _, _, _, _, engine = study_run
    lab = pd.read_sql("select unit_status, result_kind, lbstresu from lab_harmonized", engine)
    assert len(lab) > 1000 and set(lab["unit_status"]) == {"ok"}
    assert {"number", "censored", "not_done"} <= set(lab["result_kind"])


def test_the_generated_defects_are_found(study_run):
    summary, _, _, reports, engine = study_run
    found = pd.read_sql("select rule, subjid, message, status from finding where status = 'open'", engine)
    eligibility = found[found["rule"].str.startswith("eligibility_")]
    assert {d["subjid"] for d in summary.defects["ineligible"]} <= set(eligibility["subjid"])
    visits = found[found["rule"].isin(["visit_mislabelled", "visit_out_of_window"])]
    planted = {d["sample_id"] for d in summary.defects["out_of_window"]}
    flagged = {m.split()[1] for m in visits["message"]}
    assert planted and planted <= flagged
    assert reports[-1]["findings"]["open"] == len(found)
    assert reports[-1]["quality"]["data_docs"] == "quality/index.html"
