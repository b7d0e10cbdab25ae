"""Sensors: a transfer that lands launches its source's ingestion; Dagster's automation then refreshes
every layer downstream; a failed run raises an alert (aclf.alerts)."""

import json
import os
from datetime import datetime, timezone

import dagster as dg

from aclf.alerts import Alert, AlertTargets, send_alert
from aclf.landing import newest_complete_marker
from aclf.registry import registered_names
from assets.resources import AclfResource
from pipelines.jobs import ingestion_job

# how often the daemon looks (seconds): a deployment may shorten it (the daemon test does)
TRANSFER_INTERVAL = int(os.environ.get("ACLF_SENSOR_INTERVAL_SECONDS", 300))
AUTOMATION_INTERVAL = int(os.environ.get("ACLF_AUTOMATION_INTERVAL_SECONDS", 30))


@dg.sensor(job=ingestion_job, minimum_interval_seconds=TRANSFER_INTERVAL, default_status=dg.DefaultSensorStatus.RUNNING)
def new_transfer_sensor(context: dg.SensorEvaluationContext, aclf: AclfResource) -> dg.SensorResult:
    """Watches every source folder; a transfer counts once its manifest has arrived. On its first tick
    (no cursor) a transfer the store has already registered is taken as seen, so switching the sensor
    on over a running deployment launches only what is really new."""
    first_tick = not context.cursor
    seen = json.loads(context.cursor) if context.cursor else {}
    registered = registered_names(aclf.engine()) if first_tick else {}
    study, landing = aclf.study(), aclf.paths().landing
    requests = []
    for name, source in study.sources.items():
        marker = newest_complete_marker(landing / name, source.file)
        if not marker or marker == seen.get(name):
            continue
        seen[name] = marker
        if marker.rsplit(":", 1)[0] not in registered.get(name, ()):
            requests.append(dg.RunRequest(run_key=f"{name}/{marker}", partition_key=name))
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """Dagster's automation, running from the start: once the sources are in, each layer's eager
    condition materializes it after its inputs, so a night needs nothing but its ingestion runs."""
    return dg.AutomationConditionSensorDefinition(
        "study_layers_automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=AUTOMATION_INTERVAL,
        description="Materializes harmonization, findings, quality, SDTM, ADaM and the run report after ingestion.")


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, monitor_all_code_locations=False)
def run_failure_alert(context: dg.RunFailureSensorContext, aclf: AclfResource) -> None:
    """Any failed run of this code location: an alert line in the log and the alert file, and the
    webhook or e-mail target when configured."""
    steps = context.get_step_failure_events()
    errors = [e.event_specific_data.error for e in steps if e.event_specific_data and e.event_specific_data.error]
    cause = errors[0].cause if errors and errors[0].cause else (errors[0] if errors else None)
    error = cause.message if cause else (context.failure_event.message or "run failed")
    alert = Alert(run_id=context.dagster_run.run_id, job=context.dagster_run.job_name,
                  failed_steps=[e.step_key for e in steps if e.step_key],
                  error=error.strip().splitlines()[0][:500],
                  at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    reached = send_alert(alert, AlertTargets.from_env(aclf.output))
    context.log.error(f"{alert.line()} (alert sent to: {', '.join(reached)})")

