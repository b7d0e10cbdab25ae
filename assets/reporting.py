"""Study-wide run report, downstream of every source's ingestion (the store is the hand-off)."""

import dagster as dg

from aclf.ingest import now_iso
from aclf.report import build_report, format_summary, write_report
from assets.quality import quality_docs
from assets.adam import SPEC as ADAM_SPEC, _key as adam_key
from assets.sdtm import SPEC, _key
from assets.validation import findings
from assets.resources import AclfResource


@dg.asset(deps=[findings, quality_docs, *[_key(name) for name in SPEC.datasets],
                *[adam_key(name) for name in ADAM_SPEC.datasets]], group_name="reporting", kinds={"json"},
          automation_condition=dg.AutomationCondition.eager())
def run_report(context: dg.AssetExecutionContext, aclf: AclfResource) -> dg.MaterializeResult:
    """``<output>/run_report.json``: every transfer with status and reconciled counts, and totals."""
    report = build_report(aclf.engine(), now_iso(aclf.study()), aclf.output)
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
