"""What the Dagster UI shows about an asset besides its data: the team that owns its layer, tags,
the code version, and for a dataset its column schema from the spec."""
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


def plain_descriptions(definition: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """Descriptions as the UI shows them: docstrings' reStructuredText double backticks dropped (the UI
    renders Markdown and would show them raw) and lines joined into paragraphs."""
    def plain(spec: dg.AssetSpec) -> dg.AssetSpec:
        if not spec.description:
            return spec
        paragraphs = [" ".join(line.strip() for line in block.splitlines())
                      for block in spec.description.replace("``", "").split("\n\n")]
        return spec.replace_attributes(description="\n\n".join(p for p in paragraphs if p))
    return definition.map_asset_specs(plain)
