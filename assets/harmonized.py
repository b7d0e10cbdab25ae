"""Harmonized lab table: downstream of every source's ingestion (the store is the hand-off)."""
import dagster as dg

from aclf.current import form_in_force, lab_in_force
from aclf.harmonized_lab import (build_harmonized_lab, built_from, inputs_fingerprint, load_harmonized_lab,
                                 load_schema_failures, save_harmonized_lab)
from aclf.timing import first_infusion_dates
from assets.catalog import layer
from assets.checks import site_rule_table, warn_check
from assets.ingestion import STAGED_SOURCE
from assets.resources import AclfResource
from validation.schemas import failures, harmonized_lab_schema

SCHEMA_CHECK = "harmonized_lab_schema"


@dg.asset(deps=[STAGED_SOURCE], **layer("harmonized"), kinds={"pandas", "sql"},
          automation_condition=dg.AutomationCondition.eager(),
          check_specs=[dg.AssetCheckSpec(SCHEMA_CHECK, asset="harmonized_lab",
                                         description="pandera: types, allowed values, keys, plausibility")])
def harmonized_lab(context: dg.AssetExecutionContext, aclf: AclfResource) -> dg.MaterializeResult:
    """Every lab record in force with LBTESTCD/LBTEST, CDISC units, results in protocol units (the
    original kept), not-done reasons, reference ranges in both units, study days and analysis
    visits by window; written to the store's ``lab_harmonized`` table with its schema failures."""
    study, engine = aclf.study(), aclf.engine()
    source, spec = study.form("infusion")
    with aclf.locked():
        inputs = inputs_fingerprint(engine, aclf.study_dir)
        rebuilt = inputs is None or inputs != built_from(engine)
        if rebuilt:
            infusion = form_in_force(engine, source, "infusion", spec.columns)
            lab = build_harmonized_lab(lab_in_force(engine), first_infusion_dates(infusion), study)
            cases = failures(harmonized_lab_schema(study), lab)   # once a night: findings reuse them from the store
            save_harmonized_lab(engine, lab, cases, inputs)
        else:      # no new transfer, the same configuration and code: the table in force is tonight's
            lab, cases = load_harmonized_lab(engine, aclf.mirror()), load_schema_failures(engine)
    failing = lab.loc[cases["index"].dropna().astype(int).unique()] if not cases.empty else lab.iloc[0:0]
    failing = failing.assign(rule=cases.drop_duplicates("index").set_index("index")["check"]
                             .reindex(failing.index).astype(str)) if not failing.empty else failing
    context.log.info(f"harmonized {len(lab)} lab records{'' if rebuilt else ' (unchanged inputs: kept)'}; "
                     f"{len(failing)} fail the schema")
    return dg.MaterializeResult(
        metadata={"records": dg.MetadataValue.int(len(lab)), "rebuilt": dg.MetadataValue.bool(rebuilt),
                  "result_kinds": dg.MetadataValue.md(site_rule_table(lab, rule="result_kind")),
                  "unit_status": dg.MetadataValue.md(site_rule_table(lab, rule="unit_status"))},
        check_results=[warn_check(SCHEMA_CHECK, failing, site_rule_table(failing))])
