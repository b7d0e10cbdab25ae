"""Study configuration: every source loads; a new site is onboarded by configuration alone."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aclf.config import DEFAULT_STUDY_DIR, ConfigError, LabDialect, load_study
from aclf.ingest import ingest_source
from support import land, read_table

SITE06 = """
source: site06
kind: lab
site_id: "06"
file: {prefix: SITE06, extension: csv, format: delimited, encoding: cp1252, delimiter: ";"}
layout: long
columns: {subject: Patient, visit: Besuch, sample_id: Probe, test: Analyt, result: Wert, unit: Einheit,
          ref_range: Norm}
personal: [Name, Geburtsname]
subject: {pattern: '^P06/(?P<num>\\d{3})$'}
collected: {date: {column: Datum, format: "%d.%m.%Y"}, time: {column: Zeit, format: "%H.%M"}}
visits: {V-1: WEEK-1, Tag 0: WEEK0, Woche 1: WEEK1, Extra: UNSCHEDULED}
tests: {Bilirubin gesamt: BILI, Kreatinin: CREAT, Quick-Wert: PTAC}
"""
SITE06_FILE = ("Patient;Name;Geburtsname;Besuch;Probe;Datum;Zeit;Analyt;Wert;Einheit;Norm\r\n"
               "P06/004;Müller;Groß;V-1;X-1;03.02.2025;07.45;Bilirubin gesamt;305,2;µmol/l;<21\r\n"
               "P06/004;Müller;Groß;V-1;X-1;03.02.2025;07.45;Kreatinin;1,4;mg/dl;0,5-1,2\r\n"
               "P06/004;Müller;Groß;Tag 0;X-2;10.02.2025;;Quick-Wert;34;%;70-130\r\n"
               "P6/5;Müller;Groß;Woche 1;X-3;17.02.2025;08.00;Kreatinin;1,1;mg/dl;0,5-1,2\r\n").encode("cp1252")


@pytest.fixture
def study_with_site06(tmp_path) -> Path:
    directory = tmp_path / "study"
    shutil.copytree(DEFAULT_STUDY_DIR, directory)
    (directory / "sources" / "site06.yaml").write_text(SITE06, encoding="utf-8")
    main = yaml.safe_load((directory / "study.yaml").read_text(encoding="utf-8"))
    main["sources"].append("site06")
    (directory / "study.yaml").write_text(yaml.safe_dump(main, allow_unicode=True), encoding="utf-8")
    return directory


def test_the_study_configuration_loads_all_seven_sources():
    study = load_study()
    assert study.source_names == ["site01", "site02", "site03", "site04", "site05", "edc", "iwrs"]
    assert [s.site_id for s in study.lab_sources] == ["01", "02", "03", "04", "05"]
    assert {v.code: tuple(v.window) for v in study.visits}["WEEK53"] == (343, 399)


def test_a_sixth_dialect_is_onboarded_by_configuration_alone(study_with_site06, engine, paths):
    study = load_study(study_with_site06)
    assert isinstance(study.sources["site06"], LabDialect)
    land(paths, "site06", "SITE06_20250601.csv", SITE06_FILE)
    [outcome] = ingest_source(engine, study, "site06", paths)
    assert (outcome.status, outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == ("loaded", 4, 3, 1)
    lab = read_table(engine, "lab_result").set_index("record_key")
    bili = lab.loc["06|X-1|Bilirubin gesamt"]
    assert (bili["subjid"], bili["lbtestcd"], bili["visit"], bili["collected"]) == \
        ("06-004", "BILI", "WEEK-1", "2025-02-03T07:45")
    assert bili["unit"] == "µmol/l" and bili["result"] == "305,2" and bili["ref_range"] == "<21"
    assert lab.loc["06|X-2|Quick-Wert"]["collected"] == "2025-02-10"
    assert "Müller" not in lab.to_json(force_ascii=False)


def test_the_sixth_source_becomes_a_dagster_partition(study_with_site06):
    """The code location, loaded as a deployment loads it, follows ACLF_STUDY_DIR."""
    code = ("from pipelines.definitions import defs; "
            "print(defs().get_repository_def().get_job('ingest_source').partitions_def.get_partition_keys())")
    env = {**os.environ, "ACLF_STUDY_DIR": str(study_with_site06)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "'site06'" in out.stdout


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["tests"].update({"TBIL": "BILIRUBIN"}), "tests map to unknown LBTESTCD ['BILIRUBIN']"),
    (lambda d: d["columns"].update({"patient": "X"}), "unknown lab fields ['patient']"),
    (lambda d: d["subject"].update({"pattern": "^01-\\d{3}$"}), "needs a named group 'num'"),
    (lambda d: d["file"].pop("extension"), "needs an extension"),
])
def test_a_broken_dialect_stops_with_the_file_and_the_problem(tmp_path, edit, message):
    directory = tmp_path / "study"
    shutil.copytree(DEFAULT_STUDY_DIR, directory)
    path = directory / "sources" / "site01.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_study(directory)
    assert message in str(err.value)
    assert "site01.yaml" in str(err.value) or "study.yaml" in str(err.value)


def test_a_listed_source_without_its_file_is_a_configuration_error(tmp_path):
    directory = tmp_path / "study"
    shutil.copytree(DEFAULT_STUDY_DIR, directory)
    (directory / "sources" / "site05.yaml").unlink()
    with pytest.raises(ConfigError, match="source 'site05' is listed but .*site05.yaml does not exist"):
        load_study(directory)
