"""Sensor: launch a source's ingestion as soon as a complete new transfer lands."""

import json

import dagster as dg

from aclf.landing import newest_complete_marker
from assets.resources import AclfResource
from pipelines.jobs import ingestion_job


@dg.sensor(job=ingestion_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING)
def new_transfer_sensor(context: dg.SensorEvaluationContext, aclf: AclfResource) -> dg.SensorResult:
    """Watches every source folder; a transfer counts once its manifest has arrived."""
    seen = json.loads(context.cursor) if context.cursor else {}
    study, landing = aclf.study(), aclf.paths().landing
    requests = []
    for name, source in study.sources.items():
        marker = newest_complete_marker(landing / name, source.file)
        if marker and marker != seen.get(name):
            requests.append(dg.RunRequest(run_key=f"{name}/{marker}", partition_key=name))
            seen[name] = marker
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))
