"""The command line: exit status 0 despite data findings, 1 when the pipeline fails, 2 for configuration."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.cli import main
from aclf.config import DEFAULT_STUDY_DIR
from support import FIXTURES


def test_run_with_findings_exits_zero_and_writes_the_report(tmp_path, database_url, capsys):
    landing = tmp_path / "landing"
    (landing / "site03").mkdir(parents=True)
    (landing / "site03" / "SITE03_20250601.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    (landing / "site03" / "SITE03_20250601.xlsx.sha256").write_text(
        "0" * 64 + "  SITE03_20250601.xlsx\n")                        # wrong digest too
    (landing / "site01").mkdir()
    shutil.copy(FIXTURES / "SITE01_20250601.csv", landing / "site01")
    args = ["run", "--landing", str(landing), "--output", str(tmp_path / "out"),
            "--archive", str(tmp_path / "archive"), "--database-url", database_url]
    assert main(args) == 0
    report = json.loads((tmp_path / "out" / "run_report.json").read_text())
    status = {t["file"]: t["status"] for t in report["transfers"]}
    assert status == {"SITE03_20250601.xlsx": "rejected", "SITE01_20250601.csv": "in_flight"}
    assert {"source", "file", "sha256", "status", "rows_read", "rows_loaded", "rows_quarantined"} <= \
        set(report["transfers"][0])
    out = capsys.readouterr().out
    assert "sha256 mismatch for SITE03_20250601.xlsx" in out and "run report" in out


def test_a_pipeline_failure_exits_one(tmp_path, capsys, monkeypatch):
    import assets.ingestion

    def broken(engine, study, source, paths):
        raise RuntimeError("a bug in ingestion")

    monkeypatch.setattr(assets.ingestion, "ingest_source", broken)
    (tmp_path / "landing" / "site01").mkdir(parents=True)
    args = ["run", "--landing", str(tmp_path / "landing"), "--output", str(tmp_path / "out"),
            "--archive", str(tmp_path / "archive"), "--database-url", f"sqlite:///{tmp_path / 'store.sqlite'}"]
    assert main(args) == 1
    assert "PIPELINE FAILED: ingestion of site01" in capsys.readouterr().err


def test_a_broken_configuration_exits_two_with_its_reason(tmp_path, capsys):
    study = tmp_path / "study"
    shutil.copytree(DEFAULT_STUDY_DIR, study)
    data = yaml.safe_load((study / "study.yaml").read_text(encoding="utf-8"))
    data["visits"][0]["window"] = "two weeks"
    (study / "study.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    args = ["run", "--landing", str(tmp_path), "--output", str(tmp_path / "out"), "--study", str(study),
            "--database-url", f"sqlite:///{tmp_path / 'store.sqlite'}"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and "study.yaml" in err and "visits.0.window" in err


def test_an_annotated_crf_without_a_forms_field_exits_two_before_any_work(tmp_path, capsys):
    study = tmp_path / "study"
    shutil.copytree(DEFAULT_STUDY_DIR, study)
    acrf = study / "sdtm" / "acrf.yaml"
    acrf.write_text(acrf.read_text(encoding="utf-8").replace("      KIT_NOS: [NOT SUBMITTED]\n", ""), encoding="utf-8")
    (tmp_path / "landing" / "site01").mkdir(parents=True)
    args = ["run", "--landing", str(tmp_path / "landing"), "--output", str(tmp_path / "out"), "--study", str(study),
            "--database-url", f"sqlite:///{tmp_path / 'store.sqlite'}"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and "acrf.yaml" in err and "KIT_NOS" in err
    assert not (tmp_path / "store.sqlite").exists() and not (tmp_path / "out").exists()


def test_a_second_run_on_a_busy_store_exits_two(tmp_path, database_url):
    from aclf.lock import store_lock
    from aclf.store import make_engine

    args = ["run", "--landing", str(tmp_path / "landing"), "--output", str(tmp_path / "out"),
            "--archive", str(tmp_path / "archive"), "--database-url", database_url]
    (tmp_path / "landing").mkdir()
    engine = make_engine(database_url)
    try:
        with store_lock(engine):
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")      # another process: the lock is reentrant in this one
            with ctx.Pool(1) as pool:
                status = pool.apply(main, (args,))
    finally:
        engine.dispose()
    assert status == 2


def test_an_unreachable_store_exits_two_in_one_line(tmp_path, capsys):
    (tmp_path / "landing" / "site01").mkdir(parents=True)
    args = ["run", "--landing", str(tmp_path / "landing"), "--output", str(tmp_path / "out"),
            "--database-url", "postgresql://127.0.0.1:9/nothing"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("configuration error: the store") and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_the_installed_command_exits_with_the_status_main_returns(tmp_path):
    """`aclf` (pipelines.cli.script) hands main's status to the shell and its message to stderr."""
    command = Path(sys.executable).with_name("aclf")
    done = subprocess.run([str(command), "run", "--landing", str(tmp_path / "missing"), "--output",
                           str(tmp_path / "out"), "--database-url", f"sqlite:///{tmp_path / 's.sqlite'}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "configuration error" in done.stderr and "missing" in done.stderr


@pytest.mark.parametrize("layout, reason", [
    ("missing", "the landing zone {landing} does not exist"),
    ("empty", "holds none of the study's source folders"),
    ("output inside landing", "must lie outside the landing zone"),
    ("output inside archive", "must lie outside the archive"),
    ("archive inside output", "must lie outside the archive"),
])
def test_a_wrong_layout_exits_two_in_one_line_before_any_work(tmp_path, capsys, layout, reason):
    landing, output, archive = tmp_path / "landing", tmp_path / "out", tmp_path / "archive"
    if layout != "missing":
        landing.mkdir()
    if layout not in ("missing", "empty"):
        (landing / "site01").mkdir()
    output = {"output inside landing": landing / "out", "output inside archive": archive / "out"}.get(layout, output)
    archive = output / "archive" if layout == "archive inside output" else archive
    store = tmp_path / "store.sqlite"
    args = ["run", "--landing", str(landing), "--output", str(output), "--archive", str(archive),
            "--database-url", f"sqlite:///{store}"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert reason.format(landing=landing) in err and len(err.strip().splitlines()) == 1
    assert not store.exists() and not output.exists()          # nothing was done


def test_run_shows_progress_per_source_and_layer_unless_quiet(tmp_path, database_url, capsys):
    landing = tmp_path / "landing"
    (landing / "site01").mkdir(parents=True)
    args = ["run", "--landing", str(landing), "--output", str(tmp_path / "out"),
            "--archive", str(tmp_path / "archive"), "--database-url", database_url]
    assert main(args) == 0
    out = capsys.readouterr().out
    for line in ("ingestion of site01: done", "ingestion of iwrs: done", "harmonization: done",
                 "validation: done", "SDTM and ADaM: done", "run report: done"):
        assert line in out
    assert main([*args, "--quiet"]) == 0
    quiet = capsys.readouterr().out
    assert "ingestion of site01" not in quiet and "harmonization:" not in quiet and "source" in quiet
