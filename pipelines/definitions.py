"""The Dagster code location: ``dagster dev -w workspace.yaml`` loads these definitions."""
from __future__ import annotations

import dagster as dg

from aclf.settings import Settings
from assets.adam import adam_blinded
from assets.harmonized import harmonized_lab
from assets.ingestion import staged_source
from assets.quality import quality_docs
from assets.reporting import run_report
from assets.sdtm import sdtm_blinded
from assets.validation import findings
from assets.resources import AclfResource
from pipelines.jobs import ingestion_job, study_job
from pipelines.schedules import nightly_ingestion
from pipelines.sensors import new_transfer_sensor

ASSETS = [staged_source, harmonized_lab, findings, quality_docs, sdtm_blinded, adam_blinded, run_report]


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Definitions wired to a deployment's settings (ACLF_* variables by default)."""
    return dg.Definitions(
        assets=ASSETS,
        jobs=[ingestion_job, study_job],
        schedules=[nightly_ingestion],
        sensors=[new_transfer_sensor],
        resources={"aclf": AclfResource.from_settings(settings or Settings.resolve())},
    )


defs = build_definitions()
