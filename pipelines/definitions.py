"""The Dagster code location: ``dagster dev -w workspace.yaml`` loads ``defs``, built lazily from a
deployment's settings (ACLF_* variables) so that nothing reads the study configuration at import."""
from __future__ import annotations

import dagster as dg

from aclf.settings import Settings
from assets.configuration import Configuration, load_configuration
from assets.harmonized import harmonized_lab
from assets.ingestion import staged_source_asset
from assets.reporting import run_report_asset
from assets.area import area_assets
from assets.catalog import for_ui
from assets.resources import AclfResource
from assets.validation import validation_asset
from cdisc.area import BLINDED
from pipelines.jobs import ingestion_job, study_job
from pipelines.schedules import nightly_schedule
from pipelines.sensors import automation_sensor, new_transfer_sensor, run_failure_alert


def build_assets(config: Configuration) -> list[dg.AssetsDefinition]:
    """Ingestion (partitioned by source), harmonization, validation, the blinded area, the report."""
    layers = [harmonized_lab, validation_asset(config.study), *area_assets(BLINDED, config)]
    upstream = [key for layer in layers for key in layer.keys]
    timezone = config.study.study.timezone
    return [for_ui(d, timezone) for d in [staged_source_asset(config.study), *layers, run_report_asset(upstream)]]


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Definitions wired to a deployment's settings (ACLF_* variables by default)."""
    settings = settings or Settings.resolve()
    config = load_configuration(settings.study_dir)
    return dg.Definitions(
        assets=build_assets(config),
        jobs=[ingestion_job, study_job],
        schedules=[nightly_schedule(config.study)],
        sensors=[new_transfer_sensor, automation_sensor(), run_failure_alert],
        resources={"aclf": AclfResource.from_settings(settings)},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
