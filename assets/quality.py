"""great-expectations suites over the harmonized lab table and the EDC forms, with Data Docs: the
``quality_docs`` asset, a part of the validation step (assets.validation); the suites run in the
night's warm worker, started and collected as assets.suites says."""
import dagster as dg

from assets.catalog import layer
from assets.harmonized import harmonized_lab
from validation.quality_result import QualityResult

QUALITY = dg.AssetKey("quality_docs")
CHECK = "expectations"

QUALITY_SPEC = dg.AssetSpec(
    QUALITY, deps=[harmonized_lab], **layer("validation"), kinds={"great_expectations", "html"},
    automation_condition=dg.AutomationCondition.eager(),
    description="The nightly expectation suites and their HTML Data Docs under ``<output>/quality/``, on the forms "
                "as a blinded reader may see them (no stage-2 rows: their values and counts would tell). A suite "
                "whose frame is as it was last night is not run again: its result is reused.")
QUALITY_CHECK = dg.AssetCheckSpec(CHECK, asset=QUALITY, description="every expectation of every suite passes")


def quality_materialization(context: dg.AssetExecutionContext, result: QualityResult, keep: bool
                            ) -> dg.MaterializeResult:
    """The asset's materialization: where the Data Docs are, and the check with each failed expectation."""
    table = "\n".join(["| suite | expectation | column | detail |", "|---|---|---|---|"] +
                      [f"| {f['suite']} | {f['expectation']} | {f['column']} | {f['detail']} |" for f in result.failed])
    context.log.info(f"{result.evaluated} expectations, {len(result.failed)} failed; Data Docs {result.data_docs}")
    return dg.MaterializeResult(
        asset_key=QUALITY,
        metadata={"data_docs": dg.MetadataValue.path(str(result.data_docs)),
                  "evaluated": dg.MetadataValue.int(result.evaluated), "kept": dg.MetadataValue.bool(keep)},
        check_results=[dg.AssetCheckResult(
            asset_key=QUALITY, check_name=CHECK, passed=result.success, severity=dg.AssetCheckSeverity.WARN,
            metadata={"failed": dg.MetadataValue.int(len(result.failed)),
                      "failures": dg.MetadataValue.md(table if result.failed else "none")})])
