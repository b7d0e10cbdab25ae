"""Per-source ingestion asset: one partition per source of the study configuration."""

import warnings

import dagster as dg

from aclf.config import Study
from aclf.ingest import ingest_source
from aclf.registry import TransferOutcome
from assets.catalog import layer
from assets.resources import AclfResource

RECONCILE = "rows_reconcile"
STAGED_SOURCE = dg.AssetKey("staged_source")


def _table(outcomes: list[TransferOutcome]) -> str:
    lines = ["| transfer | status | read | loaded | quarantined | balanced | reason |", "|---|---|---|---|---|---|---|"]
    for o in outcomes:
        lines.append(f"| {o.file} | {o.status} | {o.rows_read if o.rows_read is not None else ''} | "
                     f"{o.rows_loaded if o.rows_loaded is not None else ''} | "
                     f"{o.rows_quarantined if o.rows_quarantined is not None else ''} | "
                     f"{'' if o.balanced is None else o.balanced} | {o.reason} |")
    return "\n".join(lines)


def source_partitions(study: Study) -> dg.StaticPartitionsDefinition:
    """Onboarding a source in the configuration adds a partition."""
    return dg.StaticPartitionsDefinition(study.source_names)


def _reconcile_check(partitions: dg.StaticPartitionsDefinition) -> dg.AssetCheckSpec:
    """The reconciliation check, keyed by partition so that the UI shows each source's result apart.
    A partitioned check is a preview feature of Dagster 1.13 (pinned in pyproject.toml): its
    PreviewWarning, which says nothing a data manager could act on, is silenced here and only here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(RECONCILE, asset=STAGED_SOURCE, partitions_def=partitions,
                                 description="rows read = rows loaded + rows quarantined, per transfer")


def staged_source_asset(study: Study) -> dg.AssetsDefinition:
    """The ingestion asset, partitioned by the study's sources."""

    partitions = source_partitions(study)

    @dg.asset(
        name=STAGED_SOURCE.path[-1],
        partitions_def=partitions,
        **layer("ingestion"),
        kinds={"python", "sql"},
        check_specs=[_reconcile_check(partitions)],
    )
    def staged_source(context: dg.AssetExecutionContext, aclf: AclfResource) -> dg.MaterializeResult:
        """The source's newest complete transfer, archived, read with its dialect and put in force in the
        staging store with lineage, quarantine and audit trail; older, in-flight and rejected transfers
        are registered and leave the snapshot in force untouched."""
        return ingest_partition(context, aclf)

    return staged_source


def ingest_partition(context: dg.AssetExecutionContext, aclf: AclfResource) -> dg.MaterializeResult:
    source = context.partition_key
    with aclf.locked():
        outcomes = [o.blinded() for o in ingest_source(aclf.engine(), aclf.study(), source, aclf.paths())]
    for o in outcomes:
        context.log.info(f"{source} {o.file}: {o.status}"
                         + (f" (read {o.rows_read}, loaded {o.rows_loaded}, quarantined {o.rows_quarantined})"
                            if o.rows_read is not None else "")
                         + (f"; {o.reason}" if o.reason else ""))
    in_force = next((o for o in outcomes if o.status == "loaded"), None)
    unbalanced = [o.file for o in outcomes if o.balanced is False]
    statuses = {s: sum(o.status == s for o in outcomes) for s in ("loaded", "superseded", "rejected", "in_flight")}
    metadata = {
        "transfers": dg.MetadataValue.md(_table(outcomes) if outcomes else "no transfer in the landing zone"),
        "snapshot_in_force": in_force.file if in_force else "none",
        "rows_loaded": dg.MetadataValue.int(in_force.rows_loaded or 0) if in_force else 0,
        "rows_quarantined": dg.MetadataValue.int(in_force.rows_quarantined or 0) if in_force else 0,
        **{f"transfers_{s}": dg.MetadataValue.int(n) for s, n in statuses.items()},
        **({f"changes_{k}": dg.MetadataValue.int(v) for k, v in in_force.changes.items()} if in_force else {}),
    }
    check = dg.AssetCheckResult(
        check_name=RECONCILE, passed=not unbalanced,
        metadata={"unbalanced_transfers": ", ".join(unbalanced) or "none",
                  "transfers_checked": sum(o.balanced is not None for o in outcomes)})
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
