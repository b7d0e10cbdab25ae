"""What the Dagster UI shows about an asset besides its data: the team that owns its layer, tags,
the code version, and for a dataset its column schema from the spec."""
from datetime import timedelta

import dagster as dg

from aclf.version import code_version
from cdisc.spec import Dataset

DATA_MANAGEMENT = "team:data-management"
PROGRAMMING = "team:statistical-programming"
OWNERS = {"ingestion": DATA_MANAGEMENT, "harmonized": DATA_MANAGEMENT, "validation": DATA_MANAGEMENT,
          "reporting": DATA_MANAGEMENT, "sdtm": PROGRAMMING, "adam": PROGRAMMING, "unblinded": PROGRAMMING}


def layer(group: str, **tags: str) -> dict:
    """Keyword arguments for an asset (or asset spec) of a layer: group, owner, tags, code version."""
    return {"group_name": group, "owners": [OWNERS[group]], "tags": {"layer": group, **tags},
            "code_version": code_version()}


def column_schema(dataset: Dataset) -> dict:
    """The dataset's variables as Dagster's column schema (shown on the asset's overview)."""
    return {"dagster/column_schema": dg.TableSchema(columns=[
        dg.TableColumn(v.name, {"integer": "int", "float": "float"}.get(v.type, "string"), description=v.label)
        for v in dataset.variables])}


# The layers after ingestion are fresh when they were rebuilt after the 01:00 transfer deadline and
# before 07:00, when the data managers start (China Standard Time, the study's time zone).
FRESH_BY_CRON, FRESH_SINCE = "0 7 * * *", timedelta(hours=6)


def for_ui(definition: dg.AssetsDefinition, timezone: str) -> dg.AssetsDefinition:
    """What the UI shows beyond the code: plain-text descriptions (the docstrings' reStructuredText
    double backticks dropped, since the UI renders Markdown; lines joined into paragraphs), and a
    nightly freshness policy on every layer after ingestion."""
    # one policy for all: Dagster checks a cron policy's interval when it is made (0.04 s each)
    fresh = dg.FreshnessPolicy.cron(deadline_cron=FRESH_BY_CRON, lower_bound_delta=FRESH_SINCE, timezone=timezone)

    def present(spec: dg.AssetSpec) -> dg.AssetSpec:
        paragraphs = [" ".join(line.strip() for line in block.splitlines())
                      for block in (spec.description or "").replace("``", "").split("\n\n")]
        changes = {"description": "\n\n".join(p for p in paragraphs if p) or None}
        if spec.group_name != "ingestion":
            changes["freshness_policy"] = fresh
        return spec.replace_attributes(**changes)
    return definition.map_asset_specs(present)
