"""The validation step: the findings (every rule family and form schema each night, tracked by
stable id, exported per site) and the expectation suites (assets.quality), two assets of one step
so that the suites run in the night's warm worker while the rules run here (assets.suites)."""
import dagster as dg

from aclf.config import Study
from aclf.ingest import now_iso
from aclf.inputs import kept, night_inputs, remember
from aclf.registry import data_night
from assets.catalog import layer
from assets.checks import site_rule_table, warn_check
from assets.harmonized import harmonized_lab
from assets.quality import QUALITY, QUALITY_CHECK, QUALITY_SPEC, quality_materialization
from assets.resources import AclfResource
from assets.suites import AHEAD_TAG, start_ahead, take_or_start
from validation.evaluate import evaluate
from validation.export import write_findings
from validation.findings import BLINDED, readable, save_findings, stored_findings
from validation.inputs import read_inputs

FINDINGS = dg.AssetKey("findings")
STEP = "findings"      # its record in the store's layer_input (aclf.inputs)


def validation_asset(study: Study) -> dg.AssetsDefinition:
    """The findings and quality_docs assets, with one check per rule family and per form schema of the
    study and the suites' check; either can be materialized alone."""
    checks = [dg.AssetCheckSpec(f"rules_{family}", asset=FINDINGS, description=f"open findings of the {family} rules")
              for family in study.families] + \
             [dg.AssetCheckSpec(f"schema_{form}", asset=FINDINGS, description=f"pandera schema of the {form} form")
              for form in study.forms]
    findings = dg.AssetSpec(
        FINDINGS, deps=[harmonized_lab], **layer("validation"), kinds={"pandas", "excel"},
        automation_condition=dg.AutomationCondition.eager(),
        description="Tonight's data findings (ingestion, identity, units, results, visits, eligibility, chronology, "
                    "schemas), merged with the stored ones by stable id: new ones open, fixed ones close. Writes "
                    "``findings/findings.csv`` and each site's open findings as ``findings/siteNN_queries.xlsx``; "
                    "the findings about stage-2 rows only in the unblinded area (they would reveal the stage-1 arm).")

    @dg.multi_asset(name="validation", specs=[findings, QUALITY_SPEC], check_specs=[*checks, QUALITY_CHECK],
                    can_subset=True)
    def validation(context: dg.AssetExecutionContext, aclf: AclfResource):
        """The suites are started first (in the warm worker), the findings tracked meanwhile. The
        findings alone, in a run tagged AHEAD_TAG, start the suites for a later quality_docs step."""
        selected = context.selected_asset_keys
        suites = take_or_start(aclf) if QUALITY in selected else None
        if suites is None and context.run.tags.get(AHEAD_TAG) == "true":
            start_ahead(aclf)
        failure = None
        if FINDINGS in selected:
            try:
                yield track_findings(context, aclf)
            except Exception as error:      # as two steps would: the suites' result still lands
                failure = error
        if suites is not None:
            yield quality_materialization(context, *suites())
        if failure is not None:
            raise failure

    return validation


def track_findings(context: dg.AssetExecutionContext, aclf: AclfResource) -> dg.MaterializeResult:
    study, engine = aclf.study(), aclf.engine()
    inputs = night_inputs(engine, aclf.study_dir)
    summary = kept(engine, STEP, inputs)
    keep = summary is not None and (aclf.output / summary["csv"]).exists()
    if keep:
        # the store and the listings are what tonight's rules would make of the same inputs again
        tracked, csv = readable(stored_findings(engine), BLINDED), aclf.output / summary["csv"]
        context.log.info("no transfer, configuration or code changed since the findings in force: kept")
    else:
        with aclf.locked():
            evaluation = evaluate(read_inputs(engine, study, aclf.mirror(), aclf.study_dir))
            night = data_night(engine) or now_iso(study)[:10]     # findings are seen on data nights
            tracked = readable(save_findings(engine, evaluation.findings, night), BLINDED)
        csv = write_findings(tracked, aclf.output, study, night)["csv"]
        remember(engine, STEP, inputs, {"csv": str(csv.relative_to(aclf.output))})
    open_ = tracked[tracked["status"] == "open"]
    results = [warn_check(f"rules_{family}", open_[open_["family"] == family],
                          site_rule_table(open_[open_["family"] == family]), FINDINGS)
               for family in study.families]
    for form in study.forms:   # counted from the readable findings: pandera's cases include stage 2
        failing = open_[(open_["rule"] == "schema_violation") & open_["message"].str.startswith(f"{form}:")]
        results.append(warn_check(f"schema_{form}", failing, site_rule_table(failing), FINDINGS))
    context.log.info(f"{len(open_)} open findings ({(tracked['status'] == 'closed').sum()} closed)")
    return dg.MaterializeResult(
        asset_key=FINDINGS,
        metadata={"open": dg.MetadataValue.int(len(open_)),
                  "closed": dg.MetadataValue.int(int((tracked["status"] == "closed").sum())),
                  "open_by_site_and_rule": dg.MetadataValue.md(site_rule_table(open_)),
                  "findings_csv": dg.MetadataValue.path(str(csv)), "kept": dg.MetadataValue.bool(keep)},
        check_results=results)
