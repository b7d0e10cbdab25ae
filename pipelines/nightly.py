"""The whole nightly job, once, in process: every source partition, then the study layers.

Used by the CLI and the tests; runs the real Dagster assets (``dagster.materialize``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import dagster as dg

from aclf.settings import Settings
from assets.partitions import source_partitions
from assets.resources import AclfResource
from assets.ingestion import staged_source
from pipelines.definitions import ASSETS


@dataclass
class NightlyResult:
    success: bool
    failures: list[str]


def run_nightly(settings: Settings, instance: dg.DagsterInstance | None = None,
                log_level: str = "INFO") -> NightlyResult:
    """Materialize ingestion for each source, then everything downstream; collect failures.

    Runs go to the instance of $DAGSTER_HOME when set (so ``dagster dev`` shows them), else to an
    ephemeral one; ``log_level`` is the console log level of the runs."""
    if instance is None:
        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    resources = {"aclf": AclfResource.from_settings(settings)}
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    failures = []
    for source in source_partitions.get_partition_keys():
        result = dg.materialize([staged_source], partition_key=source, resources=resources, run_config=run_config,
                                instance=instance, raise_on_error=False, tags={"aclf/trigger": "cli"})
        if not result.success:
            failures.append(f"ingestion of {source}")
    downstream = [a for a in ASSETS if a is not staged_source]
    result = dg.materialize(downstream, resources=resources, run_config=run_config, instance=instance,
                            raise_on_error=False,
                            tags={"aclf/trigger": "cli"})
    if not result.success:
        failures.append("study layers")
    return NightlyResult(success=not failures, failures=failures)
