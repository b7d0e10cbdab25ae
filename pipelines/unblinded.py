"""The unblinded code location: the unblinded area (SDTM, ADaM, reports, stage-2 findings) of an
authorized unblinding.

A blinded deployment never loads it (``workspace.yaml`` lists only ``pipelines.definitions``); an
unblinded deployment adds it (``deploy/workspace.unblinded.yaml``) with ACLF_UNBLINDING_FILE and
ACLF_UNBLINDED_OUTPUT_DIR set, on a Dagster instance of its own, since run logs and metadata are
readable by everybody who can open the UI.
"""
from __future__ import annotations

import dagster as dg

from aclf.config import ConfigError
from aclf.settings import Settings
from assets.area import area_assets
from assets.catalog import for_ui
from assets.configuration import load_configuration
from assets.reports import unblinded_reports
from assets.unblinded_findings import unblinded_findings
from assets.resources import AclfResource
from cdisc.area import UNBLINDED


def unblinded_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    config = load_configuration(settings.study_dir)
    return [for_ui(d, config.study.study.timezone)
            for d in [*area_assets(UNBLINDED, config), unblinded_reports, unblinded_findings]]


def build_unblinded_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.resolve()
    if not settings.unblinded:
        raise ConfigError("the unblinded code location needs ACLF_UNBLINDING_FILE and ACLF_UNBLINDED_OUTPUT_DIR")
    return dg.Definitions(assets=unblinded_assets(settings), resources={"aclf": AclfResource.from_settings(settings)})


@dg.definitions
def defs() -> dg.Definitions:
    return build_unblinded_definitions()
