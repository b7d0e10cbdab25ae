"""great-expectations suite over the harmonized lab table and the EDC forms, with Data Docs."""
import json

import dagster as dg

from aclf.blinding import blinded_forms
from aclf.current import forms_in_force
from assets.catalog import layer
from assets.harmonized import harmonized_lab
from assets.resources import AclfResource
from aclf.harmonized_lab import harmonized_lab_file, load_harmonized_lab
from aclf.inputs import built_by, kept, night_inputs, remember
from aclf.warm_worker import submit
from validation.quality_result import QualityResult

QUALITY_DIR = "quality"
RESULT_FILE = "result.json"
CHECK = "expectations"
STEP = "quality_docs"    # its record in the store's layer_input (aclf.inputs)


def quality_inputs(study) -> tuple[dict, dict]:
    """The suite's parameters from the configuration: tests (unit, plausible range), EDC form rules."""
    tests = {code: {"unit": t.standard_unit, "low": t.plausible[0], "high": t.plausible[1]}
             for code, t in study.lab.tests.items()}
    edc = study.sources["edc"]
    forms = {name: {"key": spec.key, "subject": spec.subject, "values": spec.values,
                    "ranges": {c: list(r) for c, r in spec.ranges.items()}} for name, spec in edc.forms.items()}
    return tests, forms


@dg.asset(deps=[harmonized_lab], **layer("validation"), kinds={"great_expectations", "html"},
          automation_condition=dg.AutomationCondition.eager(),
          check_specs=[dg.AssetCheckSpec(CHECK, asset="quality_docs",
                                         description="every expectation of every suite passes")])
def quality_docs(context: dg.AssetExecutionContext, aclf: AclfResource) -> dg.MaterializeResult:
    """The nightly expectation suites and their HTML Data Docs under ``<output>/quality/``, on the
    forms as a blinded reader may see them (no stage-2 rows: their values and counts would tell).
    A suite whose frame is as it was last night is not run again: its result is reused."""
    study, engine = aclf.study(), aclf.engine()
    folder = aclf.output / QUALITY_DIR
    inputs = night_inputs(engine, aclf.study_dir)
    keep = kept(engine, STEP, inputs) is not None and (folder / RESULT_FILE).exists()
    if keep:        # the same inputs give the same results: the Data Docs in force stay
        summary = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
        result = QualityResult(success=summary["success"], evaluated=summary["evaluated"], failed=summary["failed"],
                               data_docs=folder.resolve() / summary["data_docs"])
    else:
        tests, form_rules = quality_inputs(study)
        in_force = forms_in_force(engine, study, aclf.mirror(), aclf.study_dir)
        forms = {k: v for k, v in blinded_forms(study, in_force).items() if k in form_rules}
        # in the night's warm worker, which imported Great Expectations (3-4 s) during ingestion
        # (named by module: every process that loads the definitions would pay that import); it
        # reads the lab table's Parquet copy itself, only the columns its suite looks at
        mirror = aclf.mirror()
        lab = harmonized_lab_file(engine, mirror) or load_harmonized_lab(engine, mirror)
        result = submit("validation.quality", "run_quality", lab, forms, folder, tests=tests, form_rules=form_rules,
                        kept=mirror / QUALITY_DIR, version=built_by(aclf.study_dir)).result()
        summary = {"success": result.success, "evaluated": result.evaluated, "failed": result.failed,
                   "data_docs": result.data_docs.name}   # relative: no path of this machine in an output
        (folder / RESULT_FILE).write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
        remember(engine, STEP, inputs, {})
    table = "\n".join(["| suite | expectation | column | detail |", "|---|---|---|---|"] +
                      [f"| {f['suite']} | {f['expectation']} | {f['column']} | {f['detail']} |" for f in result.failed])
    context.log.info(f"{result.evaluated} expectations, {len(result.failed)} failed; Data Docs {result.data_docs}")
    return dg.MaterializeResult(
        metadata={"data_docs": dg.MetadataValue.path(str(result.data_docs)),
                  "evaluated": dg.MetadataValue.int(result.evaluated), "kept": dg.MetadataValue.bool(keep)},
        check_results=[dg.AssetCheckResult(
            check_name=CHECK, passed=result.success, severity=dg.AssetCheckSeverity.WARN,
            metadata={"failed": dg.MetadataValue.int(len(result.failed)),
                      "failures": dg.MetadataValue.md(table if result.failed else "none")})])
