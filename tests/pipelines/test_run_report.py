"""The run report of a night: run id, code version, configuration hash, stage durations, overall
status and what the data night changed; the same as a self-contained HTML page."""
import json

import lxml.html
import pandas as pd
import sqlalchemy as sa

from aclf.config import DEFAULT_STUDY_DIR, config_hash
from aclf.store import make_engine


def test_the_report_names_the_run_and_what_the_night_changed(two_nights):
    settings, nights = two_nights
    report = json.loads((settings.output / "run_report.json").read_text(encoding="utf-8"))
    run = report["run"]
    assert len(run["run_id"]) == 36 and run["code_version"].startswith("0.")
    assert run["config_hash"] == config_hash(DEFAULT_STUDY_DIR)
    stages = {s["stage"] for s in run["stages"]}
    assert {"harmonized_lab", "validation", "staged_source[site01]", "staged_source[iwrs]"} <= stages
    assert all(s["seconds"] >= 0 for s in run["stages"])
    assert report["status"]["overall"] in ("complete", "attention")
    assert (report["status"]["overall"] == "complete") == (not report["status"]["reasons"])

    engine = make_engine(settings.database_url)
    findings = pd.read_sql(sa.text("select * from finding where level = 'blinded'"), engine)
    tonight = report["tonight"]
    assert tonight["night"] == nights[-1]
    assert tonight["new_findings"] == ((findings["first_seen"] == nights[-1]) & (findings["status"] == "open")).sum()
    assert tonight["closed_findings"] == (findings["closed_at"] == nights[-1]).sum()
    assert tonight["changed_records"] and set(tonight["changed_records"]) <= {"added", "changed", "vanished", "reappeared"}


def test_the_html_report_is_self_contained_and_says_the_same(two_nights):
    settings, _ = two_nights
    report = json.loads((settings.output / "run_report.json").read_text(encoding="utf-8"))
    page = lxml.html.parse(str(settings.output / "run_report.html")).getroot()
    assert not page.xpath("//script | //link[@href] | //img[starts-with(@src, 'http')]")
    text = page.text_content()
    assert report["run"]["run_id"] in text and report["status"]["overall"] in text
    rows = page.xpath("//h2[.='Transfers']/following-sibling::table[1]//tr[td]")
    assert len(rows) == sum(t["status"] != "superseded" for t in report["transfers"])
    assert page.xpath("//a/@href")[0] == "findings/findings.csv"
