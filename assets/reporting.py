"""Study-wide run report, downstream of every layer: what tonight's run did, read from the store and
the packages' status files."""

import dagster as dg

from aclf.ingest import now_iso
from aclf.report import build_report, format_summary, write_report
from assets.resources import AclfResource


def run_report_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """The run report, after the findings, the quality suites and every package asset."""

    @dg.asset(deps=upstream, group_name="reporting", kinds={"json"},
              automation_condition=dg.AutomationCondition.eager())
    def run_report(context: dg.AssetExecutionContext, aclf: AclfResource) -> dg.MaterializeResult:
        """``<output>/run_report.json``: every transfer with status and reconciled counts, totals, and
        whether each package was refreshed tonight."""
        return report(context, aclf)

    return run_report


def report(context: dg.AssetExecutionContext, aclf: AclfResource) -> dg.MaterializeResult:
    report = build_report(aclf.engine(), aclf.study(), now_iso(aclf.study()), aclf.output)
    path = write_report(report, aclf.output)
    totals = report["totals"]
    context.log.info(f"run report written to {path}")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)),
        "summary": dg.MetadataValue.md("```\n" + format_summary(report) + "\n```"),
        "rows_read": dg.MetadataValue.int(totals["rows_read"]),
        "rows_loaded": dg.MetadataValue.int(totals["rows_loaded"]),
        "rows_quarantined": dg.MetadataValue.int(totals["rows_quarantined"]),
        "balanced": totals["balanced"],
    })
