"""The data manager's commands on the store: ``aclf findings`` (filters, tonight's new ones, CSV for
Excel), ``aclf audit --subject`` (a subject's change history, blinded) and ``aclf --version``."""
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from aclf.review import MASK, select_findings, subject_history
from aclf.store import audit_event, make_engine, transfer
from pipelines.cli import main


def test_findings_filter_by_site_rule_status_and_tonight(two_nights, capsys, tmp_path):
    settings, nights = two_nights
    engine = make_engine(settings.database_url)
    every = select_findings(engine, status="all")
    assert set(every["status"]) <= {"open", "closed"} and len(every) > 10
    assert set(every["first_seen"]) <= set(nights)                    # data nights, not the wall clock
    site = select_findings(engine, site="01")
    assert len(site) and set(site["site_id"]) == {"01"} and set(site["status"]) == {"open"}
    rule = every["rule"].iloc[0]
    assert set(select_findings(engine, rule=rule, status="all")["rule"]) == {rule}
    new = select_findings(engine, new=True)
    assert set(new["first_seen"]) <= {nights[-1]}
    assert len(new) < len(select_findings(engine))
    stored = pd.read_sql(sa.text("select level from finding"), engine)
    assert len(every) == (stored["level"] == "blinded").sum()         # never a stage-2 finding

    csv = tmp_path / "site01.csv"
    assert main(["findings", "--site", "01", "--database-url", settings.database_url, "--csv", str(csv)]) == 0
    assert csv.read_bytes().startswith(b"\xef\xbb\xbf")               # a BOM: Excel reads the Chinese right
    assert pd.read_csv(csv, encoding="utf-8-sig", dtype=str)["finding_id"].tolist() == site["finding_id"].tolist()
    assert main(["findings", "--site", "01", "--database-url", settings.database_url]) == 0
    out = capsys.readouterr().out
    assert site["finding_id"].iloc[0] in out and f"({len(site)} rows)" in out


def test_audit_shows_a_subjects_changes_with_their_transfers(two_nights, capsys):
    settings, _ = two_nights
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        subjid = conn.execute(sa.select(audit_event.c.subjid).where(audit_event.c.change == "changed")
                              .limit(1)).scalar_one()
    assert main(["audit", "--subject", subjid, "--database-url", settings.database_url]) == 0
    out = capsys.readouterr().out
    assert "changed" in out and "_20" in out                          # the change and its transfer's name
    assert main(["audit", "--subject", "09-999", "--database-url", settings.database_url]) == 0
    assert "no audited changes for subject 09-999" in capsys.readouterr().out


def test_audit_leaves_out_stage2_records_and_masks_kit_numbers(engine, study):
    with engine.begin() as conn:
        tid = conn.execute(transfer.insert().values(source="edc", name="EDC_20250601", first_seen_at="x",
                                                    processed_at="x", status="loaded")).inserted_primary_key[0]
        event = dict(source="edc", subjid="01-007", new_transfer_id=tid, recorded_at="2025-06-01", field=None,
                     old_value=None, new_value=None)
        conn.execute(audit_event.insert(), [
            dict(event, entity="infusion", record_key="01-007|WEEK0", change="changed", field="KIT_NO",
                 old_value="K0131", new_value="K0132"),
            dict(event, entity="infusion", record_key="01-007|WEEK4", change="added"),   # stage-2 infusion
            dict(event, entity="iwrs", record_key="01-007|1", change="changed", field="KIT_NOS",
                 old_value="K0131;K0133", new_value="K0131"),
            dict(event, entity="adverse_events", record_key="01-007|1", change="changed", field="AETERM",
                 old_value="Fever", new_value="Pyrexia")])
    history = subject_history(engine, study, "01-007", [r"^K\d{3,}$"])
    assert history["record_key"].tolist() == ["01-007|WEEK0", "01-007|1", "01-007|1"]
    assert history["old_value"].tolist() == [MASK, f"{MASK};{MASK}", "Fever"]
    assert history["new_transfer"].tolist() == ["EDC_20250601"] * 3


def test_version_names_the_package_and_the_commit(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("aclf 0.") and json.dumps(out)


def test_review_commands_exit_two_on_an_unreachable_store(capsys):
    assert main(["findings", "--database-url", "postgresql://127.0.0.1:9/nothing"]) == 2
    assert capsys.readouterr().err.startswith("configuration error: the store")
