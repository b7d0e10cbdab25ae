"""Study-wide run report, downstream of every layer: what tonight's run did, read from the store and
the packages' status files."""

import dagster as dg

from aclf.config import config_hash
from aclf.ingest import now_iso
from aclf.report import build_report, format_summary, write_report
from aclf.version import code_version
from assets.catalog import layer
from assets.ingestion import STAGED_SOURCE
from assets.resources import AclfResource


def run_report_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """The run report, after the findings, the quality suites and every package asset."""

    @dg.asset(deps=upstream, **layer("reporting"), kinds={"json"},
              automation_condition=dg.AutomationCondition.eager())
    def run_report(context: dg.AssetExecutionContext, aclf: AclfResource) -> dg.MaterializeResult:
        """``<output>/run_report.json``: every transfer with status and reconciled counts, totals, and
        whether each package was refreshed tonight."""
        return report(context, aclf)

    return run_report


def stage_durations(instance: dg.DagsterInstance, keys: list[dg.AssetKey], partitions: dict) -> list[dict]:
    """For each layer's latest materialization (each partition of a partitioned one), the run and the
    seconds its step took, from the instance's step statistics."""
    stages, seen = [], set()
    for key in keys:
        for partition in partitions.get(key, [None]):
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None), limit=1
            ).records
            if not records or not records[0].event_log_entry.dagster_event:
                continue
            run_id, step = records[0].run_id, records[0].event_log_entry.dagster_event.step_key
            if (run_id, step) in seen:
                continue
            seen.add((run_id, step))
            stats = instance.get_run_step_stats(run_id, step_keys=[step])
            if stats and stats[0].start_time and stats[0].end_time:
                stages.append({"stage": step + (f"[{partition}]" if partition else ""), "run_id": run_id,
                               "seconds": round(stats[0].end_time - stats[0].start_time, 2)})
    return stages


def report(context: dg.AssetExecutionContext, aclf: AclfResource) -> dg.MaterializeResult:
    study = aclf.study()
    upstream = [STAGED_SOURCE, *sorted(context.assets_def.asset_deps[context.asset_key], key=lambda k: k.to_user_string())]
    partitions = {STAGED_SOURCE: study.source_names}
    run = {"run_id": context.run.run_id, "code_version": code_version(), "config_hash": config_hash(aclf.study_dir),
           "stages": stage_durations(context.instance, upstream, partitions)}
    report = build_report(aclf.engine(), study, now_iso(study), aclf.output, run)
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
        "status": report["status"]["overall"],
        "new_findings": dg.MetadataValue.int(report["tonight"]["new_findings"]),
        "closed_findings": dg.MetadataValue.int(report["tonight"]["closed_findings"]),
        "code_version": report["run"]["code_version"],
    })
