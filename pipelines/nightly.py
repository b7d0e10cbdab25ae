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
from pipelines.definitions import ASSETS
from assets.ingestion import staged_source


@dataclass
class NightlyResult:
    success: bool
    failures: list[str]


def run_nightly(settings: Settings, instance: dg.DagsterInstance | None = None) -> NightlyResult:
    """Materialize ingestion for each source, then everything downstream; collect failures."""
    if instance is None:
        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    resources = {"aclf": AclfResource.from_settings(settings)}
    failures = []
    for source in source_partitions.get_partition_keys():
        result = dg.materialize([staged_source], partition_key=source, resources=resources,
                                instance=instance, raise_on_error=False, tags={"aclf/trigger": "cli"})
        if not result.success:
            failures.append(f"ingestion of {source}")
    downstream = [a for a in ASSETS if a is not staged_source]
    result = dg.materialize(downstream, resources=resources, instance=instance, raise_on_error=False,
                            tags={"aclf/trigger": "cli"})
    if not result.success:
        failures.append("study layers")
    return NightlyResult(success=not failures, failures=failures)
