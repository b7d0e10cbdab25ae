"""The unblinded area's reports for the unblinded statistician and the DMC, from its ADaM package."""
import dagster as dg
import pyreadstat

from aclf.ingest import now_iso
from aclf.registry import data_night
from assets.catalog import layer
from assets.adam import adam_key
from assets.resources import AclfResource
from cdisc.area import UNBLINDED, restricted

REPORTS = dg.AssetKey(["unblinded", "reports"])


@dg.asset(key=REPORTS, deps=[adam_key(UNBLINDED, n) for n in ("ADSL", "ADTTE", "ADAE")], **layer("unblinded"),
          kinds={"html", "csv"})
def unblinded_reports(context: dg.AssetExecutionContext, aclf: AclfResource) -> dg.MaterializeResult:
    """Kaplan-Meier of transplant-free survival by stage-1 arm with the numbers at risk and the log-rank
    test, the rates at the protocol weeks with 95% CIs, TEAE incidence by arm and stage: PNG/SVG, CSV
    and one self-contained HTML report under ``<unblinded-output>/reports/``."""
    from cdisc.reports.write import write_reports     # here: matplotlib and statsmodels cost about 2 s to import

    config, folders = aclf.config(), aclf.folders(UNBLINDED)
    adam = {name: pyreadstat.read_xport(str(folders.adam / f"{name}.xpt"), disable_datetime_conversion=True)[0]
            for name in ("adsl", "adtte", "adae")}   # SAS day numbers, as the derivations wrote them
    with restricted(UNBLINDED, folders.root):
        paths = write_reports(adam["adsl"], adam["adtte"], adam["adae"], folders.root / "reports",
                              aclf.unblinding().level, data_night(aclf.engine()) or now_iso(config.study)[:10],
                              config.analysis.reporting_weeks,
                              config.analysis.figures.km.paramcd)
    context.log.info(f"unblinded reports written to {folders.root / 'reports'}")
    return dg.MaterializeResult(metadata={"files": dg.MetadataValue.int(len(paths))})   # no result in metadata
