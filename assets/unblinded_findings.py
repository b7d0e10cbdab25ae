"""The unblinded area's findings: those about stage-2 rows, which would tell a blinded reader the
stage-1 arm, and the reconciliation with the stage-2 rows counted."""
import dagster as dg
import pandas as pd
import sqlalchemy as sa

from aclf.registry import data_night
from aclf.report import reconciliation
from aclf.store import finding
from assets.catalog import layer
from assets.resources import AclfResource
from cdisc.area import UNBLINDED, restricted
from validation.cells import CSV_ENCODING, CSV_LINES
from validation.export import write_findings
from validation.findings import STAGE1

FINDINGS = dg.AssetKey(["unblinded", "findings"])


@dg.asset(key=FINDINGS, **layer("unblinded"), kinds={"csv", "excel"})
def unblinded_findings(context: dg.AssetExecutionContext, aclf: AclfResource) -> dg.MaterializeResult:
    """``<unblinded-output>/findings/``: the findings about stage-2 rows (findings.csv, one query
    listing per site) and ``reconciliation.csv``, every transfer's counts with its stage-2 rows."""
    study, engine, folders = aclf.study(), aclf.engine(), aclf.folders(UNBLINDED)
    with engine.connect() as conn:
        findings = pd.read_sql(sa.select(finding).where(finding.c.level == STAGE1), conn)
    with restricted(UNBLINDED, folders.root):
        written = write_findings(findings, folders.root, study, data_night(engine))
        reconciliation(engine).to_csv(folders.root / "findings" / "reconciliation.csv", index=False,
                                      encoding=CSV_ENCODING, lineterminator=CSV_LINES)
    context.log.info(f"stage-2 findings written to {written['csv'].parent}")
    return dg.MaterializeResult(metadata={"files": dg.MetadataValue.int(len(written) + 1)})
