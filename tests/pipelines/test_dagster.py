"""The Dagster shell, executed for real: partitioned ingestion, its check, sensor, schedule."""
import datetime as dt
import json

import dagster as dg
import pytest

from aclf.settings import Settings
from assets.ingestion import RECONCILE
from assets.resources import AclfResource
from support import FIXTURES, asset_named, land
from pipelines.definitions import build_definitions, defs
from pipelines.sensors import new_transfer_sensor

staged_source = asset_named("staged_source")
run_report = asset_named("run_report")


@pytest.fixture
def settings(tmp_path, paths, database_url) -> Settings:
    return Settings.resolve(landing=paths.landing, output=tmp_path / "output", archive=paths.archive,
                            database_url=database_url)


@pytest.fixture
def resources(settings):
    return {"aclf": AclfResource.from_settings(settings)}


def check_results(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_definitions_load_with_partitions_per_source():
    repo = defs().get_repository_def()
    assert repo.get_job("ingest_source").partitions_def.get_partition_keys() == \
        ["site01", "site02", "site03", "site04", "site05", "edc", "iwrs"]
    assert {s.name for s in repo.schedule_defs} == {"nightly_ingestion"}
    # the transfer sensor, the automation sensor that refreshes the study layers, the failure alert
    assert {s.name for s in repo.sensor_defs} == {"new_transfer_sensor", "study_layers_automation", "run_failure_alert"}
    dg.Definitions.validate_loadable(defs())


def test_ingestion_partition_materializes_with_a_passing_check(paths, resources):
    land(paths, "site01", "SITE01_20250601.csv", (FIXTURES / "SITE01_20250601.csv").read_bytes())
    result = dg.materialize([staged_source], partition_key="site01", resources=resources)
    assert result.success
    [mat] = result.asset_materializations_for_node("staged_source")
    assert mat.partition == "site01"
    assert mat.metadata["snapshot_in_force"].value == "SITE01_20250601.csv"
    assert mat.metadata["rows_quarantined"].value == 2
    check = check_results(result)[RECONCILE]
    assert check.passed and check.partition == "site01"          # keyed by partition in the UI


def test_reconciliation_check_fails_when_a_reader_drops_rows(paths, resources, monkeypatch):
    import aclf.ingest as ingest_module

    real = ingest_module.read_lab

    def lossy(path, dialect, lab):
        records, held, notes = real(path, dialect, lab)
        return records.iloc[1:], held, notes          # a reader bug that silently loses a record

    monkeypatch.setattr(ingest_module, "read_lab", lossy)
    land(paths, "site01", "SITE01_20250601.csv", (FIXTURES / "SITE01_20250601.csv").read_bytes())
    result = dg.materialize([staged_source], partition_key="site01", resources=resources)
    check = check_results(result)[RECONCILE]
    assert not check.passed
    assert check.metadata["unbalanced_transfers"].value == "SITE01_20250601.csv"


def test_run_report_asset_writes_the_report(paths, resources, settings):
    land(paths, "site04", "SITE04_20250601.txt", (FIXTURES / "SITE04_20250601.txt").read_bytes())
    dg.materialize([staged_source], partition_key="site04", resources=resources)
    result = dg.materialize([run_report], resources=resources)
    assert result.success
    report = json.loads((settings.output / "run_report.json").read_text())
    [t] = report["transfers"]
    assert (t["source"], t["status"], t["rows_read"], t["rows_loaded"], t["rows_quarantined"]) == \
        ("site04", "loaded", 7, 6, 1)
    assert report["totals"]["balanced"] is True


def test_sensor_requests_a_run_once_per_complete_transfer(paths, resources):
    land(paths, "site01", "SITE01_20250601.csv", (FIXTURES / "SITE01_20250601.csv").read_bytes())
    land(paths, "site04", "SITE04_20250601.txt", b"still being written", manifest=False)
    instance = dg.DagsterInstance.ephemeral()
    first = new_transfer_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert [r.partition_key for r in first.run_requests] == ["site01"]
    again = new_transfer_sensor(dg.build_sensor_context(instance=instance, resources=resources,
                                                        cursor=first.cursor))
    assert again.run_requests == []
    land(paths, "site01", "SITE01_20250602.csv", (FIXTURES / "SITE01_20250601.csv").read_bytes())
    later = new_transfer_sensor(dg.build_sensor_context(instance=instance, resources=resources,
                                                        cursor=first.cursor))
    assert [r.partition_key for r in later.run_requests] == ["site01"]
    assert "SITE01_20250602.csv" in later.run_requests[0].run_key


def test_nightly_schedule_requests_every_source_at_two_in_shanghai():
    definitions = defs()
    nightly_ingestion = definitions.get_repository_def().get_schedule_def("nightly_ingestion")
    assert nightly_ingestion.cron_schedule == "0 2 * * *"
    assert nightly_ingestion.execution_timezone == "Asia/Shanghai"
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2025, 6, 30, 2, 0),
                                        repository_def=definitions.get_repository_def())
    requests = nightly_ingestion.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["site01", "site02", "site03", "site04", "site05", "edc", "iwrs"]
    assert len({r.run_key for r in requests}) == 7


def test_definitions_take_their_paths_from_settings(settings):
    resource = build_definitions(settings).resources["aclf"]
    assert resource.landing_dir == str(settings.landing) and resource.database_url == settings.database_url


def test_definitions_follow_the_study_folder_of_the_settings(tmp_path, settings):
    """A study folder given by --study / ACLF_STUDY_DIR decides the partitions, the asset checks and
    the analysis conventions; nothing falls back to the repo's folder."""
    import shutil

    import yaml

    from aclf.config import DEFAULT_STUDY_DIR

    study = tmp_path / "study"
    shutil.copytree(DEFAULT_STUDY_DIR, study)
    data = yaml.safe_load((study / "study.yaml").read_text(encoding="utf-8"))
    data["sources"] = [s for s in data["sources"] if s != "site05"]
    (study / "study.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    analysis = (study / "adam" / "analysis.yaml").read_text(encoding="utf-8")
    (study / "adam" / "analysis.yaml").write_text(analysis.replace("tte_cutoff_day: 371", "tte_cutoff_day: 180"),
                                                  encoding="utf-8")
    definitions = build_definitions(Settings.resolve(landing=settings.landing, output=settings.output,
                                                     archive=settings.archive, database_url=settings.database_url,
                                                     study_dir=study))
    job = definitions.get_repository_def().get_job("ingest_source")
    assert "site05" not in job.partitions_def.get_partition_keys()
    assert definitions.resources["aclf"].config().analysis.tte_cutoff_day == 180


def test_the_sensor_first_tick_skips_transfers_the_store_has_registered(paths, resources):
    """Switched on over a running deployment (no cursor yet), the sensor launches only what is new."""
    land(paths, "site01", "SITE01_20250601.csv", (FIXTURES / "SITE01_20250601.csv").read_bytes())
    assert dg.materialize([staged_source], partition_key="site01", resources=resources).success
    land(paths, "site04", "SITE04_20250601.txt", (FIXTURES / "SITE04_20250601.txt").read_bytes())
    first = new_transfer_sensor(dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), resources=resources))
    assert [r.partition_key for r in first.run_requests] == ["site04"]
    assert "SITE01_20250601.csv" in json.loads(first.cursor)["site01"]


def test_a_failed_run_writes_an_alert_and_calls_the_webhook(tmp_path, settings, resources, monkeypatch):
    import http.server
    import threading

    from pipelines.sensors import run_failure_alert

    posted = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("ACLF_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/alert")

    @dg.asset
    def broken_layer():
        raise RuntimeError("the layer broke\nsecond line")

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([broken_layer], instance=instance, raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert", dagster_event=failure, dagster_instance=instance,
        dagster_run=result.dagster_run, resources=resources).for_run_failure()
    run_failure_alert(context)
    server.shutdown()
    [alert] = [json.loads(line) for line in
               (settings.output / "alerts" / "run_failures.jsonl").read_text(encoding="utf-8").splitlines()]
    assert alert["run_id"] == result.run_id and alert["failed_steps"] == ["broken_layer"]
    assert alert["error"] == "RuntimeError: the layer broke"      # the first line only
    assert posted == [alert]


def test_an_alert_target_that_cannot_be_reached_does_not_fail(tmp_path):
    from aclf.alerts import Alert, AlertTargets, send_alert

    targets = AlertTargets(file=tmp_path / "alerts.jsonl", webhook_url="http://127.0.0.1:9/none",
                           smtp_host="127.0.0.1:9", email_to="dm@example.org")
    alert = Alert(run_id="r1", job="study_layers", failed_steps=["adam_blinded"], error="boom", at="2025-06-30")
    assert send_alert(alert, targets) == ["file"]
    assert json.loads((tmp_path / "alerts.jsonl").read_text())["failed_steps"] == ["adam_blinded"]


def test_automation_runs_by_default_over_every_layer():
    repo = defs().get_repository_def()
    automation = repo.get_sensor_def("study_layers_automation")
    assert automation.default_status == dg.DefaultSensorStatus.RUNNING
    for name in ("new_transfer_sensor", "run_failure_alert"):
        assert repo.get_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING
