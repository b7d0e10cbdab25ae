"""The deployment runs a night by itself: the real Dagster daemon, a temporary DAGSTER_HOME, a night's
transfers dropped into the landing zone; the transfer sensor launches ingestion, the automation
sensor every layer after it, until the night's run report exists."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines.cli import deliver_night
from pipelines.definitions import defs
from support import store_url

REPO = Path(__file__).resolve().parents[2]
BOUND_SECONDS = 600


def _daemon(home: Path, env: dict) -> subprocess.Popen:
    daemon = Path(sys.executable).with_name("dagster-daemon")
    return subprocess.Popen([str(daemon), "run", "-w", str(REPO / "workspace.yaml")], cwd=REPO, env=env,
                            stdout=(home / "daemon.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _report_of(path: Path, night: str) -> dict | None:
    """The run report once it covers every source of the night and the packages built on it."""
    if not path.exists():
        return None
    report = json.loads(path.read_text(encoding="utf-8"))
    loaded = {t["source"] for t in report["transfers"] if t["status"] == "loaded" and night in t["file"]}
    adam = [folder for folder in report.get("packages", {}) if folder.endswith("adam/datasets")]
    return report if len(loaded) == 7 and adam else None


@pytest.mark.slow
def test_the_daemon_runs_a_dropped_night_through_every_layer(tmp_path):
    from aclf.synth import generate

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    summary = generate(tmp_path / "incoming", subjects=30, seed=3, nights=1, in_flight=())
    night = summary.nights[0].replace("-", "")
    with store_url(tmp_path) as url:
        env = {**os.environ, "DAGSTER_HOME": str(home), "ACLF_LANDING_DIR": str(tmp_path / "landing"),
               "ACLF_OUTPUT_DIR": str(tmp_path / "output"), "ACLF_ARCHIVE_DIR": str(tmp_path / "archive"),
               "ACLF_DATABASE_URL": url, "ACLF_SENSOR_INTERVAL_SECONDS": "5",
               "ACLF_AUTOMATION_INTERVAL_SECONDS": "5"}
        (tmp_path / "landing").mkdir()
        daemon = _daemon(home, env)
        try:
            deliver_night(tmp_path / "incoming", tmp_path / "landing", night)
            deadline, report = time.monotonic() + BOUND_SECONDS, None
            while report is None and time.monotonic() < deadline and daemon.poll() is None:
                time.sleep(3)
                report = _report_of(tmp_path / "output" / "run_report.json", night)
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=60)
        log = (home / "daemon.log").read_text(encoding="utf-8", errors="replace")
        assert report is not None, f"no run report of the night within {BOUND_SECONDS} s; daemon log:\n{log[-3000:]}"
        os.environ["DAGSTER_HOME"], previous = str(home), os.environ.get("DAGSTER_HOME")
        try:
            with dg.DagsterInstance.get() as instance:
                runs = instance.get_runs()
                ingestion = [r for r in runs if r.job_name == "ingest_source"]
                automated = [r for r in runs if r.tags.get("dagster/sensor_name") == "study_layers_automation"]
                materialized = {k.to_user_string() for k in instance.all_asset_keys()
                                if instance.get_latest_materialization_event(k)}
        finally:
            os.environ.pop("DAGSTER_HOME") if previous is None else os.environ.update(DAGSTER_HOME=previous)
    assert sorted(r.tags["dagster/partition"] for r in ingestion) == \
        ["edc", "iwrs", "site01", "site02", "site03", "site04", "site05"]
    assert automated, "the layers after ingestion were not launched by the automation sensor"
    every_asset = {key.to_user_string() for key in defs().resolve_all_asset_keys()}
    assert materialized == every_asset
