"""Harmonized lab table: downstream of every source's ingestion (the store is the hand-off)."""
import dagster as dg

from aclf.harmonized_lab import refresh_harmonized_lab
from assets.catalog import layer
from assets.checks import site_rule_table, warn_check
from assets.ingestion import STAGED_SOURCE
from assets.resources import AclfResource
from assets.suites import validate_ahead
from validation.schemas import failures, harmonized_lab_schema

SCHEMA_CHECK = "harmonized_lab_schema"


@dg.asset(deps=[STAGED_SOURCE], **layer("harmonized"), kinds={"pandas", "sql"},
          automation_condition=dg.AutomationCondition.eager(),
          check_specs=[dg.AssetCheckSpec(SCHEMA_CHECK, asset="harmonized_lab",
                                         description="pandera: types, allowed values, keys, plausibility")])
def harmonized_lab(context: dg.AssetExecutionContext, aclf: AclfResource) -> dg.MaterializeResult:
    """Every lab record in force with LBTESTCD/LBTEST, CDISC units, results in protocol units (the
    original kept), not-done reasons, reference ranges in both units, study days and analysis
    visits by window; written to the store's ``lab_harmonized`` table with its schema failures
    (found once a night: the findings reuse them). Only the sources whose inputs changed are rebuilt.
    With a warm worker, a rebuilt table's expectation suites are run there on its copy while it is saved."""
    study, engine = aclf.study(), aclf.engine()
    schema = harmonized_lab_schema(study)
    with aclf.locked():
        refreshed = refresh_harmonized_lab(engine, study, aclf.study_dir, lambda lab: failures(schema, lab),
                                           aclf.mirror(), lambda copy: validate_ahead(aclf, copy))
    lab, cases, rebuilt = refreshed.lab, refreshed.failures, refreshed.rebuilt
    failing = lab.loc[cases["index"].dropna().astype(int).unique()] if not cases.empty else lab.iloc[0:0]
    failing = failing.assign(rule=cases.drop_duplicates("index").set_index("index")["check"]
                             .reindex(failing.index).astype(str)) if not failing.empty else failing
    context.log.info(f"harmonized {len(lab)} lab records, rebuilt for "
                     f"{', '.join(rebuilt) or 'no source (unchanged inputs)'}; {len(failing)} fail the schema")
    return dg.MaterializeResult(
        metadata={"records": dg.MetadataValue.int(len(lab)), "rebuilt": dg.MetadataValue.bool(bool(rebuilt)),
                  "rebuilt_sources": dg.MetadataValue.text(", ".join(rebuilt) or "none"),
                  "result_kinds": dg.MetadataValue.md(site_rule_table(lab, rule="result_kind")),
                  "unit_status": dg.MetadataValue.md(site_rule_table(lab, rule="unit_status"))},
        check_results=[warn_check(SCHEMA_CHECK, failing, site_rule_table(failing))])
